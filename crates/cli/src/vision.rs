//! `limes vision eval`: the node's own plate reading and detection, measured on the synthetic
//! evaluation set (issue #10).
//!
//! The set is made afresh from a seed, so it ships as code: for each country of
//! `limes_sim::picture::COUNTRIES` and each [`Condition`], `--per-condition` plates drawn as
//! printed (in a condensed font from Debian's `fonts-dejavu-extra` or `fonts-liberation`) and set
//! on the bus of the pinned street photograph. Each picture is read by the analyser; a read is
//! exact when a plate it gives equals the truth. Detection is scored on the photograph against
//! boxes annotated by hand. Figures print as `name=value` lines; `--out` also writes each picture
//! with its truth beside it (`NNNN.jpg`, `NNNN.json`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use limes_scene::ObjectClass;
use limes_scene::geometry::BBox;
use limes_sim::picture::{self, COUNTRIES, Condition, Spot};
use limes_vision::analyse::{Analyser, Object, Settings};
use limes_vision::anonymise::MASK_SCALE;
use limes_vision::faces::{FaceDetector, FaceSettings};
use limes_vision::footage::FootageSettings;
use limes_vision::models::{self, ModelId};
use limes_vision::runtime::Runtime;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Args)]
pub struct VisionArgs {
    #[command(subcommand)]
    command: VisionCommand,
}

/// The face detector's options.
#[derive(Debug, Args)]
struct FaceOptions {
    /// The checked models folder (`limes models fetch --dir`).
    #[arg(long, env = "LIMES_MODELS")]
    models: PathBuf,
    /// Threads per model.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// A picture whose longer side is over this is scaled down to it for the face detector.
    #[arg(long, default_value_t = 1280)]
    max_side: u32,
}

#[derive(Debug, Subcommand)]
enum VisionCommand {
    /// Read the synthetic evaluation set and score detection on the street photograph; prints
    /// `name=value` lines and exits non-zero when a minimum is not met.
    Eval {
        /// The checked models folder (`limes models fetch --dir`).
        #[arg(long, env = "LIMES_MODELS")]
        models: PathBuf,
        /// Pictures per country and condition.
        #[arg(long, default_value_t = 10)]
        per_condition: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads per model.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Also write each picture and its truth into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read the text of pictures (JPEG or PNG): one JSON line per plate-shaped text box, with
    /// its corners, the text as recognised, the recogniser's confidence and, when a country's
    /// grammar reads it as a plate, the plate. For snapshots from cameras without analytics, and
    /// to see why a plate was not read.
    Read {
        /// The checked models folder (`limes models fetch --dir`).
        #[arg(long, env = "LIMES_MODELS")]
        models: PathBuf,
        /// Threads per model.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// The pictures.
        #[arg(required = true)]
        pictures: Vec<PathBuf>,
    },
    /// Find the faces in pictures (JPEG or PNG): one JSON line per face, with its box, score and
    /// five landmarks (eyes, nose, mouth corners). Faces are found to count and blur people,
    /// never to identify them.
    Faces {
        #[command(flatten)]
        detector: FaceOptions,
        /// Also estimate each face's age (with its 10–90 % range) and gender, with their
        /// confidence, on a chip aligned from its landmarks. Biometric categorisation (EU AI Act
        /// Annex III 1(b)): a person confirms an estimate before it is shared.
        #[arg(long)]
        age_gender: bool,
        /// The pictures.
        #[arg(required = true)]
        pictures: Vec<PathBuf>,
    },
    /// Blur the faces and plates out of a picture (JPEG or PNG) or a video, and write it to
    /// OUTPUT: a picture in the format its extension names, a video (any ffmpeg reads) as an
    /// H.264 MP4 (OUTPUT ending in .mp4). Every face and every plate-shaped text box is blurred,
    /// read or not; in a video, each frame also where the `--hold` frames before and after it
    /// found one. If anything cannot be analysed nothing is written: nothing is passed on
    /// unblurred. Prints `faces=` and `plates=` lines (and for a video, `frames=`, `fps=` and the
    /// time of each stage).
    Anonymise {
        #[command(flatten)]
        detector: FaceOptions,
        /// A video's frames are each blurred with what was found this many frames before and
        /// after them.
        #[arg(long, default_value_t = 3)]
        hold: usize,
        /// Blur faces only, not plate-shaped text.
        #[arg(long)]
        faces_only: bool,
        input: PathBuf,
        output: PathBuf,
    },
    /// Make a synthetic 1080p street video (H.264 MP4, through ffmpeg): the street photograph
    /// with a plate of `--country` on its bus, sliding across the frame, so that its vehicle and
    /// persons cross the middle. Prints `plate=`, `country=`, `frames=` lines. For tests,
    /// demonstrations and `limes bench`: no camera needed.
    Video {
        /// The checked models folder, for the street photograph it holds.
        #[arg(long, env = "LIMES_MODELS")]
        models: PathBuf,
        /// The MP4 to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "RO")]
        country: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 3.0)]
        seconds: f32,
        #[arg(long, default_value_t = 10)]
        fps: u32,
        /// The frames' height (even, up to 1080; 720 for 1280×720): the 1080p frames scaled.
        #[arg(long, default_value_t = 1080)]
        height: u32,
    },
}

/// The fonts the plates are drawn in: condensed grotesques, as plate fonts are.
const FONTS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
];

/// The street photograph's size.
const PHOTO: (u32, u32) = (810, 1080);

/// Where the bus is in the street photograph (810×1080): the plates go on it.
const BUS: Spot = Spot { x: 40.0, y: 230.0, width: 760.0, height: 520.0 };

/// The street photograph's persons and vehicles, annotated by hand (left, top, right, bottom).
const TRUTH: [(ObjectClass, [f32; 4]); 5] = [
    (ObjectClass::Person, [48.0, 398.0, 245.0, 905.0]),
    (ObjectClass::Person, [670.0, 380.0, 810.0, 878.0]),
    (ObjectClass::Person, [220.0, 405.0, 345.0, 860.0]),
    (ObjectClass::Person, [0.0, 550.0, 68.0, 873.0]),
    (ObjectClass::Bus, [20.0, 228.0, 805.0, 745.0]),
];

/// The issue's minimums: exact reads per country, clean and degraded.
const MIN_CLEAN: f64 = 0.95;
const MIN_DEGRADED: f64 = 0.80;

pub fn run(a: VisionArgs) -> anyhow::Result<()> {
    match a.command {
        VisionCommand::Eval { models, per_condition, seed, threads, out } => {
            eval(&models, per_condition, seed, threads, out.as_deref())
        }
        VisionCommand::Read { models, threads, pictures } => read(&models, threads, &pictures),
        VisionCommand::Faces { detector, age_gender, pictures } => faces(&detector, age_gender, &pictures),
        VisionCommand::Anonymise { detector, hold, faces_only, input, output } => {
            anonymise(&detector, hold, !faces_only, &input, &output)
        }
        VisionCommand::Video { models, out, country, seed, seconds, fps, height } => {
            video(&models, &out, &country, seed, seconds, fps, height)
        }
    }
}

/// The street video's size: 1080p.
pub(crate) const VIDEO: (u32, u32) = (1920, 1080);

/// The street photograph with a generated plate of `country` on its bus, and the plate's truth.
pub(crate) fn street(
    dir: &std::path::Path,
    country: limes_plate::CountryCode,
    seed: u64,
) -> anyhow::Result<(image::RgbImage, picture::PlateTruth)> {
    let checked = models::check(dir)?;
    let photo = image::open(checked.path(ModelId::StreetPhoto)).context("the street photograph")?.to_rgb8();
    let font_path = FONTS[0];
    let font = ab_glyph::FontVec::try_from_vec(
        std::fs::read(font_path).with_context(|| format!("{font_path} (Debian's fonts-dejavu-extra)"))?,
    )
    .map_err(|e| anyhow::anyhow!("{font_path}: {e}"))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (text, printed) = picture::random_plate(&mut rng, country);
    let flat = picture::draw_plate(&printed, &picture::band_code(country), &font, 110);
    Ok(picture::place(&photo, &flat, (country, &text), BUS, Condition::Clean, &mut rng))
}

/// Frame `i` of `n` of the street video: the photograph `scene` on a grey 1080p road, slid
/// from the left edge (frame 0) to the right one (frame n − 1). Gives also where it stands.
pub(crate) fn street_frame(scene: &image::RgbImage, i: u32, n: u32) -> image::RgbImage {
    let (width, height) = VIDEO;
    let mut frame = image::RgbImage::from_pixel(width, height, image::Rgb([92, 94, 98]));
    image::imageops::overlay(&mut frame, scene, i64::from(street_x(scene, i, n)), i64::from(height - scene.height()));
    frame
}

/// Where the photograph's left edge is in frame `i` of `n`.
pub(crate) fn street_x(scene: &image::RgbImage, i: u32, n: u32) -> u32 {
    (VIDEO.0 - scene.width()) * i / (n - 1).max(1)
}

pub(crate) fn video(
    dir: &std::path::Path,
    out: &std::path::Path,
    country: &str,
    seed: u64,
    seconds: f32,
    fps: u32,
    height: u32,
) -> anyhow::Result<()> {
    use std::io::Write;
    let country = limes_plate::CountryCode::parse(country).map_err(|e| anyhow::anyhow!("--country: {e}"))?;
    anyhow::ensure!(COUNTRIES.contains(&country), "--country: one of {COUNTRIES:?}");
    anyhow::ensure!((0.5..=60.0).contains(&seconds), "--seconds: 0.5 to 60");
    anyhow::ensure!((1..=60).contains(&fps), "--fps: 1 to 60");
    let (scene, truth) = street(dir, country, seed)?;
    anyhow::ensure!((144..=VIDEO.1).contains(&height) && height.is_multiple_of(2), "--height: even, 144 to 1080");
    let frames = (seconds * fps as f32).round().max(2.0) as u32;
    let (width, height) = (VIDEO.0 * height / VIDEO.1 / 2 * 2, height);
    let mut ffmpeg = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-s", &format!("{}x{}", VIDEO.0, VIDEO.1), "-r", &fps.to_string(), "-i", "-"])
        .args(["-vf", &format!("scale={width}:{height}")])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", &fps.to_string()])
        .args(["-movflags", "+faststart"])
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("ffmpeg encodes the video (Debian's ffmpeg)")?;
    let mut stdin = ffmpeg.stdin.take().expect("piped");
    for i in 0..frames {
        stdin.write_all(street_frame(&scene, i, frames).as_raw()).context("writing a frame to ffmpeg")?;
    }
    drop(stdin);
    let status = ffmpeg.wait()?;
    anyhow::ensure!(status.success(), "ffmpeg failed ({status})");
    println!("plate={}", truth.plate);
    println!("country={country}");
    println!("frames={frames}");
    println!("width={width}");
    println!("height={height}");
    Ok(())
}

fn read(dir: &std::path::Path, threads: usize, pictures: &[PathBuf]) -> anyhow::Result<()> {
    let checked = models::check(dir)?;
    let runtime = Runtime::load(&checked)?;
    let mut analyser = Analyser::new(&runtime, &checked, Settings { threads, ..Settings::default() })?;
    each_picture(pictures, |path, picture| {
        for b in analyser.text_boxes(&picture)? {
            let (raw, confidence) = analyser.read_text(&picture, &b)?;
            let plate = limes_vision::analyse::as_plate(&raw);
            let line = serde_json::json!({
                "picture": path.display().to_string(),
                "corners": b.corners,
                "raw": raw,
                "confidence": confidence,
                "plate": plate.as_ref().map(|p| &p.0),
                "country": plate.as_ref().map(|p| p.1.as_str()),
            });
            println!("{line}");
        }
        Ok(())
    })
}

/// Runs `each` on every picture of `pictures` that opens and can be analysed. One that cannot is
/// named on stderr and the others are still done; then the whole fails, saying how many.
fn each_picture(
    pictures: &[PathBuf],
    mut each: impl FnMut(&std::path::Path, image::RgbImage) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut unreadable = 0;
    for path in pictures {
        match open_picture(path) {
            Ok(picture) => each(path, picture)?,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                unreadable += 1;
            }
        }
    }
    anyhow::ensure!(unreadable == 0, "{unreadable} of {} pictures could not be read", pictures.len());
    Ok(())
}

/// A picture opened and checked for analysis, or why not.
fn open_picture(path: &std::path::Path) -> Result<image::RgbImage, String> {
    image::open(path).map_err(|e| e.to_string()).and_then(|p| {
        let p = p.to_rgb8();
        Analyser::check(&p).map(|()| p).map_err(|e| e.to_string())
    })
}

/// The checked models, their runtime and the face detector the options ask for.
fn face_detector(o: &FaceOptions) -> anyhow::Result<(models::Models, Runtime, FaceDetector)> {
    let checked = models::check(&o.models)?;
    let runtime = Runtime::load(&checked)?;
    let settings = FaceSettings { threads: o.threads, max_side: o.max_side, ..Default::default() };
    let detector = FaceDetector::new(&runtime, &checked, settings)?;
    Ok((checked, runtime, detector))
}

fn faces(options: &FaceOptions, age_gender: bool, pictures: &[PathBuf]) -> anyhow::Result<()> {
    let (checked, runtime, mut detector) = face_detector(options)?;
    let mut estimator = if age_gender {
        eprintln!(
            "age and gender are estimates, with their confidence: biometric categorisation (EU AI Act \
             Annex III 1(b)); a person confirms one before it is shared"
        );
        Some(limes_vision::attributes::AttributeEstimator::new(&runtime, &checked, options.threads)?)
    } else {
        None
    };
    each_picture(pictures, |path, picture| {
        for f in detector.faces(&picture)? {
            let mut line = serde_json::json!({
                "picture": path.display().to_string(),
                "box": [f.left, f.top, f.right, f.bottom],
                "score": f.score,
                "landmarks": f.landmarks,
            });
            if let Some(e) = estimator.as_mut()
                && let Some(a) = e.estimate(&picture, &f)?
            {
                line["age"] = serde_json::json!(a.age);
                line["age_range"] = serde_json::json!(a.age_range);
                line["age_confidence"] = serde_json::json!(a.age_confidence);
                line["gender"] = serde_json::json!(a.gender);
                line["gender_confidence"] = serde_json::json!(a.gender_confidence);
            }
            println!("{line}");
        }
        Ok(())
    })
}

fn anonymise(
    options: &FaceOptions,
    hold: usize,
    plates: bool,
    input: &std::path::Path,
    output: &std::path::Path,
) -> anyhow::Result<()> {
    let video = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
    let format = if video {
        None
    } else {
        Some(
            image::ImageFormat::from_path(output)
                .with_context(|| format!("{}: write .jpg or .png (or .mp4 for a video)", output.display()))?,
        )
    };
    let (checked, runtime, mut detector) = face_detector(options)?;
    let settings = Settings { threads: options.threads, ..Settings::default() };
    let mut analyser = if plates { Some(Analyser::new(&runtime, &checked, settings)?) } else { None };
    let Some(format) = format else {
        let settings = FootageSettings { hold, ..FootageSettings::default() };
        let r = limes_vision::footage::anonymise(input, output, &mut detector, analyser.as_mut(), &settings)?;
        let ms = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1000.0 / r.frames.max(1) as f64);
        println!("frames={}", r.frames);
        println!("size={}x{}", r.width, r.height);
        println!("faces={}", r.faces);
        println!("plates={}", r.plates);
        println!("fps={:.2}", r.frames as f64 / r.total.as_secs_f64());
        println!("decode_ms_per_frame={}", ms(r.decode));
        println!("detect_ms_per_frame={}", ms(r.detect));
        println!("blur_ms_per_frame={}", ms(r.blur));
        println!("encode_ms_per_frame={}", ms(r.encode));
        return Ok(());
    };
    let mut picture = open_picture(input).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let found = limes_vision::footage::to_blur(&picture, &mut detector, analyser.as_mut())?;
    limes_vision::anonymise::blur(&mut picture, &found.regions, MASK_SCALE);
    // Written beside the output and renamed over it: a failed write leaves no half picture.
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).with_context(|| format!("writing in {}", parent.display()))?;
    picture.write_to(&mut std::io::BufWriter::new(tmp.as_file()), format).context("encoding the picture")?;
    tmp.persist(output).with_context(|| format!("writing {}", output.display()))?;
    println!("faces={}", found.faces);
    println!("plates={}", found.plates);
    Ok(())
}

/// Intersection over union of two boxes (left, top, right, bottom) of the photograph.
fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let (w, h) = PHOTO;
    let bbox = |r: [f32; 4]| BBox::from_pixels(r[0], r[1], r[2], r[3], w, h);
    bbox(a).iou(&bbox(b))
}

/// Precision and recall of `found` against the truth for the classes `of` selects (a found box
/// matches an unmatched true box of a selected class with IoU ≥ 0.5).
fn scores(found: &[Object], of: impl Fn(ObjectClass) -> bool) -> (f64, f64) {
    let truth: Vec<[f32; 4]> = TRUTH.iter().filter(|(c, _)| of(*c)).map(|(_, b)| *b).collect();
    let found: Vec<[f32; 4]> =
        found.iter().filter(|o| of(o.class)).map(|o| [o.left, o.top, o.right, o.bottom]).collect();
    let mut used = vec![false; truth.len()];
    let mut hits = 0usize;
    for f in &found {
        if let Some(i) = (0..truth.len())
            .filter(|&i| !used[i] && iou(*f, truth[i]) >= 0.5)
            .max_by(|&a, &b| iou(*f, truth[a]).total_cmp(&iou(*f, truth[b])))
        {
            used[i] = true;
            hits += 1;
        }
    }
    let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    (ratio(hits, found.len()), ratio(hits, truth.len()))
}

/// Faces on the group photograph against the 29 drawn by hand (recall and precision, IoU over
/// 0.3), the blur checked inside each drawn box; age and gender on the two portraits, whose
/// sitters' gender and age when painted are known.
/// Gives whether the face minimums (recall and precision 0.9, under 10 % of the detail kept) are met.
fn faces_eval(runtime: &Runtime, checked: &models::Models, threads: usize) -> anyhow::Result<bool> {
    use limes_vision::anonymise::{blur, detail_kept};
    let mut detector = FaceDetector::new(runtime, checked, FaceSettings { threads, ..FaceSettings::default() })?;
    let group = image::open(checked.path(ModelId::GroupPhoto)).context("the group photograph")?.to_rgb8();
    let started = Instant::now();
    let found = detector.faces(&group)?;
    let faces_ms = started.elapsed().as_secs_f64() * 1000.0;
    let drawn = models::GROUP_PHOTO_FACES;
    let s = limes_vision::faces::score(&found, &drawn, 0.3);
    let regions: Vec<_> = found.iter().map(limes_vision::faces::Face::region).collect();
    let mut blurred = group.clone();
    blur(&mut blurred, &regions, MASK_SCALE);
    let kept =
        drawn.iter().map(|d| detail_kept(&group, &blurred, limes_vision::anonymise::inside(*d))).fold(0.0f64, f64::max);
    println!("faces_group_drawn={}", s.drawn);
    println!("faces_group_found={}", s.found);
    println!("faces_group_recall={:.3}", s.recall());
    println!("faces_group_precision={:.3}", s.precision());
    println!("faces_blur_detail_kept_max={kept:.3}");
    println!("faces_ms={faces_ms:.0}");
    let mut estimator = limes_vision::attributes::AttributeEstimator::new(runtime, checked, threads)?;
    let mut genders_right = 0;
    for (id, name, age) in models::PORTRAITS {
        let picture = image::open(checked.path(id)).with_context(|| format!("the portrait {name}"))?.to_rgb8();
        let faces = detector.faces(&picture)?;
        let estimate = match faces.first() {
            Some(face) => estimator.estimate(&picture, face)?,
            None => None,
        };
        let Some(a) = estimate else {
            println!("age_{name}=none");
            continue;
        };
        genders_right += usize::from(a.gender == limes_vision::attributes::Gender::Male);
        println!(
            "age_{name}={:.1} (range {}–{}, confidence {:.2}; painted at {age})",
            a.age, a.age_range[0], a.age_range[1], a.age_confidence
        );
        println!(
            "gender_{name}={} ({:.2})",
            serde_json::to_value(a.gender)?.as_str().unwrap_or_default(),
            a.gender_confidence
        );
    }
    println!("gender_right={genders_right}/{}", models::PORTRAITS.len());
    let met = s.recall() >= 0.9 && s.precision() >= 0.9 && kept < 0.1;
    println!("faces_minimums_met={met}");
    Ok(met)
}

fn eval(
    dir: &std::path::Path,
    per_condition: usize,
    seed: u64,
    threads: usize,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    anyhow::ensure!((1..=1000).contains(&per_condition), "--per-condition: 1 to 1000");
    let checked = models::check(dir)?;
    let runtime = Runtime::load(&checked)?;
    let mut analyser = Analyser::new(&runtime, &checked, Settings { threads, ..Settings::default() })?;
    let photo = image::open(checked.path(ModelId::StreetPhoto)).context("the street photograph")?.to_rgb8();
    let fonts: Vec<ab_glyph::FontVec> = FONTS
        .iter()
        .map(|f| {
            let bytes =
                std::fs::read(f).with_context(|| format!("{f} (Debian's fonts-dejavu-extra, fonts-liberation)"))?;
            ab_glyph::FontVec::try_from_vec(bytes).map_err(|e| anyhow::anyhow!("{f}: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    if let Some(o) = out {
        std::fs::create_dir_all(o).with_context(|| format!("creating {}", o.display()))?;
    }

    // Detection on the photograph.
    let started = Instant::now();
    let found = analyser.objects(&photo)?;
    let detect_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (pp, pr) = scores(&found, |c| c == ObjectClass::Person);
    let (vp, vr) = scores(&found, ObjectClass::is_vehicle);
    println!("detection_person_precision={pp:.2}");
    println!("detection_person_recall={pr:.2}");
    println!("detection_vehicle_precision={vp:.2}");
    println!("detection_vehicle_recall={vr:.2}");
    println!("detection_ms={detect_ms:.0}");
    let faces_met = faces_eval(&runtime, &checked, threads)?;

    // Plates.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut n = 0usize;
    let mut plate_ms = 0.0f64;
    let mut met = true;
    let (mut all_clean, mut all_degraded) = ((0usize, 0usize), (0usize, 0usize));
    for country in COUNTRIES {
        let (mut clean, mut degraded) = ((0usize, 0usize), (0usize, 0usize));
        for condition in Condition::ALL {
            for _ in 0..per_condition {
                let (text, printed) = picture::random_plate(&mut rng, country);
                let font = &fonts[n % fonts.len()];
                let flat = picture::draw_plate(&printed, &picture::band_code(country), font, 110);
                let (mut scene, truth) = picture::place(&photo, &flat, (country, &text), BUS, condition, &mut rng);
                if condition != Condition::Clean {
                    scene = picture::jpeg_round_trip(&scene, 60);
                }
                let started = Instant::now();
                let plates = analyser.plates(&scene)?;
                plate_ms += started.elapsed().as_secs_f64() * 1000.0;
                let exact = plates.iter().any(|p| p.text == truth.plate);
                let tally = if condition == Condition::Clean { &mut clean } else { &mut degraded };
                tally.0 += usize::from(exact);
                tally.1 += 1;
                if let Some(o) = out {
                    scene.save(o.join(format!("{n:04}.jpg")))?;
                    let read: Vec<&str> = plates.iter().map(|p| p.text.as_str()).collect();
                    let record = serde_json::json!({"truth": truth, "read": read, "exact": exact});
                    std::fs::write(o.join(format!("{n:04}.json")), serde_json::to_vec_pretty(&record)?)?;
                }
                n += 1;
            }
        }
        let rate = |t: (usize, usize)| t.0 as f64 / t.1.max(1) as f64;
        println!("plates_exact_clean_{country}={:.3}", rate(clean));
        println!("plates_exact_degraded_{country}={:.3}", rate(degraded));
        met &= rate(clean) >= MIN_CLEAN && rate(degraded) >= MIN_DEGRADED;
        all_clean = (all_clean.0 + clean.0, all_clean.1 + clean.1);
        all_degraded = (all_degraded.0 + degraded.0, all_degraded.1 + degraded.1);
    }
    println!("plates_pictures={n}");
    println!("plates_exact_clean={:.3}", all_clean.0 as f64 / all_clean.1.max(1) as f64);
    println!("plates_exact_degraded={:.3}", all_degraded.0 as f64 / all_degraded.1.max(1) as f64);
    println!("plates_ms_per_picture={:.0}", plate_ms / n.max(1) as f64);
    println!("plates_minimums_met={met}");
    anyhow::ensure!(met, "exact reads below the minimums ({MIN_CLEAN} clean, {MIN_DEGRADED} degraded, per country)");
    anyhow::ensure!(faces_met, "face detection below the minimums (recall and precision 0.9), or a face's detail kept");
    Ok(())
}
