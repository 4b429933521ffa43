//! Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks", 2014): the order of a
//! timeline that several agencies write.
//!
//! Each node stamps what it writes with its wall clock in milliseconds, a counter for what it
//! writes within one millisecond or while its wall clock lags a stamp it has seen, and its
//! agency (the tiebreak). A node that receives a stamp moves its clock past it, so whatever it
//! writes after reading a partner's update sorts after that update even when its wall clock is
//! behind the partner's. Sorting by stamp gives every node the same order, and one that never
//! contradicts what each writer saw.
//!
//! Written here rather than taken from a crate: `uhlc` (the one well-kept HLC crate) stamps
//! with an opaque binary id and NTP64 time, while a stamp here must name its agency, survive
//! JSON, and sort the same in SQLite as in Rust.

use std::cmp::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

/// How far ahead of this node's wall clock a received stamp may be. A partner whose clock runs
/// further ahead would drag every node's clock with it; its messages are refused instead, with
/// an error naming the skew.
pub const MAX_AHEAD_MS: i64 = 5 * 60 * 1000;

/// When something was written, and by which agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Milliseconds since the Unix epoch (the writer's hybrid clock, never behind its wall
    /// clock).
    pub ms: i64,
    /// Orders stamps of the same writer within one millisecond.
    pub n: u32,
    pub agency: AgencyId,
}

impl Stamp {
    /// The stamp's time (its wall-clock part).
    pub fn time(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.ms).single().unwrap_or_default()
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.n, self.agency.as_str()).cmp(&(other.ms, other.n, other.agency.as_str()))
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `events` in stamp order, each writer's stamp once (a message delivered twice counts
/// once): the order every node folds a timeline in.
pub fn causal_order<E>(events: &[E], stamp: impl Fn(&E) -> &Stamp) -> Vec<&E> {
    let mut sorted: Vec<&E> = events.iter().collect();
    sorted.sort_by(|a, b| stamp(a).cmp(stamp(b)));
    sorted.dedup_by(|a, b| stamp(a) == stamp(b));
    sorted
}

/// A stamp refused because it is too far ahead of this node's clock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the stamp is {ahead_ms} ms ahead of this node's clock (at most {MAX_AHEAD_MS} ms allowed): check the sender's clock"
)]
pub struct TooFarAhead {
    pub ahead_ms: i64,
}

/// One agency's hybrid logical clock.
#[derive(Debug, Clone)]
pub struct Clock {
    agency: AgencyId,
    ms: i64,
    n: u32,
}

impl Clock {
    /// A clock that has seen nothing yet. A node restores it with [`Clock::restore`] from the
    /// latest stamp it stored, so a restart never stamps behind what it wrote before.
    pub fn new(agency: AgencyId) -> Self {
        Self { agency, ms: 0, n: 0 }
    }

    /// Resumes from the latest stamp this node stored, however far ahead it is (it was this
    /// node's own or one it accepted): a restart never stamps behind what it wrote before.
    pub fn restore(&mut self, latest: &Stamp) {
        if (latest.ms, latest.n) > (self.ms, self.n) {
            self.ms = latest.ms;
            self.n = latest.n;
        }
    }

    /// The stamp of something written now.
    pub fn stamp(&mut self, wall: DateTime<Utc>) -> Stamp {
        let wall = wall.timestamp_millis();
        if wall > self.ms {
            self.ms = wall;
            self.n = 0;
        } else {
            self.n = self.n.saturating_add(1);
        }
        Stamp { ms: self.ms, n: self.n, agency: self.agency.clone() }
    }

    /// Moves the clock past a stamp read from elsewhere (a partner's update), unless the
    /// stamp is more than [`MAX_AHEAD_MS`] ahead of `wall`.
    pub fn observe(&mut self, seen: &Stamp, wall: DateTime<Utc>) -> Result<(), TooFarAhead> {
        let ahead_ms = seen.ms - wall.timestamp_millis();
        if ahead_ms > MAX_AHEAD_MS {
            return Err(TooFarAhead { ahead_ms });
        }
        if (seen.ms, seen.n) > (self.ms, self.n) {
            self.ms = seen.ms;
            self.n = seen.n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(s: &str) -> AgencyId {
        AgencyId::new(s).unwrap()
    }

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn stamps_only_grow_even_when_the_wall_clock_steps_back() {
        let mut c = Clock::new(agency("ro-isu"));
        let a = c.stamp(at(1_000));
        let b = c.stamp(at(1_000));
        let d = c.stamp(at(900)); // NTP stepped the clock back
        assert!(a < b && b < d, "{a:?} {b:?} {d:?}");
        assert_eq!(d.ms, 1_000);
        let e = c.stamp(at(2_000));
        assert_eq!((e.ms, e.n), (2_000, 0));
    }

    #[test]
    fn a_reply_sorts_after_what_it_answers_though_the_replier_clock_is_behind() {
        let mut ahead = Clock::new(agency("ua-dsns"));
        let mut behind = Clock::new(agency("ro-isu"));
        let update = ahead.stamp(at(10_000));
        behind.observe(&update, at(7_000)).unwrap();
        let reply = behind.stamp(at(7_001));
        assert!(reply > update, "{reply:?} must sort after {update:?}");
    }

    #[test]
    fn equal_times_are_ordered_by_agency_so_every_node_agrees() {
        let a = Stamp { ms: 5, n: 0, agency: agency("cz-hzs") };
        let b = Stamp { ms: 5, n: 0, agency: agency("pl-psp") };
        assert!(a < b);
        let mut v = vec![b.clone(), a.clone()];
        v.sort();
        assert_eq!(v, vec![a, b]);
    }

    #[test]
    fn a_stamp_far_in_the_future_is_refused_and_does_not_move_the_clock() {
        let mut c = Clock::new(agency("ro-isu"));
        let far = Stamp { ms: 1_000 + MAX_AHEAD_MS + 1, n: 0, agency: agency("x") };
        assert_eq!(c.observe(&far, at(1_000)), Err(TooFarAhead { ahead_ms: MAX_AHEAD_MS + 1 }));
        assert_eq!(c.stamp(at(1_000)).ms, 1_000);
    }
}
