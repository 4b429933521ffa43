//! The node's own analysis of a frame: persons and vehicles (YOLOv4-tiny, converted from its
//! darknet files when the analyser starts), and plates (PP-OCRv4 text detection and recognition,
//! a text kept only when a country's grammar reads it as a plate).

use image::RgbImage;
use limes_plate::CountryCode;
use limes_scene::ObjectClass;

use crate::darknet::{self, Head, Network};
use crate::models::{ModelId, Models};
use crate::ocr::{self, BoxSettings, TextBox};
use crate::runtime::{Runtime, RuntimeError, Session};
use crate::yolo;

/// Why the analyser could not start or analyse a frame.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    /// A model could not be loaded or run.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The detector's darknet files could not be made into a model.
    #[error(transparent)]
    Darknet(#[from] darknet::DarknetError),
    /// A model file could not be read.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// A model gave an output of an unexpected shape, or lacks what the analyser needs.
    #[error("{0}")]
    Model(String),
    /// The frame cannot be analysed (empty, or absurdly large).
    #[error("frame {width}×{height}: {reason}")]
    Frame { width: u32, height: u32, reason: &'static str },
}

/// How the analyser works.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The detector's input (a multiple of 32): larger finds smaller objects, at a cost.
    pub object_input: usize,
    /// The least score of a person or vehicle.
    pub object_threshold: f32,
    /// Overlap above which the weaker of two boxes of one class goes.
    pub nms_iou: f32,
    /// The longer side of the text detector's input: a larger frame is scaled down to it, a
    /// smaller one kept as it is (rounded to multiples of 32).
    pub text_limit: u32,
    /// The least width the recogniser runs at: a strip narrower at 48 pixels high is padded to
    /// it. PaddleOCR pads to 320; rapidocr 1.3.24 does not pad, which for a plate's strip (about
    /// 216 wide) takes two thirds of the time. On `limes vision eval` both read as many plates
    /// (each missed others), so the default keeps PaddleOCR's.
    pub recognition_min_width: u32,
    /// Threads per model.
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            object_input: 416,
            object_threshold: 0.35,
            nms_iou: 0.45,
            text_limit: 1280,
            recognition_min_width: 320,
            threads: 2,
        }
    }
}

/// A person or vehicle, in the frame's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub class: ObjectClass,
    pub score: f32,
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

/// A plate read in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateFound {
    /// Canonical (the country's grammar applied).
    pub text: String,
    pub country: CountryCode,
    /// The recogniser's confidence times how well the country's grammar reads it.
    pub confidence: f32,
    /// As the recogniser read it.
    pub raw: String,
    /// The plate's text box in the frame.
    pub corners: [(f32, f32); 4],
}

/// The longest a plate's text box is for its height (`Analyser::text_boxes`).
const MAX_PLATE_ASPECT: f32 = 12.0;

/// The least mean confidence of the recogniser for a text to be taken as a plate: writing on a
/// vehicle read badly ("cero" as `Cer2`) fits some country's grammar.
const MIN_TEXT_CONFIDENCE: f32 = 0.7;

/// The largest frame the analyser takes (8K).
const MAX_SIDE: u32 = 8192;

/// COCO's classes the node watches for.
fn class_of(coco: usize) -> Option<ObjectClass> {
    Some(match coco {
        0 => ObjectClass::Person,
        1 => ObjectClass::Bicycle,
        2 => ObjectClass::Car,
        3 => ObjectClass::Motorcycle,
        5 => ObjectClass::Bus,
        7 => ObjectClass::Truck,
        _ => return None,
    })
}

/// The models, ready to run on frames.
#[derive(Debug)]
pub struct Analyser {
    settings: Settings,
    objects: Session,
    heads: Vec<Head>,
    text_detection: Session,
    text_recognition: Session,
    alphabet: Vec<String>,
}

pub(crate) fn read(models: &Models, id: ModelId) -> Result<Vec<u8>, AnalyseError> {
    let path = models.path(id);
    std::fs::read(&path).map_err(|e| AnalyseError::File { path: path.display().to_string(), reason: e.to_string() })
}

impl Analyser {
    /// Loads the checked models: the detector converted from its darknet files, the text models
    /// as they are; the recogniser's characters from its metadata.
    pub fn new(runtime: &Runtime, models: &Models, settings: Settings) -> Result<Analyser, AnalyseError> {
        let cfg = String::from_utf8(read(models, ModelId::ObjectNetwork)?)
            .map_err(|_| AnalyseError::Model("the detector's cfg is not UTF-8".into()))?;
        let network = Network::parse(&cfg)?.with_input(settings.object_input, settings.object_input)?;
        let onnx = darknet::to_onnx(&network, &read(models, ModelId::ObjectWeights)?)?;
        let objects = runtime.session_from_memory(&onnx, "yolov4-tiny", settings.threads)?;
        let text_detection = runtime.session(models, ModelId::TextDetection, settings.threads)?;
        let text_recognition = runtime.session(models, ModelId::TextRecognition, settings.threads)?;
        let characters = text_recognition
            .metadata("character")
            .ok_or_else(|| AnalyseError::Model("the text recogniser has no `character` metadata".into()))?;
        // Symbol 0 is CTC's blank; then the characters, one per line; then a space.
        let mut alphabet: Vec<String> = characters.lines().map(str::to_owned).collect();
        alphabet.push(" ".into());
        Ok(Analyser { settings, objects, heads: network.heads(), text_detection, text_recognition, alphabet })
    }

    /// Whether `frame` can be analysed at all (not tiny, not over 8K).
    pub fn check(frame: &RgbImage) -> Result<(), AnalyseError> {
        let (width, height) = frame.dimensions();
        if width < 16 || height < 16 {
            return Err(AnalyseError::Frame { width, height, reason: "too small to analyse" });
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(AnalyseError::Frame { width, height, reason: "larger than 8192 on a side" });
        }
        Ok(())
    }

    /// The persons and vehicles in `frame`.
    pub fn objects(&mut self, frame: &RgbImage) -> Result<Vec<Object>, AnalyseError> {
        Self::check(frame)?;
        let n = self.settings.object_input as u32;
        let (input, fit) = yolo::letterbox(frame, n, n);
        let outputs = self.objects.run_f32_all([1, 3, n as usize, n as usize], &input)?;
        let mut found = Vec::new();
        for (head, out) in self.heads.iter().zip(&outputs) {
            let [_, _, h, w] = out.shape[..] else {
                return Err(AnalyseError::Model(format!("a detector output of shape {:?}", out.shape)));
            };
            found.extend(
                yolo::decode(head, &out.values, (h as usize, w as usize), (n, n), &fit, self.settings.object_threshold)
                    .map_err(AnalyseError::Model)?,
            );
        }
        Ok(yolo::nms(found, self.settings.nms_iou)
            .into_iter()
            .filter_map(|f| {
                Some(Object {
                    class: class_of(f.class)?,
                    score: f.score,
                    left: f.left,
                    top: f.top,
                    right: f.right,
                    bottom: f.bottom,
                })
            })
            .collect())
    }

    /// The text boxes of `frame` shaped like a plate's line of text: at least 1.5 times as wide
    /// as high (a two-line plate's lines too) and at most 12 times (a European plate's line is
    /// about 4.5 times, twice that seen steeply from above); longer lines (writing along a bus,
    /// a shop sign) are not read.
    pub fn text_boxes(&mut self, frame: &RgbImage) -> Result<Vec<TextBox>, AnalyseError> {
        Self::check(frame)?;
        let (input, (w, h), scale) = ocr::det_input(frame, self.settings.text_limit);
        let out = self.text_detection.run_f32([1, 3, h as usize, w as usize], &input)?;
        if out.values.len() != (w * h) as usize {
            return Err(AnalyseError::Model(format!("a detection map of shape {:?} for {w}×{h}", out.shape)));
        }
        Ok(ocr::boxes(&out.values, w, h, scale, &BoxSettings::default()).into_iter().filter(plate_shaped).collect())
    }

    /// The text of one box: cut out upright (`ocr::crop`), then read (`read_strip`).
    pub fn read_text(&mut self, frame: &RgbImage, b: &TextBox) -> Result<(String, f32), AnalyseError> {
        let Some(strip) = ocr::crop(frame, b) else { return Ok((String::new(), 0.0)) };
        self.read_strip(strip)
    }

    /// The text of an upright strip of one line of text, and the recogniser's mean confidence
    /// (nothing read from an empty strip or one longer than 4096 pixels).
    pub fn read_strip(&mut self, mut strip: RgbImage) -> Result<(String, f32), AnalyseError> {
        let (w, h) = strip.dimensions();
        if w == 0 || h == 0 || w > 4096 || h > 4096 {
            return Ok((String::new(), 0.0));
        }
        ocr::whiten_blue(&mut strip);
        let (sw, sh) = strip.dimensions();
        // The strip's own width at 48 pixels high, padded to the least width set.
        let least = self.settings.recognition_min_width.clamp(16, 1280);
        let width = ((48.0 * sw as f32 / sh.max(1) as f32).ceil() as u32).clamp(least, 1280);
        let input = ocr::rec_input(&strip, width);
        let out = self.text_recognition.run_f32([1, 3, 48, width as usize], &input)?;
        let symbols = *out.shape.last().unwrap_or(&0) as usize;
        if symbols != self.alphabet.len() + 1 {
            return Err(AnalyseError::Model(format!(
                "the recogniser gives {symbols} symbols for {} characters",
                self.alphabet.len()
            )));
        }
        Ok(ocr::ctc(&out.values, symbols, &self.alphabet))
    }

    /// The plates in `frame`: each plate-shaped text box read, kept when a country's grammar
    /// reads it as a plate.
    pub fn plates(&mut self, frame: &RgbImage) -> Result<Vec<PlateFound>, AnalyseError> {
        let mut found = Vec::new();
        for b in self.text_boxes(frame)? {
            let (raw, confidence) = self.read_text(frame, &b)?;
            if confidence < MIN_TEXT_CONFIDENCE {
                continue;
            }
            if let Some((text, country, score)) = as_plate(&raw) {
                found.push(PlateFound { text, country, confidence: confidence * score, raw, corners: b.corners });
            }
        }
        found.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(found)
    }
}

/// The country codes of the bands of the countries the analyser reads, as the recogniser reads
/// them beside the registration.
const BANDS: [(&str, CountryCode); 6] = [
    ("SRB", CountryCode::RS),
    ("RO", CountryCode::RO),
    ("UA", CountryCode::UA),
    ("CZ", CountryCode::CZ),
    ("PL", CountryCode::PL),
    ("MD", CountryCode::MD),
];

/// A recognised text as a plate: the best country whose grammar reads it, its canonical text and
/// score. A band's code read with the registration ("RO B 74 MSO") is taken off only for a
/// reading as that country's plate (a Hungarian "PL VX-408" stays whole), and such a reading,
/// which the band confirms, goes before any other.
pub fn as_plate(raw: &str) -> Option<(String, CountryCode, f32)> {
    let mut tries: Vec<(String, Option<CountryCode>)> = vec![(plate_chars(raw), None)];
    // A slanted I read as a slash or a bar ("S/49561-DC"): tried as an I too (the grammar's
    // repairs make it a 1 where a digit belongs).
    if raw.contains(['/', '|', '!']) {
        tries.push((plate_chars(&raw.replace(['/', '|', '!'], "I")), None));
    }
    for (t, _) in tries.clone() {
        for (band, country) in BANDS {
            if let Some(rest) = t.strip_prefix(band) {
                tries.push((rest.to_owned(), Some(country)));
            }
        }
    }
    // Hungary's band code is one letter, and many plates start with an H of their own (Ukraine's
    // HB, HA…): it is taken for the band only when read apart from the rest.
    if let Some(rest) = raw.trim_start().strip_prefix("H ") {
        tries.push((plate_chars(rest), Some(CountryCode::HU)));
    }
    tries
        .into_iter()
        .filter(|(t, _)| (4..=10).contains(&t.chars().count()) && t.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|(t, band)| {
            let n = limes_plate::normalize(&t, None).ok()?;
            let best = n.candidates.into_iter().find(|c| band.is_none_or(|b| c.country == b))?;
            Some(((band.is_some(), best.score), (best.text.as_str().to_owned(), best.country, best.score)))
        })
        // The first of equally good readings: the text as read before any band's code taken off.
        .fold(None, |best: Option<((bool, f32), _)>, (key, r)| match best {
            Some((k, b)) if k >= key => Some((k, b)),
            _ => Some((key, r)),
        })
        .map(|(_, r)| r)
}

/// Whether a text box is shaped like a plate's line of text (`Analyser::text_boxes`).
fn plate_shaped(b: &TextBox) -> bool {
    let (w, h) = (b.width(), b.height());
    h >= 8.0 && (h * 1.5..=h * MAX_PLATE_ASPECT).contains(&w)
}

/// The characters of `raw` a plate can hold: Latin and Cyrillic letters (the plate's grammar folds
/// Cyrillic look-alikes and diacritics) and digits. The recogniser was trained on Chinese plates
/// too, and reads a blue band as a province's character ("鲁TK XE-825"): such characters go.
fn plate_chars(raw: &str) -> String {
    raw.chars().filter(|&c| c.is_alphanumeric() && (c < '\u{0250}' || ('\u{0400}'..='\u{04FF}').contains(&c))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_boxes_shaped_like_a_plates_line_are_read() {
        let sized = |w: f32, h: f32| TextBox {
            corners: [(10.0, 10.0), (10.0 + w, 10.0), (10.0 + w, 10.0 + h), (10.0, 10.0 + h)],
            score: 0.9,
        };
        assert!(plate_shaped(&sized(180.0, 40.0)), "a plate's line");
        assert!(plate_shaped(&sized(60.0, 38.0)), "a line of a two-line plate");
        assert!(plate_shaped(&sized(180.0, 16.0)), "a plate seen steeply from above");
        assert!(!plate_shaped(&sized(40.0, 40.0)), "a square");
        assert!(!plate_shaped(&sized(173.0, 9.0)), "writing along a bus");
        assert!(!plate_shaped(&sized(60.0, 7.0)), "too low to read");
    }

    #[test]
    fn recognised_texts_are_plates_only_when_a_grammar_reads_them() {
        let (text, country, _) = as_plate("B 74 MSO").unwrap();
        assert_eq!((text.as_str(), country), ("B74MSO", CountryCode::RO));
        assert_eq!(as_plate("BX9025HC").unwrap().1, CountryCode::UA);
        assert_eq!(as_plate("RO B 74 MSO").unwrap().0, "B74MSO", "the band's code read with it");
        assert_eq!(as_plate("HB 2334 HH").unwrap().0, "HB2334HH", "a Ukrainian plate's own H is no band");
        assert_eq!(
            as_plate("H ABC 123").map(|p| (p.0, p.1)),
            Some(("ABC123".to_owned(), CountryCode::HU)),
            "Hungary's band read apart"
        );
        // Hungarian, and as well Polish (Leszno's PL) by its text alone: whole either way.
        assert_eq!(as_plate("PLVX-408").unwrap().0, "PLVX408", "PL is a band only on a Polish plate");
        assert_eq!(as_plate("鲁TK XE-825").unwrap().0, "TKXE825", "a band read as a Chinese province's character");
        let (text, country, _) = as_plate("S/49561-DC").unwrap();
        assert_eq!((text.as_str(), country), ("SI49561DC", CountryCode::RS), "a slanted I read as a slash");
        assert_eq!(as_plate("ВХ9025НС").unwrap().1, CountryCode::UA, "Cyrillic look-alikes");
        for noise in ["cero", "emisiones", "electricamEMTe", "M1SDL/SEUTLLA", "", "12", "ΑΒΓΔ"] {
            assert_eq!(as_plate(noise), None, "{noise}");
        }
    }
}
