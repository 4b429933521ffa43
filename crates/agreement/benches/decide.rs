//! What a decision costs: one record checked against an agreement's Cedar rules, as the
//! link does at send and at receive for every message. `cargo bench -p limes-agreement`.

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use limes_agreement::{Act, Category, ImageForm, Labels, PlateForm, Question, Shape, example};

fn decide(c: &mut Criterion) {
    let (_, policy) = example::ro_ua();
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let allowed = Labels {
        category: Category::Alerts,
        origin: "ro-igpf".into(),
        purpose: "detection".into(),
        plates: PlateForm::Clear,
        images: ImageForm::None,
        shape: Shape::Full,
        request: None,
        onward: None,
    };
    let refused = Labels { purpose: "marketing".into(), ..allowed.clone() };
    let q = |labels| Question {
        act: Act::Send,
        from: "ro-igpf",
        to: "ua-dpsu",
        labels,
        approved_request: false,
        onward_permitted: true,
        age_days: 0,
        now,
    };
    assert!(policy.decide(&q(&allowed)).allowed);
    assert!(!policy.decide(&q(&refused)).allowed);
    c.bench_function("agreement/decide allowed alert (RO-UA)", |b| b.iter(|| policy.decide(&q(&allowed))));
    c.bench_function("agreement/decide refused alert (RO-UA)", |b| b.iter(|| policy.decide(&q(&refused))));
    let text = example::FILES.iter().find(|(n, _)| *n == "ro-ua.toml").unwrap().1;
    c.bench_function("agreement/load (parse, check, verify, compile)", |b| b.iter(|| limes_agreement::load(text)));
}

criterion_group!(benches, decide);
criterion_main!(benches);
