//! The Cedar rules decide exactly what the agreement says, checked against an oracle written
//! here from the agreement's fields alone (no Cedar, no code of the crate's policy module),
//! over random coherent agreements and random records; and every generated rule matters:
//! removing any one of them makes some decision differ from the oracle.

mod support;

use chrono::{TimeZone, Utc};
use limes_agreement::{Act, Category, ImageForm, Labels, PlateForm, Question, Shape, SharingPolicy, example};
use proptest::prelude::*;
use support::{Case, Rng, agreement, case, day, oracle};

fn decide(policy: &SharingPolicy, c: &Case) -> bool {
    policy
        .decide(&Question {
            act: c.act,
            from: &c.from,
            to: &c.to,
            labels: &c.labels,
            approved_request: c.approved_request,
            onward_permitted: c.onward_permitted,
            age_days: c.age_days,
            now: c.now,
        })
        .allowed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn cedar_decides_what_the_agreement_says(seed in 1u64..u64::MAX) {
        let mut rng = Rng(seed);
        let month = 1 + rng.below(12) as u32;
        let a = agreement(&mut rng, day(2026, month, 15));
        let policy = SharingPolicy::compile(&a).unwrap();
        for _ in 0..150 {
            let c = case(&mut rng, &a);
            prop_assert_eq!(decide(&policy, &c), oracle(&a, &c), "{:#?}", c);
        }
    }
}

#[test]
fn removing_any_rule_changes_what_crosses() {
    let mut rng = Rng(0x5eed_1a7e_5000_0001);
    let mut killed = 0;
    for _ in 0..6 {
        let month = 1 + rng.below(12) as u32;
        let a = agreement(&mut rng, day(2026, month, 15));
        let policy = SharingPolicy::compile(&a).unwrap();
        let cases: Vec<Case> = (0..10_000).map(|_| case(&mut rng, &a)).collect();
        for rule in policy.rule_ids() {
            let weaker = policy.without(rule).unwrap();
            let differs = cases.iter().find(|c| decide(&weaker, c) != oracle(&a, c));
            assert!(differs.is_some(), "removing rule {rule} of {} changed nothing:\n{}", a.id, policy.to_cedar());
            killed += 1;
        }
    }
    assert!(killed > 50, "only {killed} rules were tried");
}

#[test]
fn unknown_parties_and_categories_never_cross() {
    let (a, policy) = example::ro_ua();
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let labels = |category| Labels {
        category,
        origin: "ro-igpf".into(),
        purpose: "detection".into(),
        plates: PlateForm::None,
        images: ImageForm::None,
        shape: Shape::Full,
        request: None,
        onward: None,
    };
    let q = |from: &'static str, to: &'static str, l: &'static Labels| Question {
        act: Act::Send,
        from,
        to,
        labels: l,
        approved_request: true,
        onward_permitted: true,
        age_days: 0,
        now,
    };
    let alerts: &'static Labels = Box::leak(Box::new(labels(Category::Alerts)));
    assert!(policy.decide(&q("ro-igpf", "ua-dpsu", alerts)).allowed);
    assert!(!policy.decide(&q("ro-igpf", "md-pf", alerts)).allowed);
    assert!(!policy.decide(&q("md-pf", "ua-dpsu", alerts)).allowed);
    for category in Category::ALL {
        if a.flow("ro-igpf", "ua-dpsu", category).is_none() {
            let l: &'static Labels = Box::leak(Box::new(labels(category)));
            let d = policy.decide(&q("ro-igpf", "ua-dpsu", l));
            assert!(!d.allowed && d.reason.contains("lets no"), "{category}: {d:?}");
        }
    }
    // After the agreement ends, nothing crosses; the decision names the rule.
    let late = Question { now: Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap(), ..q("ro-igpf", "ua-dpsu", alerts) };
    let d = policy.decide(&late);
    assert!(!d.allowed);
    assert_eq!(d.rules, vec!["in-force".to_owned()], "{d:?}");
}
