//! The example agreements of `docs/agreements/` (CZ–PL police, CZ–PL towns, RO–UA, RO–RS),
//! signed with example keys derived from the agency ids. For documentation, tests and the
//! demo's templates: an example key is public knowledge and never protects anything.

use limes_federation::AgencyKey;

use crate::document::Agreement;
use crate::policy::SharingPolicy;
use crate::sign;

/// `(file name, text)` of every example, as shipped in `docs/agreements/`.
pub const FILES: [(&str, &str); 4] = [
    ("cz-pl-police.toml", include_str!("../../../docs/agreements/cz-pl-police.toml")),
    ("cz-pl-towns.toml", include_str!("../../../docs/agreements/cz-pl-towns.toml")),
    ("ro-ua.toml", include_str!("../../../docs/agreements/ro-ua.toml")),
    ("ro-rs.toml", include_str!("../../../docs/agreements/ro-rs.toml")),
];

/// The example key of an agency: a seed spelled out from its id. Never use it for a node.
pub fn key(agency: &str) -> AgencyKey {
    let mut seed = *b"limes example key, never secret!";
    for (i, b) in agency.bytes().enumerate() {
        seed[i % 32] ^= b.rotate_left((i / 32) as u32);
    }
    AgencyKey::from_seed(&seed)
}

/// The text of an agreement with every party's `key` line set to `keys(agency)` and the
/// signatures made anew by `sign_with(agency)`; comments and layout are kept. The demo uses
/// it to put its nodes' real keys into the example agreements.
pub fn rekeyed(
    template: &str,
    keys: impl Fn(&str) -> String,
    sign_with: impl Fn(&str) -> Option<AgencyKey>,
) -> Result<String, crate::LoadError> {
    let mut out = String::new();
    let mut agency: Option<String> = None;
    for line in template.lines() {
        let t = line.trim_start();
        if t.starts_with("[[") {
            agency = None;
        }
        if let Some(rest) = t.strip_prefix("agency = \"") {
            agency = rest.strip_suffix('"').map(str::to_owned);
        }
        match (&agency, t.starts_with("key = ")) {
            (Some(a), true) => out.push_str(&format!("key = \"{}\"\n", keys(a))),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let mut agreement = Agreement::parse(&sign::with_signatures(&out, &[]))?;
    let parties: Vec<String> = agreement.parties.iter().map(|p| p.agency.clone()).collect();
    for p in &parties {
        if let Some(k) = sign_with(p) {
            sign::sign(&mut agreement, p, &k)?;
        }
    }
    Ok(sign::with_signatures(&out, &agreement.signatures))
}

/// An example file with example keys and both example signatures.
pub fn signed_example(template: &str) -> Result<String, crate::LoadError> {
    rekeyed(template, |a| key(a).public().to_string(), |a| Some(key(a)))
}

fn load(name: &str) -> (Agreement, SharingPolicy) {
    let text = FILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or_default();
    // The examples are checked by this crate's tests; a broken one is a bug.
    crate::load(text).unwrap_or_else(|e| panic!("example {name}: {e}"))
}

/// Romanian Border Police – State Border Guard Service of Ukraine.
pub fn ro_ua() -> (Agreement, SharingPolicy) {
    load("ro-ua.toml")
}

/// Romanian Border Police – Border Police of Serbia.
pub fn ro_rs() -> (Agreement, SharingPolicy) {
    load("ro-rs.toml")
}

/// Czech Police – Polish Police.
pub fn cz_pl_police() -> (Agreement, SharingPolicy) {
    load("cz-pl-police.toml")
}

/// Český Těšín – Cieszyn (towns, GDPR).
pub fn cz_pl_towns() -> (Agreement, SharingPolicy) {
    load("cz-pl-towns.toml")
}

/// The example agreement `name` (a file of [`FILES`]) between agencies whose real keys are
/// given, in force from the day before `today` for a year, signed by both: what the demo and
/// the benchmarks put in force on their own nodes.
pub fn between(
    name: &str,
    signers: &[(&str, &AgencyKey)],
    today: chrono::NaiveDate,
) -> Result<Agreement, crate::LoadError> {
    let template = FILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or_default();
    let mut agreement = Agreement::parse(template)?;
    agreement.signatures.clear();
    for party in &mut agreement.parties {
        let (_, key) = signers
            .iter()
            .find(|(a, _)| *a == party.agency)
            .ok_or_else(|| sign::SignatureError::Missing(party.agency.clone()))?;
        party.key = key.public();
    }
    agreement.valid_from = today - chrono::Duration::days(1);
    agreement.valid_until = today + chrono::Duration::days(365);
    for (agency, key) in signers {
        sign::sign(&mut agreement, agency, key)?;
    }
    Ok(agreement)
}
