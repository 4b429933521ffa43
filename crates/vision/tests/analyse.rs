//! The analyser on real models (`LIMES_MODELS`, which scripts/test fills) and the package's
//! street photograph: persons and the bus found; synthetic plates of several countries, set into
//! the photograph, read exactly; frames it cannot take refused.

use std::path::PathBuf;

use image::RgbImage;
use limes_scene::ObjectClass;
use limes_sim::picture::{self, Condition, Spot};
use limes_vision::analyse::{AnalyseError, Analyser, Settings};
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
