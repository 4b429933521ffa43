//! Motion gating: an idle camera costs a thumbnail and a comparison per frame, not the models.
//!
//! Each frame is shrunk to a small grey picture and compared with the last one; where enough of
//! it changed by more than the noise of a camera's sensor, the frame is analysed, and so are the
//! frames for a while after the motion stops (tracks end and stopped vehicles are judged on
//! frames without motion). The region that changed is given too: the models could be run on it
//! alone.

use image::{GrayImage, RgbImage, imageops};
use limes_scene::geometry::BBox;
use serde::{Deserialize, Serialize};

/// When a frame has motion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionSettings {
    /// Whether frames are gated at all (off: every frame goes through the models).
    pub enabled: bool,
    /// The width frames are compared at (their height keeps the aspect).
    pub width: u32,
    /// The least change of a pixel's grey level (0–255) that is motion, not noise.
    pub threshold: u8,
    /// The least share of the picture that must change.
    pub min_area: f32,
    /// How long frames are still analysed after the last motion, milliseconds.
    pub hold_ms: i64,
}

impl Default for MotionSettings {
    fn default() -> Self {
        MotionSettings { enabled: true, width: 160, threshold: 24, min_area: 0.002, hold_ms: 3000 }
    }
}

impl MotionSettings {
    pub fn check(&self) -> Result<(), String> {
        if !(16..=1024).contains(&self.width) {
            return Err("motion width 16 to 1024".into());
        }
        if !(self.min_area.is_finite() && (0.0..1.0).contains(&self.min_area)) {
            return Err("motion min_area from 0 to 1".into());
        }
        if !(0..=600_000).contains(&self.hold_ms) {
            return Err("motion hold_ms 0 to 10 minutes".into());
        }
        Ok(())
    }
}

/// What the gate found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    /// The share of the picture that changed.
    pub changed: f32,
    /// Where it changed (the box around every changed pixel), if anywhere.
    pub region: Option<BBox>,
    /// Whether the frame should be analysed: motion now, the first frame, or motion within the
    /// hold time.
    pub analyse: bool,
}

/// The motion gate of one camera.
#[derive(Debug)]
pub struct MotionGate {
    settings: MotionSettings,
    previous: Option<GrayImage>,
    /// Milliseconds (the frames' own clock) of the last frame with motion.
    last_motion_ms: Option<i64>,
}

impl MotionGate {
    pub fn new(settings: MotionSettings) -> MotionGate {
        MotionGate { settings, previous: None, last_motion_ms: None }
    }

    /// Compares `frame` (at `time_ms`, the frames' own clock) with the one before.
    pub fn check(&mut self, time_ms: i64, frame: &RgbImage) -> Motion {
        let (w, h) = frame.dimensions();
        let small_w = self.settings.width.min(w).max(1);
        let small_h = ((u64::from(h) * u64::from(small_w) / u64::from(w.max(1))) as u32).max(1);
        let grey = imageops::grayscale(&imageops::thumbnail(frame, small_w, small_h));
        let Some(previous) = self.previous.replace(grey) else {
            self.last_motion_ms = Some(time_ms);
            return Motion { changed: 1.0, region: Some(BBox { x: 0.0, y: 0.0, w: 1.0, h: 1.0 }), analyse: true };
        };
        let grey = self.previous.as_ref().expect("just set");
        if previous.dimensions() != grey.dimensions() {
            // A new resolution: everything is new.
            self.last_motion_ms = Some(time_ms);
            return Motion { changed: 1.0, region: Some(BBox { x: 0.0, y: 0.0, w: 1.0, h: 1.0 }), analyse: true };
        }
        let (mut changed, mut left, mut top, mut right, mut bottom) = (0u32, u32::MAX, u32::MAX, 0u32, 0u32);
        for (x, y, p) in grey.enumerate_pixels() {
            let before = previous.get_pixel(x, y).0[0];
            if p.0[0].abs_diff(before) >= self.settings.threshold {
                changed += 1;
                (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x), bottom.max(y));
            }
        }
        let share = changed as f32 / (small_w * small_h) as f32;
        let moving = changed > 0 && share >= self.settings.min_area;
        if moving {
            self.last_motion_ms = Some(time_ms);
        }
        let held = self.last_motion_ms.is_some_and(|t| (0..=self.settings.hold_ms).contains(&(time_ms - t)));
        let region = (changed > 0).then(|| BBox {
            x: left as f32 / small_w as f32,
            y: top as f32 / small_h as f32,
            w: (right + 1 - left) as f32 / small_w as f32,
            h: (bottom + 1 - top) as f32 / small_h as f32,
        });
        Motion { changed: share, region, analyse: moving || held }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A grey street with a noisy sensor and, when `at` is given, a dark square at that x.
    fn frame(at: Option<u32>, noise_seed: u32) -> RgbImage {
        RgbImage::from_fn(640, 360, |x, y| {
            if let Some(left) = at
                && (left..left + 60).contains(&x)
                && (150..210).contains(&y)
            {
                return Rgb([20, 20, 30]);
            }
            // Sensor noise of a few grey levels.
            let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ noise_seed.wrapping_mul(97)) % 9;
            let v = 120 + n as u8;
            Rgb([v, v, v])
        })
    }

    #[test]
    fn an_idle_picture_with_sensor_noise_is_not_analysed_after_the_hold_time() {
        let mut gate = MotionGate::new(MotionSettings { hold_ms: 1000, ..MotionSettings::default() });
        assert!(gate.check(0, &frame(None, 0)).analyse, "the first frame is analysed");
        assert!(gate.check(500, &frame(None, 1)).analyse, "within the hold time after the first");
        let idle = gate.check(1500, &frame(None, 2));
        assert!(!idle.analyse, "{idle:?}");
        assert!(idle.changed < 0.002);
    }

    #[test]
    fn a_moving_object_is_analysed_and_its_region_found() {
        let mut gate = MotionGate::new(MotionSettings { hold_ms: 0, ..MotionSettings::default() });
        gate.check(0, &frame(Some(100), 0));
        let m = gate.check(100, &frame(Some(160), 1));
        assert!(m.analyse, "{m:?}");
        let r = m.region.unwrap();
        // The square moved from x 100..160 to 160..220 of 640: the change is in 100..220.
        assert!((r.x - 100.0 / 640.0).abs() < 0.02 && ((r.x + r.w) - 220.0 / 640.0).abs() < 0.02, "{r:?}");
        assert!((r.y - 150.0 / 360.0).abs() < 0.02 && ((r.y + r.h) - 210.0 / 360.0).abs() < 0.02, "{r:?}");
        assert!(!gate.check(200, &frame(Some(160), 2)).analyse, "it stopped; no hold time");
    }

    #[test]
    fn a_new_resolution_is_motion() {
        let mut gate = MotionGate::new(MotionSettings { hold_ms: 0, ..MotionSettings::default() });
        gate.check(0, &frame(None, 0));
        assert!(gate.check(100, &RgbImage::new(320, 240)).analyse);
        assert!(MotionSettings { width: 4, ..MotionSettings::default() }.check().is_err());
        assert!(MotionSettings { min_area: f32::NAN, ..MotionSettings::default() }.check().is_err());
    }
}
