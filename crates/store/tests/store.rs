//! The store against real SQLite files in a temporary directory.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_model::{
    AgencyId, Camera, CameraId, CameraKind, Demotion, Direction, GeoPoint, HotlistEntry, HotlistReason, MatchKind,
    PlateInfo, PlateRead, Scored, VehicleInfo,
};
use limes_plate::{CountryCode, PlateText, lookalike_key};
use limes_store::{AlertQuery, NewAlert, NewRead, PlateFilter, ReadQuery, Store, StoreOptions, WriteBatch};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn camera(id: &str) -> Camera {
    Camera {
        id: CameraId::new(id).unwrap(),
        agency: AgencyId::new("ro-igpf").unwrap(),
        kind: CameraKind::Anpr,
        position: Some(GeoPoint::new(47.95, 26.07).unwrap()),
        heading: Some(10.0),
        road: Some("E85".into()),
        lane: None,
        country: CountryCode::RO,
        name: Some("Siret north".into()),
    }
}

fn read(camera: &str, plate: &str, t: DateTime<Utc>) -> NewRead {
    let r = PlateRead {
        exercise: false,
        camera: CameraId::new(camera).unwrap(),
        time: t,
        plate: PlateInfo {
            text: Scored { value: plate.to_owned(), confidence: Some(0.9) },
            plate_type: None,
            country: Some(Scored { value: CountryCode::RO, confidence: None }),
            issuing_entity: None,
        },
        direction: Direction::Leaving,
        position: None,
        vehicle: None,
        images: vec![],
    };
    NewRead::new(r, PlateText::new(plate).unwrap(), Some(CountryCode::RO), true, t)
}

fn entry(id: u64, plate: &str) -> HotlistEntry {
    HotlistEntry {
        exercise: false,
        id,
        plate: PlateText::new(plate).unwrap(),
        country: Some(CountryCode::RO),
        reason: HotlistReason::Stolen,
        priority: 1,
        agency: AgencyId::new("ro-igpf").unwrap(),
        expires: None,
        fuzzy: false,
        note: None,
        vehicle: None,
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    (dir, store)
}

#[test]
fn cameras_round_trip_and_update() {
    let (_dir, store) = open();
    assert_eq!(store.upsert_cameras(&[camera("a"), camera("b")]).unwrap(), 2);
    let mut changed = camera("a");
    changed.kind = CameraKind::Drone;
    changed.position = None;
    assert_eq!(store.upsert_cameras(&[changed.clone()]).unwrap(), 0);
    assert_eq!(store.camera(&CameraId::new("a").unwrap()).unwrap(), Some(changed));
    assert_eq!(store.cameras().unwrap().len(), 2);
    assert!(store.delete_camera(&CameraId::new("b").unwrap()).unwrap());
    assert!(!store.delete_camera(&CameraId::new("b").unwrap()).unwrap());
    assert_eq!(store.cameras().unwrap().len(), 1);
}

#[test]
fn hotlist_round_trip() {
    let (_dir, store) = open();
    let mut e = entry(7, "B123ABC");
    e.expires = Some(t0());
    e.note = Some("seen near Suceava".into());
    e.fuzzy = true;
    e.vehicle = Some(VehicleInfo { make: Some("VW".into()), colour: Some("gri".into()), class: None });
    store.upsert_hotlist(&[e.clone(), entry(8, "CJ01XYZ")]).unwrap();
    assert_eq!(store.hotlist().unwrap(), vec![e, entry(8, "CJ01XYZ")]);
    assert_eq!(store.next_hotlist_id().unwrap(), 9);
    assert_eq!(store.hotlist_page(7, 10).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![8]);
    assert_eq!(store.hotlist_page(0, 1).unwrap().len(), 1);
    assert!(store.delete_hotlist_entry(7).unwrap());
    assert_eq!(store.hotlist().unwrap().len(), 1);
}

#[test]
fn a_session_declares_another_purpose() {
    use limes_store::{SessionRow, UserRow};
    let (_dir, store) = open();
    let user = UserRow {
        name: "ana".into(),
        display_name: None,
        password_hash: None,
        totp_secret: None,
        totp_last_step: None,
        roles: vec!["analyst".into()],
        agency: "ro-igpf".into(),
        country: "RO".into(),
        clearance: 0,
        cases: vec![],
        disabled: false,
        created_us: 1,
    };
    store.create_user(&user).unwrap();
    let at_login = r#"{"purpose":"investigation","legal_basis":"art. 1","case_ref":null}"#;
    let session = SessionRow {
        digest: "d1".into(),
        user: "ana".into(),
        created_us: 1,
        expires_us: 2,
        purpose: Some(at_login.into()),
    };
    store.create_session(&session).unwrap();
    let later = r#"{"purpose":"prevention","legal_basis":"art. 2","case_ref":"C-7"}"#;
    assert!(store.set_session_purpose("d1", Some(later)).unwrap());
    assert_eq!(store.session("d1").unwrap().unwrap().0.purpose.as_deref(), Some(later));
    assert!(store.set_session_purpose("d1", None).unwrap());
    assert_eq!(store.session("d1").unwrap().unwrap().0.purpose, None);
    assert!(!store.set_session_purpose("no such session", Some(later)).unwrap());
}

#[test]
fn an_entry_changes_in_place_and_a_partners_never_does() {
    use limes_store::{HotlistUpdate, PartnerHotlistChange};
    let (_dir, store) = open();
    let mut ours = vec![entry(0, "B123ABC"), entry(0, "CJ01XYZ")];
    store.insert_hotlist(&mut ours).unwrap();
    let mut changed = ours[0].clone();
    changed.reason = HotlistReason::Wanted;
    changed.priority = 1;
    changed.expires = Some(t0());
    changed.note = Some("grey van, two people".into());
    changed.fuzzy = true;
    changed.vehicle = Some(VehicleInfo { make: Some("Ford".into()), colour: None, class: None });
    assert_eq!(store.update_hotlist_entry(&changed).unwrap(), HotlistUpdate::Updated);
    assert_eq!(store.hotlist().unwrap(), vec![changed.clone(), ours[1].clone()], "the other entry is untouched");
    // And back: optional fields cleared.
    assert_eq!(store.update_hotlist_entry(&ours[0]).unwrap(), HotlistUpdate::Updated);
    assert_eq!(store.hotlist().unwrap(), ours);
    assert_eq!(store.update_hotlist_entry(&entry(99, "B999XYZ")).unwrap(), HotlistUpdate::NotFound);
    assert_eq!(store.hotlist().unwrap().len(), 2, "an update never adds an entry");

    // A partner's entry, kept beside ours, is not ours to change.
    let theirs = HotlistEntry { agency: AgencyId::new("ua-dpsu").unwrap(), ..entry(5, "AA1234BB") };
    let applied = store
        .apply_partner_hotlist(
            "ua-dpsu",
            vec![PartnerHotlistChange::Upsert {
                entry: Box::new(theirs),
                message: "m1".into(),
                purpose: "detection".into(),
            }],
            Utc::now(),
        )
        .unwrap();
    let local = store.partner_hotlist().unwrap()[0].id;
    let before = store.hotlist().unwrap();
    let mut edit = before.iter().find(|e| e.id == local).unwrap().clone();
    edit.note = Some("changed here".into());
    assert_eq!(store.update_hotlist_entry(&edit).unwrap(), HotlistUpdate::PartnersEntry, "{applied:?}");
    assert_eq!(store.hotlist().unwrap(), before);
}

#[test]
fn a_batch_survives_reopening_and_alerts_reference_their_reads() {
    let dir = tempfile::tempdir().unwrap();
    let committed = {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let batch = WriteBatch {
            reads: vec![read("a", "B123ABC", t0()), read("a", "CJ01XYZ", t0())],
            alerts: vec![
                NewAlert::new(1, &entry(3, "CJ01XYZ"), MatchKind::Confirmed, 0),
                NewAlert::demoted(0, &entry(4, "B123ABC"), MatchKind::Possible, 0, Some(Demotion::ColourDiffers)),
            ],
        };
        store.write_blocking(batch).unwrap()
    };
    assert_eq!(committed.alerts[1].demoted, Some(Demotion::ColourDiffers));
    assert_eq!(committed.read_ids.len(), 2);
    assert_eq!(committed.alerts[0].read_id, Some(committed.read_ids[1]));
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.count_reads().unwrap(), 2);
    let mut alerts = store.alerts(&AlertQuery { limit: 10, ..Default::default() }).unwrap();
    alerts.reverse();
    assert_eq!(alerts, committed.alerts);
    assert_eq!(store.read(committed.read_ids[1]).unwrap().plate.as_str(), "CJ01XYZ");
}

#[test]
fn a_bad_batch_fails_alone_in_its_group() {
    let (_dir, store) = open();
    // Many batches at once so that the writer groups them; every fourth one is
    // inconsistent (an alert pointing past its reads) and must fail alone.
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut batch = WriteBatch { reads: vec![read("a", &format!("B{i:03}AAA"), t0())], alerts: vec![] };
                if i % 4 == 0 {
                    batch.alerts.push(NewAlert::new(5, &entry(1, "B000AAA"), MatchKind::Confirmed, 0));
                }
                (i, store.write_blocking(batch))
            })
        })
        .collect();
    for h in handles {
        let (i, result) = h.join().unwrap();
        assert_eq!(result.is_err(), i % 4 == 0, "batch {i}: {result:?}");
    }
    assert_eq!(store.count_reads().unwrap(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_writers_all_commit() {
    let (_dir, store) = open();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let reads = (0..50).map(|j| read("a", &format!("B{:02}{}", j, ["AAA", "BBB"][i % 2]), t0())).collect();
            store.write(WriteBatch { reads, alerts: vec![] }).await.unwrap().read_ids.len()
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await.unwrap();
    }
    assert_eq!(n, 10_000);
    assert_eq!(store.count_reads().unwrap(), 10_000);
}

#[test]
fn search_by_plate_lookalike_camera_time_with_paging() {
    let (_dir, store) = open();
    let mut reads = Vec::new();
    for i in 0..25 {
        reads.push(read(if i % 2 == 0 { "a" } else { "b" }, "B123ABC", t0() + Duration::minutes(i)));
    }
    reads.push(read("a", "B1Z3A8C", t0()));
    reads.push(read("a", "CJ01XYZ", t0()));
    store.write_blocking(WriteBatch { reads, alerts: vec![] }).unwrap();

    let exact = PlateText::new("B123ABC").unwrap();
    let mut q = ReadQuery { plate: Some(PlateFilter::Exact(exact.clone())), limit: 10, ..Default::default() };
    let mut seen = Vec::new();
    loop {
        let page = store.search_reads(&q).unwrap();
        assert!(page.reads.len() <= 10);
        seen.extend(page.reads.iter().map(|r| r.read.time));
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let look = lookalike_key(&PlateText::new("B1Z3A8C").unwrap());
    let q = ReadQuery { plate: Some(PlateFilter::Lookalike(look.key())), limit: 100, ..Default::default() };
    assert_eq!(store.search_reads(&q).unwrap().reads.len(), 26);

    let q = ReadQuery {
        plate: Some(PlateFilter::Exact(exact.clone())),
        camera: Some(CameraId::new("b").unwrap()),
        from: Some(t0() + Duration::minutes(10)),
        to: Some(t0() + Duration::minutes(20)),
        limit: 100,
        ..Default::default()
    };
    let got = store.search_reads(&q).unwrap().reads;
    assert_eq!(got.len(), 5, "odd minutes 11..=19 on camera b");
    assert!(got.iter().all(|r| r.read.camera.as_str() == "b"));

    let starts_with_cj: Arc<dyn Fn(&str) -> bool + Send + Sync> = Arc::new(|p: &str| p.starts_with("CJ"));
    let q = ReadQuery { plate: Some(PlateFilter::Matches(starts_with_cj.clone())), limit: 100, ..Default::default() };
    assert_eq!(store.search_reads(&q).unwrap().reads.len(), 1);
    // A bounded scan hands back a cursor and finds the rest on the next pages.
    let mut q =
        ReadQuery { plate: Some(PlateFilter::Matches(starts_with_cj)), limit: 100, max_scan: 5, ..Default::default() };
    let mut found = 0;
    let mut pages = 0;
    loop {
        let page = store.search_reads(&q).unwrap();
        found += page.reads.len();
        pages += 1;
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(found, 1);
    assert!(pages >= 5);
}

#[test]
fn retention_deletes_old_reads_and_their_alerts() {
    let (_dir, store) = open();
    let batch = WriteBatch {
        reads: vec![read("a", "B123ABC", t0() - Duration::days(40)), read("a", "B123ABC", t0())],
        alerts: vec![
            NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Confirmed, 0),
            NewAlert::new(1, &entry(1, "B123ABC"), MatchKind::Confirmed, 0),
        ],
    };
    store.write_blocking(batch).unwrap();
    assert_eq!(store.delete_reads_before(t0() - Duration::days(30)).unwrap(), 1);
    assert_eq!(store.count_reads().unwrap(), 1);
    assert_eq!(store.alerts(&AlertQuery { limit: 10, ..Default::default() }).unwrap().len(), 1);
}

#[test]
fn plates_seen_in_a_time_range_are_distinct_with_their_reads() {
    let (_dir, store) = open();
    let reads = vec![
        read("a", "CJ07XYZ", t0() - Duration::days(8)),
        read("a", "B123ABC", t0() - Duration::days(2)),
        read("b", "CJ07XYZ", t0() - Duration::hours(1)),
        read("a", "B123ABC", t0()),
        read("b", "B123ABC", t0() + Duration::hours(1)),
        drill(read("b", "B123ABC", t0() - Duration::hours(2))),
        drill(read("b", "SV99EXR", t0() - Duration::hours(2))),
    ];
    let ids = store.write_blocking(WriteBatch { reads, alerts: vec![] }).unwrap().read_ids;
    let (from, to) = (t0() - Duration::days(7), t0() + Duration::hours(1));
    let seen = store.plates_seen(from, to, false).unwrap();
    let plate = |p: &str| PlateText::new(p).unwrap();
    // From inclusive, to exclusive; the 8-day-old read is outside; the exercise's reads are
    // apart.
    assert_eq!(seen, vec![(plate("B123ABC"), vec![ids[1], ids[3]]), (plate("CJ07XYZ"), vec![ids[2]])]);
    assert_eq!(
        store.plates_seen(from, to, true).unwrap(),
        vec![(plate("B123ABC"), vec![ids[5]]), (plate("SV99EXR"), vec![ids[6]])]
    );
    assert!(store.plates_seen(t0() + Duration::days(1), t0() + Duration::days(2), false).unwrap().is_empty());
    // The mark is kept on the read itself.
    assert!(store.read(ids[5]).unwrap().read.exercise && !store.read(ids[1]).unwrap().read.exercise);
}

/// The same read, scripted by an exercise.
fn drill(mut r: NewRead) -> NewRead {
    r.read.exercise = true;
    NewRead::new(r.read, r.plate, r.country, r.valid, r.received)
}

#[test]
fn an_alert_never_joins_an_exercise_read_and_a_real_entry() {
    let (_dir, store) = open();
    let mut drill_entry = entry(2, "B123ABC");
    drill_entry.exercise = true;
    for (read, entry) in
        [(drill(read("a", "B123ABC", t0())), entry(1, "B123ABC")), (read("a", "B123ABC", t0()), drill_entry.clone())]
    {
        let batch = WriteBatch { reads: vec![read], alerts: vec![NewAlert::new(0, &entry, MatchKind::Confirmed, 0)] };
        let e = store.write_blocking(batch).unwrap_err().to_string();
        assert!(e.contains("exercise record and a real one"), "{e}");
    }
    assert_eq!(store.count_reads().unwrap(), 0, "the refused batches left nothing");
    let batch = WriteBatch {
        reads: vec![drill(read("a", "B123ABC", t0()))],
        alerts: vec![NewAlert::new(0, &drill_entry, MatchKind::Confirmed, 0)],
    };
    let alert = &store.write_blocking(batch).unwrap().alerts[0];
    assert!(alert.exercise);
    assert!(store.alert(alert.id).unwrap().exercise, "the mark is stored");
}

#[test]
fn acknowledging_keeps_the_first_acknowledgement() {
    let (_dir, store) = open();
    let c = store
        .write_blocking(WriteBatch {
            reads: vec![read("a", "B123ABC", t0())],
            alerts: vec![NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Possible, 0)],
        })
        .unwrap();
    let id = c.alerts[0].id;
    let unacked = AlertQuery { unacknowledged_only: true, limit: 10, ..Default::default() };
    assert_eq!(store.alerts(&unacked).unwrap().len(), 1);
    let a = store.acknowledge_alert(id, "op1", Some("checked image: different car"), t0()).unwrap();
    assert_eq!(a.ack.as_ref().unwrap().by, "op1");
    let again = store.acknowledge_alert(id, "op2", None, t0()).unwrap();
    assert_eq!(again.ack.unwrap().by, "op1");
    assert!(store.alerts(&unacked).unwrap().is_empty());
    assert!(store.acknowledge_alert(id + 100, "op1", None, t0()).is_err());
}

#[test]
fn sustained_writes_keep_the_wal_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { wal_frames_limit: 64, ..StoreOptions::default() };
    let store = Store::open(dir.path(), options).unwrap();
    let wal = store.path().with_extension("db-wal");
    let mut largest = 0;
    // Never a quiet moment for the background checkpointer: only the writer's own
    // checkpoint can let the log start again.
    let start = std::time::Instant::now();
    let mut i = 0;
    while start.elapsed() < std::time::Duration::from_secs(3) {
        let reads = (0..500)
            .map(|j| read("a", &format!("B{:03}{}", (i * 7 + j) % 1000, ["ABC", "XYZ"][j % 2]), t0()))
            .collect();
        store.write_blocking(WriteBatch { reads, alerts: vec![] }).unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        i += 1;
    }
    let written = store.count_reads().unwrap();
    assert!(written >= 20_000, "wrote {written} reads");
    // 64 frames of 8 KiB is 512 KiB; a group or two past the limit is the most it can reach.
    assert!(largest < 16 << 20, "the WAL grew to {largest} bytes for {written} reads");
}

#[test]
fn plate_search_spans_every_segment_and_uses_the_plate_index() {
    let (_dir, store) = open();
    store.write_blocking(WriteBatch { reads: vec![read("a", "B123ABC", t0())], alerts: vec![] }).unwrap();
    // Jump three segments ahead (262,144 reads each), as a long-running node would have.
    let far = 3i64 << 18;
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute(
        "INSERT INTO reads (id, seg, camera, time_us, received_us, plate, plate_key, lookalike_key, country, valid, body)
         SELECT ?1, ?1 >> 18, camera, time_us + 1, received_us, plate, plate_key, lookalike_key, country, valid, body
         FROM reads WHERE id = 1",
        [far],
    )
    .unwrap();
    let c = store
        .write_blocking(WriteBatch {
            reads: vec![read("a", "B123ABC", t0() + Duration::minutes(1)), read("a", "CJ01XYZ", t0())],
            alerts: vec![],
        })
        .unwrap();
    assert_eq!(c.read_ids, vec![far + 1, far + 2], "the writer numbers on from the newest read");
    let exact = PlateText::new("B123ABC").unwrap();
    let q = ReadQuery { plate: Some(PlateFilter::Exact(exact.clone())), limit: 10, ..Default::default() };
    let ids: Vec<i64> = store.search_reads(&q).unwrap().reads.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![far + 1, far, 1], "newest first, across segments 0 and 3");
    let look =
        ReadQuery { plate: Some(PlateFilter::Lookalike(lookalike_key(&exact).key())), limit: 10, ..Default::default() };
    assert_eq!(store.search_reads(&look).unwrap().reads.len(), 3);

    // The search as the store runs it: by the plate index, never walking another index.
    for query in [&q, &look] {
        let plan = store.search_plan(query).unwrap();
        assert!(plan.iter().any(|p| p.contains("USING INDEX reads_by_plate")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("reads_by_time") || p.contains("SCAN reads")), "{plan:?}");
    }
}

#[test]
fn ids_are_never_given_twice_even_after_retention_deletes_the_newest_rows() {
    let (_dir, store) = open();
    // A late upload: a read from 40 days ago raises an alert, then retention deletes both,
    // leaving no row at all. The next read and alert must not take their ids again.
    let old = store
        .write_blocking(WriteBatch {
            reads: vec![read("a", "B123ABC", t0() - Duration::days(40))],
            alerts: vec![NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Confirmed, 0)],
        })
        .unwrap();
    assert_eq!(store.newest_alert_id().unwrap(), old.alerts[0].id);
    assert_eq!(store.delete_reads_before(t0() - Duration::days(30)).unwrap(), 1);
    assert_eq!(store.count_reads().unwrap(), 0);
    assert_eq!(store.newest_alert_id().unwrap(), old.alerts[0].id, "remembered after the rows went");
    let new = store
        .write_blocking(WriteBatch {
            reads: vec![read("a", "B123ABC", t0())],
            alerts: vec![NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Confirmed, 0)],
        })
        .unwrap();
    assert!(new.read_ids[0] > old.read_ids[0], "{new:?} after {old:?}");
    assert!(new.alerts[0].id > old.alerts[0].id, "{new:?} after {old:?}");
    assert_eq!(store.alerts_after(old.alerts[0].id, 10).unwrap(), new.alerts);
}

#[test]
fn alerts_after_an_id_come_oldest_first_and_webhook_cursors_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(store.newest_alert_id().unwrap(), 0);
        let reads = (0..5).map(|i| read("a", &format!("B12{i}ABC"), t0())).collect();
        let alerts = (0..5).map(|i| NewAlert::new(i, &entry(1, "B120ABC"), MatchKind::Possible, 1)).collect();
        store.write_blocking(WriteBatch { reads, alerts }).unwrap();
        let all = store.alerts_after(0, 100).unwrap();
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(store.alerts_after(all[1].id, 2).unwrap(), all[2..4].to_vec());
        assert_eq!(store.webhook_cursor("dispatch").unwrap(), None);
        store.set_webhook_cursor("dispatch", all[2].id).unwrap();
        store.set_webhook_cursor("dispatch", all[3].id).unwrap();
        store.set_webhook_cursor("other", 1).unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let newest = store.newest_alert_id().unwrap();
    assert_eq!(store.webhook_cursor("dispatch").unwrap(), Some(newest - 1));
    assert_eq!(store.webhook_cursor("other").unwrap(), Some(1));
}

#[test]
fn other_writers_committing_meanwhile_never_fail_a_group() {
    // Camera and hotlist changes, acknowledgements, retention (and images and webhook cursors)
    // commit on their own connection while the writer commits groups. The writer must wait
    // for them, never fail: a deferred transaction whose snapshot went stale before its first
    // insert failed with "database is locked" (SQLITE_BUSY_SNAPSHOT), the whole group with it.
    let (_dir, store) = open();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.upsert_cameras(&[camera("a")]).unwrap();
                n += 1;
                // SQLite's busy handler polls; a writer that never pauses could starve the other.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            n
        })
    };
    for i in 0..100 {
        let reads = (0..20).map(|j| read("a", &format!("B{:02}{}", j, ["AAA", "BBB"][i % 2]), t0())).collect();
        store.write_blocking(WriteBatch { reads, alerts: vec![] }).unwrap_or_else(|e| panic!("group {i}: {e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(other.join().unwrap() > 0);
    assert_eq!(store.count_reads().unwrap(), 2000);
}

fn partner_alert(message: &str, plate: &str, created: DateTime<Utc>) -> limes_store::PartnerAlert {
    limes_store::PartnerAlert {
        exercise: false,
        origin: limes_store::AlertOrigin {
            agency: AgencyId::new("ua-dpsu").unwrap(),
            country: Some(CountryCode::UA),
            alert_id: 7,
            message: message.into(),
            camera_position: Some(GeoPoint::new(47.99, 26.1).unwrap()),
            pseudonymised: false,
        },
        entry_id: 0,
        kind: MatchKind::Confirmed,
        demoted: None,
        distance: 0,
        plate: PlateText::new(plate).unwrap(),
        read_text: plate.into(),
        camera: CameraId::new("ua-porubne-1").unwrap(),
        time: created,
        created,
        reason: HotlistReason::Stolen,
        priority: 1,
        agency: AgencyId::new("ua-dpsu").unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_alerts_share_the_alert_ids_take_effect_once_and_go_by_retention_or_plate() {
    let (_dir, store) = open();
    let own = store
        .write(WriteBatch {
            reads: vec![read("a", "B123ABC", t0())],
            alerts: vec![NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Confirmed, 0)],
        })
        .await
        .unwrap();
    let theirs = store
        .write_partner_alerts(vec![partner_alert("m1", "AA1234KX", t0()), partner_alert("m2", "BC5678AB", t0())])
        .await
        .unwrap();
    assert_eq!(theirs.iter().map(|a| a.id).collect::<Vec<_>>(), vec![own.alerts[0].id + 1, own.alerts[0].id + 2]);
    // The same message again (a restart between storing and marking it applied): no effect,
    // and no id used up.
    let again = store.write_partner_alerts(vec![partner_alert("m1", "AA1234KX", t0())]).await.unwrap();
    assert!(again.is_empty());
    let later = store
        .write(WriteBatch {
            reads: vec![read("a", "B123ABC", t0())],
            alerts: vec![NewAlert::new(0, &entry(1, "B123ABC"), MatchKind::Confirmed, 0)],
        })
        .await
        .unwrap();
    assert_eq!(later.alerts[0].id, theirs[1].id + 1);
    let listed = store.alert(theirs[0].id).unwrap();
    assert_eq!(listed, theirs[0]);
    assert_eq!(listed.read_id, None);
    assert_eq!(listed.origin.as_ref().unwrap().camera_position.unwrap().lat, 47.99);

    assert_eq!(store.partner_alerts_for_plate("AA1234KX").unwrap().len(), 1);
    // What is deleted comes back with the message it came in, for the deletion receipt.
    let deleted = store.delete_partner_alerts_for_plate("AA1234KX").unwrap();
    assert_eq!(deleted.iter().map(|d| (d.id, d.message.as_str())).collect::<Vec<_>>(), vec![(theirs[0].id, "m1")]);
    assert!(store.delete_partner_alerts_from_before("xx-nobody", t0() + Duration::seconds(1)).unwrap().is_empty());
    let deleted = store.delete_partner_alerts_before(t0() + Duration::seconds(1)).unwrap();
    assert_eq!(deleted.iter().map(|d| d.message.as_str()).collect::<Vec<_>>(), vec!["m2"]);
    assert_eq!(deleted[0].agency, theirs[1].origin.as_ref().unwrap().agency.as_str());
    // This node's own alerts are not touched by either.
    assert_eq!(store.alerts(&AlertQuery { limit: 10, ..Default::default() }).unwrap().len(), 2);
    // Ids are never given twice, even after the newest alert was deleted.
    let n = store.write_partner_alerts(vec![partner_alert("m3", "AA1234KX", t0())]).await.unwrap();
    assert!(n[0].id > later.alerts[0].id);
}

#[test]
fn a_partners_entries_keep_their_local_ids_never_collide_with_ours_and_go_by_retention() {
    use limes_store::{PartnerHotlistChange, SharedEntry};
    let (dir, store) = open();
    let now = Utc::now();
    let mut ours = vec![entry(0, "B123ABC"), entry(0, "B124ABC")];
    store.insert_hotlist(&mut ours).unwrap();
    assert_eq!(ours.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2], "the store gives the ids");
    // Ukraine's entries 1 and 2 (its own ids, the same numbers as ours) arrive.
    let upsert = |id: u64, plate: &str, message: &str| PartnerHotlistChange::Upsert {
        entry: Box::new(HotlistEntry { agency: AgencyId::new("ua-dpsu").unwrap(), ..entry(id, plate) }),
        message: message.into(),
        purpose: "detection".into(),
    };
    let applied = store
        .apply_partner_hotlist("ua-dpsu", vec![upsert(1, "AA1234BB", "m1"), upsert(2, "AA1235BB", "m2")], now)
        .unwrap();
    let local: Vec<u64> = applied.upserted.iter().map(|(e, _)| e.id).collect();
    assert_eq!(local, [3, 4], "new local ids, ours untouched");
    assert_eq!(applied.upserted[0].1.partner_id, 1);
    // An update keeps the local id; a removal of an unknown entry does nothing.
    let applied = store
        .apply_partner_hotlist(
            "ua-dpsu",
            vec![upsert(1, "AA1234BC", "m3"), PartnerHotlistChange::Remove { partner_id: 99 }],
            now,
        )
        .unwrap();
    assert_eq!((applied.upserted[0].0.id, applied.removed.len()), (3, 0));
    // Another import after them takes the next id, never theirs.
    let mut more = vec![entry(0, "B125ABC")];
    store.insert_hotlist(&mut more).unwrap();
    assert_eq!(more[0].id, 5);
    let all: Vec<(u64, String)> = store.hotlist().unwrap().into_iter().map(|e| (e.id, e.plate.to_string())).collect();
    assert_eq!(all.len(), 5);
    assert!(all.contains(&(3, "AA1234BC".into())) && all.contains(&(1, "B123ABC".into())), "{all:?}");
    let origins = store.partner_hotlist().unwrap();
    assert_eq!(
        origins.iter().map(|o| (o.id, o.partner_id, o.message.as_str())).collect::<Vec<_>>(),
        [(3, 1, "m3"), (4, 2, "m2")]
    );
    // The origin survives a restart of the store.
    drop(store);
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.partner_hotlist().unwrap(), origins);
    // Removal by the partner, then retention: only what arrived before the cutoff goes.
    let applied =
        store.apply_partner_hotlist("ua-dpsu", vec![PartnerHotlistChange::Remove { partner_id: 2 }], now).unwrap();
    assert_eq!(applied.removed, [4]);
    assert!(store.delete_partner_hotlist("ua-dpsu", Some(now - chrono::Duration::days(1))).unwrap().is_empty());
    let gone = store.delete_partner_hotlist("ua-dpsu", None).unwrap();
    assert_eq!(gone.iter().map(|d| (d.id, d.message.as_str())).collect::<Vec<_>>(), [(3, "m3")]);
    assert!(store.partner_hotlist().unwrap().is_empty());
    assert_eq!(store.hotlist().unwrap().len(), 3, "our own entries stay");
    // What we shared: recorded, replaced and removed per partner.
    let shared = |d: u8| SharedEntry { digest: vec![d; 32], purpose: "detection".into(), sent: now };
    store.record_hotlist_shared("ua-dpsu", &[(1, shared(1)), (2, shared(2))], &[]).unwrap();
    store.record_hotlist_shared("ua-dpsu", &[(1, shared(3))], &[2]).unwrap();
    store.record_hotlist_shared("rs-mup", &[(2, shared(4))], &[]).unwrap();
    let held = store.hotlist_shared("ua-dpsu").unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[&1].digest, vec![3; 32]);
    assert_eq!(store.hotlist_shared("rs-mup").unwrap()[&2].digest, vec![4; 32]);
}

#[test]
fn requests_keep_the_first_decision_and_are_released_once() {
    use limes_store::{DataRequest, Decision, Direction};
    let (dir, store) = open();
    let now = Utc::now();
    let r = DataRequest {
        exercise: false,
        direction: Direction::In,
        partner: "ua-dpsu".into(),
        id: "0123456789abcdef0123456789abcdef".into(),
        category: "plate-reads".into(),
        reference: "fedcba9876543210fedcba9876543210".into(),
        purpose: "investigation".into(),
        legal_basis: "Law 580-VIII art. 23".into(),
        case_ref: "UA-2026/55".into(),
        justification: "a robbery".into(),
        urgent: false,
        asked_by: "ua-dpsu".into(),
        created: now,
        deadline: now + Duration::days(7),
        status: "pending".into(),
        decided_by: None,
        decided: None,
        reason: None,
        released: None,
        released_at: None,
        clip: None,
    };
    assert!(store.insert_request(&r).unwrap());
    assert!(!store.insert_request(&r).unwrap(), "a message applied twice adds nothing");
    // The same id from another partner, or the other way, is another request.
    assert!(store.insert_request(&DataRequest { partner: "rs-mup".into(), ..r.clone() }).unwrap());
    assert!(store.insert_request(&DataRequest { direction: Direction::Out, ..r.clone() }).unwrap());
    let key = (Direction::In, "ua-dpsu", r.id.as_str());
    let approve = Decision { status: "approved", by: "user:sup (supervisor)", reason: None, at: now };
    assert!(store.decide_request(key.0, key.1, key.2, &approve).unwrap());
    let refuse = Decision { status: "refused", by: "user:other", reason: Some("no"), at: now };
    assert!(!store.decide_request(key.0, key.1, key.2, &refuse).unwrap(), "the first decision stands");
    assert!(store.release_request(key.0, key.1, key.2, r#"{"reads":[]}"#, now).unwrap());
    assert!(!store.release_request(key.0, key.1, key.2, r#"{"reads":[1]}"#, now).unwrap(), "released once");
    drop(store);
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let got = store.request(key.0, key.1, key.2).unwrap().unwrap();
    assert_eq!((got.status.as_str(), got.decided_by.as_deref()), ("answered", Some("user:sup (supervisor)")));
    assert_eq!(got.released.as_deref(), Some(r#"{"reads":[]}"#));
    assert_eq!(store.requests(Direction::In, 10).unwrap().len(), 2);
    assert_eq!(store.requests(Direction::Out, 10).unwrap().len(), 1);
    assert!(store.request(Direction::In, "pl-sg", &r.id).unwrap().is_none());
    assert_eq!(got.clip, None);

    // A request for a clip keeps its camera and span.
    let span = limes_store::RequestedClip {
        camera: "ro-siret-1".into(),
        from: now - Duration::minutes(5),
        to: now - Duration::minutes(4),
    };
    let clip = DataRequest {
        id: "11111111111111111111111111111111".into(),
        category: "images".into(),
        reference: String::new(),
        clip: Some(span.clone()),
        ..r.clone()
    };
    assert!(store.insert_request(&clip).unwrap());
    let got = store.request(Direction::In, "ua-dpsu", &clip.id).unwrap().unwrap();
    let micros = |t: chrono::DateTime<Utc>| t.timestamp_micros();
    let kept = got.clip.expect("the span");
    assert_eq!(
        (kept.camera.as_str(), micros(kept.from), micros(kept.to)),
        ("ro-siret-1", micros(span.from), micros(span.to))
    );
}
