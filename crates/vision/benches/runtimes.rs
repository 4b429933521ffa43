//! onnxruntime (the `ort` crate, `load-dynamic`, against the pinned wheel's library) against tract
//! (`tract-onnx`, `multithread-mm`, a 2-thread executor) on the pinned PP-OCRv4 models, both on 2
//! threads: text detection on a 960×544 frame, recognition of a 48×320 plate crop.
//!
//! ```sh
//! LIMES_MODELS=~/.cache/limes/models cargo bench -p limes-vision --features tract --bench runtimes -- --rounds 30
//! ```
//!
//! `--only onnxruntime` or `--only tract` runs one runtime (their thread pools spin after a run,
//! so one process per runtime keeps them from slowing each other); each stage prints the minimum,
//! median, mean and 90th percentile in milliseconds. On a machine shared with other work, run
//! them alternately several times: the minimum is the figure least disturbed by it.
//!
//! The figures and the machine are in docs/benchmarks.md ("Vision runtimes").

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use limes_vision::models::{self, ModelId, Models};
use limes_vision::runtime::Runtime;
use tract_onnx::prelude::*;

const THREADS: usize = 2;

/// A deterministic frame in the models' input layout (NCHW, normalised as PaddleOCR does:
/// (x/255 − 0.5)/0.5), with stripes and noise so nothing is trivially constant.
fn frame(height: usize, width: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(3 * height * width);
    for c in 0..3 {
        for y in 0..height {
            for x in 0..width {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let stripe = if (x / 12 + y / 20 + c) % 3 == 0 { 200.0 } else { 40.0 };
                let pixel = stripe + (state % 32) as f32;
                out.push((pixel / 255.0 - 0.5) / 0.5);
            }
        }
    }
    out
}

fn models() -> Models {
    let dir = std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!("LIMES_MODELS is not set: point it at a models folder (`limes models fetch --dir DIR`)")
    });
    models::check(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn tract_plan(models: &Models, id: ModelId, shape: [usize; 4]) -> Arc<TypedRunnableModel> {
    tract_onnx::onnx()
        .model_for_path(models.path(id))
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .unwrap_or_else(|e| panic!("tract cannot load {id:?}: {e:?}"))
}

/// Milliseconds of each run.
#[derive(Default)]
struct Times(Vec<f64>);

impl Times {
    fn time<R>(&mut self, f: impl FnOnce() -> R) {
        let start = Instant::now();
        black_box(f());
        self.0.push(start.elapsed().as_secs_f64() * 1000.0);
    }

    fn report(&mut self, stage: &str, runtime: &str) {
        self.0.sort_by(f64::total_cmp);
        let n = self.0.len();
        let mean = self.0.iter().sum::<f64>() / n as f64;
        println!(
            "{stage} {runtime}: min={:.2} ms median={:.2} ms mean={mean:.2} ms p90={:.2} ms runs={n}",
            self.0[0],
            self.0[n / 2],
            self.0[n * 9 / 10]
        );
    }
}

/// The value after `flag` on the command line.
fn arg(flag: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != flag).nth(1)
}

fn main() {
    let rounds: usize = arg("--rounds").map_or(30, |r| r.parse().expect("--rounds N"));
    // One runtime per process gives each the machine to itself: their thread pools spin after a
    // run and would take time from the other's next run.
    let only = arg("--only");
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let models = models();
    let runtime = Runtime::load(&models).expect("loading onnxruntime");
    multithread::set_default_executor(multithread::Executor::multithread(THREADS));
    println!("threads={THREADS} rounds={rounds}");

    for (id, stage, shape, repeat) in [
        (ModelId::TextDetection, "pp-ocrv4-det-960x544", [1, 3, 544, 960], 1),
        (ModelId::TextRecognition, "pp-ocrv4-rec-48x320", [1, 3, 48, 320], 5),
    ] {
        let input = frame(shape[2], shape[3]);
        if runs("onnxruntime") {
            let mut session = runtime.session(&models, id, THREADS).expect("onnxruntime session");
            let mut times = Times::default();
            for i in 0..3 + rounds * repeat {
                if i < 3 {
                    black_box(session.run_f32(shape, &input).expect("onnxruntime run"));
                } else {
                    times.time(|| session.run_f32(shape, black_box(&input)).expect("onnxruntime run"));
                }
            }
            times.report(stage, "onnxruntime");
        }
        if runs("tract") {
            let plan = tract_plan(&models, id, shape);
            let tensor: TValue = Tensor::from_shape(&shape, &input).expect("input tensor").into();
            let mut times = Times::default();
            for i in 0..3 + rounds * repeat {
                if i < 3 {
                    black_box(plan.run(tvec!(tensor.clone())).expect("tract run"));
                } else {
                    times.time(|| plan.run(tvec!(black_box(tensor.clone()))).expect("tract run"));
                }
            }
            times.report(stage, "tract");
        }
    }
}
