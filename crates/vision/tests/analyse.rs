//! The analyser on real models (`LIMES_MODELS`, which scripts/test fills) and the package's
//! street photograph: persons and the bus found; synthetic plates of several countries, set into
//! the photograph, read exactly; frames it cannot take refused. Faces (CenterFace) in the same
//! photograph, against boxes annotated by hand, and in crowds tiled from its faces; blurred so
//! that their detail is gone.

use std::path::PathBuf;

use image::RgbImage;
use limes_scene::ObjectClass;
use limes_sim::picture::{self, Condition, Spot};
use limes_vision::analyse::{AnalyseError, Analyser, Settings};
use limes_vision::anonymise::{self, MASK_SCALE, Region};
use limes_vision::faces::{Face, FaceDetector, FaceSettings};
use limes_vision::models::{self, ModelId, Models};
use limes_vision::runtime::Runtime;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn real_models() -> Models {
    let dir = std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!("LIMES_MODELS is not set: run scripts/test, or `limes models fetch --dir DIR` and set LIMES_MODELS=DIR")
    });
    models::check(&dir).unwrap_or_else(|e| panic!("LIMES_MODELS={}: {e}", dir.display()))
}

fn analyser(models: &Models) -> Analyser {
    let runtime = Runtime::load(models).unwrap();
    Analyser::new(&runtime, models, Settings::default()).unwrap()
}

fn street(models: &Models) -> RgbImage {
    image::open(models.path(ModelId::StreetPhoto)).unwrap().to_rgb8()
}

#[test]
fn the_street_photograph_shows_pedestrians_and_a_bus() {
    let models = real_models();
    let mut a = analyser(&models);
    let photo = street(&models);
    let found = a.objects(&photo).unwrap();
    let count = |c| found.iter().filter(|o| o.class == c).count();
    assert!(count(ObjectClass::Person) >= 3, "{found:#?}");
    assert_eq!(count(ObjectClass::Bus), 1, "{found:#?}");
    let bus = found.iter().find(|o| o.class == ObjectClass::Bus).unwrap();
    // The bus fills the middle of the picture (810×1080): from near the left edge to the right.
    assert!(bus.left < 100.0 && bus.right > 700.0 && bus.top < 300.0 && bus.bottom > 650.0, "{bus:?}");
    for o in &found {
        assert!(o.left >= 0.0 && o.top >= 0.0 && o.right <= 810.0 && o.bottom <= 1080.0 && o.score > 0.3, "{o:?}");
    }
}

#[test]
fn synthetic_plates_on_the_bus_are_read_exactly() {
    let models = real_models();
    let mut a = analyser(&models);
    let photo = street(&models);
    let font = ab_glyph::FontVec::try_from_vec(
        std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf")
            .expect("fonts-dejavu-extra (scripts/test installs it)"),
    )
    .unwrap();
    let spot = Spot { x: 40.0, y: 230.0, width: 760.0, height: 520.0 };
    let mut read = 0;
    // Every country of the evaluation set.
    let countries = limes_sim::picture::COUNTRIES;
    for (i, country) in countries.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
        let (text, printed) = picture::random_plate(&mut rng, *country);
        let flat = picture::draw_plate(&printed, &picture::band_code(*country), &font, 110);
        let (scene, truth) = picture::place(&photo, &flat, (*country, &text), spot, Condition::Clean, &mut rng);
        let plates = a.plates(&scene).unwrap();
        if plates.iter().any(|p| p.text == truth.plate) {
            read += 1;
        } else {
            eprintln!("{truth:?}: read {plates:?}");
        }
    }
    assert_eq!(read, countries.len());
    // The photograph itself has writing on the bus, none of it a plate.
    let bare = a.plates(&photo).unwrap();
    assert!(bare.is_empty(), "{bare:?}");
}

#[test]
fn frames_too_small_or_too_large_are_refused_and_the_analyser_keeps_working() {
    let models = real_models();
    let mut a = analyser(&models);
    for (w, h) in [(8, 8), (9000, 16)] {
        let e = a.objects(&RgbImage::new(w, h)).unwrap_err();
        assert!(matches!(e, AnalyseError::Frame { .. }), "{e}");
        assert!(a.plates(&RgbImage::new(w, h)).is_err());
    }
    assert!(a.objects(&RgbImage::new(64, 48)).unwrap().is_empty(), "a black frame shows nothing");
}

/// The street photograph's two faces seen from the front, annotated by hand.
const FACES: [[f32; 4]; 2] = limes_vision::models::STREET_PHOTO_FACES;

fn face_detector(models: &Models, settings: FaceSettings) -> FaceDetector {
    let runtime = Runtime::load(models).unwrap();
    FaceDetector::new(&runtime, models, settings).unwrap()
}

fn iou(f: &Face, t: [f32; 4]) -> f32 {
    let truth = Face { score: 1.0, left: t[0], top: t[1], right: t[2], bottom: t[3], landmarks: [(0.0, 0.0); 5] };
    f.iou(&truth)
}

#[test]
fn the_faces_of_the_street_photograph_are_found_with_their_landmarks() {
    let models = real_models();
    let mut d = face_detector(&models, FaceSettings::default());
    let faces = d.faces(&street(&models)).unwrap();
    for t in FACES {
        let f = faces.iter().find(|f| iou(f, t) >= 0.4).unwrap_or_else(|| panic!("no face at {t:?}: {faces:#?}"));
        assert!(f.score > 0.5, "{f:?}");
        let [left_eye, right_eye, nose, mouth_left, mouth_right] = f.landmarks;
        for (x, y) in f.landmarks {
            assert!(x >= f.left && x <= f.right && y >= f.top && y <= f.bottom, "{f:?}");
        }
        assert!(left_eye.0 < right_eye.0 && mouth_left.0 < mouth_right.0, "{f:?}");
        assert!(left_eye.1 < nose.1 && right_eye.1 < nose.1, "{f:?}");
        assert!(nose.1 < mouth_left.1 && nose.1 < mouth_right.1, "{f:?}");
    }
    // Nothing on the bus's side, the pavement or the building: every face is at head height.
    for f in &faces {
        assert!(f.top > 380.0 && f.bottom < 490.0, "{f:?}");
    }
    assert!(faces.len() <= 3, "{faces:#?}");
}

#[test]
fn blurred_faces_lose_their_detail_and_the_rest_of_the_picture_is_untouched() {
    let models = real_models();
    let mut d = face_detector(&models, FaceSettings::default());
    let original = street(&models);
    let mut blurred = original.clone();
    let regions: Vec<Region> = d.faces(&original).unwrap().iter().map(Face::region).collect();
    anonymise::blur(&mut blurred, &regions, MASK_SCALE);
    for t in FACES {
        let rect = (t[0] as u32, t[1] as u32, (t[2] - t[0]) as u32, (t[3] - t[1]) as u32);
        let kept = anonymise::detail_kept(&original, &blurred, rect);
        assert!(kept < 0.05, "{t:?} keeps {kept:.3} of its detail");
    }
    // The bus's lettering ("cero emisiones") is no face.
    assert_eq!(anonymise::detail_kept(&original, &blurred, (555, 545, 125, 70)), 1.0);
}

/// A crowd: the photograph's two faces (with their hair and collars), tiled `columns`×`rows`
/// times, alternately.
fn crowd(photo: &RgbImage, columns: u32, rows: u32) -> RgbImage {
    let tiles: Vec<RgbImage> = FACES
        .iter()
        .map(|t| {
            let (cx, cy) = ((t[0] + t[2]) / 2.0, (t[1] + t[3]) / 2.0);
            image::imageops::crop_imm(photo, cx as u32 - 40, cy as u32 - 50, 80, 100).to_image()
        })
        .collect();
    let mut img = RgbImage::new(80 * columns, 100 * rows);
    for r in 0..rows {
        for c in 0..columns {
            let tile = &tiles[((r + c) % 2) as usize];
            image::imageops::replace(&mut img, tile, i64::from(80 * c), i64::from(100 * r));
        }
    }
    img
}

#[test]
fn hundreds_of_faces_in_a_crowd_are_each_found_once() {
    let models = real_models();
    let photo = street(&models);
    let picture = crowd(&photo, 20, 12);
    let mut d = face_detector(&models, FaceSettings { max_side: 1600, ..FaceSettings::default() });
    let faces = d.faces(&picture).unwrap();
    // One face per tile, at the tile's middle.
    let mut per_tile = vec![0usize; 240];
    for f in &faces {
        let (cx, cy) = ((f.left + f.right) / 2.0, (f.top + f.bottom) / 2.0);
        let (c, r) = ((cx / 80.0) as usize, (cy / 100.0) as usize);
        per_tile[r * 20 + c] += 1;
    }
    let once = per_tile.iter().filter(|&&n| n == 1).count();
    assert!(once >= 228, "{once} of 240 tiles have exactly one face; {} faces", faces.len());
    assert!(faces.len() <= 244, "{} faces in 240 tiles", faces.len());
}

#[test]
fn pictures_without_faces_and_pictures_of_any_size_are_handled() {
    let models = real_models();
    let mut d = face_detector(&models, FaceSettings::default());
    // Generated: a sky gradient, a road, boxes: no face.
    let scene = RgbImage::from_fn(960, 540, |x, y| {
        if y > 360 {
            image::Rgb([70, 70, 75])
        } else if (100..300).contains(&x) && (200..360).contains(&y) {
            image::Rgb([180, 40, 40])
        } else {
            image::Rgb([(120 + y / 4) as u8, (160 + y / 6) as u8, 230])
        }
    });
    assert_eq!(d.faces(&scene).unwrap(), []);
    assert_eq!(d.faces(&RgbImage::from_pixel(16, 16, image::Rgb([200, 180, 160]))).unwrap(), []);
    // A large picture is scaled down for the model; its faces come back in its own pixels.
    let photo = street(&models);
    let large = image::imageops::resize(&photo, 3240, 4320, image::imageops::FilterType::Triangle);
    let faces = d.faces(&large).unwrap();
    for t in FACES {
        let scaled = t.map(|v| v * 4.0);
        assert!(faces.iter().any(|f| iou(f, scaled) >= 0.4), "no face at {scaled:?}: {faces:#?}");
    }
    for (w, h) in [(15, 15), (8193, 16), (16, 9000)] {
        let err = d.faces(&RgbImage::new(w, h)).unwrap_err();
        assert!(matches!(err, AnalyseError::Frame { .. }), "{w}×{h}: {err}");
    }
    // And it still works.
    assert!(!d.faces(&photo).unwrap().is_empty());
}

/// The face box the `scrfd` package's own test expects of each portrait (Newton's, Gauss's).
const PORTRAIT_BOXES: [[f32; 4]; 2] = [[334.0, 89.0, 438.0, 232.0], [376.0, 203.0, 654.0, 568.0]];

#[test]
fn the_portraits_faces_are_found_and_their_age_and_gender_estimated_with_confidence() {
    use limes_vision::attributes::{AttributeEstimator, Gender};
    let models = real_models();
    let runtime = Runtime::load(&models).unwrap();
    let mut estimator = AttributeEstimator::new(&runtime, &models, 1).unwrap();
    let mut detector = face_detector(&models, FaceSettings::default());
    for ((id, _, age), truth) in models::PORTRAITS.into_iter().zip(PORTRAIT_BOXES) {
        let picture = image::open(models.path(id)).unwrap().to_rgb8();
        let faces = detector.faces(&picture).unwrap();
        assert_eq!(faces.len(), 1, "{id:?}: {faces:#?}");
        assert!(iou(&faces[0], truth) > 0.4, "{id:?}: {:?} against {truth:?}", faces[0]);
        let got = estimator.estimate(&picture, &faces[0]).unwrap().unwrap();
        eprintln!("{id:?}: {got:?} (painted at {age})");
        assert_eq!(got.gender, Gender::Male, "{id:?}: {got:?}");
        assert!(got.gender_confidence > 0.8, "{id:?}: {got:?}");
        assert!((got.age - age).abs() <= 15.0, "{id:?}: {got:?}, painted at {age}");
        let [low, high] = got.age_range;
        assert!(low <= high && f32::from(low) <= got.age + 1.0 && got.age <= f32::from(high) + 1.0, "{got:?}");
        assert!((0.0..=1.0).contains(&got.age_confidence), "{got:?}");
        // The same face again gives the same estimate: nothing is kept between calls.
        assert_eq!(estimator.estimate(&picture, &faces[0]).unwrap().unwrap(), got);
    }
    // Chips of the wrong size are refused, and the estimator keeps working.
    let wrong = RgbImage::new(10, 10);
    assert!(estimator.estimate_chips(&wrong, &wrong).is_err());
    let picture = image::open(models.path(ModelId::PortraitNewton)).unwrap().to_rgb8();
    let faces = detector.faces(&picture).unwrap();
    assert!(estimator.estimate(&picture, &faces[0]).unwrap().is_some());
}

#[test]
fn the_group_photographs_faces_are_found_and_blurred_inside_every_drawn_box() {
    let models = real_models();
    let photo = image::open(models.path(ModelId::GroupPhoto)).unwrap().to_rgb8();
    assert_eq!(photo.dimensions(), (3000, 2171));
    let mut detector = face_detector(&models, FaceSettings::default());
    let found = detector.faces(&photo).unwrap();
    let truth = models::GROUP_PHOTO_FACES;
    let s = limes_vision::faces::score(&found, &truth, 0.3);
    let (recall, precision) = (s.recall(), s.precision());
    eprintln!("group photograph: {} found, recall {recall:.3}, precision {precision:.3}", found.len());
    assert!(recall >= 0.9 && precision >= 0.9, "recall {recall}, precision {precision}: {found:#?}");
    // Blurred where the faces were found, checked inside the boxes drawn by hand (less their
    // margins, `anonymise::inside`).
    let regions: Vec<Region> = found.iter().map(Face::region).collect();
    let mut blurred = photo.clone();
    anonymise::blur(&mut blurred, &regions, MASK_SCALE);
    for t in truth {
        let rect = anonymise::inside(t);
        let kept = anonymise::detail_kept(&photo, &blurred, rect);
        assert!(kept < 0.1, "{t:?}: {kept:.3} of its detail kept");
    }
}
