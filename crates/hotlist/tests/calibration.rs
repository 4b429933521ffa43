//! Properties of a camera's confidence calibration: what its threshold promises, against
//! the window of reads it says it holds.

use limes_hotlist::ConfidenceCalibration;
use proptest::prelude::*;

const BLOCK: usize = ConfidenceCalibration::BLOCK as usize;
const WARM_UP: usize = ConfidenceCalibration::WARM_UP as usize;

/// Confidences as readers report them: mostly high, a tail of low ones, some ties and a few
/// out of range or not numbers at all.
fn confidence() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => 0.80f32..1.0,
        2 => 0.0f32..=1.0,
        1 => (0u32..=20).prop_map(|k| k as f32 / 20.0),
        1 => prop_oneof![Just(f32::NAN), Just(-0.5f32), Just(1.5f32), Just(1.0f32), Just(0.0f32)],
    ]
}

/// Enough reads to cross warm-up and a block change or two, in runs of equal values.
fn reads() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec((confidence(), 1usize..400), 0..80)
        .prop_map(|runs| runs.into_iter().flat_map(|(c, n)| std::iter::repeat_n(c, n)).collect())
}

fn quantile() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.01f32), Just(0.05), Just(0.1), 0.0f32..=1.0]
}

fn fed(values: &[f32]) -> ConfidenceCalibration {
    let mut c = ConfidenceCalibration::new();
    for &v in values {
        c.observe(v);
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The window is the last `reads()` confidences given, between one and two blocks
    /// once a block has filled; memory does not grow with it.
    #[test]
    fn the_window_is_bounded(values in reads()) {
        let c = fed(&values);
        let given = values.iter().filter(|v| !v.is_nan()).count();
        let n = c.reads() as usize;
        prop_assert!(n <= given);
        prop_assert!(n < 2 * BLOCK);
        if given >= BLOCK {
            prop_assert!(n >= BLOCK);
        } else {
            prop_assert_eq!(n, given);
        }
        prop_assert_eq!(c.memory_bytes(), ConfidenceCalibration::new().memory_bytes());
        prop_assert!(c.memory_bytes() < 5 << 10);
    }

    /// No threshold before warm-up; after it, at most a share `q` of the window lies below
    /// the threshold, and the threshold is the highest that keeps that promise: the reads
    /// at or below its bin are more than `q` of the window.
    #[test]
    fn at_most_q_of_the_window_lies_below_the_threshold(values in reads(), q in quantile()) {
        let c = fed(&values);
        let window: Vec<f32> = {
            let given: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).map(|v| v.clamp(0.0, 1.0)).collect();
            given[given.len() - c.reads() as usize..].to_vec()
        };
        let Some(t) = c.threshold(q) else {
            prop_assert!(window.len() < WARM_UP);
            return Ok(());
        };
        prop_assert!(window.len() >= WARM_UP);
        let limit = (q * window.len() as f32).floor() as usize;
        let below = window.iter().filter(|&&v| v < t).count();
        prop_assert!(below <= limit, "{below} of {} below {t} at q {q}", window.len());
        // The threshold's bin ends at the next edge; the last bin also holds 1.0.
        let bin_top = t + 1.0 / 1024.0;
        let in_or_below_bin = |v: f32| v < bin_top || bin_top >= 1.0;
        if limit < window.len() {
            let at_or_in_bin = window.iter().filter(|&&v| in_or_below_bin(v)).count();
            prop_assert!(at_or_in_bin > limit, "{at_or_in_bin} of {} below {bin_top} at q {q}", window.len());
        }
        for &v in &window {
            prop_assert_eq!(c.is_low(v, q), v < t);
        }
    }

    /// A higher quantile never gives a lower threshold.
    #[test]
    fn the_threshold_is_monotone_in_q(values in reads(), a in quantile(), b in quantile()) {
        let c = fed(&values);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert_eq!(c.threshold(lo).is_some(), c.threshold(hi).is_some());
        if let (Some(x), Some(y)) = (c.threshold(lo), c.threshold(hi)) {
            prop_assert!(x <= y, "{lo} → {x}, {hi} → {y}");
        }
    }

    /// A camera that always reports the same value has no read below its threshold, at any
    /// quantile short of 1.
    #[test]
    fn ties_never_demote_everything(value in 0.0f32..=1.0, n in WARM_UP..3 * BLOCK, q in 0.0f32..0.99) {
        let c = fed(&vec![value; n]);
        prop_assert!(!c.is_low(value, q));
    }

    /// Another vendor's scale (here c → 0.5 + c/2) changes no judgement: the rule compares
    /// ranks. Values lie on a grid the histogram tells apart on both scales.
    #[test]
    fn a_rescaled_vendor_is_judged_alike(
        steps in prop::collection::vec(0u32..=256, WARM_UP..2 * BLOCK),
        q in quantile(),
    ) {
        let plain: Vec<f32> = steps.iter().map(|&k| k as f32 / 256.0).collect();
        let rescaled: Vec<f32> = plain.iter().map(|&c| 0.5 + c / 2.0).collect();
        let (a, b) = (fed(&plain), fed(&rescaled));
        for (&x, &y) in plain.iter().zip(&rescaled) {
            prop_assert_eq!(a.is_low(x, q), b.is_low(y, q), "{} / {} at q {}", x, y, q);
        }
    }
}
