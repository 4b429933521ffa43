//! The example agreements in `docs/agreements/` are coherent, signed and current.
//! `LIMES_UPDATE_EXAMPLES=1 cargo test -p limes-agreement --test examples` rewrites their keys
//! and signatures after an edit.

use std::path::PathBuf;

use limes_agreement::{Severity, coherence, example, explain};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/agreements")
}

#[test]
fn examples_are_signed_with_the_example_keys() {
    let update = std::env::var_os("LIMES_UPDATE_EXAMPLES").is_some();
    let mut stale = Vec::new();
    for (name, _) in example::FILES {
        let path = docs().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let signed = example::signed_example(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if signed != text {
            if update {
                std::fs::write(&path, &signed).unwrap();
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} are stale: run LIMES_UPDATE_EXAMPLES=1 cargo test -p limes-agreement --test examples"
    );
}

#[test]
fn examples_load_and_explain_themselves() {
    for (name, text) in example::FILES {
        let (agreement, policy) = limes_agreement::load(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let problems = coherence::check(&agreement);
        assert!(problems.iter().all(|p| p.severity == Severity::Warning), "{name}: {problems:?}");
        assert!(!policy.rule_ids().is_empty());
        let words = explain(&agreement);
        assert!(words.contains("Signed by both parties."), "{name}:\n{words}");
        assert!(words.contains("The agreement is coherent"), "{name}:\n{words}");
        for p in &agreement.parties {
            assert!(words.contains(&format!("{} →", p.agency)), "{name}:\n{words}");
        }
    }
    let (ro_ua, _) = example::ro_ua();
    let words = explain(&ro_ua);
    assert!(words.contains("Transfer to a third country on appropriate safeguards (LED Art. 37(1)(a))"), "{words}");
    assert!(words.contains("hit/no-hit only"), "{words}");
    assert!(words.contains("Never crosses, in either direction:"), "{words}");
    let (cz_pl, _) = example::cz_pl_police();
    assert!(explain(&cz_pl).contains("Not by SIENA: Automatic alerts of the joint centre"));
}
