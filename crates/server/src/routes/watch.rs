//! Watching cameras in the browser: live (`GET /api/v1/cameras/{id}/live.mp4`) and recorded
//! (`GET /api/v1/cameras/{id}/video.mp4?from=&to=`), as fragmented MP4 that Media Source
//! Extensions take as it comes. H.264 is sent as recorded (never transcoded); H.265, which
//! Chromium cannot decode through MSE, is transcoded to H.264 by ffmpeg for viewing only — the
//! recording stays as the camera sent it. Every view is `footage.view`, for a declared purpose,
//! and in the audit log.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use limes_access::Operation;
use limes_audit::Object;
use limes_model::CameraId;
use limes_model::recording::{CodecParameters, VideoCodec};
use limes_recorder::LiveFrame;
use limes_video::mp4::{Sample, init_segment, media_segment};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::{ApiError, AppState, Caller};

/// How long a live view waits for the camera's next key frame before it says there is none.
const FIRST_KEY_WAIT: Duration = Duration::from_secs(10);

/// The longest recorded range one request plays.
const MAX_RANGE: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// The codec string MSE needs for what ffmpeg makes of an H.265 stream (H.264 Main, level 4.1:
/// up to 1080p at 30 frames a second).
const TRANSCODED: &str = "avc1.4D4029";

/// A camera id in a path, or 400 saying what is wrong with it.
pub(super) fn camera_of(id: &str) -> Result<CameraId, ApiError> {
    CameraId::new(id).map_err(|e| ApiError::BadRequest(format!("camera {id:?}: {e}")))
}

/// MP4 for MSE: its codec in the type; `start`, the wall time of media time 0, as `Limes-Start`.
pub(crate) fn mp4_response(codecs: &str, start: DateTime<Utc>, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("video/mp4; codecs=\"{codecs}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::HeaderName::from_static("limes-start"),
                start.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/cameras/{id}/live.mp4`: the camera's live video ([`live_video`]).
pub(super) async fn live(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let camera = camera_of(&id)?;
    state
        .authorize(&caller, Operation::FootageView, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    let video = live_video(&state, &camera).await?;
    Ok(mp4_response(&video.codecs, video.start, Body::from_stream(video.body)))
}

/// A camera's live video as fragmented MP4, for MSE.
pub(crate) struct LiveMp4 {
    /// The RFC 6381 codec string of what `body` holds.
    pub codecs: String,
    /// The wall time of media time 0.
    pub start: DateTime<Utc>,
    pub body: limes_link::live::VideoBytes,
}

/// A camera's live video from its next key frame on, for a person here or a partner's
/// (`live_grants`). H.264: one fragment per frame (a frame is sent when the next one arrives,
/// which gives its duration); the stream ends when the camera's session or parameters change,
/// and the page asks again. H.265: the frames through the transcoder.
pub(crate) async fn live_video(state: &AppState, camera: &CameraId) -> Result<LiveMp4, ApiError> {
    let LiveFrames { params, start, rate, frames } = live_frames(state, camera).await?;
    match params.codec {
        VideoCodec::H264 => {
            let init = init_segment(&params).map_err(|e| ApiError::Internal(e.to_string()))?;
            let body = futures::stream::once(futures::future::ready(Bytes::from(init))).chain(fragments(frames));
            Ok(LiveMp4 { codecs: params.rfc6381.clone(), start, body: Box::pin(body.map(Ok::<_, std::io::Error>)) })
        }
        VideoCodec::H265 => {
            let annexb = frames.map(move |f| Bytes::from(annexb(&params, &f.data, f.key)));
            let input = ["-framerate".to_owned(), format!("{rate:.3}"), "-f".into(), "hevc".into()];
            Ok(LiveMp4 { codecs: TRANSCODED.into(), start, body: Box::pin(transcode(annexb, &input)?) })
        }
    }
}

/// A camera's live frames from its next key frame on (after falling behind, from the next key
/// frame again), with its parameters, the wall time of the first and its frame rate.
struct LiveFrames<S> {
    params: std::sync::Arc<CodecParameters>,
    start: DateTime<Utc>,
    rate: f64,
    frames: S,
}

async fn live_frames(
    state: &AppState,
    camera: &CameraId,
) -> Result<LiveFrames<impl futures::Stream<Item = LiveFrame> + Send + 'static>, ApiError> {
    let feed = state
        .video
        .feed(camera)
        .ok_or_else(|| ApiError::NotFound(format!("camera {camera} is not recorded by this node")))?;
    let mut rx = feed.live.subscribe();
    let first =
        tokio::time::timeout(FIRST_KEY_WAIT, next_key(&mut rx)).await.ok().flatten().ok_or_else(|| {
            ApiError::Unavailable(format!("no picture from camera {camera} within {FIRST_KEY_WAIT:?}"))
        })?;
    let (params, start) = (first.parameters.clone(), first.wall);
    // The frame after it gives the camera's frame rate (what ffmpeg needs to time raw H.265).
    let second = tokio::time::timeout(FIRST_KEY_WAIT, rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
        .filter(|s| s.ticks > first.ticks && s.parameters == first.parameters)
        .ok_or_else(|| ApiError::Unavailable(format!("camera {camera} sent one picture and then none")))?;
    let rate = f64::from(params.clock_rate) / (second.ticks - first.ticks) as f64;
    // The frames from that key frame on; after falling behind, from the next key frame.
    let frames = futures::stream::unfold((rx, vec![second, first]), |(mut rx, mut held)| async move {
        if let Some(f) = held.pop() {
            return Some((f, (rx, held)));
        }
        match rx.recv().await {
            Ok(f) => Some((f, (rx, held))),
            Err(RecvError::Lagged(_)) => next_key(&mut rx).await.map(|f| (f, (rx, held))),
            Err(RecvError::Closed) => None,
        }
    });
    Ok(LiveFrames { params, start, rate, frames })
}

/// A camera's live video anonymised (`limes_vision::live`), for a partner who may see it only
/// so: faces and plate-shaped texts blurred in every picture sent, the pictures the search
/// cannot keep up with dropped, H.264 as fragmented MP4. The search's models are loaded for the
/// stream (`analysis::Hub::live_search`); when they cannot be, or ffmpeg cannot start, nothing
/// is sent. When the search fails the stream ends.
pub(crate) async fn live_anonymised(state: &AppState, camera: &CameraId) -> Result<LiveMp4, ApiError> {
    use tokio::io::AsyncWriteExt;
    let hub = state.analysis.clone();
    let search = tokio::task::spawn_blocking(move || hub.live_search())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    let LiveFrames { params, start, frames, .. } = live_frames(state, camera).await?;
    let codec = match params.codec {
        VideoCodec::H264 => limes_vision::live::LiveCodec::H264,
        VideoCodec::H265 => limes_vision::live::LiveCodec::H265,
    };
    let settings = limes_vision::live::LiveSettings::default();
    let (anonymiser, input, output) = limes_vision::live::start(codec, params.width, params.height, search, &settings)
        .map_err(|e| ApiError::Unavailable(format!("the live anonymiser cannot start, nothing is sent: {e}")))?;
    let io = |e: std::io::Error| ApiError::Internal(format!("the live anonymiser's pipes: {e}"));
    let mut input = tokio::process::ChildStdin::from_std(input).map_err(io)?;
    let output = tokio::process::ChildStdout::from_std(output).map_err(io)?;
    let feeder = tokio::spawn(async move {
        let mut frames = std::pin::pin!(frames);
        while let Some(f) = frames.next().await {
            if input.write_all(&annexb(&params, &f.data, f.key)).await.is_err() {
                break;
            }
        }
    });
    // The anonymiser (its processes) lives as long as its output is read; the feeder stops with it.
    struct Guard(#[allow(dead_code)] limes_vision::live::LiveAnonymiser, tokio::task::JoinHandle<()>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.1.abort();
        }
    }
    let guard = Guard(anonymiser, feeder);
    let body = tokio_util::io::ReaderStream::new(output).map(move |r| {
        let _ = &guard;
        r
    });
    Ok(LiveMp4 { codecs: limes_vision::live::CODEC.into(), start, body: Box::pin(body) })
}

/// The next key frame, skipping what comes before it (`None` when the camera's feed ends).
pub(crate) async fn next_key(rx: &mut tokio::sync::broadcast::Receiver<LiveFrame>) -> Option<LiveFrame> {
    loop {
        match rx.recv().await {
            Ok(f) if f.key => return Some(f),
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Live frames (from a key frame) as media segments, one per frame, each sent once the next
/// frame gives its duration; ends at a new session (time going back) or new parameters.
fn fragments(
    frames: impl futures::Stream<Item = LiveFrame> + Send + 'static,
) -> impl futures::Stream<Item = Bytes> + Send + 'static {
    let pairs = frames.scan(None::<LiveFrame>, |previous, frame| {
        let out = previous.replace(frame.clone()).map(|p| (p, frame));
        futures::future::ready(Some(out))
    });
    pairs
        .filter_map(futures::future::ready)
        .take_while(|(frame, next)| {
            futures::future::ready(next.ticks > frame.ticks && next.parameters == frame.parameters)
        })
        .scan((0u32, None::<i64>), |(sequence, base), (frame, next)| {
            *sequence += 1;
            let base = *base.get_or_insert(frame.ticks);
            let duration = u32::try_from(next.ticks - frame.ticks).unwrap_or(u32::MAX);
            let sample = Sample { data: &frame.data, duration, key: frame.key };
            let fragment = media_segment(*sequence, (frame.ticks - base) as u64, &[sample]);
            futures::future::ready(fragment.ok().map(Bytes::from))
        })
}

/// One access unit (length-prefixed NAL units) as Annex B, after the parameter sets when `key`.
pub(crate) fn annexb(params: &CodecParameters, sample: &[u8], key: bool) -> Vec<u8> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(sample.len() + 64);
    if key {
        for set in params.vps.iter().chain([&params.sps, &params.pps]) {
            out.extend_from_slice(&START);
            out.extend_from_slice(set);
        }
    }
    let mut p = 0;
    while p + 4 <= sample.len() {
        let len = u32::from_be_bytes([sample[p], sample[p + 1], sample[p + 2], sample[p + 3]]) as usize;
        let Some(nal) = sample.get(p + 4..p + 4 + len) else { break };
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        p += 4 + len;
    }
    out
}

/// H.265 in (`input_options`: ffmpeg's `-f hevc` and the frame rate for Annex B, `-f mp4` for a
/// clip), fragmented MP4 of H.264 out, through ffmpeg (killed when the viewer goes). ffmpeg
/// starts at once (no probing of the input, which would hold the live view seconds behind), and
/// x264 encodes without lookahead or B-frames (`zerolatency`).
fn transcode(
    input: impl futures::Stream<Item = Bytes> + Send + 'static,
    input_options: &[String],
) -> Result<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static, ApiError> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", "-flags", "low_delay"])
        .args(["-probesize", "32", "-analyzeduration", "0"])
        .args(input_options)
        .args(["-i", "pipe:0", "-an"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "main"])
        .args(["-level", "4.1", "-pix_fmt", "yuv420p", "-f", "mp4"])
        .args(["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "200000", "pipe:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ApiError::Unavailable(format!("H.265 is shown through ffmpeg, which did not start: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let feeder = tokio::spawn(async move {
        let mut input = std::pin::pin!(input);
        while let Some(chunk) = input.next().await {
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    // The child lives as long as its output is read; the feeder stops with it.
    struct Guard(#[allow(dead_code)] tokio::process::Child, tokio::task::JoinHandle<()>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.1.abort();
        }
    }
    let guard = Guard(child, feeder);
    Ok(tokio_util::io::ReaderStream::new(stdout).map(move |r| {
        let _ = &guard;
        r
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// `GET /api/v1/cameras/{id}/video.mp4?from=&to=`: the recording from the last key frame at or
/// before `from` to `to` (at most 30 minutes), as one fragmented MP4 that stops where the
/// codec parameters change (the page asks again from there).
pub(super) async fn recorded(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, ApiError> {
    let camera = camera_of(&id)?;
    if range.to <= range.from || range.to - range.from > MAX_RANGE {
        return Err(ApiError::BadRequest(format!(
            "the range must end after it starts and last at most {} minutes",
            MAX_RANGE.num_minutes()
        )));
    }
    state
        .authorize(&caller, Operation::FootageView, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    let (store, root) = (state.store.clone(), state.store.recordings_dir());
    let clip = tokio::task::spawn_blocking(move || {
        limes_recorder::clip::cut(
            &store,
            &root,
            &camera,
            range.from,
            range.to,
            &limes_recorder::clip::ClipLimits::default(),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| match e {
        limes_recorder::clip::ClipError::NothingRecorded { .. } => ApiError::NotFound(e.to_string()),
        e => ApiError::Unprocessable(e.to_string()),
    })?;
    match clip.parameters.codec {
        VideoCodec::H264 => Ok(mp4_response(&clip.parameters.rfc6381, clip.first_frame, Body::from(clip.mp4))),
        VideoCodec::H265 => {
            // The clip's own MP4 is what ffmpeg reads here: one chunk in, the transcoding out.
            let input = futures::stream::once(futures::future::ready(Bytes::from(clip.mp4)));
            Ok(mp4_response(
                TRANSCODED,
                clip.first_frame,
                Body::from_stream(transcode(input, &["-f".to_owned(), "mp4".to_owned()])?),
            ))
        }
    }
}
