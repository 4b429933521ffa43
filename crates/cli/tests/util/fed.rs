//! Federated test nodes: `limes init` with `[federation]`, trust anchors exchanged with the
//! CLI, partners added, agreements signed by both sides and put in force.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;

use super::{TestNode, limes_bin};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

/// A node of `agency` in `country` with `[federation]` on a free port.
pub fn fed_node(agency: &str, country: &str) -> TestNode {
    fed_node_in(agency, country, None, free_port(), None)
}

/// The same, its generated configuration first changed by `edit`.
pub fn fed_node_edited(agency: &str, country: &str, edit: impl FnOnce(String) -> String) -> TestNode {
    init_fed_node(agency, country, None, free_port(), None, edit)
}

/// A node whose API and partners' port listen on the address of `ns` (loopback without), its
/// partners' port on `port`, its trust anchor naming `url` (default: that port).
pub fn fed_node_in(
    agency: &str,
    country: &str,
    ns: Option<&limes_netlab::Netns>,
    port: u16,
    url: Option<String>,
) -> TestNode {
    init_fed_node(agency, country, ns, port, url, |c| c)
}

fn init_fed_node(
    agency: &str,
    country: &str,
    ns: Option<&limes_netlab::Netns>,
    port: u16,
    url: Option<String>,
    edit: impl FnOnce(String) -> String,
) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let host = ns.map_or("127.0.0.1".to_owned(), |n| n.addr().to_string());
    let url = url.unwrap_or_else(|| format!("https://{host}:{port}"));
    let out = Command::new(limes_bin())
        .args(["init", "--dir"])
        .arg(dir.path())
        .args(["--node-id", agency, "--agency", agency, "--country", country, "--listen", &format!("{host}:0")])
        .args(["--federation-listen", &format!("{host}:{port}"), "--federation-url", &url])
        .args(["--name", &format!("{agency} police")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("made the agency's signing key and TLS certificate"), "{stdout}");
    let config = dir.path().join("limes.toml");
    std::fs::write(&config, edit(std::fs::read_to_string(&config).unwrap())).unwrap();
    let wrapper = ns.map(|n| vec!["ip".into(), "netns".into(), "exec".into(), n.name().to_owned()]);
    TestNode::start_with(dir, config, wrapper)
}

pub fn export_anchor(node: &TestNode) -> std::path::PathBuf {
    let path = node.dir.path().join("anchor.toml");
    let out = Command::new(limes_bin())
        .args(["trust", "export", "--config"])
        .arg(&node.config)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("PRIVATE") && !text.contains("agency-key"), "an anchor never carries a private key");
    path
}

pub fn admin(node: &TestNode, args: &[&str]) -> std::process::Output {
    Command::new(limes_bin())
        .args(args)
        .env("LIMES_URL", &node.url)
        .env("LIMES_TOKEN", &node.admin_token)
        .output()
        .unwrap()
}

pub fn add_partner(node: &TestNode, anchor: &Path, send: &str, receive: &str) {
    let mut args = vec!["partner", "add", anchor.to_str().unwrap()];
    if !send.is_empty() {
        args.extend(["--send", send]);
    }
    if !receive.is_empty() {
        args.extend(["--receive", receive]);
    }
    let out = admin(node, &args);
    assert!(out.status.success(), "partner add: {}", String::from_utf8_lossy(&out.stderr));
}

/// A party to a test agreement, read from its trust anchor.
pub fn party_of(anchor: &Path) -> limes_agreement::Party {
    let a: limes_federation::TrustAnchor = toml::from_str(&std::fs::read_to_string(anchor).unwrap()).unwrap();
    let country = a.country.to_string();
    let eu = ["RO", "PL", "CZ", "SK", "HU"].contains(&country.as_str());
    limes_agreement::Party {
        agency: a.agency.to_string(),
        name: a.name.clone(),
        country,
        regime: if eu { limes_agreement::Regime::Led } else { limes_agreement::Regime::ThirdCountry },
        law: "the national act transposing Directive (EU) 2016/680, or its own".into(),
        key: a.signing_key,
    }
}

/// An agreement in force from yesterday for a year, with a flow of alerts (plates in clear,
/// for the police purposes a hotlist implies) for each `(from, to)`.
pub fn alert_agreement(parties: [limes_agreement::Party; 2], flows: &[(&str, &str)]) -> limes_agreement::Agreement {
    let flows: Vec<_> = flows.iter().map(|(from, to)| (*from, *to, limes_agreement::Category::Alerts)).collect();
    agreement_of(parties, &flows)
}

/// The same with a flow of `category` for each `(from, to, category)`.
pub fn agreement_of(
    parties: [limes_agreement::Party; 2],
    flows: &[(&str, &str, limes_agreement::Category)],
) -> limes_agreement::Agreement {
    use limes_agreement::{Channel, ChannelException, Flow, Mode, Onward, Regime, Transfer, TransferBasis};
    let today = Utc::now().date_naive();
    let regime = |agency: &str| parties.iter().find(|p| p.agency == agency).unwrap().regime;
    let flows = flows
        .iter()
        .map(|(from, to, category)| Flow {
            from: from.to_string(),
            to: to.to_string(),
            category: *category,
            mode: Mode::Push,
            plates: limes_agreement::PlateRule::Clear,
            images: limes_agreement::ImageRule::None,
            instrument: "bilateral agreement on police cooperation".into(),
            article: "Art. 7".into(),
            transfer: (regime(to) == Regime::ThirdCountry).then(|| Transfer {
                basis: TransferBasis::AppropriateSafeguards,
                article: "LED Art. 37(1)(a)".into(),
                reference: "the agreement's data-protection clauses".into(),
            }),
            channel: (regime(from) == Regime::Led && regime(to) == Regime::Led).then(|| Channel {
                exception: ChannelException::Bilateral,
                justification: "alerts of the joint centre, laid down in the treaty".into(),
            }),
            purposes: ["prevention", "detection", "investigation", "prosecution", "public_security"]
                .map(String::from)
                .to_vec(),
            retention_days: 30,
            onward_transfer: Onward::Forbidden,
            handling_code: None,
            urgent_requests_approved_automatically: false,
            valid_from: None,
            valid_until: None,
        })
        .collect();
    limes_agreement::Agreement {
        format: limes_agreement::document::FORMAT.into(),
        id: format!("TEST/{}-{}", parties[0].agency, parties[1].agency),
        title: "alerts between test nodes".into(),
        valid_from: today - chrono::Duration::days(1),
        valid_until: today + chrono::Duration::days(365),
        parties: parties.to_vec(),
        flows,
        witnesses: vec![],
        signatures: vec![],
    }
}

/// Both nodes sign `agreement` with `limes agreement sign` and put it in force with
/// `limes agreement add`.
pub fn agree(a: &TestNode, b: &TestNode, agreement: &limes_agreement::Agreement) {
    let file = a.dir.path().join("agreement.toml");
    std::fs::write(&file, agreement.to_toml()).unwrap();
    for node in [a, b] {
        let out =
            super::limes(&["agreement", "sign", file.to_str().unwrap(), "--config", node.config.to_str().unwrap()]);
        assert!(out.status.success(), "agreement sign: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = super::limes(&["agreement", "check", "--signed", file.to_str().unwrap()]);
    assert!(out.status.success(), "agreement check: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed by both parties."));
    for node in [a, b] {
        let out = admin(node, &["agreement", "add", file.to_str().unwrap()]);
        assert!(out.status.success(), "agreement add: {}", String::from_utf8_lossy(&out.stderr));
    }
}

pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "waited 30 s for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
