//! Clips cut from real recordings (GStreamer's RTSP server as the camera) and decoded by real
//! tools: Debian's ffprobe and ffmpeg, which `scripts/test` installs.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use limes_model::CameraId;
use limes_model::recording::VideoCodec;
use limes_recorder::clip::{ClipError, ClipLimits, cut};
use limes_store::{Recording, Store, StoreOptions};

#[path = "support/ffmpeg.rs"]
mod ffmpeg;
#[path = "support/rtsp_server.rs"]
mod rtsp_server;

use ffmpeg::{decode, probe};
use rtsp_server::{Server, record};

/// Each frame's wall time and key flag, as the index gives them.
fn frame_times(r: &Recording) -> Vec<(DateTime<Utc>, bool)> {
    let mut ticks = 0u64;
    r.index
        .frames
        .iter()
        .map(|f| {
            let t = limes_recorder::format::wall_after(r.index.start, ticks, r.index.parameters.clock_rate);
            ticks += u64::from(f.duration);
            (t, f.key)
        })
        .collect()
}

async fn clip_across_segments(path: &str, codec: VideoCodec, name: &str) {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // 2 s segments (a key frame every second), about 5.5 s in all.
    let segments = record(&store, "gate-1", &server.url(path), 5.5, Duration::from_secs(2)).await;
    assert!(segments.len() >= 2, "{} segments", segments.len());
    let camera = CameraId::new("gate-1").unwrap();
    // From half a second into the first segment's second GOP to half a second into the second
    // segment.
    let from = segments[0].index.start + TimeDelta::milliseconds(1500);
    let to = segments[1].index.start + TimeDelta::milliseconds(500);
    let clip = cut(&store, &store.recordings_dir(), &camera, from, to, &ClipLimits::default()).unwrap();
    assert_eq!(clip.parameters.codec, codec);

    // The expected frames, from the index: the last key frame at or before `from`, up to the
    // last frame before `to`.
    let all: Vec<(DateTime<Utc>, bool)> = segments.iter().flat_map(frame_times).collect();
    let first = all.iter().rposition(|&(t, key)| key && t <= from).unwrap();
    let end = all.iter().position(|&(t, _)| t >= to).unwrap_or(all.len());
    assert_eq!(clip.frames, (end - first) as u64);
    assert_eq!(clip.first_frame, all[first].0);
    assert_eq!(clip.last_frame, all[end - 1].0);
    assert!(clip.first_frame <= from && from - clip.first_frame <= TimeDelta::milliseconds(1100));
    assert!(clip.last_frame < to);

    let file = dir.path().join(name);
    std::fs::write(&file, &clip.mp4).unwrap();
    let (codec_name, width, height, frames) = probe(&file);
    assert_eq!(codec_name, if codec == VideoCodec::H264 { "h264" } else { "hevc" });
    assert_eq!((width, height), (320, 240));
    assert_eq!(frames, clip.frames, "ffprobe decodes every frame of the clip");
    decode(&file);

    // A clip inside one GOP still starts at its key frame and decodes.
    let inside = cut(
        &store,
        &store.recordings_dir(),
        &camera,
        from,
        from + TimeDelta::milliseconds(100),
        &ClipLimits::default(),
    )
    .unwrap();
    std::fs::write(&file, &inside.mp4).unwrap();
    assert_eq!(probe(&file).3, inside.frames);
    decode(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_clip_across_segments_decodes_in_ffmpeg() {
    clip_across_segments("h264", VideoCodec::H264, "clip-h264.mp4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_clip_across_segments_decodes_in_ffmpeg() {
    clip_across_segments("h265", VideoCodec::H265, "clip-h265.mp4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_refuse_a_codec_change_a_damaged_file_and_empty_times() {
    let server = Server::start(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // The camera changes its codec: H.264 for a while, then H.265.
    let h264 = record(&store, "gate-1", &server.url("h264"), 2.5, Duration::from_secs(60)).await;
    let h265 = record(&store, "gate-1", &server.url("h265"), 2.5, Duration::from_secs(60)).await;
    let camera = CameraId::new("gate-1").unwrap();
    let root = store.recordings_dir();
    let limits = ClipLimits::default();
    let (from, to) = (h264[0].index.start, h265[0].index.end);
    match cut(&store, &root, &camera, from, to, &limits) {
        Err(e @ ClipError::ParametersChange { .. }) => {
            assert!(e.to_string().contains("ask for a clip on each side"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Each side alone is fine.
    assert!(cut(&store, &root, &camera, from, h264[0].index.end, &limits).is_ok());
    assert!(cut(&store, &root, &camera, h265[0].index.start, to, &limits).is_ok());

    // A flipped byte in a recorded sample: refused, never made into a clip.
    let index = &h264[0].index;
    let path = root.join(&index.file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[index.frames[3].offset as usize + 10] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    match cut(&store, &root, &camera, from, h264[0].index.end, &limits) {
        Err(e @ ClipError::Damaged { .. }) => assert!(e.to_string().contains("CRC"), "{e}"),
        other => panic!("{other:?}"),
    }

    // Times with nothing recorded, backwards, or too long.
    let later = to + TimeDelta::hours(1);
    assert!(matches!(
        cut(&store, &root, &camera, later, later + TimeDelta::seconds(5), &limits),
        Err(ClipError::NothingRecorded { .. })
    ));
    assert!(matches!(cut(&store, &root, &camera, to, from, &limits), Err(ClipError::Empty { .. })));
    assert!(matches!(
        cut(&store, &root, &camera, from, from + TimeDelta::hours(2), &limits),
        Err(ClipError::TooLong { seconds: 7200, max_seconds: 3600 })
    ));
    let other = CameraId::new("gate-2").unwrap();
    assert!(matches!(cut(&store, &root, &other, from, to, &limits), Err(ClipError::NothingRecorded { .. })));
}
