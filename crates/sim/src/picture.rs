//! Synthetic plate pictures: the evaluation set of the node's own plate recognition (issue #10).
//!
//! A plate of a country's grammar ([`limes_plate::grammar::formats`]) is drawn as that country
//! prints it — white, a black rim, the blue band with the country's code on the left, the text
//! with the format's separators in a plate-like condensed font — and set into a photograph with
//! a perspective ([`place`]). A [`Condition`] decides how hard it is to read: `Clean` is a sharp
//! plate seen nearly head-on in daylight; the degraded ones add a steeper angle and a smaller
//! plate with blur, sensor noise, night (a dark scene, the retro-reflective plate brighter than
//! it) or rain (streaks and a soft picture), and JPEG compression on top.
//!
//! Like the rest of the crate it does no I/O and reads no clock: fonts and photographs come in
//! as bytes and pixels, randomness from the caller's seeded generator, so the same seed gives the
//! same pictures, pixel for pixel.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;
use limes_plate::{CountryCode, PlateText, grammar};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The countries of the evaluation set.
pub const COUNTRIES: [CountryCode; 7] = [
    CountryCode::RO,
    CountryCode::UA,
    CountryCode::RS,
    CountryCode::CZ,
    CountryCode::PL,
    CountryCode::HU,
    CountryCode::MD,
];

/// How hard a picture is to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Daylight, sharp, nearly head-on, a plate 150–260 px wide.
    Clean,
    /// A steeper angle, a plate 90–170 px wide, blurred.
    Blur,
    /// Sensor noise.
    Noise,
    /// A dark scene with the plate lit by its retro-reflective film; noisy.
    Night,
    /// Rain streaks over a soft picture.
    Rain,
}

impl Condition {
    pub const ALL: [Condition; 5] =
        [Condition::Clean, Condition::Blur, Condition::Noise, Condition::Night, Condition::Rain];

    pub fn name(self) -> &'static str {
        match self {
            Condition::Clean => "clean",
            Condition::Blur => "blur",
            Condition::Noise => "noise",
            Condition::Night => "night",
            Condition::Rain => "rain",
        }
    }
}

/// What a picture shows: the truth an evaluation compares a read with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateTruth {
    pub country: CountryCode,
    /// The canonical plate ([`PlateText`]).
    pub plate: String,
    /// As printed, with the format's separators.
    pub printed: String,
    pub condition: Condition,
    /// The plate's corners in the picture: top left, top right, bottom right, bottom left.
    pub corners: [(f32, f32); 4],
}

/// A plate drawn flat, and where its text is.
#[derive(Debug, Clone)]
pub struct FlatPlate {
    pub image: RgbImage,
    pub printed: String,
}

/// The code on a country's blue band (its international vehicle registration code).
pub fn band_code(country: CountryCode) -> String {
    match country {
        CountryCode::RS => "SRB".into(),
        CountryCode::HU => "H".into(),
        CountryCode::DE => "D".into(),
        other => other.as_str().to_owned(),
    }
}

/// A random plate of `country` as text and as printed.
pub fn random_plate(rng: &mut ChaCha8Rng, country: CountryCode) -> (PlateText, String) {
    let formats = grammar::formats(country);
    let format = &formats[rng.random_range(0..formats.len())];
    let text = format.generate(&mut |n| if n == 0 { 0 } else { rng.random_range(0..n) });
    let printed = format.display(&text);
    (text, printed)
}

const WHITE: Rgb<u8> = Rgb([246, 246, 240]);
const INK: Rgb<u8> = Rgb([18, 18, 22]);
const BLUE: Rgb<u8> = Rgb([0, 51, 153]);

/// Draws `printed` as a plate `height` pixels high, in `font`, with `band` on its blue band.
pub fn draw_plate(printed: &str, band: &str, font: &FontVec, height: u32) -> FlatPlate {
    let h = height.max(16) as f32;
    // The characters' cap height is about 70 % of the plate's (75 of 110 mm on EU plates).
    let scale = cap_scale(font, h * 0.70);
    let text_w = advance(font, scale, printed);
    let band_w = (h * 0.40).round();
    let margin = (h * 0.14).round();
    let width = (band_w + 2.0 * margin + text_w).max(h * 4.0).round();
    let mut img = RgbImage::from_pixel(width as u32, h as u32, WHITE);
    // The rim.
    let rim = (h * 0.035).max(1.0) as u32;
    for (x, y, p) in img.enumerate_pixels_mut() {
        if x < rim || y < rim || x + rim >= width as u32 || y + rim >= h as u32 {
            *p = INK;
        }
    }
    // The band, with its code in white near the bottom.
    for y in rim..h as u32 - rim {
        for x in rim..band_w as u32 {
            img.put_pixel(x, y, BLUE);
        }
    }
    let band_scale = cap_scale(font, h * if band.len() > 2 { 0.20 } else { 0.27 });
    let band_text_w = advance(font, band_scale, band);
    let bx = rim as f32 + ((band_w - rim as f32) - band_text_w) / 2.0;
    draw_text(&mut img, font, band_scale, bx, h * 0.88, band, WHITE);
    // The text, centred in what the band leaves, on the baseline.
    let left = band_w + ((width - band_w) - text_w) / 2.0;
    draw_text(&mut img, font, scale, left, h * 0.85, printed, INK);
    FlatPlate { image: img, printed: printed.to_owned() }
}

/// The scale at which `font`'s capital H is `cap` pixels high.
fn cap_scale(font: &FontVec, cap: f32) -> PxScale {
    let probe = PxScale::from(100.0);
    let glyph = font.glyph_id('H').with_scale(probe);
    let h = font.outline_glyph(glyph).map_or(70.0, |g| g.px_bounds().height());
    PxScale::from(100.0 * cap / h.max(1.0))
}

fn advance(font: &FontVec, scale: PxScale, text: &str) -> f32 {
    let f = font.as_scaled(scale);
    text.chars().map(|c| f.h_advance(f.glyph_id(c))).sum()
}

/// Draws `text` with its baseline at `baseline`, from `x`, blending by coverage.
fn draw_text(img: &mut RgbImage, font: &FontVec, scale: PxScale, x: f32, baseline: f32, text: &str, colour: Rgb<u8>) {
    let f = font.as_scaled(scale);
    let mut pen = x;
    for c in text.chars() {
        let id = f.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, baseline));
        pen += f.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
            if px < 0 || py < 0 || px >= i64::from(img.width()) || py >= i64::from(img.height()) {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            *p = blend(*p, colour, coverage.clamp(0.0, 1.0));
        });
    }
}

fn blend(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    Rgb(std::array::from_fn(|i| (f32::from(a[i]) * (1.0 - t) + f32::from(b[i]) * t).round() as u8))
}

/// Where in a photograph a plate may go: the box of a vehicle (its plate sits low in the middle)
/// or, without one, anywhere in the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spot {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// Sets `plate` into a copy of `photo` at `spot` under `condition`, with the truth of it. The
/// picture is the photograph's size; the plate is scaled to the condition's width range (and
/// never wider than 60 % of the spot or the picture).
pub fn place(
    photo: &RgbImage,
    plate: &FlatPlate,
    truth: (CountryCode, &PlateText),
    spot: Spot,
    condition: Condition,
    rng: &mut ChaCha8Rng,
) -> (RgbImage, PlateTruth) {
    let (pw, ph) = (plate.image.width() as f32, plate.image.height() as f32);
    let (min_w, max_w): (f32, f32) = match condition {
        Condition::Clean => (150.0, 260.0),
        _ => (90.0, 170.0),
    };
    let limit = (spot.width * 0.6).min(photo.width() as f32 * 0.6).max(40.0);
    let w = rng.random_range(min_w..max_w).min(limit);
    let h = w * ph / pw;
    // The centre: low in the middle of a vehicle.
    let cx = spot.x + spot.width * rng.random_range(0.4..0.6);
    let cy = spot.y + spot.height * rng.random_range(0.6..0.8);
    let cx = cx.clamp(w / 2.0 + 2.0, photo.width() as f32 - w / 2.0 - 2.0);
    let cy = cy.clamp(h / 2.0 + 2.0, photo.height() as f32 - h / 2.0 - 2.0);
    // The view: a turn about the vertical axis (one side nearer, taller), a little roll, and
    // for the degraded conditions a steeper look from above.
    let (yaw, roll, pitch): (f32, f32, f32) = match condition {
        Condition::Clean => (rng.random_range(-0.08..0.08), rng.random_range(-0.03..0.03), 0.0),
        _ => (rng.random_range(-0.22..0.22), rng.random_range(-0.07..0.07), rng.random_range(0.0..0.12)),
    };
    let (hw, hh) = (w / 2.0, h / 2.0);
    let near = 1.0 + yaw;
    let far = 1.0 - yaw;
    let corners = [(-hw, -hh * far), (hw, -hh * near), (hw, hh * near), (-hw, hh * far)].map(|(x, y)| {
        // Looking from above shortens the top edge.
        let x = if y < 0.0 { x * (1.0 - pitch) } else { x };
        let (s, c) = roll.sin_cos();
        (cx + x * c - y * s, cy + x * s + y * c)
    });
    let from = [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)];
    let mut scene = photo.clone();
    if condition == Condition::Night {
        let dark = rng.random_range(0.18..0.32);
        scale_pixels(&mut scene, dark);
    }
    let mut flat = plate.image.clone();
    if condition == Condition::Night {
        scale_pixels(&mut flat, rng.random_range(0.55..0.75));
    }
    // The plate sits on its mount (a bumper, a holder): a dark surround a little larger than
    // it, seen in the same perspective, so it stands apart from writing on the vehicle.
    let mount = RgbImage::from_pixel(pw as u32, ph as u32, Rgb([38, 40, 44]));
    let grown = corners.map(|(x, y)| (cx + (x - cx) * 1.18, cy + (y - cy) * 1.6));
    if let Some(projection) = Projection::from_control_points(from, grown) {
        let mut mount = mount;
        if condition == Condition::Night {
            scale_pixels(&mut mount, 0.4);
        }
        composite(&mut scene, &mount, &projection);
    }
    if let Some(projection) = Projection::from_control_points(from, corners) {
        composite(&mut scene, &flat, &projection);
    }
    let seed = rng.random::<u64>();
    let scene = match condition {
        Condition::Clean => scene,
        Condition::Blur => imageproc::filter::gaussian_blur_f32(&scene, rng.random_range(0.9..1.6)),
        Condition::Noise => imageproc::noise::gaussian_noise(&scene, 0.0, rng.random_range(8.0..16.0), seed),
        Condition::Night => {
            let soft = imageproc::filter::gaussian_blur_f32(&scene, 0.7);
            imageproc::noise::gaussian_noise(&soft, 0.0, rng.random_range(5.0..10.0), seed)
        }
        Condition::Rain => {
            let mut wet = imageproc::filter::gaussian_blur_f32(&scene, rng.random_range(0.6..1.1));
            rain(&mut wet, rng);
            wet
        }
    };
    let truth = PlateTruth {
        country: truth.0,
        plate: truth.1.as_str().to_owned(),
        printed: plate.printed.clone(),
        condition,
        corners,
    };
    (scene, truth)
}

fn scale_pixels(img: &mut RgbImage, k: f32) {
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (f32::from(*c) * k).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Draws `flat` into `scene` through `projection` (flat → scene): each scene pixel in the
/// plate's quadrilateral samples the flat plate bilinearly, the edges anti-aliased by 4×4
/// supersampling. By hand: imageproc's `warp_into` writes every pixel of its output, where this
/// blends only the plate into an existing picture.
fn composite(scene: &mut RgbImage, flat: &RgbImage, projection: &Projection) {
    let inverse = projection.invert();
    let (fw, fh) = (flat.width() as f32, flat.height() as f32);
    let corners = [(0.0, 0.0), (fw, 0.0), (fw, fh), (0.0, fh)].map(|p| *projection * p);
    let x0 = corners.iter().map(|c| c.0).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let y0 = corners.iter().map(|c| c.1).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let x1 = (corners.iter().map(|c| c.0).fold(f32::MIN, f32::max).ceil() as u32).min(scene.width());
    let y1 = (corners.iter().map(|c| c.1).fold(f32::MIN, f32::max).ceil() as u32).min(scene.height());
    const N: u32 = 4;
    for y in y0..y1 {
        for x in x0..x1 {
            let mut sum = [0f32; 3];
            let mut inside = 0u32;
            for sy in 0..N {
                for sx in 0..N {
                    let p = (x as f32 + (sx as f32 + 0.5) / N as f32, y as f32 + (sy as f32 + 0.5) / N as f32);
                    let (u, v) = inverse * p;
                    if u < 0.0 || v < 0.0 || u >= fw || v >= fh {
                        continue;
                    }
                    let s = bilinear(flat, u - 0.5, v - 0.5);
                    for i in 0..3 {
                        sum[i] += s[i];
                    }
                    inside += 1;
                }
            }
            if inside == 0 {
                continue;
            }
            let t = inside as f32 / (N * N) as f32;
            let mean = Rgb(std::array::from_fn(|i| (sum[i] / inside as f32).round().clamp(0.0, 255.0) as u8));
            let p = scene.get_pixel_mut(x, y);
            *p = blend(*p, mean, t);
        }
    }
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |dx: i64, dy: i64| {
        let px = (x0 as i64 + dx).clamp(0, w - 1) as u32;
        let py = (y0 as i64 + dy).clamp(0, h - 1) as u32;
        img.get_pixel(px, py).0.map(f32::from)
    };
    let (a, b, c, d) = (at(0, 0), at(1, 0), at(0, 1), at(1, 1));
    std::array::from_fn(|i| {
        let top = a[i] * (1.0 - fx) + b[i] * fx;
        let bottom = c[i] * (1.0 - fx) + d[i] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// Slanted light streaks, as rain in front of a camera.
fn rain(img: &mut RgbImage, rng: &mut ChaCha8Rng) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let drops = ((w * h) / 2500.0) as usize;
    let slant = rng.random_range(-0.35..0.35f32);
    let streak = Rgb([205, 208, 215]);
    for _ in 0..drops {
        let (x, y) = (rng.random_range(0.0..w), rng.random_range(0.0..h));
        let len = rng.random_range(8.0..22.0f32);
        let alpha = rng.random_range(0.15..0.35);
        let steps = len as usize;
        for s in 0..steps {
            let (px, py) = (x + slant * s as f32, y + s as f32);
            if px >= 0.0 && py >= 0.0 && px < w && py < h {
                let p = img.get_pixel_mut(px as u32, py as u32);
                *p = blend(*p, streak, alpha);
            }
        }
    }
}

/// Encodes `img` as JPEG at `quality` and decodes it again: the compression a camera adds.
pub fn jpeg_round_trip(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if img.write_with_encoder(encoder).is_err() {
        return img.clone();
    }
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).map_or_else(|_| img.clone(), |d| d.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn font() -> Option<FontVec> {
        let bytes = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").ok()?;
        FontVec::try_from_vec(bytes).ok()
    }

    fn ink_columns(img: &RgbImage, from: u32) -> usize {
        (from..img.width())
            .filter(|&x| (0..img.height()).any(|y| img.get_pixel(x, y).0.iter().all(|&c| c < 80)))
            .count()
    }

    #[test]
    fn a_plate_is_drawn_with_its_band_and_text() {
        let Some(font) = font() else {
            panic!("fonts-dejavu-core is needed (scripts/test installs it)");
        };
        let plate = draw_plate("B 123 ABC", "RO", &font, 110);
        let (w, h) = plate.image.dimensions();
        assert_eq!(h, 110);
        assert!(w >= 440, "at least four times as wide as high: {w}");
        // The band is blue, the text dark on white, the right end white inside the rim.
        assert_eq!(*plate.image.get_pixel(20, 20), BLUE);
        assert!(ink_columns(&plate.image, 50) > 150, "the text has ink");
        // A longer text makes a wider plate.
        assert!(draw_plate("AA 1234 BB", "UA", &font, 110).image.width() > w);
    }

    #[test]
    fn the_same_seed_gives_the_same_picture_and_truth() {
        let Some(font) = font() else { panic!("fonts-dejavu-core is needed") };
        let photo = RgbImage::from_pixel(640, 480, Rgb([90, 110, 120]));
        let spot = Spot { x: 100.0, y: 100.0, width: 400.0, height: 300.0 };
        let make = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (text, printed) = random_plate(&mut rng, CountryCode::PL);
            let flat = draw_plate(&printed, &band_code(CountryCode::PL), &font, 110);
            place(&photo, &flat, (CountryCode::PL, &text), spot, Condition::Rain, &mut rng)
        };
        let (a, ta) = make(7);
        let (b, tb) = make(7);
        assert_eq!(ta, tb);
        assert!(a == b, "the same pixels");
        let (_, tc) = make(8);
        assert_ne!(ta.plate, tc.plate);
        // The plate lies where the truth says, inside the spot's picture.
        for (x, y) in ta.corners {
            assert!((0.0..640.0).contains(&x) && (0.0..480.0).contains(&y), "{:?}", ta.corners);
        }
        assert!(PlateText::new(&ta.plate).is_ok());
    }

    #[test]
    fn every_condition_changes_the_picture_and_night_darkens_it() {
        let Some(font) = font() else { panic!("fonts-dejavu-core is needed") };
        let photo = RgbImage::from_fn(320, 240, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let spot = Spot { x: 0.0, y: 0.0, width: 320.0, height: 240.0 };
        let mean = |img: &RgbImage| img.pixels().map(|p| p.0.iter().map(|&c| f64::from(c)).sum::<f64>()).sum::<f64>();
        let mut pictures = Vec::new();
        for condition in Condition::ALL {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let (text, printed) = random_plate(&mut rng, CountryCode::CZ);
            let flat = draw_plate(&printed, "CZ", &font, 80);
            let (img, truth) = place(&photo, &flat, (CountryCode::CZ, &text), spot, condition, &mut rng);
            assert_eq!(truth.condition, condition);
            assert_ne!(img, photo, "{condition:?} shows a plate");
            pictures.push((condition, img));
        }
        let clean = mean(&pictures[0].1);
        let night = mean(&pictures.iter().find(|(c, _)| *c == Condition::Night).unwrap().1);
        assert!(night < clean * 0.5, "night {night} against day {clean}");
        let jpeg = jpeg_round_trip(&pictures[0].1, 50);
        assert_eq!(jpeg.dimensions(), pictures[0].1.dimensions());
    }

    #[test]
    fn every_country_of_the_set_has_plates_and_a_band() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for country in COUNTRIES {
            let (text, printed) = random_plate(&mut rng, country);
            assert!(!text.as_str().is_empty() && printed.len() >= text.len(), "{country:?}: {printed}");
            assert!(!band_code(country).is_empty());
        }
    }
}
