//! Text: PP-OCRv4's detection map made into text boxes, a box cut out straight, and the
//! recogniser's output made into text.
//!
//! - [`det_input`]: the picture scaled so both sides are multiples of 32 (at most `limit` on the
//!   longer), BGR, normalised with ImageNet's mean and deviation — as PaddleOCR feeds it;
//! - [`boxes`]: DB post-processing — the probability map thresholded, each connected region's
//!   minimum-area rectangle kept if the map is confident inside it, grown by the unclip ratio
//!   (the detector is trained on shrunk text), in the picture's pixels;
//! - [`crop`]: a box's quadrilateral warped to an upright strip;
//! - [`rec_input`]: a strip scaled to 48 pixels high, BGR, `(x − 0.5) / 0.5`;
//! - [`ctc`]: the recogniser's per-column probabilities collapsed into text (greedy CTC).

use image::{GrayImage, Luma, RgbImage};
use imageproc::geometric_transformations::{Interpolation, Projection, warp_into};
use imageproc::point::Point;

/// A text box: its corners in the picture's pixels (top left, top right, bottom right, bottom
/// left, reading direction left to right) and the detector's mean confidence inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub corners: [(f32, f32); 4],
    pub score: f32,
}

impl TextBox {
    pub fn width(&self) -> f32 {
        dist(self.corners[0], self.corners[1]).max(dist(self.corners[3], self.corners[2]))
    }

    pub fn height(&self) -> f32 {
        dist(self.corners[0], self.corners[3]).max(dist(self.corners[1], self.corners[2]))
    }
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// PaddleOCR's normalisation: ImageNet's mean and deviation, in the BGR order it reads pictures.
const DET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const DET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The detector's input for `img`: 1×3×H×W, H and W multiples of 32, the longer at most `limit`;
/// and the scale from the input back to the picture (x, y).
pub fn det_input(img: &RgbImage, limit: u32) -> (Vec<f32>, (u32, u32), (f32, f32)) {
    let (w, h) = img.dimensions();
    let ratio = (limit as f32 / w.max(h).max(1) as f32).min(1.0);
    let round = |v: f32| ((v / 32.0).round() as u32).max(1) * 32;
    let (nw, nh) = (round(w as f32 * ratio), round(h as f32 * ratio));
    let resized = crate::resize::bilinear(img, nw, nh);
    let plane = (nw * nh) as usize;
    let mut data = vec![0f32; 3 * plane];
    for (i, p) in resized.pixels().enumerate() {
        // BGR: channel 0 is blue.
        for c in 0..3 {
            let v = f32::from(p[2 - c]) / 255.0;
            data[c * plane + i] = (v - DET_MEAN[c]) / DET_STD[c];
        }
    }
    (data, (nw, nh), (w as f32 / nw as f32, h as f32 / nh as f32))
}

/// DB post-processing settings (rapidocr's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxSettings {
    pub threshold: f32,
    pub box_threshold: f32,
    pub unclip_ratio: f32,
    pub max_boxes: usize,
}

impl Default for BoxSettings {
    fn default() -> Self {
        BoxSettings { threshold: 0.3, box_threshold: 0.5, unclip_ratio: 1.6, max_boxes: 1000 }
    }
}

/// The text boxes of the probability map `map` (`width` × `height`), in the picture's pixels
/// (`scale` from the map to the picture).
pub fn boxes(map: &[f32], width: u32, height: u32, scale: (f32, f32), settings: &BoxSettings) -> Vec<TextBox> {
    if map.len() != (width * height) as usize {
        return Vec::new();
    }
    let bitmap = GrayImage::from_fn(width, height, |x, y| {
        Luma([if map[(y * width + x) as usize] > settings.threshold { 255 } else { 0 }])
    });
    let labels = imageproc::region_labelling::connected_components(
        &bitmap,
        imageproc::region_labelling::Connectivity::Eight,
        Luma([0]),
    );
    let mut regions: std::collections::BTreeMap<u32, Vec<Point<i32>>> = std::collections::BTreeMap::new();
    for (x, y, l) in labels.enumerate_pixels() {
        if l[0] != 0 {
            regions.entry(l[0]).or_default().push(Point::new(x as i32, y as i32));
        }
    }
    let mut out = Vec::new();
    for points in regions.values().take(settings.max_boxes) {
        if points.len() < 4 {
            continue;
        }
        let rect = imageproc::geometry::min_area_rect(points);
        let corners = rect.map(|p| (p.x as f32, p.y as f32));
        let (side_a, side_b) = (dist(corners[0], corners[1]), dist(corners[1], corners[2]));
        if side_a.min(side_b) < 2.0 {
            continue;
        }
        // The mean confidence over the region.
        let score =
            points.iter().map(|p| map[(p.y as u32 * width + p.x as u32) as usize]).sum::<f32>() / points.len() as f32;
        if score < settings.box_threshold {
            continue;
        }
        // Unclip: grow each side by area × ratio / perimeter (the offset of the DB paper).
        let (a, b) = (side_a + 1.0, side_b + 1.0);
        let grow = a * b * settings.unclip_ratio / (2.0 * (a + b));
        let grown = grow_rect(corners, grow);
        let ordered = order(grown.map(|(x, y)| ((x * scale.0).max(0.0), (y * scale.1).max(0.0))));
        let tb = TextBox { corners: ordered, score };
        if tb.height() < 3.0 {
            continue;
        }
        out.push(tb);
    }
    out
}

/// A rectangle's corners moved outwards by `d` on every side.
///
/// Each corner moves by its place around the rectangle, never by the side of the centre it lies
/// on along the two axes: `min_area_rect` rounds its corners to whole pixels, so that the sides of
/// a long, slightly tilted box are not quite perpendicular, and a corner of a box 160 pixels long
/// can lie on the wrong side of the short axis (a plate's box then grew into a sliver across it).
fn grow_rect(c: [(f32, f32); 4], d: f32) -> [(f32, f32); 4] {
    let c = around(c);
    let u = unit((c[1].0 - c[0].0, c[1].1 - c[0].1));
    let v = unit((c[3].0 - c[0].0, c[3].1 - c[0].1));
    // Going round: −u−v, +u−v, +u+v, −u+v.
    let signs = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
    std::array::from_fn(|i| {
        let ((x, y), (su, sv)) = (c[i], signs[i]);
        (x + (su * u.0 + sv * v.0) * d, y + (su * u.1 + sv * v.1) * d)
    })
}

/// Four corners in order around their centre.
fn around(mut c: [(f32, f32); 4]) -> [(f32, f32); 4] {
    let cx = c.iter().map(|p| p.0).sum::<f32>() / 4.0;
    let cy = c.iter().map(|p| p.1).sum::<f32>() / 4.0;
    c.sort_by(|a, b| (a.1 - cy).atan2(a.0 - cx).total_cmp(&(b.1 - cy).atan2(b.0 - cx)));
    c
}

fn unit(v: (f32, f32)) -> (f32, f32) {
    let n = (v.0 * v.0 + v.1 * v.1).sqrt();
    if n == 0.0 { (1.0, 0.0) } else { (v.0 / n, v.1 / n) }
}

/// Four corners ordered top left, top right, bottom right, bottom left.
fn order(c: [(f32, f32); 4]) -> [(f32, f32); 4] {
    let mut by_x = c;
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut left, mut right) = ([by_x[0], by_x[1]], [by_x[2], by_x[3]]);
    left.sort_by(|a, b| a.1.total_cmp(&b.1));
    right.sort_by(|a, b| a.1.total_cmp(&b.1));
    [left[0], right[0], right[1], left[1]]
}

/// The box cut out of `img` as an upright strip (its width and height), or nothing when it is
/// degenerate.
pub fn crop(img: &RgbImage, b: &TextBox) -> Option<RgbImage> {
    let (w, h) = (b.width().round().max(1.0), b.height().round().max(1.0));
    if w > 4096.0 || h > 4096.0 {
        return None;
    }
    let to = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let projection = Projection::from_control_points(b.corners, to)?;
    let mut out = RgbImage::new(w as u32, h as u32);
    warp_into(img, &projection, Interpolation::Bilinear, image::Rgb([0, 0, 0]), &mut out);
    Some(out)
}

/// Whitens the blue of a European plate's band (and anything as blue) in a strip: the band's
/// country code is not part of the registration, and read beside it the recogniser takes it for
/// the first character or drops the character next to it.
pub fn whiten_blue(strip: &mut RgbImage) {
    for p in strip.pixels_mut() {
        let [r, g, b] = p.0.map(i32::from);
        if b > 70 && b > r + 45 && b > g + 15 {
            p.0 = [255, 255, 255];
        }
    }
}

/// The recogniser's input for `strip`: 1×3×48×W, W = 48 × the strip's aspect (at most
/// `max_width`), right-padded with zeros to `max_width`; BGR, `(x / 255 − 0.5) / 0.5`.
pub fn rec_input(strip: &RgbImage, max_width: u32) -> Vec<f32> {
    const H: u32 = 48;
    let (w, h) = strip.dimensions();
    let width = ((H as f32 * w as f32 / h.max(1) as f32).ceil() as u32).clamp(1, max_width);
    let resized = crate::resize::bilinear(strip, width, H);
    let plane = (max_width * H) as usize;
    let mut data = vec![0f32; 3 * plane];
    for (x, y, p) in resized.enumerate_pixels() {
        let i = (y * max_width + x) as usize;
        for c in 0..3 {
            data[c * plane + i] = (f32::from(p[2 - c]) / 255.0 - 0.5) / 0.5;
        }
    }
    data
}

/// Greedy CTC: per column the likeliest symbol; repeats collapsed, blanks (symbol 0) dropped.
/// `probs` is columns × symbols; `alphabet[i]` is symbol `i + 1`. The confidence is the mean
/// probability of the symbols kept.
pub fn ctc(probs: &[f32], symbols: usize, alphabet: &[String]) -> (String, f32) {
    let mut text = String::new();
    let (mut sum, mut n) = (0.0f32, 0usize);
    let mut last = 0usize;
    for column in probs.chunks_exact(symbols.max(1)) {
        let (best, p) =
            column.iter().enumerate().fold((0, f32::MIN), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
        if best != 0
            && best != last
            && let Some(s) = alphabet.get(best - 1)
        {
            text.push_str(s);
            sum += p;
            n += 1;
        }
        last = best;
    }
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confident_region_of_the_map_becomes_a_grown_box_in_picture_pixels() {
        let (w, h) = (64u32, 32u32);
        let mut map = vec![0.0f32; (w * h) as usize];
        for y in 12..20 {
            for x in 10..50 {
                map[(y * w + x) as usize] = 0.9;
            }
        }
        // A faint region below the box threshold, and a speck.
        for y in 24..28 {
            for x in 10..30 {
                map[(y * w + x) as usize] = 0.4;
            }
        }
        map[(2 * w + 2) as usize] = 0.9;
        let found = boxes(&map, w, h, (2.0, 2.0), &BoxSettings::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let b = &found[0];
        assert!(b.score > 0.85);
        let [tl, tr, br, bl] = b.corners;
        assert!(tl.0 < 20.0 && tl.1 < 24.0 && tr.0 > 98.0 && br.1 > 38.0 && bl.0 < 20.0, "{b:?}");
        assert!(b.width() > b.height() * 2.0, "{b:?}");
        assert!(boxes(&map[1..], w, h, (1.0, 1.0), &BoxSettings::default()).is_empty(), "a map of the wrong size");
    }

    /// The box of a long text tilted by one degree, as `min_area_rect` gives it (corners rounded
    /// to whole pixels), grows into a box around it, not into a sliver across it.
    #[test]
    fn a_long_slightly_tilted_box_grows_around_its_text() {
        let rect = [(308.0, 644.0), (470.0, 641.0), (471.0, 652.0), (309.0, 655.0)];
        // Whatever order the corners come in.
        for start in 0..4 {
            let c: [(f32, f32); 4] = std::array::from_fn(|i| rect[(start + i) % 4]);
            let grown = order(grow_rect(c, 8.0));
            let b = TextBox { corners: grown, score: 1.0 };
            assert!((b.height() - 27.0).abs() < 1.5, "{grown:?}: {}", b.height());
            assert!((b.width() - 178.0).abs() < 1.5, "{grown:?}: {}", b.width());
            let [tl, tr, br, bl] = grown;
            assert!(tl.1 < 637.0 && tr.1 < 634.0 && br.1 > 659.0 && bl.1 > 662.0, "{grown:?}");
        }
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        let alphabet: Vec<String> = ["A", "B", "1"].iter().map(|s| s.to_string()).collect();
        // Columns: A A blank A B 1 1 blank.
        let best = [1, 1, 0, 1, 2, 3, 3, 0];
        let mut probs = Vec::new();
        for b in best {
            let mut col = vec![0.05f32; 4];
            col[b] = 0.8;
            probs.extend(col);
        }
        let (text, confidence) = ctc(&probs, 4, &alphabet);
        assert_eq!(text, "AAB1");
        assert!((confidence - 0.8).abs() < 1e-6);
        assert_eq!(ctc(&[], 4, &alphabet), (String::new(), 0.0));
    }

    #[test]
    fn a_tilted_box_is_cut_out_upright() {
        let mut img = RgbImage::from_pixel(100, 60, image::Rgb([0, 0, 0]));
        for y in 20..40 {
            for x in 20..80 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let b = TextBox { corners: [(20.0, 20.0), (80.0, 20.0), (80.0, 40.0), (20.0, 40.0)], score: 1.0 };
        let strip = crop(&img, &b).unwrap();
        assert_eq!(strip.dimensions(), (60, 20));
        assert_eq!(strip.get_pixel(30, 10)[0], 255);
        let input = rec_input(&strip, 320);
        assert_eq!(input.len(), 3 * 48 * 320);
        assert_eq!(input[10], 1.0, "white, normalised");
        assert_eq!(input[300], 0.0, "padding");
        assert_eq!(order([(80.0, 40.0), (20.0, 20.0), (20.0, 40.0), (80.0, 20.0)]), b.corners);
    }
}
