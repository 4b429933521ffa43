//! Random coherent agreements, random records, and an oracle of what an agreement allows,
//! written from its fields alone (no Cedar, no code of the crate's policy module). Shared by
//! this crate's policy test and `limes-link`'s test of what crosses the wire.

#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use limes_agreement::{
    Act, Agreement, Category, Channel, ChannelException, Flow, ImageForm, ImageRule, Labels, Mode, Onward, Party,
    PlateForm, PlateRule, Regime, Shape, Transfer, TransferBasis, coherence, example,
};

/// A small deterministic generator (the test's own, so the oracle shares nothing with limes).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub const LED: [&str; 6] =
    ["prevention", "investigation", "detection", "prosecution", "execution_of_penalties", "public_security"];
pub const GDPR: [&str; 3] = ["legal_obligation", "vital_interests", "public_task"];
pub const OTHER_PURPOSES: [&str; 3] = ["marketing", "curiosity", "audit"];

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn party(agency: &str, country: &str, regime: Regime) -> Party {
    Party {
        agency: agency.into(),
        name: format!("{agency} agency"),
        country: country.into(),
        regime,
        law: "national law".into(),
        key: example::key(agency).public(),
    }
}

/// A random agreement that is coherent by construction, starting within 30 days before
/// `around` (so often in force then).
pub fn agreement(rng: &mut Rng, around: NaiveDate) -> Agreement {
    let (a, b) = match rng.below(3) {
        0 => (party("cz-pcr", "CZ", Regime::Led), party("pl-kgp", "PL", Regime::Led)),
        1 => (party("cz-tesin", "CZ", Regime::Gdpr), party("pl-cieszyn", "PL", Regime::Gdpr)),
        _ => (party("ro-igpf", "RO", Regime::Led), party("ua-dpsu", "UA", Regime::ThirdCountry)),
    };
    let start = around - Duration::days(rng.below(30) as i64);
    let until = start + Duration::days(30 + rng.below(700) as i64);
    let mut flows = Vec::new();
    for (from, to) in [(&a, &b), (&b, &a)] {
        for category in Category::ALL {
            if !rng.chance(35) {
                continue;
            }
            let law = if from.regime == Regime::ThirdCountry { to.regime } else { from.regime };
            let pool: &[&str] = if law == Regime::Gdpr { &GDPR } else { &LED };
            let mut purposes: Vec<String> = pool.iter().filter(|_| rng.chance(50)).map(|p| p.to_string()).collect();
            if purposes.is_empty() {
                purposes.push(rng.pick(pool).to_string());
            }
            let mode = match rng.below(3) {
                0 => Mode::Push,
                1 if category.queryable() => Mode::HitNoHit,
                _ => Mode::OnRequest,
            };
            let images = match (rng.below(3), category) {
                (0, Category::Images | Category::LiveVideo) | (2, _) => ImageRule::Clear,
                (0, _) => ImageRule::None,
                _ => ImageRule::Blurred,
            };
            let third = to.regime == Regime::ThirdCountry;
            let transfer = third.then(|| Transfer {
                basis: TransferBasis::AppropriateSafeguards,
                article: "LED Art. 37(1)(a)".into(),
                reference: "bilateral agreement, Art. 12".into(),
            });
            let eu_police = from.regime == Regime::Led && to.regime == Regime::Led;
            let channel = (eu_police && category.personal()).then(|| Channel {
                exception: ChannelException::Bilateral,
                justification: "laid down in the bilateral treaty".into(),
            });
            let onward = match rng.below(3) {
                0 => Onward::Forbidden,
                1 => Onward::WithConsent,
                _ if third => Onward::Forbidden,
                _ => Onward::Allowed,
            };
            let (valid_from, valid_until) = if rng.chance(25) {
                let s = start + Duration::days(rng.below(60) as i64);
                (Some(s), Some(s + Duration::days(10 + rng.below(200) as i64)))
            } else {
                (None, None)
            };
            flows.push(Flow {
                from: from.agency.clone(),
                to: to.agency.clone(),
                category,
                mode,
                // Pushed hotlist entries are matched by the receiver: in clear (coherence).
                plates: if rng.chance(50) || (category == Category::HotlistEntries && mode == Mode::Push) {
                    PlateRule::Clear
                } else {
                    PlateRule::Pseudonymised
                },
                images,
                instrument: "bilateral agreement".into(),
                article: "Art. 5".into(),
                transfer,
                channel,
                purposes,
                retention_days: 1 + rng.below(120) as u32,
                onward_transfer: onward,
                handling_code: None,
                urgent_requests_approved_automatically: false,
                valid_from,
                valid_until,
            });
        }
    }
    let agreement = Agreement {
        format: limes_agreement::document::FORMAT.into(),
        id: format!("TEST/{}", rng.next() % 10_000),
        title: "random agreement".into(),
        valid_from: start,
        valid_until: until,
        parties: vec![a, b],
        flows,
        witnesses: vec![],
        signatures: vec![],
    };
    let problems = coherence::check(&agreement);
    assert!(coherence::is_coherent(&problems), "the generator made an incoherent agreement: {problems:#?}");
    agreement
}

/// One random question, biased towards the agreement's own flows so that every rule's
/// condition is met now and then.
#[derive(Debug, Clone)]
pub struct Case {
    pub act: Act,
    pub from: String,
    pub to: String,
    pub labels: Labels,
    pub approved_request: bool,
    pub onward_permitted: bool,
    pub age_days: u32,
    pub now: DateTime<Utc>,
}

pub fn case(rng: &mut Rng, a: &Agreement) -> Case {
    let parties: Vec<String> = a.parties.iter().map(|p| p.agency.clone()).chain(["xx-stranger".to_owned()]).collect();
    let flow = (!a.flows.is_empty() && rng.chance(85)).then(|| rng.pick(&a.flows).clone());
    let (from, to, category) = match &flow {
        Some(f) => (f.from.clone(), f.to.clone(), f.category),
        None => (rng.pick(&parties).clone(), rng.pick(&parties).clone(), *rng.pick(&Category::ALL)),
    };
    let purpose = match &flow {
        Some(f) if rng.chance(75) => rng.pick(&f.purposes).clone(),
        _ => rng.pick(&[&LED[..], &GDPR[..], &OTHER_PURPOSES[..]].concat()).to_string(),
    };
    let origin = if rng.chance(80) { from.clone() } else { "xx-third".to_owned() };
    // Mostly within the flow's own dates when it has some, else the agreement's.
    let (first, last) = match &flow {
        Some(f) if rng.chance(70) => (
            f.valid_from.unwrap_or(a.valid_from).max(a.valid_from),
            f.valid_until.unwrap_or(a.valid_until).min(a.valid_until),
        ),
        _ => (a.valid_from, a.valid_until),
    };
    let start = Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap());
    let span = ((last - first).num_seconds() + 86_400).max(1);
    let now = if rng.chance(85) {
        start + Duration::seconds((rng.next() % span as u64) as i64)
    } else if rng.chance(50) {
        start - Duration::seconds(1 + (rng.next() % 5_000_000) as i64)
    } else {
        start + Duration::seconds(span + (rng.next() % 5_000_000) as i64)
    };
    let retention = flow.as_ref().map_or(30, |f| f.retention_days);
    Case {
        act: *rng.pick(&[Act::Send, Act::Receive, Act::Access]),
        from,
        to,
        labels: Labels {
            category,
            origin,
            purpose,
            plates: *rng.pick(&[PlateForm::None, PlateForm::Pseudonymised, PlateForm::Clear]),
            images: *rng.pick(&[ImageForm::None, ImageForm::Blurred, ImageForm::Clear]),
            shape: *rng.pick(&[Shape::Full, Shape::HitNoHit]),
            request: None,
            onward: None,
        },
        approved_request: rng.chance(40),
        onward_permitted: rng.chance(50),
        age_days: rng.below(2 * retention as usize + 2) as u32,
        now,
    }
}

/// What the agreement allows, read from its fields.
pub fn oracle(a: &Agreement, c: &Case) -> bool {
    let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap());
    let in_force = midnight(a.valid_from) <= c.now && c.now < midnight(a.valid_until) + Duration::days(1);
    if !in_force {
        return false;
    }
    if c.labels.origin != c.from && !c.onward_permitted {
        return false;
    }
    let Some(f) = a.flows.iter().find(|f| f.from == c.from && f.to == c.to && f.category == c.labels.category) else {
        return false;
    };
    let first = f.valid_from.unwrap_or(a.valid_from).max(a.valid_from);
    let last = f.valid_until.unwrap_or(a.valid_until).min(a.valid_until);
    if c.now < midnight(first) || c.now >= midnight(last) + Duration::days(1) {
        return false;
    }
    if !f.purposes.contains(&c.labels.purpose) {
        return false;
    }
    if f.plates == PlateRule::Pseudonymised && c.labels.plates == PlateForm::Clear {
        return false;
    }
    match (f.images, c.labels.images) {
        (ImageRule::None, ImageForm::Blurred | ImageForm::Clear) | (ImageRule::Blurred, ImageForm::Clear) => {
            return false;
        }
        _ => {}
    }
    match f.mode {
        Mode::Push => {}
        Mode::HitNoHit if c.labels.shape == Shape::Full && !c.approved_request => return false,
        Mode::HitNoHit => {}
        Mode::OnRequest if !c.approved_request => return false,
        Mode::OnRequest => {}
    }
    !(c.act == Act::Access && c.age_days > f.retention_days)
}
