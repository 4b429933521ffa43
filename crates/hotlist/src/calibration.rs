//! Where a read's text confidence stands among its own camera's recent reads.
//!
//! Readers from different vendors put their confidences on different scales: one
//! reports 0.95 for a read another would give 0.70, and a third never goes below
//! 0.5. An absolute threshold ([`MatchPolicy::confirm_min_confidence`]) therefore means
//! something for one reader only. A rank does not depend on the scale: "this read is
//! among the least sure 5 % of what this camera reported lately" means the same for
//! every vendor, and for any order-preserving rescaling of one vendor's numbers.
//!
//! [`ConfidenceCalibration`] keeps one camera's recent confidences as a histogram and
//! answers [`ConfidenceCalibration::threshold`]: the confidence below which at most a
//! share `q` of them lie. [`MatchPolicy::apply`] demotes a confirmed hit whose read is
//! below its camera's threshold ([`MatchPolicy::confirm_min_camera_quantile`]).
//!
//! [`MatchPolicy::confirm_min_confidence`]: crate::MatchPolicy::confirm_min_confidence
//! [`MatchPolicy::apply`]: crate::MatchPolicy::apply
//! [`MatchPolicy::confirm_min_camera_quantile`]: crate::MatchPolicy::confirm_min_camera_quantile

use std::fmt;

/// Histogram bins over `[0, 1]`. A power of two, so that a bin's lower edge `b / BINS`
/// is an exact `f32` and `c < b / BINS` holds exactly when `c` falls in a bin below `b`.
const BINS: usize = 1024;

/// One camera's recent text confidences, and the quantiles of them.
///
/// # The window
///
/// Reads are counted in blocks of [`ConfidenceCalibration::BLOCK`]: the block being
/// filled and the full block before it. When the block being filled is full it becomes
/// the previous one and the oldest block is forgotten, so the estimate covers the last
/// `BLOCK` to `2 × BLOCK − 1` reads, each counted exactly (a decaying histogram would let
/// the rare low confidences, the ones that matter here, fade first). Until the camera has
/// given [`ConfidenceCalibration::WARM_UP`] reads, [`ConfidenceCalibration::threshold`]
/// says nothing.
///
/// # Resolution and ties
///
/// Confidences fall into 1,024 bins of width 1/1024 over `[0, 1]` (out-of-range values
/// are clamped, `NaN` is ignored). Reads in one bin are ties. The threshold is always a
/// bin's lower edge, chosen so that **at most** a share `q` of the window lies below it:
/// a camera that always reports the same confidence, or whose lowest value is shared by
/// more than `q` of its reads, has nothing below its threshold. A scale squeezed into a
/// narrow range (say 0.95 to 1.0, 51 bins) is judged more coarsely, and then demotes
/// fewer reads than `q`, never more.
///
/// # Cost
///
/// 4 KiB of counts on the heap, whatever the number of reads. [`observe`] is one
/// increment; [`threshold`] scans the bins (about 1,000 additions), which callers do
/// only for reads that would otherwise confirm an alert.
///
/// Nothing here reads a clock: the window is counted in reads, not in time.
///
/// ```
/// use limes_hotlist::ConfidenceCalibration;
///
/// let mut camera = ConfidenceCalibration::new();
/// assert_eq!(camera.threshold(0.05), None, "not enough reads yet");
/// // A vendor whose readers report between 0.40 and 0.50.
/// for i in 0..2_000 {
///     camera.observe(0.40 + (i % 100) as f32 / 1_000.0);
/// }
/// let t = camera.threshold(0.05).unwrap();
/// assert!(0.40 < t && t < 0.41, "{t}");
/// assert!(camera.is_low(0.40, 0.05));
/// assert!(!camera.is_low(0.45, 0.05), "the middle of this vendor's scale");
/// ```
///
/// [`observe`]: ConfidenceCalibration::observe
/// [`threshold`]: ConfidenceCalibration::threshold
#[derive(Clone, PartialEq, Eq)]
pub struct ConfidenceCalibration {
    /// Counts per bin: `counts[current]` is the block being filled, the other the block
    /// before it.
    counts: Box<[[u16; BINS]; 2]>,
    current: usize,
    /// Reads counted in the block being filled (below `BLOCK`).
    in_current: u16,
    /// Reads counted in the previous block: 0 or `BLOCK`.
    in_previous: u16,
}

impl ConfidenceCalibration {
    /// Reads per block: the window holds the last 4,096 to 8,191 reads.
    pub const BLOCK: u16 = 4096;

    /// Reads a camera must have given before its threshold means anything.
    pub const WARM_UP: u32 = 1000;

    /// A camera that has reported nothing yet.
    pub fn new() -> Self {
        Self { counts: Box::new([[0; BINS]; 2]), current: 0, in_current: 0, in_previous: 0 }
    }

    /// Counts one read's text confidence (on `[0, 1]`; values outside are clamped and
    /// `NaN` is ignored).
    pub fn observe(&mut self, confidence: f32) {
        if confidence.is_nan() {
            return;
        }
        let bin = bin(confidence);
        let block = &mut self.counts[self.current];
        block[bin] += 1;
        self.in_current += 1;
        if self.in_current == Self::BLOCK {
            self.current ^= 1;
            self.counts[self.current] = [0; BINS];
            self.in_previous = Self::BLOCK;
            self.in_current = 0;
        }
    }

    /// Reads in the window.
    pub fn reads(&self) -> u32 {
        u32::from(self.in_current) + u32::from(self.in_previous)
    }

    /// The confidence below which at most a share `q` of the window lies: the lower edge
    /// of the lowest bin at or below which more than `q` of the window lie. `None` while
    /// the window holds fewer than [`Self::WARM_UP`] reads.
    ///
    /// Monotone in `q`. `q` is clamped to `[0, 1]`; at 0 nothing is below the threshold,
    /// and at 1 everything below the highest bin is.
    pub fn threshold(&self, q: f32) -> Option<f32> {
        let reads = self.reads();
        if reads < Self::WARM_UP {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // Counts are integers: `count > q × reads` exactly when `count > ⌊q × reads⌋`. In
        // `f32`, as `q` is given, so that 0.01 × 2,000 is 20 and not 19.9999996.
        let limit = (q * reads as f32).floor() as u32;
        let [a, b] = &*self.counts;
        let mut at_or_below = 0u32;
        for (bin, (x, y)) in a.iter().zip(b).enumerate() {
            at_or_below += u32::from(*x) + u32::from(*y);
            if at_or_below > limit {
                return Some(bin as f32 / BINS as f32);
            }
        }
        // Only when q = 1: every read is at or below the highest bin.
        Some((BINS - 1) as f32 / BINS as f32)
    }

    /// Whether `confidence` lies below the camera's `q` threshold; false during warm-up.
    pub fn is_low(&self, confidence: f32, q: f32) -> bool {
        self.threshold(q).is_some_and(|t| confidence < t)
    }

    /// Bytes this calibration takes, counts included: the same whatever it has seen.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of::<[[u16; BINS]; 2]>()
    }
}

impl Default for ConfidenceCalibration {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConfidenceCalibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidenceCalibration")
            .field("reads", &self.reads())
            .field("p05", &self.threshold(0.05))
            .field("median", &self.threshold(0.5))
            .finish()
    }
}

/// The bin of a confidence (not `NaN`). Multiplying by a power of two is exact, so the
/// bin is below `b` exactly when `confidence < b / BINS`.
fn bin(confidence: f32) -> usize {
    ((confidence.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(values: impl IntoIterator<Item = f32>) -> ConfidenceCalibration {
        let mut c = ConfidenceCalibration::new();
        for v in values {
            c.observe(v);
        }
        c
    }

    #[test]
    fn says_nothing_until_warmed_up() {
        let mut c = fed((0..999).map(|i| i as f32 / 999.0));
        assert_eq!(c.threshold(0.05), None);
        assert!(!c.is_low(0.0, 0.5));
        c.observe(0.5);
        assert!(c.threshold(0.05).is_some());
        c.observe(f32::NAN);
        assert_eq!(c.reads(), 1000, "NaN is not a read's confidence");
    }

    #[test]
    fn quantiles_of_an_even_spread() {
        // 0.000, 0.001, … 0.999, twice: 2,000 reads.
        let c = fed((0..2000).map(|i| (i % 1000) as f32 / 1000.0));
        for (q, around) in [(0.01, 0.01), (0.05, 0.05), (0.1, 0.1), (0.5, 0.5)] {
            let t = c.threshold(q).unwrap();
            assert!((t - around).abs() < 2.0 / BINS as f32, "q {q}: {t}");
        }
        assert_eq!(c.threshold(0.0), Some(0.0), "nothing lies below the lowest read");
        assert_eq!(c.threshold(f32::NAN), Some(0.0));
    }

    #[test]
    fn ties_never_demote_everything() {
        let same = fed(std::iter::repeat_n(0.9, 5000));
        for q in [0.01, 0.05, 0.5, 0.99] {
            assert!(!same.is_low(0.9, q), "q {q}");
        }
        assert!(same.is_low(0.5, 0.05), "below everything the camera reports");
        // A vendor reporting only two values: 3 % at 0.5, the rest at 1.0.
        let two = fed((0..10_000).map(|i| if i % 100 < 3 { 0.5 } else { 1.0 }));
        assert!(two.is_low(0.5, 0.05), "the lowest 3 % lie within the lowest 5 %");
        assert!(!two.is_low(0.5, 0.02), "the 3 % at 0.5 are not all within the lowest 2 %");
        assert!(!two.is_low(1.0, 0.5));
    }

    #[test]
    fn the_window_forgets_old_blocks() {
        let block = usize::from(ConfidenceCalibration::BLOCK);
        // A camera that reported around 0.3 for a long time, then around 0.9.
        let mut c = fed((0..3 * block).map(|i| 0.3 + (i % 50) as f32 / 1000.0));
        assert!(c.is_low(0.3, 0.05));
        for i in 0..2 * block {
            c.observe(0.9 + (i % 50) as f32 / 1000.0);
        }
        assert!(c.reads() >= u32::from(ConfidenceCalibration::BLOCK));
        assert!(c.reads() < 2 * u32::from(ConfidenceCalibration::BLOCK));
        let t = c.threshold(0.05).unwrap();
        assert!(t > 0.89, "the old scale is forgotten: {t}");
        assert!(c.is_low(0.35, 0.05));
    }

    #[test]
    fn out_of_range_values_are_clamped() {
        let c = fed([-3.0, 7.0, 1.0, 0.0].into_iter().cycle().take(4000));
        assert_eq!(c.reads(), 4000);
        assert_eq!(c.threshold(0.4), Some(0.0));
        assert_eq!(c.threshold(0.6), Some((BINS - 1) as f32 / BINS as f32));
        assert!(c.is_low(0.5, 0.6));
    }
}
