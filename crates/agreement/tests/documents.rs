//! Reading agreements: hostile documents, incoherent agreements, signatures.

use limes_agreement::{
    Agreement, LoadError, Mode, Onward, Regime, Severity, SignatureError, TransferBasis, coherence, example, sign,
};

fn ro_ua() -> Agreement {
    example::ro_ua().0
}

/// The errors of an agreement, as text.
fn errors(a: &Agreement) -> Vec<String> {
    coherence::check(a).into_iter().filter(|p| p.severity == Severity::Error).map(|p| p.to_string()).collect()
}

fn assert_error(a: &Agreement, needle: &str) {
    let errors = errors(a);
    assert!(errors.iter().any(|e| e.contains(needle)), "expected an error containing {needle:?}, got {errors:#?}");
    // And an incoherent agreement never loads, even signed by both.
    let mut signed = a.clone();
    for p in a.parties.clone() {
        let _ = sign::sign(&mut signed, &p.agency, &example::key(&p.agency));
    }
    match limes_agreement::load(&signed.to_toml()) {
        Err(LoadError::Incoherent(problems)) => assert!(!problems.is_empty()),
        Err(LoadError::Document(_)) => {}
        other => panic!("an incoherent agreement loaded: {other:?}"),
    }
}

#[test]
fn hostile_documents_get_clear_errors() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "missing field"),
        ("\u{0}\u{1}\u{2}garbage".into(), "TOML"),
        ("format = \"limes-agreement-v0\"\nid='x'\ntitle='t'\nvalid_from=2026-01-01\nvalid_until=2026-01-02\nparty=[]".into(), "format is \"limes-agreement-v0\""),
        (ro_ua().to_toml().replace("category = \"alerts\"", "category = \"everything\""), "unknown variant `everything`"),
        (ro_ua().to_toml().replace("retention_days = 30", "retention_days = -30"), "TOML"),
        (ro_ua().to_toml().replace("retention_days = 30", "retention_days = \"30\""), "TOML"),
        (ro_ua().to_toml().replace("mode = \"push\"", "mode = \"broadcast\""), "unknown variant"),
        (ro_ua().to_toml().replacen("key = \"ed25519:", "key = \"rsa:", 1), "TOML"),
        (ro_ua().to_toml().replacen("regime = \"led\"", "regime = \"led\"\nsecret_clause = true", 1), "unknown field"),
        (ro_ua().to_toml().replacen("valid_from = \"2026-01-01\"", "valid_from = \"2026-02-30\"", 1), "TOML"),
        (format!("{}\n# {}", ro_ua().to_toml(), "x".repeat(300 * 1024)), "at most"),
        ("{\"format\": \"limes-agreement-v1\", \"id\": ".into(), "JSON"),
        ("{\"format\": null}".into(), "JSON"),
        ("[[flow]]\n".repeat(10_000), "TOML"),
        ("a = [".repeat(5_000), "TOML"),
    ];
    for (text, needle) in cases {
        let e = Agreement::parse(&text).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(needle), "{:?}… → {e}", text.chars().take(60).collect::<String>());
    }
}

#[test]
fn toml_and_json_dates_and_round_trips() {
    let a = ro_ua();
    assert_eq!(Agreement::from_toml(&a.to_toml()).unwrap(), a);
    assert_eq!(Agreement::parse(&serde_json::to_string(&a).unwrap()).unwrap(), a);
    // Signatures are over content: reformatting and comments do not break them.
    sign::verify(&Agreement::from_toml(&a.to_toml()).unwrap()).unwrap();
    sign::verify(&Agreement::parse(&serde_json::to_string_pretty(&a).unwrap()).unwrap()).unwrap();
}

#[test]
fn a_third_country_transfer_needs_a_basis() {
    let mut a = ro_ua();
    a.flows[0].transfer = None;
    assert_error(&a, "ua-dpsu is a third country: a transfer of alerts (hotlist hits) needs a basis");
}

#[test]
fn a_derogation_never_covers_a_push() {
    let mut a = ro_ua();
    let t = a.flows[0].transfer.as_mut().unwrap();
    t.basis = TransferBasis::Derogation;
    t.article = "LED Art. 38(1)(c)".into();
    assert_error(&a, "a derogation (LED Art. 38) covers a specific case");
}

#[test]
fn the_transfer_article_must_match_its_basis() {
    let mut a = ro_ua();
    a.flows[0].transfer.as_mut().unwrap().article = "LED Art. 36".into();
    assert_error(&a, "the transfer basis is in LED Art. 37");
    let mut a = ro_ua();
    a.flows[0].transfer.as_mut().unwrap().reference = " ".into();
    assert_error(&a, "where it is documented");
}

#[test]
fn no_free_onward_transfer_from_a_third_country() {
    let mut a = ro_ua();
    a.flows[0].onward_transfer = Onward::Allowed;
    assert_error(&a, "LED Art. 35(1)(e)");
}

#[test]
fn a_transfer_basis_only_for_third_countries() {
    let (mut cz, _) = example::cz_pl_police();
    cz.flows[0].transfer = ro_ua().flows[0].transfer.clone();
    assert_error(&cz, "a transfer basis is for receivers in third countries");
}

#[test]
fn eu_police_need_a_reason_not_to_use_siena() {
    let (mut cz, _) = example::cz_pl_police();
    cz.flows[0].channel = None;
    assert_error(&cz, "goes by SIENA unless an exception of Directive (EU) 2023/977");
    let (mut cz, _) = example::cz_pl_police();
    cz.flows[0].channel.as_mut().unwrap().justification = "because".into();
    assert_error(&cz, "must say why");
}

#[test]
fn purposes_follow_the_senders_law() {
    let (mut towns, _) = example::cz_pl_towns();
    towns.flows[0].purposes.push("investigation".into());
    assert_error(&towns, "purpose \"investigation\" is not one of the GDPR");
    let mut a = ro_ua();
    a.flows[2].purposes = vec![];
    assert_error(&a, "at least one purpose");
}

#[test]
fn regimes_follow_the_country() {
    let mut a = ro_ua();
    a.parties[1].regime = Regime::Led;
    assert_error(&a, "ua-dpsu is in UA, outside the EU");
    let mut a = ro_ua();
    a.parties[0].regime = Regime::ThirdCountry;
    assert_error(&a, "ro-igpf is in RO, where EU data-protection law applies");
    let mut a = ro_ua();
    a.parties[0].country = "Romania".into();
    assert_error(&a, "not an ISO 3166 alpha-2 code");
}

#[test]
fn structure_errors() {
    let mut a = ro_ua();
    a.flows[2].mode = Mode::HitNoHit;
    assert_error(&a, "cannot be asked hit/no-hit");
    let mut a = ro_ua();
    a.flows.push(a.flows[0].clone());
    assert_error(&a, "a second flow of alerts from ro-igpf to ua-dpsu");
    let mut a = ro_ua();
    a.flows[0].to = "md-pf".into();
    assert_error(&a, "must both be parties");
    let mut a = ro_ua();
    a.parties.push(a.parties[0].clone());
    assert_error(&a, "exactly two parties");
    let mut a = ro_ua();
    a.flows[0].retention_days = 0;
    assert_error(&a, "retention_days must be 1 to 3650");
    let mut a = ro_ua();
    std::mem::swap(&mut a.valid_from, &mut a.valid_until);
    assert_error(&a, "is after valid_until");
}

#[test]
fn both_parties_sign_the_content() {
    let a = ro_ua();
    sign::verify(&a).unwrap();
    // Any change after signing breaks both signatures.
    let mut changed = a.clone();
    changed.flows[1].retention_days += 1;
    assert!(matches!(sign::verify(&changed), Err(SignatureError::Invalid(_))));
    // One signature is not enough.
    let mut one = a.clone();
    one.signatures.retain(|s| s.agency == "ro-igpf");
    assert_eq!(sign::verify(&one), Err(SignatureError::Missing("ua-dpsu".into())));
    assert!(matches!(limes_agreement::load(&one.to_toml()), Err(LoadError::Signature(SignatureError::Missing(_)))));
    // A key that is not the party's cannot sign for it.
    let mut forged = a.clone();
    assert_eq!(
        sign::sign(&mut forged, "ua-dpsu", &example::key("ro-igpf")),
        Err(SignatureError::WrongKey("ua-dpsu".into()))
    );
    assert_eq!(
        sign::sign(&mut forged, "md-pf", &example::key("md-pf")),
        Err(SignatureError::NotAParty("md-pf".into()))
    );
    // Swapping the key the agreement names breaks the other's signature.
    let mut swapped = a.clone();
    swapped.parties[1].key = example::key("attacker").public();
    assert!(sign::verify(&swapped).is_err());
    let mut bad = a.clone();
    bad.signatures[0].signature = "not base64!".into();
    assert!(matches!(sign::verify(&bad), Err(SignatureError::Malformed(_))));
    let mut dup = a.clone();
    dup.signatures.push(dup.signatures[0].clone());
    assert!(matches!(sign::verify(&dup), Err(SignatureError::Duplicate(_))));
}

#[test]
fn a_pushed_hotlist_is_in_clear_and_its_hits_should_come_back() {
    let hotlist = |a: &Agreement| a.flows.iter().position(|f| f.category == limes_agreement::Category::HotlistEntries);
    let mut a = ro_ua();
    let i = hotlist(&a).expect("RO-UA shares Ukraine's hotlist with Romania");
    a.flows[i].plates = limes_agreement::PlateRule::Pseudonymised;
    assert_error(&a, "needs the plates in clear");
    // Without alerts going back to Ukraine, Ukraine would never hear of the hits: a warning.
    let mut a = ro_ua();
    let (from, to) = (a.flows[i].from.clone(), a.flows[i].to.clone());
    a.flows.retain(|f| !(f.category == limes_agreement::Category::Alerts && f.from == to && f.to == from));
    let warnings: Vec<String> = coherence::check(&a).iter().map(|p| p.to_string()).collect();
    assert!(warnings.iter().any(|w| w.contains("no flow of alerts goes back")), "{warnings:#?}");
    assert!(errors(&a).is_empty(), "a warning only: {:#?}", errors(&a));
    // The example has the flow back: no such warning.
    assert!(coherence::check(&ro_ua()).iter().all(|p| !p.to_string().contains("no flow of alerts goes back")));
}
