//! The node's own camera analysis, on the CPU (issue #10).
//!
//! - [`darknet`]: YOLOv4-tiny's darknet files made into an ONNX model at setup;
//! - [`yolo`]: a frame made into the detector's input, its outputs into boxes of persons and
//!   vehicles;
//! - [`ocr`]: PP-OCRv4's text detection map into text boxes, a box cut out upright, the
//!   recogniser's output into text.
//!
//! These are plain functions over pixels and tensors; running the models is the runtime's.

pub mod darknet;
pub mod ocr;
pub mod yolo;
