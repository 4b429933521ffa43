//! Incidents in the store: events from several agencies, applied twice or out of order.

use chrono::{Duration, TimeZone, Utc};
use limes_cooperation::area::Area;
use limes_cooperation::clock::Clock;
use limes_cooperation::incident::{Change, Event, IncidentId, IncidentType, Severity, Status};
use limes_model::{AgencyId, GeoPoint};
use limes_store::{IncidentQuery, Store, StoreOptions};

fn agency(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}

fn raised(id: IncidentId, clock: &mut Clock, exercise: bool) -> Event {
    Event {
        incident: id,
        stamp: clock.stamp(Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()),
        exercise,
        by: Some("dispatcher".into()),
        change: Change::Raised {
            kind: IncidentType::Flood,
            severity: Severity::High,
            title: "Olza rising at Cieszyn".into(),
            description: String::new(),
            area: Area::point(GeoPoint::new(49.75, 18.63).unwrap()),
            notified: vec![agency("pl-psp")],
        },
    }
}

#[test]
fn incidents_are_numbered_per_origin_folded_on_every_event_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cz = agency("cz-hzs");
    let mut clock = Clock::new(cz.clone());
    let now = Utc::now();
    let (first, second) = {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let first = store.raise_incident(&cz, now, |id| vec![raised(id, &mut clock, false)]).unwrap();
        let second = store.raise_incident(&cz, now, |id| vec![raised(id, &mut clock, true)]).unwrap();
        assert_eq!((first.id.n, second.id.n), (1, 2));
        // A partner's incident, numbered by its origin, beside ours.
        let mut pl = Clock::new(agency("pl-psp"));
        let theirs = IncidentId { origin: agency("pl-psp"), n: 1 };
        let changed = store.add_incident_events(&[raised(theirs.clone(), &mut pl, false)], now).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].id, theirs);
        (first, second)
    };
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let all = store.incidents(&IncidentQuery { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(all.len(), 3);
    let real = store.incidents(&IncidentQuery { exercise: Some(false), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(real.len(), 2);
    assert!(real.iter().all(|i| !i.exercise));
    let drills = store.incidents(&IncidentQuery { exercise: Some(true), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(drills.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![second.id.clone()]);

    // A partner's note before our status change, delivered twice: one note, one timeline.
    let mut pl = Clock::new(agency("pl-psp"));
    pl.observe(&clock.stamp(Utc::now()), Utc::now()).unwrap();
    let note = Event {
        incident: first.id.clone(),
        stamp: pl.stamp(Utc::now()),
        exercise: false,
        by: None,
        change: Change::Note { text: "Boats ready at Český Těšín".into() },
    };
    clock.observe(&note.stamp, Utc::now()).unwrap();
    let status = Event {
        stamp: clock.stamp(Utc::now() - Duration::seconds(30)),
        change: Change::Status { status: Status::Closed },
        ..note.clone()
    };
    let changed = store.add_incident_events(&[status.clone(), note.clone(), note.clone()], Utc::now()).unwrap();
    assert_eq!(changed.len(), 1, "one incident changed");
    let (incident, timeline) = store.incident(&first.id).unwrap().unwrap();
    assert_eq!(incident.notes, 1);
    assert_eq!(incident.status, Status::Closed);
    assert_eq!(timeline.len(), 3);
    assert_eq!(timeline[1].event, note);
    assert_eq!(timeline[2].event, status);
    // Applying the same events again changes nothing and reports nothing.
    assert!(store.add_incident_events(&[note], Utc::now()).unwrap().is_empty());
    // Closed incidents are listed only when asked for.
    let open = store.incidents(&IncidentQuery { limit: 10, ..Default::default() }).unwrap();
    assert!(open.iter().all(|i| i.id != first.id));
    assert_eq!(store.latest_stamp().unwrap(), Some(status.stamp));
}

#[test]
fn a_partner_event_that_arrives_before_the_incident_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut cz = Clock::new(agency("cz-hzs"));
    let mut pl = Clock::new(agency("pl-psp"));
    let id = IncidentId { origin: agency("cz-hzs"), n: 4 };
    let r = raised(id.clone(), &mut cz, false);
    pl.observe(&r.stamp, Utc::now()).unwrap();
    let ack = Event { stamp: pl.stamp(Utc::now()), change: Change::Acknowledged, by: None, ..r.clone() };
    assert!(store.add_incident_events(std::slice::from_ref(&ack), Utc::now()).unwrap().is_empty());
    assert!(store.incident(&id).unwrap().is_none());
    assert_eq!(store.incident_events(&id).unwrap().len(), 1, "kept until the incident arrives");
    let changed = store.add_incident_events(&[r], Utc::now()).unwrap();
    assert!(changed[0].notified[&agency("pl-psp")].acknowledged.is_some());
}
