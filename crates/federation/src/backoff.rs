//! How long a sender waits before trying a partner again.

use std::time::Duration;

/// Exponential backoff with jitter: `base · 2^attempt`, capped at `max`, then scaled by a
/// factor in [0.5, 1) so that many senders that failed together do not retry together.
/// `jitter` is a uniform sample in [0, 1) (the caller owns randomness).
pub fn delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX));
    exp.min(max).mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_never_exceeds_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(30);
        assert_eq!(delay(0, base, max, 0.0), Duration::from_millis(50));
        assert_eq!(delay(3, base, max, 0.999_999).as_millis(), 799);
        assert!(delay(3, base, max, 0.0) >= Duration::from_millis(400));
        for attempt in [10, 31, 64, u32::MAX] {
            assert!(delay(attempt, base, max, 0.999_999) <= max);
            assert!(delay(attempt, base, max, 0.0) >= max / 2);
        }
    }
}
