//! Video as a domain, without I/O: no files, sockets, clock or async runtime.
//!
//! [`container`] tells from a file's first bytes whether it is a video container at all.
//! [`frames`] reads the pictures a decoder writes to a pipe, each bounded before it is read.
//! [`telemetry`] turns the telemetry that drones and body cameras write beside their footage
//! — GPX 1.0/1.1 tracks and DJI-style SRT subtitles — into one [`telemetry::Track`] of
//! timestamped positions, which answers where the camera was at any moment
//! ([`telemetry::Track::position_at`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use limes_video::telemetry::{Limits, SrtClock, parse};
//!
//! let srt = "1\n00:00:00,000 --> 00:00:01,000\nF/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7458, 48.0771, 17), D 221.21m, H 200.70m\n\n\
//!            2\n00:00:01,000 --> 00:00:02,000\nF/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7460, 48.0773, 17), D 221.18m, H 200.70m\n";
//! let start = Utc.with_ymd_and_hms(2021, 5, 1, 10, 0, 0).unwrap();
//! let track = parse(srt.as_bytes(), &SrtClock::starting(start), &Limits::default()).unwrap();
//! let at = track.position_at(start + chrono::TimeDelta::milliseconds(500)).unwrap();
//! assert!((at.lat - 48.0772).abs() < 1e-9 && (at.lon + 121.7459).abs() < 1e-9);
//! assert!(track.position_at(start + chrono::TimeDelta::seconds(5)).is_none());
//! ```

pub mod container;
pub mod frames;
pub mod mp4;
pub mod telemetry;
