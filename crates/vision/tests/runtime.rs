//! The pinned ONNX Runtime library runs the pinned PP-OCRv4 models (real files from
//! `LIMES_MODELS`, which scripts/test fills).

use std::path::PathBuf;

use limes_vision::models::{self, ModelId, Models};
use limes_vision::runtime::{Runtime, RuntimeError};

fn real_models() -> Models {
    let dir = std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "LIMES_MODELS is not set: this test needs the real model files. Run scripts/test, or \
             `limes models fetch --dir DIR` and set LIMES_MODELS=DIR"
        )
    });
    models::check(&dir).unwrap_or_else(|e| panic!("LIMES_MODELS={}: {e}", dir.display()))
}

/// A mid-grey frame (0 after PaddleOCR's normalisation) with one white bar across it.
fn frame(height: usize, width: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * height * width];
    for c in 0..3 {
        for y in height / 3..height / 3 + height / 10 {
            for x in width / 8..width - width / 8 {
                out[(c * height + y) * width + x] = 1.0;
            }
        }
    }
    out
}

#[test]
fn text_detection_gives_a_probability_map_of_the_frame() {
    let models = real_models();
    let runtime = Runtime::load(&models).unwrap();
    let mut det = runtime.session(&models, ModelId::TextDetection, 2).unwrap();
    let out = det.run_f32([1, 3, 544, 960], &frame(544, 960)).unwrap();
    assert_eq!(out.shape, [1, 1, 544, 960]);
    assert!(out.values.iter().all(|p| (0.0..=1.0).contains(p)), "not probabilities");

    // An input that does not fill its shape is refused, not read past.
    let e = det.run_f32([1, 3, 544, 960], &[0.0; 16]).unwrap_err();
    assert!(matches!(e, RuntimeError::Run { model: "ch_PP-OCRv4_det_infer.onnx", .. }), "{e:?}");
}

#[test]
fn text_recognition_scores_every_character_of_its_list_at_each_step() {
    let models = real_models();
    let runtime = Runtime::load(&models).unwrap();
    let mut rec = runtime.session(&models, ModelId::TextRecognition, 2).unwrap();
    // The character list is in the model's metadata, one per line; the outputs are the CTC blank,
    // those characters, then a space.
    let characters = rec.metadata("character").expect("PP-OCRv4's recogniser lists its characters");
    let classes = characters.lines().count() + 2;
    assert!(characters.lines().any(|c| c == "A") && characters.lines().any(|c| c == "7"));
    let out = rec.run_f32([1, 3, 48, 320], &frame(48, 320)).unwrap();
    assert_eq!(out.shape, [1, 40, classes as i64]);
    for step in out.values.chunks(classes) {
        let sum: f32 = step.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "a step's scores are a distribution: {sum}");
    }
    // A channel count the model does not take is an error, not a crash.
    let e = rec.run_f32([1, 1, 48, 320], &vec![0.0; 48 * 320]).unwrap_err();
    assert!(matches!(e, RuntimeError::Run { .. }), "{e:?}");
}
