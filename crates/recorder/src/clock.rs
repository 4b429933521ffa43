//! The camera's clock against the node's: RTP timestamps to wall time, without I/O (the caller
//! passes the time each frame was received).
//!
//! A frame cannot have been captured after it was received, so the wall time given to a frame is
//! never later than its receipt. The tracker keeps an anchor (an RTP tick count and the wall time
//! it stands for) and predicts `anchor wall + (ticks − anchor ticks) / clock rate`:
//! - a frame received *before* its prediction means the camera's clock runs fast or the anchor
//!   frame was delayed: the anchor moves to this frame (prediction = receipt);
//! - a frame received more than `max_lag` after its prediction means the camera's clock runs slow
//!   or jumped: the anchor moves to this frame too (a jump, counted in `reanchors`);
//! - otherwise the prediction stands, so network jitter does not reach the recorded times.

use chrono::{DateTime, Duration, Utc};

/// Maps one RTP session's timestamps to wall time.
#[derive(Debug, Clone)]
pub struct ClockTracker {
    clock_rate: u32,
    max_lag: Duration,
    anchor: Option<(i64, DateTime<Utc>)>,
    reanchors: u64,
}

impl ClockTracker {
    /// A tracker for a stream whose timestamps count `clock_rate` ticks per second, re-anchoring
    /// when frames arrive more than `max_lag` after their predicted time.
    pub fn new(clock_rate: u32, max_lag: Duration) -> Self {
        Self { clock_rate: clock_rate.max(1), max_lag, anchor: None, reanchors: 0 }
    }

    /// The wall time of the frame with RTP time `ticks` (elapsed since the session's start),
    /// received at `received`.
    pub fn observe(&mut self, ticks: i64, received: DateTime<Utc>) -> DateTime<Utc> {
        let Some(predicted) = self.predict(ticks) else {
            self.anchor = Some((ticks, received));
            return received;
        };
        if predicted > received || received - predicted > self.max_lag {
            self.anchor = Some((ticks, received));
            self.reanchors += 1;
            return received;
        }
        predicted
    }

    /// The wall time `ticks` stands for under the current anchor.
    pub fn predict(&self, ticks: i64) -> Option<DateTime<Utc>> {
        let (anchor_ticks, anchor_wall) = self.anchor?;
        let us = i128::from(ticks - anchor_ticks) * 1_000_000 / i128::from(self.clock_rate);
        Some(anchor_wall + Duration::microseconds(i64::try_from(us).ok()?))
    }

    /// How often the anchor moved after the first frame.
    pub fn reanchors(&self) -> u64 {
        self.reanchors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    #[test]
    fn jitter_is_smoothed_fast_clocks_pull_back_and_jumps_reanchor() {
        let mut c = ClockTracker::new(90_000, Duration::seconds(1));
        assert_eq!(c.observe(0, at(0)), at(0));
        // 40 ms of camera time received 25 ms late: the camera's time stands.
        assert_eq!(c.observe(3600, at(65)), at(40));
        // Received before its predicted time (the first frame was late): pulled back.
        assert_eq!(c.observe(7200, at(70)), at(70));
        assert_eq!(c.reanchors(), 1);
        // A frame 5 s late against the camera's clock: a jump.
        assert_eq!(c.observe(10_800, at(5110)), at(5110));
        assert_eq!(c.reanchors(), 2);
        assert_eq!(c.predict(10_800 + 90_000), Some(at(6110)));
    }
}
