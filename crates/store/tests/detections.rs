//! Detections in the store against real SQLite files: round trip, search filters, paging,
//! retention, and group commit beside reads.

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_model::{
    AgeRange, BoundingBox, BoxUnits, CameraId, Detection, DetectionKind, Direction, Gender, GeoPoint, PlateInfo,
    PlateRead, Scored, VehicleInfo,
};
use limes_plate::{CountryCode, PlateText};
use limes_store::{DetectionBatch, DetectionQuery, NewDetection, NewRead, Store, StoreError, StoreOptions, WriteBatch};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    (dir, store)
}

fn bare(camera: &str, kind: DetectionKind, t: DateTime<Utc>) -> Detection {
    Detection {
        camera: CameraId::new(camera).unwrap(),
        time: t,
        kind,
        confidence: None,
        age: None,
        gender: None,
        bbox: None,
        zone: None,
        object_id: None,
        vehicle: None,
        position: None,
    }
}

fn face(camera: &str, t: DateTime<Utc>, ages: (u8, u8), gender: Gender) -> Detection {
    Detection {
        confidence: Some(0.875),
        age: Some(Scored { value: AgeRange { min: ages.0, max: ages.1 }, confidence: Some(0.5) }),
        gender: Some(Scored { value: gender, confidence: Some(0.75) }),
        bbox: Some(BoundingBox { left: 0.125, top: 0.25, right: 0.375, bottom: 0.5, units: BoxUnits::Normalized }),
        zone: Some("gate".into()),
        object_id: Some("15".into()),
        ..bare(camera, DetectionKind::Face, t)
    }
}

fn read(t: DateTime<Utc>) -> NewRead {
    let read = PlateRead {
        exercise: false,
        camera: CameraId::new("a").unwrap(),
        time: t,
        plate: PlateInfo {
            text: Scored { value: "B123ABC".into(), confidence: None },
            plate_type: None,
            country: None,
            issuing_entity: None,
        },
        direction: Direction::Unknown,
        position: None,
        vehicle: None,
        images: vec![],
    };
    NewRead::new(read, PlateText::new("B123ABC").unwrap(), Some(CountryCode::RO), true, t)
}

fn write(store: &Store, detections: Vec<Detection>) -> Vec<i64> {
    let detections = detections.into_iter().map(|d| NewDetection::new(d, t0(), "http")).collect();
    store.write_detections_blocking(DetectionBatch { detections }).unwrap()
}

fn ids(store: &Store, q: &DetectionQuery) -> Vec<i64> {
    store.search_detections(q).unwrap().detections.iter().map(|d| d.id).collect()
}

#[test]
fn every_field_survives_the_round_trip_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let f = face("ro-siret-02", t0(), (20, 30), Gender::Male);
    let mut v = bare("ro-siret-02", DetectionKind::Vehicle, t0() + Duration::seconds(1));
    v.vehicle = Some(VehicleInfo { make: Some("Dacia".into()), colour: Some("alb".into()), class: Some("car".into()) });
    v.bbox = Some(BoundingBox { left: 10.0, top: 20.0, right: 1910.5, bottom: 1070.0, units: BoxUnits::Pixels });
    v.position = Some(GeoPoint::new(47.95, 26.07).unwrap());
    let p = bare("ro-siret-02", DetectionKind::Person, t0() + Duration::seconds(2));
    let ids = {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let batch = DetectionBatch {
            detections: vec![
                NewDetection::new(f.clone(), t0() + Duration::milliseconds(40), "onvif-json"),
                NewDetection::new(v.clone(), t0(), "frigate"),
                NewDetection::new(p.clone(), t0(), "http"),
            ],
        };
        store.write_detections_blocking(batch).unwrap()
    };
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.count_detections().unwrap(), 3);
    let got = store.detection(ids[0]).unwrap();
    assert_eq!(got.detection, f);
    assert_eq!(got.source_format, "onvif-json");
    assert_eq!(got.received, t0() + Duration::milliseconds(40));
    assert_eq!(store.detection(ids[1]).unwrap().detection, v);
    assert_eq!(store.detection(ids[2]).unwrap().detection, p);
    assert!(matches!(store.detection(ids[2] + 1), Err(StoreError::NotFound(_))));
}

#[test]
fn search_by_camera_zone_kind_time_age_and_gender() {
    let (_dir, store) = open();
    let at = |m: i64| t0() + Duration::minutes(m);
    let mut person_in_lane = bare("b", DetectionKind::Person, at(3));
    person_in_lane.zone = Some("lane-2".into());
    let all = write(
        &store,
        vec![
            face("a", at(0), (20, 30), Gender::Male),   // 0
            face("a", at(1), (35, 45), Gender::Female), // 1
            face("b", at(2), (28, 34), Gender::Female), // 2
            person_in_lane,                             // 3
            bare("a", DetectionKind::Vehicle, at(4)),   // 4
        ],
    );
    let q = |f: &dyn Fn(&mut DetectionQuery)| {
        let mut q = DetectionQuery { limit: 100, ..Default::default() };
        f(&mut q);
        ids(&store, &q)
    };
    let pick = |i: &[usize]| i.iter().map(|&i| all[i]).collect::<Vec<_>>();
    assert_eq!(q(&|_| {}), pick(&[4, 3, 2, 1, 0]), "newest first");
    assert_eq!(q(&|q| q.camera = Some(CameraId::new("a").unwrap())), pick(&[4, 1, 0]));
    assert_eq!(q(&|q| q.zone = Some("gate".into())), pick(&[2, 1, 0]));
    assert_eq!(q(&|q| q.zone = Some("lane-2".into())), pick(&[3]));
    assert_eq!(q(&|q| q.zone = Some("Gate".into())), pick(&[]), "zones are names: exact");
    assert_eq!(q(&|q| q.kind = Some(DetectionKind::Face)), pick(&[2, 1, 0]));
    assert_eq!(q(&|q| q.kind = Some(DetectionKind::Vehicle)), pick(&[4]));
    assert_eq!(q(&|q| (q.from, q.to) = (Some(at(1)), Some(at(3)))), pick(&[2, 1]), "from inclusive, to exclusive");
    // Age ranges overlap: 30..=35 touches 20..=30 at 30, 28..=34, and 35..=45 at 35.
    assert_eq!(q(&|q| q.age = Some(AgeRange { min: 30, max: 35 })), pick(&[2, 1, 0]));
    assert_eq!(q(&|q| q.age = Some(AgeRange { min: 31, max: 34 })), pick(&[2]));
    assert_eq!(q(&|q| q.age = Some(AgeRange { min: 0, max: 19 })), pick(&[]));
    assert_eq!(q(&|q| q.age = Some(AgeRange { min: 46, max: 130 })), pick(&[]));
    assert_eq!(q(&|q| q.gender = Some(Gender::Female)), pick(&[2, 1]));
    assert_eq!(
        q(&|q| {
            q.camera = Some(CameraId::new("a").unwrap());
            q.kind = Some(DetectionKind::Face);
            q.gender = Some(Gender::Male);
            q.age = Some(AgeRange { min: 25, max: 25 });
        }),
        pick(&[0])
    );
}

#[test]
fn pages_follow_the_cursor_newest_first_without_gaps_or_repeats() {
    let (_dir, store) = open();
    // Several detections share each time: the id breaks ties.
    let detections = (0..53).map(|i| bare("a", DetectionKind::Person, t0() + Duration::seconds(i / 3))).collect();
    let mut all = write(&store, detections);
    all.reverse();
    let mut q = DetectionQuery { camera: Some(CameraId::new("a").unwrap()), limit: 10, ..Default::default() };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.search_detections(&q).unwrap();
        assert!(page.detections.len() <= 10);
        seen.extend(page.detections.iter().map(|d| d.id));
        pages += 1;
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 6);
    assert_eq!(seen, all);
    // A page that ends exactly at the last detection says so.
    let q = DetectionQuery { limit: 53, ..Default::default() };
    assert!(store.search_detections(&q).unwrap().next.is_none());
}

#[test]
fn searches_use_an_index_for_camera_zone_and_time() {
    let (_dir, store) = open();
    write(&store, vec![face("a", t0(), (20, 30), Gender::Male)]);
    for (q, index) in [
        (DetectionQuery { camera: Some(CameraId::new("a").unwrap()), ..Default::default() }, "detections_by_camera"),
        (DetectionQuery { zone: Some("gate".into()), ..Default::default() }, "detections_by_zone"),
        (DetectionQuery { from: Some(t0()), ..Default::default() }, "detections_by_time"),
        (DetectionQuery { kind: Some(DetectionKind::Face), ..Default::default() }, "detections_by_time"),
    ] {
        let plan = store.detection_search_plan(&DetectionQuery { limit: 10, ..q }).unwrap();
        assert!(plan.iter().any(|p| p.contains(index)), "{index}: {plan:?}");
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "sorted by the index: {plan:?}");
    }
}

#[test]
fn retention_deletes_old_detections_and_ids_are_never_given_again() {
    let (_dir, store) = open();
    let old = write(&store, vec![bare("a", DetectionKind::Person, t0() - Duration::days(40)); 3]);
    let kept = write(&store, vec![bare("a", DetectionKind::Person, t0())]);
    assert_eq!(store.delete_detections_before(t0() - Duration::days(30)).unwrap(), 3);
    assert_eq!(ids(&store, &DetectionQuery { limit: 10, ..Default::default() }), kept);
    // A late upload, already past the retention, is deleted; the next id is still new.
    let late = write(&store, vec![bare("a", DetectionKind::Person, t0() - Duration::days(35))]);
    assert_eq!(store.delete_detections_before(t0() - Duration::days(30)).unwrap(), 1);
    let next = write(&store, vec![bare("a", DetectionKind::Face, t0())]);
    assert!(next[0] > late[0] && late[0] > kept[0] && kept[0] > old[2], "{old:?} {kept:?} {late:?} {next:?}");
    assert_eq!(store.count_detections().unwrap(), 2);
}

#[test]
fn retention_of_many_detections_runs_in_chunks_and_leaves_reads_alone() {
    let (_dir, store) = open();
    let detections = (0..25_000).map(|i| bare("a", DetectionKind::Person, t0() - Duration::seconds(i))).collect();
    write(&store, detections);
    store.write_blocking(WriteBatch { reads: vec![read(t0() - Duration::days(400))], alerts: vec![] }).unwrap();
    assert_eq!(store.delete_detections_before(t0() - Duration::seconds(4_999)).unwrap(), 20_000);
    assert_eq!(store.count_detections().unwrap(), 5_000);
    assert_eq!(store.count_reads().unwrap(), 1, "reads have their own retention");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_and_reads_commit_in_the_same_groups_and_a_bad_batch_fails_alone() {
    let (_dir, store) = open();
    let readers: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.write(WriteBatch { reads: vec![read(t0()); 5], alerts: vec![] }).await })
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..60usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut d = face("a", t0(), (20, 30), Gender::Male);
            if i % 10 == 0 {
                // What validation refuses, the table's checks refuse too: the batch fails alone.
                d.kind = DetectionKind::Vehicle;
            }
            let detections = vec![NewDetection::new(d, t0(), "http"); 5];
            (i, store.write_detections(DetectionBatch { detections }).await)
        }));
    }
    for t in tasks {
        let (i, result) = t.await.unwrap();
        assert_eq!(result.is_err(), i % 10 == 0, "batch {i}: {result:?}");
        if let Ok(ids) = result {
            assert_eq!(ids.len(), 5);
        }
    }
    for r in readers {
        assert_eq!(r.await.unwrap().unwrap().read_ids.len(), 5);
    }
    assert_eq!(store.count_detections().unwrap(), 54 * 5);
    assert_eq!(store.count_reads().unwrap(), 30 * 5);
}
