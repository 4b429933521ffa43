//! Incidents folded from events written by several agencies, in any order of arrival.

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_cooperation::area::Area;
use limes_cooperation::clock::Clock;
use limes_cooperation::incident::*;
use limes_model::{AgencyId, GeoPoint};
use proptest::prelude::*;

fn agency(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// Three agencies: the origin (RO), a notified partner (UA) and one never notified (HU).
struct World {
    ro: Clock,
    ua: Clock,
    hu: Clock,
    id: IncidentId,
}

impl World {
    fn new() -> Self {
        Self {
            ro: Clock::new(agency("ro-isu")),
            ua: Clock::new(agency("ua-dsns")),
            hu: Clock::new(agency("hu-katved")),
            id: IncidentId { origin: agency("ro-isu"), n: 7 },
        }
    }

    fn event(&self, clock: &mut Clock, at: DateTime<Utc>, change: Change) -> Event {
        Event { incident: self.id.clone(), stamp: clock.stamp(at), exercise: false, by: None, change }
    }

    fn raised(&mut self, at: DateTime<Utc>, severity: Severity) -> Event {
        let change = Change::Raised {
            kind: IncidentType::Chemical,
            severity,
            title: "Tanker leak at the Siret bridge".into(),
            description: "Chlorine smell reported; keep 1 km clear.".into(),
            area: Area::point(GeoPoint::new(47.95, 26.07).unwrap()),
            notified: vec![agency("ua-dsns")],
        };
        let mut ro = self.ro.clone();
        let e = self.event(&mut ro, at, change);
        self.ro = ro;
        e
    }
}

fn note(text: &str) -> Change {
    Change::Note { text: text.into() }
}

#[test]
fn updates_from_both_sides_merge_in_causal_order_though_clocks_disagree() {
    let mut w = World::new();
    let raised = w.raised(t0(), Severity::High);
    // UA's clock runs 40 s behind; it reads RO's event before answering.
    w.ua.observe(&raised.stamp, t0() - Duration::seconds(39)).unwrap();
    let mut ua = w.ua.clone();
    let ack = w.event(&mut ua, t0() - Duration::seconds(39), Change::Acknowledged);
    let ua_note = w.event(&mut ua, t0() - Duration::seconds(38), note("Two crews on the way from Porubne"));
    w.ro.observe(&ua_note.stamp, t0() + Duration::seconds(3)).unwrap();
    let mut ro = w.ro.clone();
    let ro_status = w.event(&mut ro, t0() + Duration::seconds(3), Change::Status { status: Status::Responding });

    let all = [raised.clone(), ack.clone(), ua_note.clone(), ro_status.clone()];
    let (incident, timeline) = Incident::fold(&all).unwrap();
    let order: Vec<&Event> = timeline.iter().map(|e| &e.event).collect();
    assert_eq!(order, vec![&raised, &ack, &ua_note, &ro_status], "causal order, whatever the wall clocks said");
    assert!(timeline.iter().all(|e| e.applied));
    assert_eq!(incident.status, Status::Responding);
    assert_eq!(incident.notes, 1);
    assert!(incident.notified[&agency("ua-dsns")].acknowledged.is_some());
}

#[test]
fn what_a_writer_had_no_right_to_write_stays_in_the_timeline_and_changes_nothing() {
    let mut w = World::new();
    let raised = w.raised(t0(), Severity::Medium);
    let mut hu = w.hu.clone();
    let mut ua = w.ua.clone();
    let stranger = w.event(&mut hu, t0() + Duration::seconds(1), note("HU was never notified"));
    let stranger_ack = w.event(&mut hu, t0() + Duration::seconds(1), Change::Acknowledged);
    // A notified partner closing the origin's incident: refused by check, ignored by fold.
    let close = w.event(&mut ua, t0() + Duration::seconds(2), Change::Status { status: Status::Closed });
    assert!(matches!(close.check(), Err(IncidentError::NotOrigin { .. })));
    let (incident, timeline) = Incident::fold(&[raised, stranger, stranger_ack, close]).unwrap();
    assert_eq!(incident.status, Status::Reported);
    assert_eq!(incident.notes, 0);
    assert!(!incident.notified.contains_key(&agency("hu-katved")));
    assert_eq!(timeline.iter().filter(|e| e.applied).count(), 1);

    // Once notified, HU may write.
    let mut ro = w.ro.clone();
    let notify =
        w.event(&mut ro, t0() + Duration::seconds(5), Change::Notified { agencies: vec![agency("hu-katved")] });
    w.hu.observe(&notify.stamp, t0() + Duration::seconds(5)).unwrap();
    let mut hu = w.hu.clone();
    let later = w.event(&mut hu, t0() + Duration::seconds(6), note("HU crews on standby"));
    let raised = w.raised(t0(), Severity::Medium);
    let (incident, _) = Incident::fold(&[raised, notify, later]).unwrap();
    assert_eq!(incident.notes, 1);
}

#[test]
fn nothing_is_an_incident_until_it_is_raised_and_exercise_events_stay_apart() {
    let mut w = World::new();
    let raised = w.raised(t0(), Severity::Low);
    let mut ua = w.ua.clone();
    let early = w.event(&mut ua, t0() + Duration::seconds(1), note("arrived before the raise"));
    assert!(Incident::fold(std::slice::from_ref(&early)).is_none());
    // An exercise event on a real incident is not applied (nor the reverse).
    let mut drill = w.event(&mut ua, t0() + Duration::seconds(2), note("EXERCISE"));
    drill.exercise = true;
    let (incident, timeline) = Incident::fold(&[early, raised, drill]).unwrap();
    assert_eq!(incident.notes, 1);
    assert!(!timeline[2].applied);
}

#[test]
fn a_missed_deadline_escalates_once_per_deadline_up_to_the_limit_and_an_ack_stops_it() {
    let mut w = World::new();
    let policy = AckDeadlines { max_escalations: 2, ..AckDeadlines::default() };
    let raised = w.raised(t0(), Severity::Critical); // 5 minutes
    let ua = agency("ua-dsns");
    let mut events = vec![raised];
    let fold = |events: &[Event]| Incident::fold(events).unwrap().0;
    assert!(due_escalations(&fold(&events), &policy, t0() + Duration::seconds(299)).is_empty());
    let due = due_escalations(&fold(&events), &policy, t0() + Duration::minutes(5));
    assert_eq!(due, vec![(ua.clone(), 1)]);
    let mut ro = w.ro.clone();
    events.push(w.event(&mut ro, t0() + Duration::minutes(5), Change::Escalated { agency: ua.clone(), attempt: 1 }));
    // Escalated once: the next is due a deadline later, not at once.
    assert!(due_escalations(&fold(&events), &policy, t0() + Duration::minutes(6)).is_empty());
    assert_eq!(due_escalations(&fold(&events), &policy, t0() + Duration::minutes(10)), vec![(ua.clone(), 2)]);
    events.push(w.event(&mut ro, t0() + Duration::minutes(10), Change::Escalated { agency: ua.clone(), attempt: 2 }));
    assert!(due_escalations(&fold(&events), &policy, t0() + Duration::hours(3)).is_empty(), "the limit holds");
    // An escalation twice with the same attempt number counts once.
    events.push(w.event(&mut ro, t0() + Duration::minutes(11), Change::Escalated { agency: ua.clone(), attempt: 2 }));
    assert_eq!(fold(&events).notified[&ua].escalations, 2);

    // An acknowledgement stops escalation; so does closing.
    let mut w = World::new();
    let raised = w.raised(t0(), Severity::Critical);
    w.ua.observe(&raised.stamp, t0()).unwrap();
    let mut uac = w.ua.clone();
    let ack = w.event(&mut uac, t0() + Duration::minutes(1), Change::Acknowledged);
    assert!(due_escalations(&fold(&[raised.clone(), ack]), &policy, t0() + Duration::hours(1)).is_empty());
    let mut ro = w.ro.clone();
    let closed = w.event(&mut ro, t0() + Duration::minutes(1), Change::Status { status: Status::Closed });
    assert!(due_escalations(&fold(&[raised.clone(), closed]), &policy, t0() + Duration::hours(1)).is_empty());
    // Raising the severity shortens the deadline.
    let mut ro = w.ro.clone();
    let low = w.raised(t0(), Severity::Low);
    assert!(due_escalations(&fold(std::slice::from_ref(&low)), &policy, t0() + Duration::minutes(20)).is_empty());
    let up = w.event(&mut ro, t0() + Duration::minutes(1), Change::Severity { severity: Severity::High });
    assert_eq!(due_escalations(&fold(&[low, up]), &policy, t0() + Duration::minutes(20)).len(), 1);
}

#[test]
fn hostile_events_are_refused_with_a_reason() {
    let mut w = World::new();
    let raised = w.raised(t0(), Severity::Low);
    let with = |change: Change| Event { change, ..raised.clone() };
    let long = "x".repeat(MAX_TEXT + 1);
    for (e, want) in [
        (with(note(&long)), "longer than"),
        (with(note("  ")), "note is empty"),
        (with(note("bell\u{7}")), "control characters"),
        (
            with(Change::Attached(Attachment {
                name: "map.png".into(),
                media_type: "image/png".into(),
                sha256: "ABC".into(),
                bytes: 3,
                anonymised: None,
            })),
            "64 lower-case hex",
        ),
        (
            with(Change::Attached(Attachment {
                name: "street.jpg".into(),
                media_type: "image/jpeg".into(),
                sha256: "a".repeat(64),
                bytes: 3,
                anonymised: Some(AnonymisedCopy { sha256: "B".repeat(64), bytes: 3, faces: 1, plates: 0 }),
            })),
            "64 lower-case hex",
        ),
        (with(Change::Notified { agencies: (0..65).map(|i| agency(&format!("a{i}"))).collect() }), "at most 64"),
    ] {
        let err = e.check().unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    // On the wire: unknown fields, unknown codes and bad ids are refused by the parser.
    let json = serde_json::to_value(&raised).unwrap();
    for (field, value) in [
        ("incident", serde_json::json!("no-slash")),
        ("incident", serde_json::json!("ro-isu/-1")),
        ("type", serde_json::json!("alien-landing")),
        ("change", serde_json::json!("deleted")),
        ("extra", serde_json::json!(1)),
    ] {
        let mut bad = json.clone();
        bad[field] = value;
        assert!(serde_json::from_value::<Event>(bad).is_err(), "{field}");
    }
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), raised);
}

fn arbitrary_history() -> impl Strategy<Value = Vec<Event>> {
    // Random interleavings of writes by RO, UA and HU, with their clocks skewed.
    (prop::collection::vec((0u8..3, 0u8..6, 0i64..5_000), 1..30), -60_000i64..60_000).prop_map(|(steps, skew)| {
        let mut w = World::new();
        let mut events = vec![w.raised(t0(), Severity::High)];
        let mut now = t0();
        for (who, what, dt) in steps {
            now += Duration::milliseconds(dt);
            let (clock, wall) = match who {
                0 => (&mut w.ro, now),
                1 => (&mut w.ua, now + Duration::milliseconds(skew)),
                _ => (&mut w.hu, now - Duration::milliseconds(skew)),
            };
            // Each writer has seen everything so far before it writes.
            for e in &events {
                let _ = clock.observe(&e.stamp, wall);
            }
            let change = match what {
                0 => note("update"),
                1 => Change::Acknowledged,
                2 => Change::Status { status: Status::Contained },
                3 => Change::Severity { severity: Severity::Critical },
                4 => Change::Notified { agencies: vec![agency("hu-katved")] },
                _ => Change::Escalated { agency: agency("ua-dsns"), attempt: 1 },
            };
            let stamp = clock.stamp(wall);
            events.push(Event { incident: w.id.clone(), stamp, exercise: false, by: None, change });
        }
        events
    })
}

proptest! {
    #[test]
    fn every_node_folds_the_same_incident_whatever_order_the_events_arrived_in(
        events in arbitrary_history(),
        seed in any::<u64>(),
    ) {
        let (expected, timeline) = Incident::fold(&events).unwrap();
        // Each writer saw everything before it wrote: the timeline is the order of writing.
        prop_assert_eq!(timeline.iter().map(|e| &e.event).collect::<Vec<_>>(), events.iter().collect::<Vec<_>>());
        let mut shuffled = events.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        // Duplicates (a message delivered twice) change nothing either.
        shuffled.push(events[events.len() / 2].clone());
        let (got, _) = Incident::fold(&shuffled).unwrap();
        prop_assert_eq!(got, expected);
    }
}
