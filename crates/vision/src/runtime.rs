//! The runtime of the ONNX models: ONNX Runtime, loaded from the library the pinned onnxruntime
//! wheel carries (crate `ort`, `load-dynamic`, no default features: nothing is downloaded or
//! linked at build time).
//!
//! Why ONNX Runtime and not tract: on this project's 2-core machines, with the pinned PP-OCRv4
//! models on 2 threads, ONNX Runtime ran text detection at 960×544 in 68 ms and recognition at
//! 48×320 in 12 ms where tract (`multithread-mm`, a 2-thread executor) took 141 and 22 ms; and the
//! issue's speed goal is the Python rapidocr pipeline on onnxruntime, whose model time only the
//! same engine equals (`docs/benchmarks.md`, "Vision runtimes"; `benches/runtimes.rs` measures
//! both, tract behind the `tract` feature). Built without `ort`'s default features it downloads
//! and links nothing; the library is one more pinned file, checked by SHA-256 before it is loaded.
//!
//! A [`Runtime`] and its sessions are made only from [`Models`], which only
//! [`crate::models::check`] gives: the library loaded and the models run are the pinned ones.

use ort::session::Session as OrtSession;
use ort::session::builder::SessionBuilder;
use ort::value::TensorRef;

use crate::models::{ModelId, Models, manifest};

/// Why a model cannot be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The ONNX Runtime library could not be loaded or set up.
    #[error("onnxruntime: {0}")]
    Load(String),
    /// A model could not be made into a session.
    #[error("model {model}: {reason}")]
    Session { model: &'static str, reason: String },
    /// A run failed (an input of the wrong shape, for one).
    #[error("model {model}: run: {reason}")]
    Run { model: &'static str, reason: String },
}

/// ONNX Runtime, loaded once per process from the checked models folder.
#[derive(Debug, Clone)]
pub struct Runtime {
    environment: ort::environment::Environment,
}

impl Runtime {
    /// Loads the pinned library (once per process; later calls reuse it).
    pub fn load(models: &Models) -> Result<Self, RuntimeError> {
        // ONNX Runtime allows one environment per process: the first load makes it, later ones
        // (another analyser, another thread) share it.
        static LOADED: std::sync::Mutex<Option<Runtime>> = std::sync::Mutex::new(None);
        let mut loaded = LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(runtime) = loaded.as_ref() {
            return Ok(runtime.clone());
        }
        let path = models.path(ModelId::OnnxRuntime);
        let builder = ort::init_from(&path).map_err(|e| RuntimeError::Load(e.to_string()))?;
        let environment = builder.with_name("limes").build().map_err(|e| RuntimeError::Load(e.to_string()))?;
        let runtime = Self { environment };
        *loaded = Some(runtime.clone());
        Ok(runtime)
    }

    /// A session of one model, running each node on up to `threads` threads.
    pub fn session(&self, models: &Models, id: ModelId, threads: usize) -> Result<Session, RuntimeError> {
        let model = manifest::file(id).name;
        let session = self.builder(model, threads)?.commit_from_file(models.path(id)).map_err(failed(model))?;
        Ok(Session { session, model })
    }

    /// A session of a model made in memory (the detector, converted from its darknet files when
    /// the analyser starts), named `model` in errors.
    pub fn session_from_memory(
        &self,
        onnx: &[u8],
        model: &'static str,
        threads: usize,
    ) -> Result<Session, RuntimeError> {
        let session = self.builder(model, threads)?.commit_from_memory(onnx).map_err(failed(model))?;
        Ok(Session { session, model })
    }

    /// A session builder running each node on up to `threads` threads, one node at a time.
    fn builder(&self, model: &'static str, threads: usize) -> Result<SessionBuilder, RuntimeError> {
        let fail = failed(model);
        OrtSession::builder(&self.environment)
            .map_err(&fail)?
            .with_intra_threads(threads.max(1))
            .map_err(|e| fail(e.into()))?
            .with_inter_threads(1)
            .map_err(|e| fail(e.into()))
    }
}

/// The error of making a session of `model`.
fn failed(model: &'static str) -> impl Fn(ort::Error) -> RuntimeError {
    move |e| RuntimeError::Session { model, reason: e.to_string() }
}

/// One model, ready to run.
#[derive(Debug)]
pub struct Session {
    session: OrtSession,
    model: &'static str,
}

/// A model's first output: its shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
}

impl Session {
    /// Runs the model on one `f32` input of `shape` (NCHW); its first output.
    pub fn run_f32(&mut self, shape: [usize; 4], input: &[f32]) -> Result<Output, RuntimeError> {
        let model = self.model;
        self.run_f32_all(shape, input)?
            .into_iter()
            .next()
            .ok_or_else(|| RuntimeError::Run { model, reason: "the model gave no output".into() })
    }

    /// Runs the model on one `f32` input of `shape` (NCHW); all its outputs, in order.
    pub fn run_f32_all(&mut self, shape: [usize; 4], input: &[f32]) -> Result<Vec<Output>, RuntimeError> {
        let model = self.model;
        let fail = |e: ort::Error| RuntimeError::Run { model, reason: e.to_string() };
        if shape.iter().product::<usize>() != input.len() {
            return Err(RuntimeError::Run {
                model,
                reason: format!("{} values do not fill the shape {shape:?}", input.len()),
            });
        }
        let tensor = TensorRef::from_array_view((shape, input)).map_err(fail)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(fail)?;
        let mut all = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let (shape, values) = value.try_extract_tensor::<f32>().map_err(fail)?;
            all.push(Output { shape: shape.to_vec(), values: values.to_vec() });
        }
        Ok(all)
    }

    /// A custom property of the model's metadata (PP-OCRv4's recogniser keeps its characters in
    /// `character`).
    pub fn metadata(&self, key: &str) -> Option<String> {
        self.session.metadata().ok()?.custom(key)
    }
}
