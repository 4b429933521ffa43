//! The node's own analysis of video (issue #10): a camera's recording, an uploaded file, or its
//! live stream, decoded by ffmpeg into pictures and watched by `limes-vision` — persons and
//! vehicles, plates read and voted per vehicle, lines and zones.
//!
//! What it finds goes where the same thing from a camera's own analytics goes:
//! - a plate becomes a read on the ingest path (`ingest::ingest_reads`), collected by the
//!   integration `limes-vision`, so hotlists match it and alerts go out as for any read; its
//!   plate crop and overview are the read's images, with `limes-vision` as their source;
//! - a line crossed, a zone entered, a vehicle stopped becomes an event kept with what raised
//!   it (the models' digests, the score, the picture) and `pending` until a person confirms or
//!   dismisses it (`routes::analysis`); only a confirmed one may become an incident that
//!   partners are notified of (EU AI Act Art. 12 and 14: persons detected at a border are a
//!   high-risk use, Annex III 7(d));
//! - vehicles across counting lines become traffic counts.
//!
//! Decoding is ffmpeg's (the node already needs it for the live view of H.265): it writes the
//! pictures at the analysed frame rate as PPM to a pipe (`limes_video::frames`), so no codec is
//! linked into limes. The models run on a blocking thread; cameras share one analyser, loaded
//! once from the checked model files. A broken file or stream ends its own analysis with a
//! clear error and touches nothing else.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use limes_model::recording::VideoCodec;
use limes_model::{CameraId, Direction, ImageKind, PlateInfo, PlateRead, Scored, VehicleInfo};
use limes_scene::SceneEvent;
use limes_store::{ImageFormat, ImageMeta, SceneEventRow, TrafficCount, ValidImage};
use limes_video::frames::{FrameLimits, FrameReader};
use limes_vision::analyse::{Analyser, Settings};
use limes_vision::watch::{FaceCount, FaceModels, OwnRead, WatchSettings, Watched, Watcher};
use serde::Serialize;

use crate::{ApiError, AppState, Collector};

/// The integration name the node's own reads are collected under, and their images' source.
pub const SOURCE: &str = "limes-vision";

/// How the node analyses video.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Where the model files are (`limes models fetch`).
    pub models: PathBuf,
    /// Threads per model.
    pub threads: usize,
    /// How each camera is watched; a camera not named here is watched with the defaults.
    pub cameras: BTreeMap<CameraId, WatchSettings>,
}

/// The node's analyser and its settings.
#[derive(Debug, Default)]
pub struct Hub {
    options: OnceLock<AnalysisOptions>,
    /// Loaded at the first analysis: the analyser, or why it could not be (a model file
    /// missing or altered), said again to every later caller.
    analyser: OnceLock<Result<Loaded, String>>,
    /// The cameras analysed live, and how it goes.
    live: Mutex<BTreeMap<CameraId, LiveStatus>>,
    /// Loaded at the first footage anonymised (`crate::clips`): a face detector and a text
    /// detector of its own, so that blurring a clip never holds up the live analysis.
    anonymiser: OnceLock<Result<Arc<Mutex<Anonymiser>>, String>>,
    /// Loaded at the first camera that counts faces: the face detector and the age and gender
    /// models, shared by the cameras.
    face_models: OnceLock<Result<Arc<Mutex<FaceModels>>, String>>,
    /// Face counts a person confirmed, as ONVIF metadata, for what publishes them (MQTT).
    pub confirmed_faces: ConfirmedFaces,
}

/// Face counts a person confirmed (EU AI Act Art. 14: only then may their age and gender
/// estimates leave the node): each as its event, its camera and the ONVIF JSON document
/// (`limes_camera_formats::encode_onvif_json_detections`) of its faces with their estimates.
#[derive(Debug)]
pub struct ConfirmedFaces(tokio::sync::broadcast::Sender<Arc<OnvifFaces>>);

/// One confirmed face count as ONVIF metadata.
#[derive(Debug)]
pub struct OnvifFaces {
    pub event: i64,
    pub camera: String,
    pub json: Vec<u8>,
}

impl Default for ConfirmedFaces {
    fn default() -> Self {
        Self(tokio::sync::broadcast::channel(256).0)
    }
}

impl ConfirmedFaces {
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<OnvifFaces>> {
        self.0.subscribe()
    }

    pub(crate) fn confirmed(&self, faces: OnvifFaces) {
        let _ = self.0.send(Arc::new(faces));
    }
}

/// The faces of a `faces_counted` event as detections: each face's box and score, and its
/// estimated age range and gender with their confidence only when `estimates` (a person
/// confirmed the event). `None` for an event of another kind.
pub fn face_detections(event: &SceneEventRow, estimates: bool) -> Option<Vec<limes_model::Detection>> {
    if event.kind != "faces_counted" {
        return None;
    }
    let camera = CameraId::new(&event.camera).ok()?;
    let count: FaceCount = serde_json::from_value(event.details.clone()?).ok()?;
    let detections = count
        .faces
        .iter()
        .map(|f| {
            let a = f.attributes.as_ref().filter(|_| estimates);
            let edge = |v: f32| v.clamp(0.0, 1.0);
            limes_model::Detection {
                camera: camera.clone(),
                time: count.time,
                kind: limes_model::DetectionKind::Face,
                confidence: Some(edge(f.score)),
                age: a.map(|a| Scored {
                    value: limes_model::AgeRange { min: a.age_range[0], max: a.age_range[1].max(a.age_range[0]) },
                    confidence: Some(edge(a.age_confidence)),
                }),
                gender: a.map(|a| Scored {
                    value: match a.gender {
                        limes_vision::attributes::Gender::Male => limes_model::Gender::Male,
                        limes_vision::attributes::Gender::Female => limes_model::Gender::Female,
                    },
                    confidence: Some(edge(a.gender_confidence)),
                }),
                bbox: Some(limes_model::BoundingBox {
                    left: edge(f.bbox.x),
                    top: edge(f.bbox.y),
                    right: edge(f.bbox.x + f.bbox.w),
                    bottom: edge(f.bbox.y + f.bbox.h),
                    units: limes_model::BoxUnits::Normalized,
                }),
                zone: None,
                object_id: None,
                vehicle: None,
                position: None,
            }
        })
        .collect();
    Some(detections)
}

/// What anonymises footage: faces, and plate-shaped texts (`limes_vision::footage`).
#[derive(Debug)]
struct Anonymiser {
    faces: limes_vision::faces::FaceDetector,
    plates: Analyser,
}

/// The analyser, and the models' digests (JSON) every event it raises is logged with.
#[derive(Debug, Clone)]
struct Loaded {
    analyser: Arc<Mutex<Analyser>>,
    models: String,
}

impl Hub {
    /// Sets how video is analysed (once; later calls are ignored).
    pub fn configure(&self, options: AnalysisOptions) {
        if self.options.set(options).is_err() {
            tracing::warn!("analysis was configured twice; the second is ignored");
        }
    }

    fn options(&self) -> AnalysisOptions {
        self.options.get().cloned().unwrap_or_else(|| AnalysisOptions {
            models: default_models_dir(),
            threads: 2,
            cameras: BTreeMap::new(),
        })
    }

    /// The settings `camera` is watched with.
    pub fn settings(&self, camera: &CameraId) -> WatchSettings {
        self.options.get().and_then(|o| o.cameras.get(camera).cloned()).unwrap_or_default()
    }

    /// The analyser, loaded once (blocking: it converts and loads the models).
    fn analyser(&self) -> Result<Loaded, String> {
        self.analyser
            .get_or_init(|| {
                let options = self.options();
                load(&options).map_err(|e| {
                    let message = format!(
                        "the node's own video analysis cannot start: {e} (run `limes models fetch --dir {}`)",
                        options.models.display()
                    );
                    tracing::error!("{message}");
                    message
                })
            })
            .clone()
    }
}

impl Hub {
    /// Anonymises the video `input` into the MP4 `output`: faces and plate-shaped texts blurred in
    /// every frame, held across neighbouring frames (blocking; one video at a time). Any failure
    /// — a model missing or altered, a frame that cannot be decoded — is an error, and `output`
    /// is not written: footage is never passed on unblurred because the anonymiser failed.
    pub fn anonymise(
        &self,
        input: &std::path::Path,
        output: &std::path::Path,
    ) -> Result<limes_vision::footage::FootageReport, String> {
        let anonymiser = self.loaded(&self.anonymiser, "the anonymiser cannot start", load_anonymiser)?;
        let mut a = anonymiser.lock().unwrap_or_else(|e| e.into_inner());
        let Anonymiser { faces, plates } = &mut *a;
        let settings = limes_vision::footage::FootageSettings::default();
        limes_vision::footage::anonymise(input, output, faces, Some(plates), &settings)
            .map_err(|e| format!("anonymising the footage: {e}"))
    }
}

/// A picture anonymised: its bytes (in its own format), and what was blurred.
#[derive(Debug)]
pub struct AnonymisedPicture {
    pub bytes: Vec<u8>,
    pub faces: u32,
    pub plates: u32,
}

impl Hub {
    /// A JPEG or PNG picture (already checked within the node's limits) with its faces and
    /// plate-shaped texts blurred, encoded again in its format (JPEG at quality 90), with the
    /// anonymiser the clips use (blocking).
    pub fn anonymise_picture(
        &self,
        bytes: &[u8],
        format: limes_store::ImageFormat,
    ) -> Result<AnonymisedPicture, String> {
        let anonymiser = self.loaded(&self.anonymiser, "the anonymiser cannot start", load_anonymiser)?;
        let decode_as = match format {
            limes_store::ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            limes_store::ImageFormat::Png => image::ImageFormat::Png,
        };
        let mut picture = image::load_from_memory_with_format(bytes, decode_as)
            .map_err(|e| format!("the picture does not decode: {e}"))?
            .to_rgb8();
        let found = {
            let mut a = anonymiser.lock().unwrap_or_else(|e| e.into_inner());
            let Anonymiser { faces, plates } = &mut *a;
            limes_vision::footage::to_blur(&picture, faces, Some(plates))
                .map_err(|e| format!("anonymising the picture: {e}"))?
        };
        limes_vision::anonymise::blur(&mut picture, &found.regions, limes_vision::anonymise::MASK_SCALE);
        let mut out = Vec::new();
        match format {
            limes_store::ImageFormat::Jpeg => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&picture)
            }
            limes_store::ImageFormat::Png => picture.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out)),
        }
        .map_err(|e| format!("encoding the anonymised picture: {e}"))?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(AnonymisedPicture { bytes: out, faces: count(found.faces), plates: count(found.plates) })
    }
}

impl Hub {
    /// The search of a live stream anonymised for a partner (`limes_vision::live`): faces and
    /// plate-shaped texts, with models of its own loaded now (blocking), so that a stream never
    /// waits on a clip being blurred or on another stream.
    pub fn live_search(
        &self,
    ) -> Result<
        impl FnMut(&image::RgbImage) -> Result<limes_vision::footage::ToBlur, limes_vision::analyse::AnalyseError>
        + Send
        + 'static
        + use<>,
        String,
    > {
        let Anonymiser { mut faces, mut plates } = load_anonymiser(&self.options()).map_err(|e| {
            let message = format!("the anonymiser cannot start, live video is not shared: {e}");
            tracing::error!("{message}");
            message
        })?;
        Ok(move |picture: &image::RgbImage| limes_vision::footage::to_blur(picture, &mut faces, Some(&mut plates)))
    }
}

impl Hub {
    /// The face models, loaded once (blocking), for cameras that count faces.
    fn face_models(&self) -> Result<Arc<Mutex<FaceModels>>, String> {
        self.loaded(&self.face_models, "faces cannot be counted", load_face_models)
    }

    /// What `cell` holds, loaded by `load` at the first call; or why it could not be (a model
    /// missing or altered: the models' check says how to fetch them), said again to every later
    /// caller.
    fn loaded<T>(
        &self,
        cell: &OnceLock<Result<Arc<Mutex<T>>, String>>,
        failing: &str,
        load: impl FnOnce(&AnalysisOptions) -> Result<T, String>,
    ) -> Result<Arc<Mutex<T>>, String> {
        cell.get_or_init(|| {
            load(&self.options()).map(|m| Arc::new(Mutex::new(m))).map_err(|e| {
                let message = format!("{failing}: {e}");
                tracing::error!("{message}");
                message
            })
        })
        .clone()
    }

    /// The face models when `settings` counts faces (loaded at the first such camera).
    async fn face_models_for(
        self: &Arc<Self>,
        settings: &WatchSettings,
    ) -> Result<Option<Arc<Mutex<FaceModels>>>, ApiError> {
        if !settings.faces.count {
            return Ok(None);
        }
        let hub = self.clone();
        tokio::task::spawn_blocking(move || hub.face_models())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map(Some)
            .map_err(ApiError::Unavailable)
    }
}

fn load_face_models(options: &AnalysisOptions) -> Result<FaceModels, String> {
    let models = limes_vision::models::check(&options.models).map_err(|e| e.to_string())?;
    let runtime = limes_vision::runtime::Runtime::load(&models).map_err(|e| e.to_string())?;
    let threads = options.threads.max(1);
    let settings = limes_vision::faces::FaceSettings { threads, ..Default::default() };
    let detector = limes_vision::faces::FaceDetector::new(&runtime, &models, settings).map_err(|e| e.to_string())?;
    let attributes = limes_vision::attributes::AttributeEstimator::new(&runtime, &models, threads.min(2))
        .map_err(|e| e.to_string())?;
    Ok(FaceModels { detector, attributes: Some(attributes) })
}

fn load_anonymiser(options: &AnalysisOptions) -> Result<Anonymiser, String> {
    let models = limes_vision::models::check(&options.models).map_err(|e| e.to_string())?;
    let runtime = limes_vision::runtime::Runtime::load(&models).map_err(|e| e.to_string())?;
    let threads = options.threads.max(1);
    let face_settings = limes_vision::faces::FaceSettings { threads, ..Default::default() };
    let faces = limes_vision::faces::FaceDetector::new(&runtime, &models, face_settings).map_err(|e| e.to_string())?;
    let plates =
        Analyser::new(&runtime, &models, Settings { threads, ..Settings::default() }).map_err(|e| e.to_string())?;
    Ok(Anonymiser { faces, plates })
}

/// Where the models are when nothing configured the analysis (a library user): `$LIMES_MODELS`,
/// else the user's cache, as scripts/test and `limes models fetch --dir` use. The node always
/// configures it (`[analysis] models`, else `models/` in its data directory).
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIMES_MODELS") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."));
    cache.join("limes").join("models")
}

/// Checks the model files and loads the analyser; gives it with the models' digests (JSON),
/// which every event it raises is logged with.
fn load(options: &AnalysisOptions) -> Result<Loaded, String> {
    let models = limes_vision::models::check(&options.models).map_err(|e| e.to_string())?;
    let runtime = limes_vision::runtime::Runtime::load(&models).map_err(|e| e.to_string())?;
    let settings = Settings { threads: options.threads.max(1), ..Settings::default() };
    let analyser = Analyser::new(&runtime, &models, settings).map_err(|e| e.to_string())?;
    let digests: BTreeMap<&str, &str> = limes_vision::models::MANIFEST.iter().map(|f| (f.name, f.sha256)).collect();
    let json = serde_json::to_string(&digests).unwrap_or_default();
    Ok(Loaded { analyser: Arc::new(Mutex::new(analyser)), models: json })
}

/// What one analysis did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub camera: String,
    /// Pictures decoded, and how many of them the models ran on (the rest had no motion).
    pub frames: u64,
    pub analysed: u64,
    /// The plates read, as reads kept on the node.
    pub reads: Vec<ReadOut>,
    /// Alerts the reads raised.
    pub alerts: u64,
    /// The events raised (each pending a person's decision).
    pub events: Vec<i64>,
    /// Vehicles counted across counting lines.
    pub counted: u64,
    /// Time spent per stage, milliseconds: decoding and motion, detection, plates, scene.
    pub ms: StageMs,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StageMs {
    pub motion: f64,
    pub objects: f64,
    pub plates: f64,
    pub scene: f64,
}

/// One read the analysis made.
#[derive(Debug, Clone, Serialize)]
pub struct ReadOut {
    pub id: i64,
    pub plate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub time: DateTime<Utc>,
    pub confidence: f32,
    /// How many frames read it, and how many of them read exactly this.
    pub frames: usize,
    pub agreeing: usize,
}

/// What the decoding thread hands over: a read with its pictures as JPEG, an event with the
/// picture it was raised on, counts.
enum Found {
    Read(OwnRead, Option<Vec<u8>>, Option<Vec<u8>>),
    Event(SceneEvent, f32, Vec<u8>),
    Counts(Vec<limes_scene::Count>, u32),
    Frame(Box<Watched>),
    /// Faces counted on a picture (at least one), with the picture.
    Faces(FaceCount, Vec<u8>),
}

/// Analyses a video file of `camera` whose first picture was shown at `start`.
pub async fn analyse_file(
    state: &AppState,
    camera: CameraId,
    path: PathBuf,
    start: DateTime<Utc>,
) -> Result<Report, ApiError> {
    let settings = state.analysis.settings(&camera);
    let hub = state.analysis.clone();
    let Loaded { analyser, models } = tokio::task::spawn_blocking(move || hub.analyser())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    let faces = state.analysis.face_models_for(&settings).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Found>(64);
    let step = TimeDelta::microseconds((1_000_000.0 / f64::from(settings.fps)) as i64);
    let worker = tokio::task::spawn_blocking(move || {
        let mut child = decoder(Input::File(&path), settings.fps)?;
        watch_pictures(&mut child, Clock::Media { start, step }, settings, &analyser, faces.as_deref(), &tx)
    });
    let mut report = Report { camera: camera.to_string(), ..Report::default() };
    while let Some(found) = rx.recv().await {
        deliver(state, &camera, &models, found, &mut report).await?;
    }
    let frames = worker.await.map_err(|e| ApiError::Internal(e.to_string()))??;
    report.frames = frames;
    Ok(report)
}

/// What ffmpeg decodes.
enum Input<'a> {
    /// A file it reads itself.
    File(&'a std::path::Path),
    /// A camera's access units as Annex B on its standard input, at `rate` frames a second.
    AnnexB { codec: VideoCodec, rate: f64 },
}

/// Starts ffmpeg decoding `input` into PPM pictures at `fps` on its standard output.
fn decoder(input: Input<'_>, fps: f32) -> Result<std::process::Child, ApiError> {
    let mut command = std::process::Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error"]);
    match input {
        Input::File(path) => {
            command.args(["-nostdin", "-i"]).arg(path).stdin(std::process::Stdio::null());
        }
        Input::AnnexB { codec, rate } => {
            let format = match codec {
                VideoCodec::H264 => "h264",
                VideoCodec::H265 => "hevc",
            };
            command
                // Pictures from the first frames on: no probing of the input (it would hold the
                // analysis seconds behind); `-fflags nobuffer` would drop frames of the stream.
                .args(["-probesize", "32", "-analyzeduration", "0", "-framerate", &format!("{rate:.3}")])
                .args(["-f", format, "-i", "pipe:0"])
                .stdin(std::process::Stdio::piped());
        }
    }
    command
        .args(["-an", "-sn", "-vf", &format!("fps={fps}"), "-f", "image2pipe", "-c:v", "ppm", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| ApiError::Unavailable(format!("video is decoded by ffmpeg, which did not start: {e}")))
}

/// Where the pictures' times come from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// A file or a recording: the first picture at `start`, one every `step` (ffmpeg's fps
    /// filter gives pictures at a constant rate), each analysed in turn.
    Media { start: DateTime<Utc>, step: TimeDelta },
    /// A live stream: the node's clock when the picture is decoded; a picture that comes while
    /// the models are busy is replaced by the next one (the analysis never falls behind).
    Live,
}

/// How often a live analysis hands over the traffic counts of the intervals that ended.
const LIVE_COUNTS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Watches the pictures `child` (ffmpeg, [`decoder`]) writes; what it finds goes to `tx`.
/// Gives how many pictures were decoded.
fn watch_pictures(
    child: &mut std::process::Child,
    clock: Clock,
    settings: WatchSettings,
    analyser: &Mutex<Analyser>,
    faces: Option<&Mutex<FaceModels>>,
    tx: &tokio::sync::mpsc::Sender<Found>,
) -> Result<u64, ApiError> {
    let interval_s = settings.scene.count_interval_s();
    let mut watcher =
        Watcher::new(settings).map_err(|e| ApiError::BadRequest(format!("the camera's settings: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    // ffmpeg's complaints, read on the side so that a chatty decoder never blocks.
    let complaints = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut stderr).take(16 << 10).read_to_string(&mut text);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        text
    });
    let frames = FrameReader::new(std::io::BufReader::with_capacity(1 << 20, stdout), FrameLimits::default());
    let send =
        |found: Found| tx.blocking_send(found).map_err(|_| ApiError::Internal("the analysis was dropped".into()));
    let pictures = Pictures::start(frames, clock);
    let mut failure = None;
    let mut counted = std::time::Instant::now();
    let mut last_time = None;
    while let Some(next) = pictures.next() {
        let Picture { index, time, frame } = match next {
            Ok(p) => p,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        last_time = Some(time);
        let Some(picture) = image::RgbImage::from_raw(frame.width, frame.height, frame.rgb) else { continue };
        let watched = {
            let mut analyser = analyser.lock().unwrap_or_else(|p| p.into_inner());
            watcher.frame(&mut analyser, time, &picture)
        };
        let mut watched = match watched {
            Ok(w) => w,
            Err(e) => {
                failure = Some(format!("frame {index}: {e}"));
                break;
            }
        };
        hand_over(&mut watched, Some(&picture), &send)?;
        send(Found::Frame(Box::new(watched)))?;
        if let Some(models) = faces
            && watcher.faces_due(time)
        {
            let counted = {
                let mut models = models.lock().unwrap_or_else(|p| p.into_inner());
                watcher.count_faces(&mut models, time, &picture)
            };
            match counted {
                Ok(count) if !count.faces.is_empty() => {
                    send(Found::Faces(count, jpeg(&picture, 85).unwrap_or_default()))?;
                }
                Ok(_) => {}
                Err(e) => {
                    failure = Some(format!("frame {index}: counting faces: {e}"));
                    break;
                }
            }
        }
        if matches!(clock, Clock::Live) && counted.elapsed() >= LIVE_COUNTS_EVERY {
            counted = std::time::Instant::now();
            send(Found::Counts(watcher.take_counts(time), interval_s))?;
        }
    }
    let _ = child.kill();
    let status = child.wait().ok();
    let complaints = complaints.join().unwrap_or_default();
    let decoded = pictures.decoded();
    let mut rest = watcher.finish();
    hand_over(&mut rest, None, &send)?;
    // A file's last interval is counted as far as it went; a live stream's only once it ended.
    let until = match clock {
        Clock::Media { .. } => DateTime::<Utc>::MAX_UTC,
        Clock::Live => last_time.unwrap_or_else(Utc::now),
    };
    send(Found::Counts(watcher.take_counts(until), interval_s))?;
    if decoded == 0 {
        let why = failure
            .or_else(|| (!complaints.trim().is_empty()).then(|| complaints.trim().to_owned()))
            .unwrap_or_else(|| format!("ffmpeg ended ({status:?}) without a picture"));
        return Err(ApiError::Unprocessable(format!("the video could not be decoded: {why}")));
    }
    if let Some(why) = failure {
        tracing::warn!(frames = decoded, error = %why, "the video broke off; what was decoded before is kept");
    }
    Ok(decoded)
}

/// The decoded pictures in the order the analysis takes them: every one of a file, or the newest
/// of a live stream (read on a thread of its own, so that ffmpeg is never held up).
struct Pictures {
    shared: Arc<(Mutex<Slot>, std::sync::Condvar)>,
    clock: Clock,
}

/// A decoded picture: its number in the stream and its time.
struct Picture {
    index: u64,
    time: DateTime<Utc>,
    frame: limes_video::frames::RawFrame,
}

#[derive(Default)]
struct Slot {
    /// The newest picture not taken yet (timed when it was read).
    newest: Option<Picture>,
    decoded: u64,
    /// The stream ended (cleanly, or with this error).
    ended: Option<Option<String>>,
}

impl Pictures {
    fn start<R: Read + Send + 'static>(mut frames: FrameReader<R>, clock: Clock) -> Pictures {
        let shared = Arc::new((Mutex::new(Slot::default()), std::sync::Condvar::new()));
        let slot = shared.clone();
        let live = matches!(clock, Clock::Live);
        std::thread::spawn(move || {
            let (lock, ready) = &*slot;
            loop {
                // A file's reader waits for its picture to be taken: every picture is analysed.
                if !live {
                    let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                    while s.newest.is_some() && s.ended.is_none() {
                        s = ready.wait(s).unwrap_or_else(|p| p.into_inner());
                    }
                }
                let next = frames.next_frame();
                let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                match next {
                    Ok(Some(frame)) => {
                        s.decoded = frames.frames_read();
                        s.newest = Some(Picture { index: s.decoded - 1, time: Utc::now(), frame });
                    }
                    Ok(None) => s.ended = Some(None),
                    Err(e) => s.ended = Some(Some(e.to_string())),
                }
                let done = s.ended.is_some();
                drop(s);
                ready.notify_all();
                if done {
                    return;
                }
            }
        });
        Pictures { shared, clock }
    }

    /// The next picture to analyse, with its number and time; `None` at the end.
    fn next(&self) -> Option<Result<Picture, String>> {
        let (lock, ready) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(mut picture) = s.newest.take() {
                ready.notify_all();
                if let Clock::Media { start, step } = self.clock {
                    picture.time = start + step * i32::try_from(picture.index).unwrap_or(i32::MAX);
                }
                return Some(Ok(picture));
            }
            match &s.ended {
                Some(None) => return None,
                Some(Some(e)) => return Some(Err(e.clone())),
                None => s = ready.wait(s).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    fn decoded(&self) -> u64 {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner()).decoded
    }
}

impl Drop for Pictures {
    /// A reader waiting for its picture to be taken is let go (the analysis stopped early).
    fn drop(&mut self) {
        let (lock, ready) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        s.newest = None;
        s.ended.get_or_insert(None);
        drop(s);
        ready.notify_all();
    }
}

/// Moves a frame's reads and events out of `watched` to `send`, with their pictures as JPEG.
fn hand_over(
    watched: &mut Watched,
    picture: Option<&image::RgbImage>,
    send: &impl Fn(Found) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for read in watched.reads.drain(..) {
        let crop = read.crop.as_ref().and_then(|c| jpeg(c, 90));
        let overview = read.overview.as_ref().and_then(|o| jpeg(o, 80));
        send(Found::Read(read, crop, overview))?;
    }
    if watched.events.is_empty() {
        return Ok(());
    }
    let frame = picture.and_then(|p| jpeg(p, 85)).unwrap_or_default();
    for event in watched.events.drain(..) {
        let score = track_score(&watched.detections, &event);
        send(Found::Event(event, score, frame.clone()))?;
    }
    Ok(())
}

/// The detector's score of the object an event is about (the best of its class in the frame).
fn track_score(detections: &[limes_scene::Detection], event: &SceneEvent) -> f32 {
    let class = match event {
        SceneEvent::LineCrossed { class, .. }
        | SceneEvent::ZoneEntered { class, .. }
        | SceneEvent::Stopped { class, .. }
        | SceneEvent::Plate { class, .. } => *class,
    };
    detections.iter().filter(|d| d.class == class).map(|d| d.score).fold(0.0, f32::max)
}

fn jpeg(picture: &image::RgbImage, quality: u8) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(picture).ok()?;
    Some(out)
}

/// Puts what the analysis found where it belongs.
async fn deliver(
    state: &AppState,
    camera: &CameraId,
    models: &str,
    found: Found,
    report: &mut Report,
) -> Result<(), ApiError> {
    match found {
        Found::Frame(w) => {
            report.analysed += u64::from(w.analysed);
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            report.ms.motion += ms(w.times.motion);
            report.ms.objects += ms(w.times.objects);
            report.ms.plates += ms(w.times.plates);
            report.ms.scene += ms(w.times.scene);
        }
        Found::Read(read, crop, overview) => {
            let country = read.country.as_deref().and_then(|c| limes_plate::CountryCode::parse(c).ok());
            let plate_read = PlateRead {
                camera: camera.clone(),
                time: read.time,
                plate: PlateInfo {
                    text: Scored {
                        value: read.plate.text.clone(),
                        confidence: Some(read.plate.confidence.clamp(0.0, 1.0)),
                    },
                    plate_type: None,
                    country: country.map(|c| Scored { value: c, confidence: None }),
                    issuing_entity: None,
                },
                direction: Direction::Unknown,
                position: None,
                vehicle: Some(VehicleInfo { make: None, colour: None, class: Some(read.class.as_str().to_owned()) }),
                images: Vec::new(),
                exercise: false,
            };
            let by = Collector::source(state, SOURCE);
            let ingested = crate::ingest::ingest_reads(state, &by, vec![(0, Ok(plate_read))]).await?;
            if let Some(rejected) = ingested.rejected.first() {
                tracing::warn!(camera = %camera, plate = %read.plate.text, error = %rejected.error, "an own read was refused");
                return Ok(());
            }
            let Some(&id) = ingested.ids.first() else { return Ok(()) };
            report.alerts += ingested.alerts as u64;
            report.reads.push(ReadOut {
                id,
                plate: read.plate.text.clone(),
                country: read.country.clone(),
                time: read.time,
                confidence: read.plate.confidence,
                frames: read.plate.reads,
                agreeing: read.plate.agreeing,
            });
            let (store, limits) = (state.store.clone(), state.options.images);
            let pictures = [(ImageKind::Plate, crop), (ImageKind::Overview, overview)];
            tokio::task::spawn_blocking(move || {
                for (kind, bytes) in pictures {
                    let Some(bytes) = bytes else { continue };
                    let stored = ValidImage::check(bytes, Some(ImageFormat::Jpeg), &limits)
                        .map_err(|e| e.to_string())
                        .and_then(|image| {
                            let meta = ImageMeta { read_id: id, kind, source_format: SOURCE.into() };
                            store.put_image(&image, &meta).map_err(|e| e.to_string())
                        });
                    if let Err(e) = stored {
                        tracing::error!(read = id, kind = kind.as_str(), error = %e, "keeping an own read's picture");
                    }
                }
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        Found::Event(event, score, frame) => {
            let frame_sha256 = keep_frame(state, frame).await?;
            let Some(row) = event_row(camera, &event, score, frame_sha256, models) else { return Ok(()) };
            let ids = put_event(state, row).await?;
            for id in &ids {
                tracing::info!(camera = %camera, event = id, ?event, "the node's analysis raised an event; a person must confirm it");
            }
            report.events.extend(ids);
        }
        Found::Faces(count, frame) => {
            let frame_sha256 = keep_frame(state, frame).await?;
            let row = faces_row(camera, &count, frame_sha256, models);
            let ids = put_event(state, row).await?;
            let estimated = count.faces.iter().filter(|f| f.attributes.is_some()).count();
            for id in &ids {
                tracing::info!(
                    camera = %camera,
                    event = id,
                    faces = count.faces.len(),
                    estimated,
                    "the node's analysis counted faces; a person must confirm before any of it is shared"
                );
            }
            report.events.extend(ids);
        }
        Found::Counts(counts, interval_s) => {
            report.counted += counts.iter().map(|c| u64::from(c.vehicles)).sum::<u64>();
            let rows: Vec<TrafficCount> = counts
                .into_iter()
                .map(|c| TrafficCount {
                    camera: camera.to_string(),
                    interval_start: c.interval_start,
                    interval_s,
                    line: c.line,
                    lane: c.lane,
                    direction: c.direction.as_str().to_owned(),
                    class: c.class.as_str().to_owned(),
                    vehicles: u64::from(c.vehicles),
                })
                .collect();
            if !rows.is_empty() {
                let store = state.store.clone();
                crate::federation::blocking_api(move || store.add_traffic_counts(&rows)).await?;
            }
        }
    }
    Ok(())
}

/// Keeps the picture an event was raised on (none when it could not be encoded); its digest.
async fn keep_frame(state: &AppState, frame: Vec<u8>) -> Result<Option<String>, ApiError> {
    if frame.is_empty() {
        return Ok(None);
    }
    let (sha, _) = crate::files::keep(state, frame.into())
        .await
        .map_err(|e| ApiError::Internal(format!("keeping an event's picture: {e}")))?;
    Ok(Some(sha))
}

/// Keeps an event the analysis raised; its id.
async fn put_event(state: &AppState, row: SceneEventRow) -> Result<Vec<i64>, ApiError> {
    let store = state.store.clone();
    crate::federation::blocking_api(move || store.put_scene_events(&[row])).await
}

/// An event as it is kept: the log of what raised it.
fn event_row(
    camera: &CameraId,
    event: &SceneEvent,
    score: f32,
    frame_sha256: Option<String>,
    models: &str,
) -> Option<SceneEventRow> {
    let (time, track, class, kind, rule, direction, at) = match event {
        SceneEvent::LineCrossed { time, track, class, line, direction, at } => {
            (*time, *track, *class, "line_crossed", line.clone(), Some(direction.as_str().to_owned()), *at)
        }
        SceneEvent::ZoneEntered { time, track, class, zone, at } => {
            (*time, *track, *class, "zone_entered", zone.clone(), None, *at)
        }
        SceneEvent::Stopped { time, track, class, at } => (*time, *track, *class, "stopped", String::new(), None, *at),
        SceneEvent::Plate { .. } => return None,
    };
    Some(SceneEventRow {
        class: class.as_str().into(),
        rule,
        direction,
        at: [at.x, at.y],
        track,
        score,
        ..pending(camera, time, kind, frame_sha256, models)
    })
}

/// A new event of `kind` at `camera`, as the analysis raises it: with the models that raised it
/// and its picture, pending, undecided; the caller says what it is about.
fn pending(
    camera: &CameraId,
    time: DateTime<Utc>,
    kind: &str,
    frame_sha256: Option<String>,
    models: &str,
) -> SceneEventRow {
    SceneEventRow {
        id: 0,
        camera: camera.to_string(),
        time,
        kind: kind.into(),
        class: String::new(),
        rule: String::new(),
        direction: None,
        at: [0.0, 0.0],
        track: 0,
        score: 0.0,
        frame_sha256,
        models: models.to_owned(),
        raised: Utc::now(),
        exercise: false,
        status: "pending".into(),
        decided_by: None,
        decided: None,
        note: None,
        incident: None,
        details: None,
    }
}

/// Faces counted, as the event kept: the log of what was found — each face's box and score, its
/// estimated age and gender with their confidence where the camera asks for them, the faces in
/// each zone — with the models that found it and the picture (EU AI Act Art. 12), pending until
/// a person decides it (Art. 14).
fn faces_row(camera: &CameraId, count: &FaceCount, frame_sha256: Option<String>, models: &str) -> SceneEventRow {
    let n = count.faces.len().max(1) as f32;
    let (sx, sy) = count.faces.iter().fold((0.0, 0.0), |(x, y), f| {
        let c = f.bbox.centre();
        (x + c.x, y + c.y)
    });
    SceneEventRow {
        class: "person".into(),
        at: [sx / n, sy / n],
        score: count.faces.iter().map(|f| f.score).fold(0.0, f32::max),
        details: serde_json::to_value(count).ok(),
        ..pending(camera, count.time, "faces_counted", frame_sha256, models)
    }
}

/// A camera analysed live, as monitoring shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    pub camera: String,
    /// Whether a stream is being analysed now.
    pub running: bool,
    /// Pictures decoded and analysed since the node started, and the plates read.
    pub frames: u64,
    pub analysed: u64,
    pub reads: u64,
    pub events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Hub {
    /// The cameras analysed live.
    pub fn live_statuses(&self) -> Vec<LiveStatus> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    fn update(&self, camera: &CameraId, f: impl FnOnce(&mut LiveStatus)) {
        let mut all = self.live.lock().unwrap_or_else(|p| p.into_inner());
        f(all
            .entry(camera.clone())
            .or_insert_with(|| LiveStatus { camera: camera.to_string(), ..LiveStatus::default() }));
    }
}

/// Starts the live analysis of each camera whose settings ask for it (`live = true`) and that
/// the node records: its frames come from the recorder's live feed (no second connection to
/// the camera), through ffmpeg, to the models; a stream that ends or changes is taken up again.
pub fn start_live(state: &AppState) {
    for (camera, settings) in state.analysis.options().cameras.into_iter().filter(|(_, s)| s.live) {
        if state.video.feed(&camera).is_none() {
            tracing::warn!(camera = %camera, "analysed live but not recorded: add it to [[video.streams]]");
            continue;
        }
        state.analysis.update(&camera, |_| {});
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                let wait = match live_once(&state, &camera, &settings).await {
                    Ok(()) => std::time::Duration::from_secs(1),
                    Err(e) => {
                        tracing::warn!(camera = %camera, error = %e, "live analysis stopped; taken up again soon");
                        state.analysis.update(&camera, |s| s.last_error = Some(e.to_string()));
                        std::time::Duration::from_secs(if matches!(e, ApiError::Unavailable(_)) { 30 } else { 5 })
                    }
                };
                state.analysis.update(&camera, |s| s.running = false);
                tokio::time::sleep(wait).await;
            }
        });
    }
}

/// The frames queued for the decoder; more, and the decoder is behind: the stream is taken up
/// again from a key frame.
const LIVE_QUEUE: usize = 512;

/// A camera that sends nothing for this long has stalled: the session ends (its tracks end and
/// their plates are given), and is taken up again when frames come.
const LIVE_STALL: std::time::Duration = std::time::Duration::from_secs(10);

/// Analyses one live session of `camera`: from its next key frame until the feed ends, the
/// camera's session or parameters change, or the decoder falls behind.
async fn live_once(state: &AppState, camera: &CameraId, settings: &WatchSettings) -> Result<(), ApiError> {
    use tokio::sync::broadcast::error::RecvError;
    let hub = state.analysis.clone();
    let Loaded { analyser, models } = tokio::task::spawn_blocking(move || hub.analyser())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    let feed =
        state.video.feed(camera).ok_or_else(|| ApiError::NotFound(format!("camera {camera} is not recorded")))?;
    let mut rx = feed.live.subscribe();
    let first = crate::routes::watch::next_key(&mut rx)
        .await
        .ok_or_else(|| ApiError::Unavailable(format!("camera {camera}'s feed ended")))?;
    let second = loop {
        match rx.recv().await {
            Ok(f) if f.ticks > first.ticks && f.parameters == first.parameters => break f,
            Ok(_) => return Ok(()),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return Err(ApiError::Unavailable(format!("camera {camera}'s feed ended"))),
        }
    };
    let params = first.parameters.clone();
    let rate = f64::from(params.clock_rate) / (second.ticks - first.ticks) as f64;
    let mut child = decoder(Input::AnnexB { codec: params.codec, rate }, settings.fps)?;
    let mut stdin = child.stdin.take().expect("piped");
    let (sender, queued) = std::sync::mpsc::sync_channel::<Vec<u8>>(LIVE_QUEUE);
    let mut queue = Some(sender);
    // The decoder's input is written on a thread of its own; its end ends ffmpeg's input.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        for chunk in queued {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let (tx, mut found) = tokio::sync::mpsc::channel::<Found>(64);
    let watch_settings = settings.clone();
    let faces = state.analysis.face_models_for(settings).await?;
    let worker = tokio::task::spawn_blocking(move || {
        watch_pictures(&mut child, Clock::Live, watch_settings, &analyser, faces.as_deref(), &tx)
    });
    state.analysis.update(camera, |s| {
        s.running = true;
        s.last_error = None;
    });
    let mut last = first.ticks;
    for f in [&first, &second] {
        if let Some(q) = &queue {
            let _ = q.try_send(crate::routes::watch::annexb(&params, &f.data, f.key));
        }
        last = f.ticks;
    }
    loop {
        tokio::select! {
            frame = tokio::time::timeout(LIVE_STALL, rx.recv()), if queue.is_some() => {
                let go_on = match (frame, &queue) {
                    (Ok(Ok(f)), Some(q)) if f.ticks > last && f.parameters == params => {
                        last = f.ticks;
                        q.try_send(crate::routes::watch::annexb(&params, &f.data, f.key)).is_ok()
                    }
                    // A new session, new parameters, frames missed, a stall or the feed's end.
                    _ => false,
                };
                if !go_on {
                    // The decoder's input ends: it gives the pictures it holds, then ends.
                    queue = None;
                }
            }
            next = found.recv() => match next {
                Some(f) => {
                    // What this one hand-over added, counted into the camera's totals.
                    let frame = u64::from(matches!(f, Found::Frame(_)));
                    let mut added = Report::default();
                    deliver(state, camera, &models, f, &mut added).await?;
                    state.analysis.update(camera, |s| {
                        s.frames += frame;
                        s.analysed += added.analysed;
                        s.reads += added.reads.len() as u64;
                        s.events += added.events.len() as u64;
                    });
                }
                None => break,
            }
        }
    }
    // The decoder's input ends (if the analysis stopped first), and its writer with it.
    drop(queue.take());
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    worker.await.map_err(|e| ApiError::Internal(e.to_string()))?.map(|_| ())
}
