//! Persons and vehicles: YOLOv4-tiny's raw outputs decoded into boxes, and the frame made into
//! its input.
//!
//! - [`letterbox`]: the frame scaled to fit the network's input, grey bars around it, as an
//!   RGB planar tensor in `0.0..=1.0` (darknet's own preprocessing);
//! - [`decode`]: each head's grid of anchor predictions into boxes with their best class, in
//!   the frame's pixels, above a threshold;
//! - [`nms`]: overlapping boxes of one class reduced to the best.

use image::RgbImage;

use crate::darknet::Head;

/// A box found, in the frame's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The COCO class index.
    pub class: usize,
    /// Objectness times the class probability.
    pub score: f32,
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl Found {
    fn area(&self) -> f32 {
        (self.right - self.left).max(0.0) * (self.bottom - self.top).max(0.0)
    }

    pub fn iou(&self, o: &Found) -> f32 {
        let w = self.right.min(o.right) - self.left.max(o.left);
        let h = self.bottom.min(o.bottom) - self.top.max(o.top);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        inter / (self.area() + o.area() - inter)
    }
}

/// How a frame was fitted into the network's input: scale and offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub scale: f32,
    pub dx: f32,
    pub dy: f32,
    pub frame_width: u32,
    pub frame_height: u32,
}

impl Fit {
    /// A point of the network's input in the frame's pixels.
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (
            ((x - self.dx) / self.scale).clamp(0.0, self.frame_width as f32),
            ((y - self.dy) / self.scale).clamp(0.0, self.frame_height as f32),
        )
    }
}

/// `frame` scaled to fit `width` × `height` (aspect kept, centred, grey 0.5 around), as a
/// 1×3×H×W tensor, RGB, `0.0..=1.0`.
pub fn letterbox(frame: &RgbImage, width: u32, height: u32) -> (Vec<f32>, Fit) {
    let (fw, fh) = frame.dimensions();
    let scale = (width as f32 / fw.max(1) as f32).min(height as f32 / fh.max(1) as f32);
    let (nw, nh) =
        (((fw as f32 * scale).round() as u32).clamp(1, width), ((fh as f32 * scale).round() as u32).clamp(1, height));
    let resized = crate::resize::bilinear(frame, nw, nh);
    let (dx, dy) = ((width - nw) / 2, (height - nh) / 2);
    let plane = (width * height) as usize;
    let mut data = vec![0.5f32; 3 * plane];
    for (x, y, p) in resized.enumerate_pixels() {
        let i = ((y + dy) * width + (x + dx)) as usize;
        for c in 0..3 {
            data[c * plane + i] = f32::from(p[c]) / 255.0;
        }
    }
    (data, Fit { scale, dx: dx as f32, dy: dy as f32, frame_width: fw, frame_height: fh })
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One head's output (`1 × anchors·(5 + classes) × grid_h × grid_w`, as the model gives it)
/// decoded: the boxes whose score is at least `threshold`, in the frame's pixels.
pub fn decode(
    head: &Head,
    output: &[f32],
    grid: (usize, usize),
    input: (u32, u32),
    fit: &Fit,
    threshold: f32,
) -> Result<Vec<Found>, String> {
    let (gh, gw) = grid;
    let per = 5 + head.classes;
    let cells = gh * gw;
    if output.len() != head.anchors.len() * per * cells {
        return Err(format!(
            "a head of {} values where {} anchors of {} classes on {gw}×{gh} make {}",
            output.len(),
            head.anchors.len(),
            head.classes,
            head.anchors.len() * per * cells
        ));
    }
    let s = head.scale_x_y;
    let at = |a: usize, k: usize, cell: usize| output[(a * per + k) * cells + cell];
    let mut found = Vec::new();
    for (a, &(anchor_w, anchor_h)) in head.anchors.iter().enumerate() {
        for y in 0..gh {
            for x in 0..gw {
                let cell = y * gw + x;
                let objectness = sigmoid(at(a, 4, cell));
                if objectness < threshold {
                    continue;
                }
                let (mut class, mut best) = (0, 0.0f32);
                for c in 0..head.classes {
                    let p = at(a, 5 + c, cell);
                    if p > best || c == 0 {
                        (class, best) = (c, p);
                    }
                }
                let score = objectness * sigmoid(best);
                if score < threshold {
                    continue;
                }
                let cx = (x as f32 + sigmoid(at(a, 0, cell)) * s - (s - 1.0) / 2.0) / gw as f32 * input.0 as f32;
                let cy = (y as f32 + sigmoid(at(a, 1, cell)) * s - (s - 1.0) / 2.0) / gh as f32 * input.1 as f32;
                let w = at(a, 2, cell).min(10.0).exp() * anchor_w;
                let h = at(a, 3, cell).min(10.0).exp() * anchor_h;
                let (left, top) = fit.to_frame(cx - w / 2.0, cy - h / 2.0);
                let (right, bottom) = fit.to_frame(cx + w / 2.0, cy + h / 2.0);
                if right > left && bottom > top && score.is_finite() {
                    found.push(Found { class, score, left, top, right, bottom });
                }
            }
        }
    }
    Ok(found)
}

/// Per class, the best boxes: a box overlapping a better one of its class by more than `iou`
/// goes.
pub fn nms(mut found: Vec<Found>, iou: f32) -> Vec<Found> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        if kept.iter().all(|k| k.class != f.class || k.iou(&f) <= iou) {
            kept.push(f);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head { output: "y".into(), anchors: vec![(10.0, 14.0), (81.0, 82.0)], classes: 3, scale_x_y: 1.05 }
    }

    #[test]
    fn a_confident_cell_becomes_a_box_where_its_offsets_say() {
        let h = head();
        let (gh, gw) = (2, 2);
        let cells = gh * gw;
        let mut out = vec![-10.0f32; 2 * 8 * cells];
        // Anchor 0 at cell (x 1, y 0): centred in the cell, the anchor's size, class 2.
        let (a, cell) = (0, 1);
        let set = |out: &mut Vec<f32>, k: usize, v: f32| out[(a * 8 + k) * cells + cell] = v;
        set(&mut out, 0, 0.0);
        set(&mut out, 1, 0.0);
        set(&mut out, 2, 0.0);
        set(&mut out, 3, 0.0);
        set(&mut out, 4, 5.0);
        set(&mut out, 7, 5.0);
        let fit = Fit { scale: 1.0, dx: 0.0, dy: 0.0, frame_width: 64, frame_height: 64 };
        let found = decode(&h, &out, (gh, gw), (64, 64), &fit, 0.5).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.class, 2);
        // The centre of cell (1, 0) of a 2×2 grid over 64 px: (48, 16); the anchor 10×14.
        let close = |a: f32, b: f32| (a - b).abs() < 0.01;
        assert!(close(f.left, 43.0) && close(f.right, 53.0) && close(f.top, 9.0) && close(f.bottom, 23.0), "{f:?}");
        // A box beyond the frame is clipped to it.
        let mut wide = out.clone();
        wide[(a * 8 + 2) * cells + cell] = 1.5;
        let f = &decode(&h, &wide, (gh, gw), (64, 64), &fit, 0.5).unwrap()[0];
        assert!(close(f.right, 64.0) && f.left > 0.0, "{f:?}");
        assert!(decode(&h, &out[1..], (gh, gw), (64, 64), &fit, 0.5).is_err());
    }

    #[test]
    fn overlapping_boxes_of_a_class_are_reduced_to_the_best() {
        let b = |class, score, left| Found { class, score, left, top: 0.0, right: left + 10.0, bottom: 10.0 };
        let kept = nms(vec![b(0, 0.6, 1.0), b(0, 0.9, 0.0), b(2, 0.5, 0.0), b(0, 0.7, 50.0)], 0.45);
        let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
        assert_eq!(scores, vec![0.9, 0.7, 0.5]);
    }

    #[test]
    fn a_frame_is_letterboxed_and_points_map_back() {
        let frame = RgbImage::from_pixel(200, 100, image::Rgb([255, 0, 0]));
        let (data, fit) = letterbox(&frame, 64, 64);
        assert_eq!(data.len(), 3 * 64 * 64);
        assert_eq!((fit.dx, fit.dy), (0.0, 16.0));
        assert_eq!(data[0], 0.5, "the bar above is grey");
        assert_eq!(data[32 * 64 + 10], 1.0, "red inside");
        assert_eq!(data[64 * 64 + 32 * 64 + 10], 0.0, "no green");
        let (x, y) = fit.to_frame(32.0, 32.0);
        assert!((x - 100.0).abs() < 0.01 && (y - 50.0).abs() < 0.01);
    }
}
