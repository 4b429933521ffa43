//! The camera side: an RTSP session through retina (DESCRIBE, SETUP of the video stream over
//! TCP, PLAY), its frames cut into segments, and the loop that reconnects with backoff.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use limes_model::recording::{CodecParameters, VideoCodec};
use limes_store::Store;
use retina::client::{Credentials, PlayOptions, Session, SessionOptions, SetupOptions};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoFrame, VideoParametersCodec};
use tokio::sync::mpsc::UnboundedSender;
use url::Url;

use crate::clock::ClockTracker;
use crate::files::OpenSegment;
use crate::{RecorderConfig, RecorderError, RecorderEvent};

/// Where a camera's stream is: an `rtsp://` URL and, when it asks for them, credentials.
#[derive(Clone)]
pub struct StreamSource {
    url: Url,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSource")
            .field("url", &self.url.as_str())
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl StreamSource {
    /// Parses an `rtsp://` (or `rtsps://`) URL with a host. A user name and password written
    /// in the URL are taken out of it (and out of every message that shows it) and used as the
    /// credentials, unless `credentials` are given.
    pub fn parse(url: &str, credentials: Option<(String, String)>) -> Result<Self, RecorderError> {
        let bad = |reason: &str| RecorderError::BadUrl { url: redact(url), reason: reason.to_owned() };
        let mut parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "rtsp" | "rtsps") {
            return Err(bad(&format!("scheme {:?} is not rtsp or rtsps", parsed.scheme())));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        let in_url = (!parsed.username().is_empty())
            .then(|| (parsed.username().to_owned(), parsed.password().unwrap_or_default().to_owned()));
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        Ok(Self { url: parsed, credentials: credentials.or(in_url) })
    }

    /// The URL, without credentials.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// A URL as it may be shown: any `user:password@` replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// A playing session: its demuxed frames and the video stream chosen.
pub struct Connection {
    demuxed: retina::client::Demuxed,
    stream: usize,
    clock_rate: u32,
    codec: VideoCodec,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("stream", &self.stream).field("codec", &self.codec).finish_non_exhaustive()
    }
}

impl Connection {
    /// The codec of the stream being played.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }
}

/// Connects to the camera and starts playing its first H.264 or H.265 stream, within `timeout`.
pub async fn connect(source: &StreamSource, timeout: Duration) -> Result<Connection, RecorderError> {
    let url = source.url.to_string();
    let attempt = async {
        let creds = source.credentials.clone().map(|(username, password)| Credentials { username, password });
        let options = SessionOptions::default().creds(creds).user_agent("limes-recorder".into());
        let connect_error = |e: retina::Error| RecorderError::Connect { url: url.clone(), reason: e.to_string() };
        let mut session = Session::describe(source.url.clone(), options).await.map_err(connect_error)?;
        let found: Vec<(usize, VideoCodec, u32)> = session
            .streams()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.media() == "video")
            .filter_map(|(i, s)| {
                let codec = match s.encoding_name().to_ascii_lowercase().as_str() {
                    "h264" => VideoCodec::H264,
                    "h265" => VideoCodec::H265,
                    _ => return None,
                };
                Some((i, codec, s.clock_rate_hz()))
            })
            .collect();
        let Some(&(stream, codec, clock_rate)) = found.first() else {
            let offered =
                session.streams().iter().map(|s| format!("{}/{}", s.media(), s.encoding_name())).collect::<Vec<_>>();
            return Err(RecorderError::NoVideo { url: url.clone(), offered });
        };
        session.setup(stream, SetupOptions::default().frame_format(FrameFormat::MP4)).await.map_err(connect_error)?;
        let playing = session.play(PlayOptions::default()).await.map_err(connect_error)?;
        let demuxed = playing.demuxed().map_err(connect_error)?;
        Ok(Connection { demuxed, stream, clock_rate, codec })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(RecorderError::Connect { url, reason: format!("no answer within {} s", timeout.as_secs_f32()) }),
    }
}

/// How a session ended without an error.
enum SessionEnd {
    Shutdown,
    /// The camera ended the stream.
    Ended,
}

/// Records the camera until `shutdown` completes: plays `first` (or connects), writes
/// segments, and after the stream fails or ends, waits (backoff from `reconnect.initial`,
/// doubling to `reconnect.max`, back to the start once a session delivered frames) and
/// connects again. Returns an error only when nothing more can be recorded (the store fails).
pub async fn record(
    config: RecorderConfig,
    store: Store,
    first: Option<Connection>,
    events: UnboundedSender<RecorderEvent>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RecorderError> {
    tokio::pin!(shutdown);
    let mut next = first;
    let mut wait = config.reconnect.initial;
    loop {
        let connected = match next.take() {
            Some(c) => Ok(c),
            None => tokio::select! {
                () = &mut shutdown => return Ok(()),
                c = connect(&config.source, config.connect_timeout) => c,
            },
        };
        let mut delivered = false;
        let error = match connected {
            Ok(connection) => {
                let _ = events.send(RecorderEvent::Connected { codec: connection.codec });
                match session(connection, &config, &store, &events, &mut delivered, &mut shutdown).await {
                    Ok(SessionEnd::Shutdown) => return Ok(()),
                    Ok(SessionEnd::Ended) => "the camera ended the stream".to_owned(),
                    Err(e @ RecorderError::Store(_)) => return Err(e),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        if delivered {
            wait = config.reconnect.initial;
        }
        tracing::warn!(camera = %config.camera.as_str(), %error, retry_in = ?wait, "camera stream lost");
        let _ = events.send(RecorderEvent::Disconnected { error, retry_in: wait });
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(config.reconnect.max);
    }
}

/// The parameters of a video stream as the index keeps them.
fn parameters(connection: &Connection) -> Option<CodecParameters> {
    let stream = connection.demuxed.streams().get(connection.stream)?;
    let Some(ParametersRef::Video(p)) = stream.parameters() else { return None };
    let (width, height) = p.pixel_dimensions();
    let (codec, sps, pps, vps) = match p.codec_params() {
        VideoParametersCodec::H264 { sps, pps } => (VideoCodec::H264, sps.to_vec(), pps.to_vec(), None),
        VideoParametersCodec::H265 { vps, sps, pps } => {
            (VideoCodec::H265, sps.to_vec(), pps.to_vec(), Some(vps.to_vec()))
        }
        _ => return None,
    };
    Some(CodecParameters {
        codec,
        rfc6381: p.rfc6381_codec().to_owned(),
        width,
        height,
        clock_rate: connection.clock_rate,
        sps,
        pps,
        vps,
    })
}

/// The segment being written and the RTP time of its first and last frames.
struct Open {
    segment: OpenSegment,
    first_ticks: i64,
    last_ticks: i64,
}

async fn close(
    open: Option<Open>,
    next_ticks: Option<i64>,
    store: &Store,
    events: &UnboundedSender<RecorderEvent>,
) -> Result<(), RecorderError> {
    let Some(open) = open else { return Ok(()) };
    let last = next_ticks.map(|t| u32::try_from(t - open.last_ticks).unwrap_or(0));
    let store = store.clone();
    let closed = tokio::task::spawn_blocking(move || open.segment.close(last, &store))
        .await
        .map_err(|e| RecorderError::Task(e.to_string()))??;
    if let Some(recording) = closed {
        let _ = events.send(RecorderEvent::Segment(recording));
    }
    Ok(())
}

async fn session(
    mut connection: Connection,
    config: &RecorderConfig,
    store: &Store,
    events: &UnboundedSender<RecorderEvent>,
    delivered: &mut bool,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<SessionEnd, RecorderError> {
    let mut clock = ClockTracker::new(connection.clock_rate, chrono::Duration::seconds(2));
    let mut params: Option<CodecParameters> = None;
    let mut shared: Option<std::sync::Arc<CodecParameters>> = None;
    let mut open: Option<Open> = None;
    // Where the last segment closed ended, on the wall clock: the next one of this session starts
    // no earlier, even when the clock was pulled back in between (a late first frame), so that
    // the index's segments never overlap.
    let mut last_end: Option<DateTime<Utc>> = None;
    loop {
        let item = tokio::select! {
            () = shutdown.as_mut() => {
                close(open, None, store, events).await?;
                return Ok(SessionEnd::Shutdown);
            }
            item = tokio::time::timeout(config.stall_timeout, connection.demuxed.next()) => item,
        };
        let frame: VideoFrame = match item {
            Err(_) => {
                close(open, None, store, events).await?;
                return Err(RecorderError::Stalled { seconds: config.stall_timeout.as_secs_f32() });
            }
            Ok(None) => {
                close(open, None, store, events).await?;
                return Ok(SessionEnd::Ended);
            }
            Ok(Some(Err(e))) => {
                close(open, None, store, events).await?;
                return Err(RecorderError::Stream(e.to_string()));
            }
            Ok(Some(Ok(CodecItem::VideoFrame(f)))) if f.stream_id() == connection.stream => f,
            Ok(Some(Ok(_))) => continue,
        };
        let received = Utc::now();
        let ticks = frame.timestamp().elapsed();
        let wall = clock.observe(ticks, received);
        if frame.has_new_parameters() || params.is_none() {
            params = parameters(&connection);
        }
        let Some(current) = params.as_ref() else { continue };
        let key = frame.is_random_access_point();
        if let Some(live) = config.live.as_ref().filter(|l| l.receiver_count() > 0) {
            if shared.as_deref() != Some(current) {
                shared = Some(std::sync::Arc::new(current.clone()));
            }
            let parameters = shared.clone().expect("set above");
            let data = bytes::Bytes::copy_from_slice(frame.data());
            let _ = live.send(crate::LiveFrame { parameters, wall, ticks, key, data });
        }
        if let Some(o) = &open {
            let span = ticks - o.first_ticks;
            let long = span >= config.segment.target.as_micros() as i64 * i64::from(connection.clock_rate) / 1_000_000;
            let full = config.segment.max_frames.is_some_and(|n| o.segment.frames() >= n as usize);
            if o.segment.parameters() != current || (key && (long || full)) {
                let start = DateTime::from_timestamp_micros(o.segment.start_us()).unwrap_or(wall);
                last_end = Some(crate::format::wall_after(start, span.max(0) as u64, connection.clock_rate));
                close(open.take(), Some(ticks), store, events).await?;
            }
        }
        if open.is_none() {
            if !key {
                continue; // A segment starts with a key frame.
            }
            let start = last_end.map_or(wall, |end| end.max(wall));
            let segment = OpenSegment::create(&config.root, &config.camera, current.clone(), start)?;
            tracing::debug!(camera = %config.camera.as_str(), start_us = segment.start_us(), "segment opened");
            open = Some(Open { segment, first_ticks: ticks, last_ticks: ticks });
        }
        if let Some(o) = open.as_mut() {
            o.segment.append(ticks - o.first_ticks, key, frame.data())?;
            o.last_ticks = ticks;
            debug_assert!(o.segment.span() == ticks - o.first_ticks);
            *delivered = true;
        }
    }
}
