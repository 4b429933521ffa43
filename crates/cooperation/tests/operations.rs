//! Joint operations folded from their members' events.

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_cooperation::clock::Clock;
use limes_cooperation::operation::{OpChange, OpEvent, Operation, OperationId};
use limes_model::{AgencyId, HotlistReason};

fn agency(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn event(clock: &mut Clock, at: DateTime<Utc>, change: OpChange) -> OpEvent {
    OpEvent {
        operation: OperationId { origin: agency("pl-policja"), n: 1 },
        stamp: clock.stamp(at),
        exercise: false,
        by: None,
        change,
    }
}

fn opened(pl: &mut Clock) -> OpEvent {
    event(
        pl,
        t0(),
        OpChange::Opened {
            name: "Crystal".into(),
            description: String::new(),
            from: t0(),
            until: t0() + Duration::days(30),
            members: vec![agency("cz-policie")],
            retention_days: 90,
        },
    )
}

#[test]
fn members_write_the_origin_decides_and_nothing_counts_after_the_close() {
    let (mut pl, mut cz, mut hu) =
        (Clock::new(agency("pl-policja")), Clock::new(agency("cz-policie")), Clock::new(agency("hu-police")));
    let open = opened(&mut pl);
    let entry = OpChange::Entry {
        plate: "4A23456".into(),
        country: Some("CZ".into()),
        reason: HotlistReason::Suspect,
        note: String::new(),
    };
    let by_member = event(&mut cz, t0() + Duration::minutes(1), entry.clone());
    let by_stranger = event(&mut hu, t0() + Duration::minutes(1), entry.clone());
    let task = event(
        &mut cz,
        t0() + Duration::minutes(2),
        OpChange::Task { task: "t1".into(), title: "Check".into(), assignee: None, due: None },
    );
    let same_task = event(
        &mut pl,
        t0() + Duration::minutes(3),
        OpChange::Task { task: "t1".into(), title: "Again".into(), assignee: None, due: None },
    );
    let member_close = event(&mut cz, t0() + Duration::minutes(4), OpChange::Closed);
    assert!(member_close.check().unwrap_err().contains("only the agency that opened"));
    let close = event(&mut pl, t0() + Duration::minutes(5), OpChange::Closed);
    let late = event(&mut cz, t0() + Duration::minutes(6), OpChange::Note { text: "after the close".into() });
    let (op, timeline) =
        Operation::fold(&[late, close, member_close, same_task, task, by_stranger, by_member, open]).unwrap();
    assert_eq!(op.members, vec![agency("pl-policja"), agency("cz-policie")]);
    assert_eq!(op.hotlist.len(), 1);
    assert_eq!(op.hotlist["4A23456"].added_by, agency("cz-policie"));
    assert_eq!(op.tasks.len(), 1, "a task id is used once");
    assert_eq!(op.notes, 0, "nothing after the close");
    assert_eq!(op.closed, Some(t0() + Duration::minutes(5)));
    assert_eq!(op.delete_after(), Some(t0() + Duration::minutes(5) + Duration::days(90)));
    assert!(!op.is_active(t0() + Duration::minutes(10)));
    let applied: Vec<bool> = timeline.iter().map(|e| e.applied).collect();
    // open, member entry, stranger entry, task, same task, member close, close, late note
    assert_eq!(applied.iter().filter(|a| **a).count(), 4, "{applied:?}");
}

#[test]
fn bad_operations_are_refused_with_a_reason() {
    let mut pl = Clock::new(agency("pl-policja"));
    let mut open = opened(&mut pl);
    if let OpChange::Opened { until, .. } = &mut open.change {
        *until = t0() - Duration::days(1);
    }
    assert!(open.check().unwrap_err().contains("before it starts"));
    let mut open = opened(&mut pl);
    if let OpChange::Opened { until, .. } = &mut open.change {
        *until = t0() + Duration::days(400);
    }
    assert!(open.check().unwrap_err().contains("at most 366 days"));
    let hit = event(
        &mut pl,
        t0(),
        OpChange::Hit { plate: "X1".into(), camera: "c".into(), time: t0(), position: None, kind: "maybe".into() },
    );
    assert!(hit.check().unwrap_err().contains("confirmed or possible"));
    let json = serde_json::to_value(opened(&mut pl)).unwrap();
    let mut bad = json.clone();
    bad["retention_days"] = (-1).into();
    assert!(serde_json::from_value::<OpEvent>(bad).is_err());
    let mut bad = json;
    bad["surprise"] = 1.into();
    assert!(serde_json::from_value::<OpEvent>(bad).is_err());
}
