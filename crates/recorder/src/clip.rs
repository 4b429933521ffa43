//! Clips: one camera's recording from one moment to another, cut from its segments and made
//! into a fragmented MP4 (`limes_video::mp4`). The signature is the caller's
//! (`limes_federation::clip`): this module reads files and the index, it holds no key.
//!
//! How a clip is cut (design/recording.md, "Clips"):
//! - it starts at the last key frame at or before `from` (a clip that started on another frame
//!   could not be decoded), or at the first frame after `from` when `from` falls before or
//!   between segments (every segment starts with a key frame);
//! - it ends with the last frame that starts before `to`;
//! - it runs across segment boundaries: each segment becomes one MP4 fragment and decode times
//!   continue from fragment to fragment (a gap where the stream was lost is not kept in the
//!   MP4's timeline: the frame before it lasts as the index says);
//! - segments whose codec parameters differ cannot share one MP4's sample entry: such a clip is
//!   refused ([`ClipError::ParametersChange`]) with the time of the change, so the caller can ask
//!   for two clips instead;
//! - every sample is read with its CRC checked against the segment file's frame header: a clip
//!   is never made, and so never signed, from damaged bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use limes_model::CameraId;
use limes_model::recording::{CodecParameters, SegmentIndex};
use limes_store::{Store, StoreError};
use limes_video::mp4::{self, Mp4Error, Sample};

use crate::format::FRAME_HEADER_LEN;

/// How much one clip may be.
#[derive(Debug, Clone, Copy)]
pub struct ClipLimits {
    /// The longest time between `from` and `to`.
    pub max_span: TimeDelta,
    /// The most sample bytes (the clip is made in memory).
    pub max_bytes: u64,
}

impl Default for ClipLimits {
    /// One hour, 1 GiB.
    fn default() -> Self {
        Self { max_span: TimeDelta::hours(1), max_bytes: 1 << 30 }
    }
}

/// A clip cut from the recordings.
#[derive(Debug, Clone)]
pub struct Clip {
    pub camera: CameraId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Wall time of the first frame (a key frame).
    pub first_frame: DateTime<Utc>,
    /// Wall time of the last frame.
    pub last_frame: DateTime<Utc>,
    pub frames: u64,
    pub parameters: CodecParameters,
    /// The MP4 file: init segment, then one fragment per recorded segment used.
    pub mp4: Vec<u8>,
}

/// Why a clip could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// `to` is not after `from`.
    #[error("the clip's end {to} is not after its start {from}")]
    Empty { from: DateTime<Utc>, to: DateTime<Utc> },
    /// Longer than [`ClipLimits::max_span`].
    #[error("a clip of {seconds} s is longer than the {max_seconds} s allowed")]
    TooLong { seconds: i64, max_seconds: i64 },
    /// Nothing of the camera was recorded between `from` and `to`.
    #[error("camera {camera} has no recording between {from} and {to}")]
    NothingRecorded { camera: CameraId, from: DateTime<Utc>, to: DateTime<Utc> },
    /// The codec parameters change inside the clip; ask for a clip on each side of `at`.
    #[error("the camera's codec parameters change at {at} ({before} to {after}): ask for a clip on each side of it")]
    ParametersChange { at: DateTime<Utc>, before: String, after: String },
    /// More sample bytes than [`ClipLimits::max_bytes`].
    #[error("the clip would hold more than {max} bytes of video")]
    TooLarge { max: u64 },
    /// A segment file is missing, short, or a sample's CRC does not match: the recording is
    /// damaged there.
    #[error("segment {path}: {reason}")]
    Damaged { path: PathBuf, reason: String },
    /// The index could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The recorded samples or parameters could not be made into MP4.
    #[error("making the MP4: {0}")]
    Mp4(#[from] Mp4Error),
}

/// The wall time `ticks` after `start`.
fn after(start: DateTime<Utc>, ticks: u64, clock_rate: u32) -> DateTime<Utc> {
    crate::format::wall_after(start, ticks, clock_rate)
}

/// Which frames of one segment a clip takes, and when the first starts.
struct Cut<'a> {
    segment: &'a SegmentIndex,
    first: usize,
    /// One past the last.
    end: usize,
    first_time: DateTime<Utc>,
    last_time: DateTime<Utc>,
}

/// The frames of `segments` (one camera's, oldest first) that a clip from `from` to `to` takes.
fn plan<'a>(segments: &'a [SegmentIndex], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Cut<'a>> {
    let mut cuts: Vec<Cut<'a>> = Vec::new();
    for s in segments.iter().filter(|s| s.end > from && s.start < to && !s.frames.is_empty()) {
        let rate = s.parameters.clock_rate;
        let mut ticks = 0u64;
        let (mut first, mut first_time) = (None, s.start);
        let mut end = 0;
        let mut last_time = s.start;
        for (i, f) in s.frames.iter().enumerate() {
            let t = after(s.start, ticks, rate);
            if t >= to {
                break;
            }
            // Before `from`, keep moving the start to each key frame; from `from` on, the start
            // is fixed (the first frame of a segment that starts after `from` is a key frame).
            if f.key && (t <= from || first.is_none()) {
                first = Some(i);
                first_time = t;
            }
            end = i + 1;
            last_time = t;
            ticks += u64::from(f.duration);
        }
        if let Some(first) = first.filter(|&f| f < end) {
            cuts.push(Cut { segment: s, first, end, first_time, last_time });
        }
    }
    cuts
}

/// Cuts `camera`'s recording from `from` to `to` out of the segments in `store` (files under
/// `root`, `Store::recordings_dir`) and makes it an MP4.
pub fn cut(
    store: &Store,
    root: &Path,
    camera: &CameraId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limits: &ClipLimits,
) -> Result<Clip, ClipError> {
    if to <= from {
        return Err(ClipError::Empty { from, to });
    }
    if to - from > limits.max_span {
        return Err(ClipError::TooLong {
            seconds: (to - from).num_seconds(),
            max_seconds: limits.max_span.num_seconds(),
        });
    }
    let recordings = store.recordings(Some(camera))?;
    let segments: Vec<SegmentIndex> = recordings.into_iter().map(|r| r.index).collect();
    let cuts = plan(&segments, from, to);
    let (Some(head), Some(tail)) = (cuts.first(), cuts.last()) else {
        return Err(ClipError::NothingRecorded { camera: camera.clone(), from, to });
    };
    let parameters = head.segment.parameters.clone();
    for c in &cuts[1..] {
        if c.segment.parameters != parameters {
            return Err(ClipError::ParametersChange {
                at: c.segment.start,
                before: describe(&parameters),
                after: describe(&c.segment.parameters),
            });
        }
    }
    let bytes: u64 =
        cuts.iter().flat_map(|c| &c.segment.frames[c.first..c.end]).map(|f| u64::from(f.length)).sum::<u64>();
    if bytes > limits.max_bytes {
        return Err(ClipError::TooLarge { max: limits.max_bytes });
    }
    let mut out = mp4::init_segment(&parameters)?;
    out.reserve(usize::try_from(bytes).unwrap_or(0));
    let mut decode_time = 0u64;
    let mut frames = 0u64;
    for (n, c) in cuts.iter().enumerate() {
        let data = read_frames(root, c)?;
        let mut samples = Vec::with_capacity(c.end - c.first);
        let mut p = 0usize;
        for f in &c.segment.frames[c.first..c.end] {
            // The header before each sample is checked by `read_frames`; skip it here.
            p += FRAME_HEADER_LEN;
            samples.push(Sample { data: &data[p..p + f.length as usize], duration: f.duration, key: f.key });
            p += f.length as usize;
        }
        let sequence = u32::try_from(n + 1).unwrap_or(u32::MAX);
        out.extend(mp4::media_segment(sequence, decode_time, &samples)?);
        decode_time += samples.iter().map(|s| u64::from(s.duration)).sum::<u64>();
        frames += samples.len() as u64;
    }
    Ok(Clip {
        camera: camera.clone(),
        from,
        to,
        first_frame: head.first_time,
        last_frame: tail.last_time,
        frames,
        parameters,
        mp4: out,
    })
}

fn describe(p: &CodecParameters) -> String {
    format!("{} {}x{}", p.rfc6381, p.width, p.height)
}

/// The bytes of a cut's frames, each with its frame header, read in one pass and checked: the
/// frames lie back to back in the file (invariant 2), each header gives the sample's length
/// and CRC as the index does.
fn read_frames(root: &Path, c: &Cut) -> Result<Vec<u8>, ClipError> {
    let path = root.join(&c.segment.file);
    let damaged = |reason: String| ClipError::Damaged { path: path.clone(), reason };
    let frames = &c.segment.frames[c.first..c.end];
    let start = frames[0].offset.checked_sub(FRAME_HEADER_LEN as u64).ok_or_else(|| damaged("bad offset".into()))?;
    let last = frames[frames.len() - 1];
    let end = last.offset + u64::from(last.length);
    let mut expected = start;
    for f in frames {
        if f.offset != expected + FRAME_HEADER_LEN as u64 {
            return Err(damaged(format!(
                "the index's frame at offset {} is not where the file's next one is",
                f.offset
            )));
        }
        expected = f.offset + u64::from(f.length);
    }
    let mut file = File::open(&path).map_err(|e| damaged(e.to_string()))?;
    file.seek(SeekFrom::Start(start)).map_err(|e| damaged(e.to_string()))?;
    let len = usize::try_from(end - start).map_err(|_| damaged("too large".into()))?;
    let mut data = vec![0; len];
    file.read_exact(&mut data).map_err(|e| damaged(format!("reading {len} bytes at {start}: {e}")))?;
    let mut p = 0usize;
    for f in frames {
        let header = &data[p..p + FRAME_HEADER_LEN];
        let length = u32::from_le_bytes([header[9], header[10], header[11], header[12]]);
        let crc = u32::from_le_bytes([header[13], header[14], header[15], header[16]]);
        p += FRAME_HEADER_LEN;
        let sample = &data[p..p + f.length as usize];
        if length != f.length || crc32fast::hash(sample) != crc {
            return Err(damaged(format!("the frame at offset {} does not match its CRC or length", f.offset)));
        }
        p += f.length as usize;
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use limes_model::recording::{FrameEntry, VideoCodec};

    use super::*;

    /// A segment starting at `start` s with 25 frames a second, a key frame every `gop`.
    fn segment(start: i64, frames: usize, gop: usize) -> SegmentIndex {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let frames: Vec<FrameEntry> = (0..frames)
            .map(|i| FrameEntry { offset: 100 + i as u64 * 117, length: 100, duration: 3600, key: i % gop == 0 })
            .collect();
        let start = t0 + TimeDelta::seconds(start);
        SegmentIndex {
            camera: CameraId::new("c").unwrap(),
            file: "c/x.h264".into(),
            start,
            end: start + TimeDelta::milliseconds(40 * frames.len() as i64),
            parameters: CodecParameters {
                codec: VideoCodec::H264,
                rfc6381: "avc1.64000D".into(),
                width: 320,
                height: 240,
                clock_rate: 90_000,
                sps: vec![],
                pps: vec![],
                vps: None,
            },
            bytes: 0,
            frames,
        }
    }

    fn at(s: f64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::microseconds((s * 1e6) as i64)
    }

    /// (segment, first, end) of each cut.
    fn check(segments: &[SegmentIndex], from: f64, to: f64, expected: &[(usize, usize, usize)]) {
        let cuts = plan(segments, at(from), at(to));
        let got: Vec<_> = cuts
            .iter()
            .map(|c| (segments.iter().position(|s| std::ptr::eq(s, c.segment)).unwrap(), c.first, c.end))
            .collect();
        assert_eq!(got, expected, "{from}..{to}");
    }

    #[test]
    fn clips_start_at_a_key_frame_and_cross_segments() {
        // Two 4 s segments (100 frames, key frame every 25) with a 2 s gap between them.
        let s = [segment(0, 100, 25), segment(6, 100, 25)];
        check(&s, 1.5, 2.5, &[(0, 25, 63)]);
        check(&s, 1.0, 2.0, &[(0, 25, 50)]);
        check(&s, 0.99, 1.01, &[(0, 0, 26)]);
        check(&s, 3.0, 7.0, &[(0, 75, 100), (1, 0, 25)]);
        // From inside the gap: the next segment's first (key) frame.
        check(&s, 4.5, 6.5, &[(1, 0, 13)]);
        // Before everything, after everything.
        check(&s, -5.0, 0.04, &[(0, 0, 1)]);
        check(&s, -5.0, 0.0, &[]);
        check(&s, 10.0, 20.0, &[]);
        check(&s, 4.5, 5.5, &[]);
    }
}
