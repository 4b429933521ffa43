//! Normalisation on the live path: one reading, with a known country and without.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use limes_plate::{CountryCode, clean, normalize};

fn bench(c: &mut Criterion) {
    let cases = [
        ("ro_valid", "B 123 ABC", Some(CountryCode::RO)),
        ("ro_repaired", "CJ O7 XYZ", Some(CountryCode::RO)),
        ("ua_cyrillic", "АА 1234 ВХ", Some(CountryCode::UA)),
        ("de_valid", "M-AB 1234", Some(CountryCode::DE)),
        ("pl_valid", "WX 12345", Some(CountryCode::PL)),
        ("no_country", "B 123 ABC", None),
    ];
    for (name, raw, country) in cases {
        c.bench_function(&format!("normalize/{name}"), |b| b.iter(|| normalize(black_box(raw), black_box(country))));
    }
    c.bench_function("clean/ascii", |b| b.iter(|| clean(black_box("B 123 ABC"))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
