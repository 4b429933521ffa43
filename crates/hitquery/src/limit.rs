//! How many evaluations each asking agency may have: a token bucket per agency, over times the
//! caller passes in (no clock here).
//!
//! Every evaluation is one guess at a plate for whoever asks, so the partner bounds them: an
//! agency starts with `burst` evaluations and gets `refill` back every `period`, never more than
//! `burst`. The edge asks [`RateLimiter::try_take`] before evaluating, refuses and audits when
//! it says no, and audits every evaluation it allows.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// Why a rate configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateConfigError {
    /// `burst` or `refill` is zero, or `period` is zero.
    #[error("burst, refill and period must all be more than zero")]
    Zero,
}

/// A token bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    burst: u32,
    refill: u32,
    period: Duration,
}

impl RateConfig {
    /// At most `burst` evaluations at once, `refill` more every `period`.
    ///
    /// For plates, `burst` 64 and `refill` 64 every 24 hours let an agency ask about 32 plates a
    /// day: plenty for investigations, and years for a brute force over even one region's
    /// plates.
    pub fn new(burst: u32, refill: u32, period: Duration) -> Result<Self, RateConfigError> {
        if burst == 0 || refill == 0 || period.is_zero() {
            return Err(RateConfigError::Zero);
        }
        Ok(Self { burst, refill, period })
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// What the limiter decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Evaluate; `remaining` evaluations are left in the agency's bucket.
    Allowed { remaining: u32 },
    /// Refuse now; the bucket holds enough again after `retry_after` (if nothing else is taken).
    Refused { retry_after: Duration },
    /// Refuse: the request costs more than a full bucket holds, so it is never allowed.
    TooLarge,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    /// When tokens were last added (or the bucket was last full).
    last: Duration,
}

/// Token buckets of evaluations, one per asking agency `K` (typically `limes_model::AgencyId`).
///
/// Times are [`Duration`]s since an origin the caller picks and keeps (the Unix epoch, the
/// process start); a time earlier than one already seen adds nothing, so a clock stepping back
/// never gives evaluations away.
#[derive(Debug, Clone)]
pub struct RateLimiter<K> {
    config: RateConfig,
    buckets: HashMap<K, Bucket>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(config: RateConfig) -> Self {
        Self { config, buckets: HashMap::new() }
    }

    /// Takes `cost` evaluations from `who`'s bucket at time `now` if it holds them, and takes
    /// nothing otherwise.
    pub fn try_take(&mut self, who: &K, cost: usize, now: Duration) -> Decision {
        let config = self.config;
        let Ok(cost) = u32::try_from(cost) else { return Decision::TooLarge };
        if cost > config.burst {
            return Decision::TooLarge;
        }
        let bucket = self.buckets.entry(who.clone()).or_insert(Bucket { tokens: config.burst, last: now });
        refill(bucket, &config, now);
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            return Decision::Allowed { remaining: bucket.tokens };
        }
        let periods = (cost - bucket.tokens).div_ceil(config.refill);
        let since_last = now.saturating_sub(bucket.last);
        let wait = config.period.checked_mul(periods).unwrap_or(Duration::MAX);
        Decision::Refused { retry_after: wait.saturating_sub(since_last) }
    }

    /// The evaluations `who` could take at `now`.
    pub fn remaining(&self, who: &K, now: Duration) -> u32 {
        self.buckets.get(who).map_or(self.config.burst, |bucket| {
            let mut bucket = *bucket;
            refill(&mut bucket, &self.config, now);
            bucket.tokens
        })
    }

    /// Forgets the agencies whose buckets are full again at `now`: they are as if never seen.
    pub fn forget_full(&mut self, now: Duration) {
        let config = self.config;
        self.buckets.retain(|_, bucket| {
            refill(bucket, &config, now);
            bucket.tokens < config.burst
        });
    }
}

/// Adds the refills of the whole periods since `bucket.last`.
fn refill(bucket: &mut Bucket, config: &RateConfig, now: Duration) {
    let Some(elapsed) = now.checked_sub(bucket.last) else { return };
    let periods = elapsed.as_nanos() / config.period.as_nanos();
    let added = periods.saturating_mul(config.refill.into());
    let missing = u128::from(config.burst - bucket.tokens);
    if added >= missing {
        bucket.tokens = config.burst;
        bucket.last = now;
    } else {
        // Fewer than `burst` periods: the casts cannot truncate.
        bucket.tokens += added as u32;
        bucket.last += config.period * periods as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn limiter() -> RateLimiter<&'static str> {
        // 10 at once, 2 more every hour.
        RateLimiter::new(RateConfig::new(10, 2, HOUR).unwrap())
    }

    #[test]
    fn a_new_agency_has_a_full_bucket_and_spends_it() {
        let mut l = limiter();
        let t = Duration::from_secs(1_000_000);
        assert_eq!(l.remaining(&"ro.igpf", t), 10);
        assert_eq!(l.try_take(&"ro.igpf", 4, t), Decision::Allowed { remaining: 6 });
        assert_eq!(l.try_take(&"ro.igpf", 6, t), Decision::Allowed { remaining: 0 });
        assert_eq!(l.try_take(&"ro.igpf", 2, t), Decision::Refused { retry_after: HOUR });
        // A refusal takes nothing.
        assert_eq!(l.remaining(&"ro.igpf", t), 0);
        // Other agencies have their own buckets.
        assert_eq!(l.try_take(&"ua.dpsu", 10, t), Decision::Allowed { remaining: 0 });
    }

    #[test]
    fn tokens_come_back_per_whole_period_up_to_the_burst() {
        let mut l = limiter();
        let t = Duration::from_secs(50_000);
        assert_eq!(l.try_take(&"a", 10, t), Decision::Allowed { remaining: 0 });
        // Half a period adds nothing, and says how long is left.
        let half = t + HOUR / 2;
        assert_eq!(l.try_take(&"a", 1, half), Decision::Refused { retry_after: HOUR / 2 });
        // The partial period is not lost: at t + 1 h there are 2.
        assert_eq!(l.remaining(&"a", t + HOUR), 2);
        assert_eq!(l.try_take(&"a", 3, t + HOUR + HOUR / 4), Decision::Refused { retry_after: HOUR * 3 / 4 });
        assert_eq!(l.try_take(&"a", 2, t + HOUR + HOUR / 4), Decision::Allowed { remaining: 0 });
        // Next refill still at t + 2 h, not t + 2 h 15 min.
        assert_eq!(l.remaining(&"a", t + 2 * HOUR), 2);
        // Never more than the burst, however long the pause.
        assert_eq!(l.remaining(&"a", t + 1000 * HOUR), 10);
        assert_eq!(l.try_take(&"a", 10, t + 1000 * HOUR), Decision::Allowed { remaining: 0 });
    }

    #[test]
    fn a_request_larger_than_the_burst_is_never_allowed() {
        let mut l = limiter();
        assert_eq!(l.try_take(&"a", 11, Duration::ZERO), Decision::TooLarge);
        assert_eq!(l.try_take(&"a", usize::MAX, Duration::ZERO), Decision::TooLarge);
        assert_eq!(l.remaining(&"a", Duration::ZERO), 10);
    }

    #[test]
    fn a_clock_stepping_back_gives_nothing_away() {
        let mut l = limiter();
        let t = 100 * HOUR;
        assert_eq!(l.try_take(&"a", 10, t), Decision::Allowed { remaining: 0 });
        assert!(matches!(l.try_take(&"a", 1, t - 50 * HOUR), Decision::Refused { .. }));
        assert_eq!(l.remaining(&"a", t - 50 * HOUR), 0);
        assert_eq!(l.remaining(&"a", t + HOUR), 2);
    }

    #[test]
    fn spending_at_the_limit_over_a_day_allows_exactly_burst_plus_refills() {
        let mut l = limiter();
        let mut allowed = 0;
        // One request of one evaluation every minute for 24 hours.
        for minute in 0..24 * 60 {
            if let Decision::Allowed { .. } = l.try_take(&"a", 1, Duration::from_secs(60 * minute)) {
                allowed += 1;
            }
        }
        // 10 at once, then 2 at each of hours 1..=23.
        assert_eq!(allowed, 10 + 2 * 23);
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let mut l = limiter();
        l.try_take(&"a", 1, Duration::ZERO);
        l.try_take(&"b", 10, Duration::ZERO);
        l.forget_full(HOUR);
        assert_eq!(l.buckets.len(), 1);
        assert_eq!(l.remaining(&"b", HOUR), 2);
    }

    #[test]
    fn zero_configs_are_refused() {
        assert_eq!(RateConfig::new(0, 1, HOUR), Err(RateConfigError::Zero));
        assert_eq!(RateConfig::new(1, 0, HOUR), Err(RateConfigError::Zero));
        assert_eq!(RateConfig::new(1, 1, Duration::ZERO), Err(RateConfigError::Zero));
    }
}
