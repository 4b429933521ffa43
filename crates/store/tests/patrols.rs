//! Patrol units in the store: reports judged in time order, routes, sharing resumed where it
//! stopped (never what a unit did while covert), partners' units applied twice, retention.

use chrono::{DateTime, Duration, Utc};
use limes_cooperation::patrol::{
    Assignment, Crew, PatrolError, Position, Target, Unit, UnitId, UnitKind, UnitStatus, Verdict,
};
use limes_model::AgencyId;
use limes_store::{AssignmentQuery, Store, StoreOptions, UnitChange};

fn unit(id: &str, covert: bool) -> Unit {
    Unit {
        id: id.parse().unwrap(),
        callsign: "Náchod 3".into(),
        kind: UnitKind::Car,
        vehicle: "Škoda Octavia, marked".into(),
        crew: Crew { size: 2, roles: vec![] },
        status: UnitStatus::Available,
        assignment: None,
        covert,
    }
}

fn at(now: DateTime<Utc>, ago_s: i64, lat: f64) -> Position {
    Position { speed_kmh: Some(42.5), heading: Some(90.0), ..Position::at(now - Duration::seconds(ago_s), lat, 16.16) }
}

#[test]
fn reports_are_judged_in_order_kept_across_a_restart_and_routes_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let car: UnitId = "cz-pcr/NA-3".parse().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(store.put_unit(&unit("cz-pcr/NA-3", false), now).unwrap(), None);
        let report = vec![at(now, 30, 50.41), at(now, 50, 50.40), at(now, 30, 50.41), at(now, 10, 50.42)];
        let stranger: UnitId = "cz-pcr/NOBODY".parse().unwrap();
        let verdicts = store.add_positions(&[(car.clone(), report), (stranger, vec![at(now, 5, 50.0)])], now).unwrap();
        use Verdict::*;
        assert_eq!(verdicts[0], [Accepted, Accepted, Duplicate, Accepted]);
        assert!(matches!(&verdicts[1][0], Refused(PatrolError::Id(m)) if m.contains("register it first")));
        // Older than the latest stored: refused, whatever else the report holds.
        let verdicts = store.add_positions(&[(car.clone(), vec![at(now, 20, 50.0), at(now, 1, 50.43)])], now).unwrap();
        assert!(matches!(verdicts[0][0], Refused(PatrolError::Older { .. })), "{:?}", verdicts[0]);
        assert_eq!(verdicts[0][1], Accepted);
        // The first report sent again (its times to the nanosecond, stored to the
        // microsecond): duplicates, however old.
        let again = vec![at(now, 50, 50.40), at(now, 1, 50.43)];
        let verdicts = store.add_positions(&[(car.clone(), again)], now).unwrap();
        assert_eq!(verdicts[0], [Duplicate, Duplicate]);
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let rows = store.units(None).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].latest.as_ref().map(|p| p.lat), Some(50.43));
    assert_eq!(rows[0].latest.as_ref().and_then(|p| p.speed_kmh), Some(42.5));
    let route = store.route(&car, now - Duration::minutes(5), now, 1000).unwrap();
    assert_eq!(route.iter().map(|p| p.lat).collect::<Vec<_>>(), [50.40, 50.41, 50.42, 50.43]);
    let window = store.route(&car, now - Duration::seconds(35), now - Duration::seconds(5), 1000).unwrap();
    assert_eq!(window.len(), 2);
    assert_eq!(store.unit(&car).unwrap().unwrap().latest, rows[0].latest);
}

#[test]
fn sharing_resumes_where_it_stopped_and_never_sees_what_a_covert_unit_did() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let now = Utc::now();
    let open: UnitId = "pl-kgp/KL-1".parse().unwrap();
    let covert: UnitId = "pl-kgp/X-9".parse().unwrap();
    store.put_unit(&unit("pl-kgp/KL-1", false), now - Duration::minutes(10)).unwrap();
    store.put_unit(&unit("pl-kgp/X-9", true), now - Duration::minutes(10)).unwrap();
    store
        .add_positions(
            &[(open.clone(), vec![at(now, 300, 50.1), at(now, 200, 50.2)]), (covert.clone(), vec![at(now, 300, 50.5)])],
            now,
        )
        .unwrap();
    let unshared = store.unshared_positions(100).unwrap();
    assert_eq!(unshared.len(), 1, "a covert unit is not offered at all");
    assert_eq!(unshared[0].positions.len(), 2);
    store.mark_shared(&[(open.clone(), Some(at(now, 200, 50.2)), now - Duration::seconds(200))]).unwrap();
    let unshared = store.unshared_positions(100).unwrap();
    assert!(unshared[0].positions.is_empty());
    assert_eq!(unshared[0].shared.as_ref().map(|p| p.lat), Some(50.2));

    // The covert unit is made an ordinary one: what it reported before is never offered.
    store.put_unit(&unit("pl-kgp/X-9", false), now - Duration::seconds(100)).unwrap();
    store.add_positions(&[(covert.clone(), vec![at(now, 50, 50.6)])], now).unwrap();
    let unshared = store.unshared_positions(100).unwrap();
    let x9 = unshared.iter().find(|u| u.unit.id == covert).unwrap();
    assert_eq!(x9.positions.iter().map(|p| p.lat).collect::<Vec<_>>(), [50.6]);
    assert_eq!(x9.shared, None);
}

#[test]
fn assignments_change_the_unit_in_the_same_transaction_and_partners_apply_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let now = Utc::now();
    let id: UnitId = "sk-pz/KE-7".parse().unwrap();
    store.put_unit(&unit("sk-pz/KE-7", false), now).unwrap();
    let target = Target::Incident("hu-police/2".parse().unwrap());
    let a = Assignment {
        exercise: false,
        unit: id.clone(),
        target: target.clone(),
        by: "dispatcher".into(),
        at: now,
        note: String::new(),
    };
    let changed = store.change_unit(&id, now, Some(&a), |u| u.assign(target.clone()).map(|()| true)).unwrap();
    let UnitChange::Changed(u) = changed else { panic!("{changed:?}") };
    assert_eq!(u.status, UnitStatus::EnRoute);
    let q = AssignmentQuery { target: Some(target.key()), limit: 10, ..Default::default() };
    assert_eq!(store.assignments(&q).unwrap(), std::slice::from_ref(&a));
    // Off duty: refused, nothing written.
    store.change_unit(&id, now, None, |u| Ok::<_, PatrolError>(u.set_status(UnitStatus::OffDuty))).unwrap();
    let a2 = Assignment { at: now + Duration::seconds(1), ..a.clone() };
    let refused = store.change_unit(&id, now, Some(&a2), |u| u.assign(target.clone()).map(|()| true)).unwrap();
    assert!(matches!(refused, UnitChange::Refused(PatrolError::NotOnDuty { .. })), "{refused:?}");
    assert_eq!(store.assignments(&q).unwrap().len(), 1);
    let nobody: UnitId = "sk-pz/NONE".parse().unwrap();
    assert_eq!(store.change_unit(&nobody, now, None, |_| Ok::<_, PatrolError>(true)).unwrap(), UnitChange::NotFound);

    // A partner's unit, position and assignment, delivered twice: kept once. What it says of
    // another agency's units is not taken.
    let hu = AgencyId::new("hu-police").unwrap();
    let theirs = unit("hu-police/SZ-2", false);
    let p = at(now, 10, 46.25);
    let ha = Assignment { unit: theirs.id.clone(), ..a.clone() };
    let forged = unit("sk-pz/KE-7", false);
    let first = store
        .apply_partner_patrol(
            &hu,
            &[(theirs.clone(), now), (forged, now)],
            &[(theirs.id.clone(), p.clone())],
            std::slice::from_ref(&ha),
            now,
        )
        .unwrap();
    assert_eq!((first.units.len(), first.positions.len(), first.assignments.len()), (1, 1, 1));
    let again =
        store.apply_partner_patrol(&hu, &[(theirs.clone(), now)], &[(theirs.id.clone(), p)], &[ha], now).unwrap();
    assert_eq!(again, Default::default());
    // A state older than the one held (queued after a newer one) changes nothing.
    let stale = Unit { status: UnitStatus::Busy, ..theirs.clone() };
    let applied = store.apply_partner_patrol(&hu, &[(stale, now - Duration::seconds(1))], &[], &[], now).unwrap();
    assert!(applied.units.is_empty());
    assert_eq!(store.unit(&theirs.id).unwrap().unwrap().unit.status, UnitStatus::Available);
    assert_eq!(store.unit(&id).unwrap().unwrap().unit.status, UnitStatus::OffDuty, "ours untouched");
    let partners = store.units(Some(true)).unwrap();
    assert_eq!(partners.len(), 1);
    assert!(partners[0].partner);
    // A partner's unit is not this agency's to change or report for.
    assert_eq!(store.change_unit(&theirs.id, now, None, |_| Ok::<_, PatrolError>(true)).unwrap(), UnitChange::NotFound);
    assert!(store.put_unit(&theirs, now).is_err());

    // Retention: the partner's data before the cutoff, then the partner's units too.
    assert_eq!(store.delete_patrol_data(Some("hu-police"), now - Duration::seconds(60), false).unwrap(), 0);
    assert_eq!(store.delete_patrol_data(Some("hu-police"), now + Duration::seconds(1), true).unwrap(), 3);
    assert!(store.units(Some(true)).unwrap().is_empty());
    assert_eq!(store.units(Some(false)).unwrap().len(), 1);
    assert_eq!(store.assignments(&q).unwrap().len(), 1, "ours kept");
}
