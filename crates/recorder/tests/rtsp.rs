//! The recorder against a real RTSP server: GStreamer's, serving videotestsrc as H.264 and H.265
//! (`scripts/rtsp-test-server`, which `scripts/test` installs the packages of), and two streams
//! that misbehave: one changing its resolution mid-stream, one that stops sending frames.

use std::time::Duration;

use chrono::Utc;
use limes_model::CameraId;
use limes_model::recording::VideoCodec;
use limes_recorder::{
    Reconnect, RecorderConfig, RecorderError, RecorderEvent, RetentionRules, SegmentPolicy, StreamSource, read_sample,
    recover, retention,
};
use limes_store::{Recording, Store, StoreOptions};
use tokio::sync::mpsc::UnboundedReceiver;

#[path = "support/rtsp_server.rs"]
mod rtsp_server;

use rtsp_server::{FPS, Server};

fn config(store: &Store, camera: &str, url: &str, segment: Duration) -> RecorderConfig {
    let source = StreamSource::parse(url, None).unwrap();
    let mut c = RecorderConfig::new(CameraId::new(camera).unwrap(), source, store.recordings_dir());
    c.segment = SegmentPolicy { target: segment, max_frames: None };
    c.reconnect = Reconnect { initial: Duration::from_millis(200), max: Duration::from_secs(1) };
    c.stall_timeout = Duration::from_secs(3);
    c
}

/// Records `url` for `seconds`, returning the segments it closed.
async fn record_for(store: &Store, camera: &str, url: &str, seconds: f32, segment: Duration) -> Vec<Recording> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = tokio::time::sleep(Duration::from_secs_f32(seconds));
    limes_recorder::record(config(store, camera, url, segment), store.clone(), None, tx, shutdown).await.unwrap();
    segments(rx)
}

fn segments(mut rx: UnboundedReceiver<RecorderEvent>) -> Vec<Recording> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let RecorderEvent::Segment(s) = e {
            out.push(s);
        }
    }
    out
}

/// What every recorded segment must be: starting with a key frame, of `codec`, times close to
/// the wall clock and increasing, and the bytes the index names on disk.
fn check(store: &Store, segments: &[Recording], codec: VideoCodec, started: chrono::DateTime<Utc>) {
    let now = Utc::now();
    for (i, s) in segments.iter().enumerate() {
        let x = &s.index;
        assert_eq!(x.parameters.codec, codec);
        assert!(x.frames[0].key, "segment {i} starts with a key frame");
        assert!(!x.parameters.sps.is_empty() && !x.parameters.pps.is_empty());
        assert_eq!(x.parameters.vps.is_some(), codec == VideoCodec::H265);
        assert_eq!((x.parameters.width, x.parameters.height), (320, 240));
        assert!(x.start >= started - chrono::Duration::seconds(1) && x.end <= now + chrono::Duration::seconds(1));
        assert!(x.start < x.end);
        if i > 0 {
            assert!(x.start >= segments[i - 1].index.end, "times increase, segments never overlap");
        }
        assert_eq!(std::fs::metadata(store.recordings_dir().join(&x.file)).unwrap().len(), x.bytes);
        let mut offset = 0;
        for (n, f) in x.frames.iter().enumerate() {
            assert!(f.offset > offset, "frames in order");
            offset = f.offset;
            let sample = read_sample(&store.recordings_dir(), s, n).unwrap();
            assert_eq!(sample.len(), f.length as usize);
            // Length-prefixed NAL units filling the sample exactly.
            let mut p = 0;
            while p < sample.len() {
                p += 4 + u32::from_be_bytes(sample[p..p + 4].try_into().unwrap()) as usize;
            }
            assert_eq!(p, sample.len(), "segment {i} frame {n} is whole NAL units");
        }
        // As stored, too.
        assert_eq!(store.recording_by_file(&x.file).unwrap().as_ref(), Some(s));
    }
}

async fn records(path: &str, codec: VideoCodec) {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let started = Utc::now();
    let segments = record_for(&store, "cam-1", &server.url(path), 4.5, Duration::from_secs(2)).await;
    check(&store, &segments, codec, started);
    let frames: usize = segments.iter().map(|s| s.index.frames.len()).sum();
    // About 4 s of frames at 25 fps (connecting takes some of the 4.5 s).
    assert!((60..=120).contains(&frames), "{frames} frames in {} segments", segments.len());
    assert!(segments.len() >= 2, "2 s segments: {}", segments.len());
    let ticks: u64 = segments.iter().map(|s| s.index.duration_ticks()).sum();
    let seconds = ticks as f64 / 90_000.0;
    assert!((frames as f64 / seconds - f64::from(FPS)).abs() < 2.0, "{frames} frames in {seconds} s");
    assert_eq!(store.recordings(None).unwrap(), segments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_h264_into_indexed_segments() {
    records("h264", VideoCodec::H264).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_h265_into_indexed_segments() {
    records("h265", VideoCodec::H265).await;
}

/// A live viewer gets each frame the segments get, as it arrives: the same bytes, key frames
/// where the index has them, and the parameters to decode them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_viewers_get_the_frames_the_segments_get() {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let (live, mut viewer) = tokio::sync::broadcast::channel(1024);
    let mut c = config(&store, "cam-live", &server.url("h264"), Duration::from_secs(60));
    c.live = Some(live);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = tokio::time::sleep(Duration::from_secs(3));
    limes_recorder::record(c, store.clone(), None, tx, shutdown).await.unwrap();
    let segments = segments(rx);
    assert_eq!(segments.len(), 1, "one segment (60 s target)");
    let mut frames = Vec::new();
    while let Ok(f) = viewer.try_recv() {
        frames.push(f);
    }
    // The viewer may get frames before the first key frame (the segment starts at it).
    let first_key = frames.iter().position(|f| f.key).expect("a key frame");
    let live = &frames[first_key..];
    let s = &segments[0];
    assert_eq!(live.len(), s.index.frames.len(), "every recorded frame went live");
    for (n, (f, entry)) in live.iter().zip(&s.index.frames).enumerate() {
        assert_eq!(f.key, entry.key, "frame {n}");
        assert_eq!(f.data.as_ref(), read_sample(&store.recordings_dir(), s, n).unwrap().as_slice(), "frame {n}");
        assert_eq!(*f.parameters, s.index.parameters);
    }
    assert_eq!(
        live[0].wall.timestamp_micros(),
        s.index.start.timestamp_micros(),
        "the segment starts at its first frame"
    );
    assert!(live.windows(2).all(|w| w[0].ticks < w[1].ticks && w[0].wall <= w[1].wall));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_dies_and_starts_a_new_segment() {
    let server = Server::start(0);
    let port = server.port;
    let url = server.url("h264");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(limes_recorder::record(
        config(&store, "cam-1", &url, Duration::from_secs(60)),
        store.clone(),
        None,
        tx,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut seen = Vec::new();
    let mut next = async || tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.unwrap().unwrap();
    assert!(matches!(next().await, RecorderEvent::Connected { codec: VideoCodec::H264 }));
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(server);
    // The segment ends when the stream does.
    loop {
        match next().await {
            RecorderEvent::Segment(s) => seen.push(s),
            RecorderEvent::Disconnected { .. } => break,
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(seen.len(), 1);
    // Attempts fail while the server is down; then it comes back on the same port.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _server = Server::start(port);
    loop {
        match next().await {
            RecorderEvent::Connected { .. } => break,
            RecorderEvent::Disconnected { .. } => {}
            e => panic!("{e:?}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    while let Ok(e) = rx.try_recv() {
        if let RecorderEvent::Segment(s) = e {
            seen.push(s);
        }
    }
    assert_eq!(seen.len(), 2, "a new segment after reconnecting");
    check(&store, &seen, VideoCodec::H264, seen[0].index.start);
    assert!(seen[1].index.start > seen[0].index.end + chrono::Duration::milliseconds(500), "the gap is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_segment_is_recovered_without_losing_earlier_ones() {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let root = store.recordings_dir();
    let segments = record_for(&store, "cam-1", &server.url("h264"), 4.5, Duration::from_secs(1)).await;
    assert!(segments.len() >= 3, "{} segments", segments.len());
    // A crash mid-write: the last segment's file cut in the middle of a frame (its row says more).
    let last = segments.last().unwrap();
    let cut = last.index.frames[last.index.frames.len() / 2];
    let file = std::fs::OpenOptions::new().write(true).open(root.join(&last.index.file)).unwrap();
    file.set_len(cut.offset + u64::from(cut.length) / 2).unwrap();
    drop(file);
    // And a segment whose row never committed: a copy of the first under a later start time,
    // torn inside its last frame.
    let first = &segments[0];
    let bytes = std::fs::read(root.join(&first.index.file)).unwrap();
    let mut header = limes_recorder::format::scan(&bytes).unwrap().header;
    header.start_us = limes_store::to_us(last.index.end) + 1_000_000;
    let mut orphan = limes_recorder::format::encode_header(&header);
    let data_start = limes_recorder::format::scan(&bytes).unwrap().frames[0].offset as usize
        - limes_recorder::format::FRAME_HEADER_LEN;
    orphan.extend_from_slice(&bytes[data_start..bytes.len() - 3]);
    let orphan_name = format!("cam-1/{}.h264", header.start_us);
    std::fs::write(root.join(&orphan_name), &orphan).unwrap();
    // Garbage beside them.
    std::fs::write(root.join("cam-1/junk.h264"), b"not a segment").unwrap();
    drop(store);

    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let report = recover(&store, &root).unwrap();
    assert_eq!(report.shortened, [last.id]);
    assert_eq!(report.dropped, Vec::<i64>::new());
    assert_eq!(report.removed, ["cam-1/junk.h264"]);
    assert_eq!(report.indexed.len(), 1);
    assert_eq!(report.indexed[0].index.file, orphan_name);
    assert_eq!(report.indexed[0].index.frames.len(), first.index.frames.len() - 1, "the torn frame is left out");
    let after = store.recordings(None).unwrap();
    assert_eq!(&after[..segments.len() - 1], &segments[..segments.len() - 1], "earlier segments untouched");
    let recovered = &after[segments.len() - 1];
    assert_eq!(recovered.index.frames.len(), last.index.frames.len() / 2);
    assert_eq!(recovered.index.frames[..], last.index.frames[..last.index.frames.len() / 2]);
    check(&store, &after[..segments.len()], VideoCodec::H264, segments[0].index.start);
    // Recovery is done: a second pass changes nothing.
    assert_eq!(recover(&store, &root).unwrap(), limes_recorder::RecoveryReport::default());
    // A file gone altogether drops its row.
    std::fs::remove_file(root.join(&segments[0].index.file)).unwrap();
    assert_eq!(recover(&store, &root).unwrap().dropped, [segments[0].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_the_oldest_first() {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let root = store.recordings_dir();
    let (h264, h265) = (server.url("h264"), server.url("h265"));
    let (a, b) = tokio::join!(
        record_for(&store, "cam-a", &h264, 3.5, Duration::from_secs(1)),
        record_for(&store, "cam-b", &h265, 3.5, Duration::from_secs(1)),
    );
    let mut all = store.recordings(None).unwrap();
    assert_eq!(all.len(), a.len() + b.len());
    let total: u64 = all.iter().map(|s| s.index.bytes).sum();
    let rules = RetentionRules { byte_budget: Some(total / 2), ..RetentionRules::default() };
    let deleted = retention::enforce(&store, &root, &rules, Utc::now()).unwrap();
    assert!(!deleted.is_empty());
    let kept = store.recordings(None).unwrap();
    assert!(kept.iter().map(|s| s.index.bytes).sum::<u64>() <= total / 2);
    assert_eq!(all.split_off(deleted.len()), kept, "the oldest went");
    assert_eq!(all, deleted);
    for s in &deleted {
        assert!(!root.join(&s.index.file).exists());
    }
    // An age limit for one camera takes all of its segments.
    let mut rules = RetentionRules::default();
    rules.keep.insert(CameraId::new("cam-b").unwrap(), chrono::Duration::zero());
    retention::enforce(&store, &root, &rules, Utc::now() + chrono::Duration::seconds(1)).unwrap();
    assert!(store.recordings(None).unwrap().iter().all(|s| s.index.camera.as_str() == "cam-a"));
}

#[tokio::test]
async fn bad_urls_and_unreachable_cameras_give_clear_errors() {
    for (url, says) in [
        ("not a url", "stream url not a url: relative URL without a base"),
        ("http://127.0.0.1/h264", "scheme \"http\" is not rtsp or rtsps"),
        ("rtsp://", "no host"),
    ] {
        let e = StreamSource::parse(url, None).unwrap_err();
        assert!(matches!(e, RecorderError::BadUrl { .. }), "{url}: {e}");
        assert!(e.to_string().contains(says), "{url}: {e}");
    }
    // Credentials in the URL never show in a message.
    let e = StreamSource::parse("http://admin:secret@cam/x", None).unwrap_err().to_string();
    assert!(!e.contains("secret"), "{e}");
    let source = StreamSource::parse("rtsp://admin:secret@127.0.0.1:1/h264", None).unwrap();
    assert!(!format!("{source:?}").contains("secret"));
    let e = limes_recorder::connect(&source, Duration::from_secs(5)).await.unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("cannot play rtsp://127.0.0.1:1/h264: "), "{text}");
    assert!(!text.contains("secret"), "{text}");
    // A host that is not there (TEST-NET-1, RFC 5737): refused, unreachable or the timeout, named.
    let source = StreamSource::parse("rtsp://192.0.2.1:554/h264", None).unwrap();
    let e = limes_recorder::connect(&source, Duration::from_millis(500)).await.unwrap_err().to_string();
    assert!(e.starts_with("cannot play rtsp://192.0.2.1:554/h264: "), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_change_mid_stream_starts_a_new_segment_and_a_clip_across_it_is_refused() {
    use limes_recorder::clip::{ClipError, ClipLimits, cut};
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // The camera switches from 320×240 to 352×288 after 3 s; segments are long (60 s), so only
    // the change closes one.
    let segments = record_for(&store, "cam-1", &server.url("switch264"), 6.0, Duration::from_secs(60)).await;
    let sizes: Vec<(u32, u32)> =
        segments.iter().map(|s| (s.index.parameters.width, s.index.parameters.height)).collect();
    assert_eq!(sizes, [(320, 240), (352, 288)], "a segment per resolution");
    let (before, after) = (&segments[0].index, &segments[1].index);
    assert!(after.frames[0].key, "the new segment starts with the new key frame");
    let gap = after.start - before.end;
    assert!(gap >= chrono::Duration::zero() && gap < chrono::Duration::milliseconds(200), "contiguous: {gap}");
    assert!(
        before.frames.len() >= 40 && after.frames.len() >= 25,
        "{} and {} frames",
        before.frames.len(),
        after.frames.len()
    );
    assert_ne!(before.parameters.sps, after.parameters.sps);

    // A clip across the change cannot be one MP4: refused, naming where it changes; on either side it is cut.
    let camera = CameraId::new("cam-1").unwrap();
    let limits = ClipLimits::default();
    let one_second = chrono::Duration::seconds(1);
    let across =
        cut(&store, &store.recordings_dir(), &camera, after.start - one_second, after.start + one_second, &limits);
    match across {
        Err(ClipError::ParametersChange { at, .. }) => assert_eq!(at, after.start),
        other => panic!("a clip across the change: {other:?}"),
    }
    let first = cut(
        &store,
        &store.recordings_dir(),
        &camera,
        before.start,
        after.start - chrono::Duration::milliseconds(300),
        &limits,
    )
    .unwrap();
    assert_eq!((first.parameters.width, first.parameters.height), (320, 240));
    let second = cut(&store, &store.recordings_dir(), &camera, after.start, after.end, &limits).unwrap();
    assert_eq!((second.parameters.width, second.parameters.height), (352, 288));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_stops_sending_is_reported_stalled_and_what_it_sent_is_kept() {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Utc::now();
    let task = tokio::spawn(limes_recorder::record(
        config(&store, "cam-1", &server.url("stall264"), Duration::from_secs(60)),
        store.clone(),
        None,
        tx,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut next = async || tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.unwrap().unwrap();
    assert!(matches!(next().await, RecorderEvent::Connected { codec: VideoCodec::H264 }));
    // Two seconds of frames, then none: after the stall timeout (3 s) the segment is closed and
    // indexed, and the stall reported.
    let segment = match next().await {
        RecorderEvent::Segment(s) => s,
        e => panic!("{e:?}"),
    };
    match next().await {
        RecorderEvent::Disconnected { error, .. } => assert!(error.contains("no frame for 3 s"), "{error}"),
        e => panic!("{e:?}"),
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    check(&store, std::slice::from_ref(&segment), VideoCodec::H264, started);
    let frames = segment.index.frames.len();
    assert!((40..=55).contains(&frames), "about 2 s of frames: {frames}");
    assert_eq!(store.recordings(None).unwrap()[0], segment, "kept in the index");
}

/// A disk that fills up: a 256 KiB tmpfs mounted over the recordings folder (root only, for
/// `mount`; elsewhere the test says so and checks nothing). The recorder reports the write error
/// with its cause, what it had closed stays indexed and whole, and recovery afterwards leaves
/// those segments as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_what_was_recorded_is_kept() {
    let root_user = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root_user {
        eprintln!("not root: no tmpfs to fill, this test checks nothing here");
        return;
    }
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let root = store.recordings_dir();
    std::fs::create_dir_all(&root).unwrap();
    let mounted =
        std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"]).arg(&root).status();
    assert!(mounted.is_ok_and(|s| s.success()), "mount a tmpfs over {}", root.display());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(root.clone());

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Utc::now();
    let task = tokio::spawn(limes_recorder::record(
        config(&store, "cam-1", &server.url("h264"), Duration::from_secs(1)),
        store.clone(),
        None,
        tx,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut segments = Vec::new();
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap() {
            RecorderEvent::Segment(s) => segments.push(s),
            RecorderEvent::Connected { .. } => {}
            RecorderEvent::Disconnected { error, .. } => break error,
        }
    };
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    while let Ok(e) = rx.try_recv() {
        if let RecorderEvent::Segment(s) = e {
            segments.push(s);
        }
    }
    assert!(error.contains("No space left on device"), "the cause is named: {error}");
    assert!(segments.len() >= 2, "seconds were recorded before the disk filled: {} segments", segments.len());
    check(&store, &segments, VideoCodec::H264, started);
    assert_eq!(store.recordings(None).unwrap(), segments, "the index holds what was closed, and only that");

    // At the next start, recovery keeps every closed segment as it was; what was being written
    // when the disk filled is indexed as far as it is whole, or removed.
    let report = recover(&store, &root).unwrap();
    assert!(report.shortened.is_empty() && report.dropped.is_empty(), "{report:?}");
    assert_eq!(&store.recordings(None).unwrap()[..segments.len()], &segments[..]);
}
