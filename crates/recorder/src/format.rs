//! The segment file's bytes, without I/O: written by `files.rs`, scanned by recovery.
//!
//! ```text
//! "LIMESEG1" | header length u32 | header (JSON) | CRC-32 of the header u32
//! then per frame: time i64 | flags u8 | sample length u32 | CRC-32 of the sample u32 | sample
//! ```
//! All integers little-endian. A frame's time is in clock ticks since the segment's first frame;
//! the sample is the access unit as retina gives it (NAL units each with a 4-byte big-endian
//! length, no parameter sets: those are in the header and the index). The file describes itself,
//! so a segment whose index row never committed can be indexed from its whole frames.

use chrono::{DateTime, Utc};
use limes_model::CameraId;
use limes_model::recording::{CodecParameters, FrameEntry, SegmentIndex};
use serde::{Deserialize, Serialize};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"LIMESEG1";
/// Bytes before each sample.
pub const FRAME_HEADER_LEN: usize = 17;
/// A header longer than this is not one of ours.
const MAX_HEADER_LEN: usize = 1 << 20;

/// What the file's header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    pub camera: CameraId,
    /// Wall time of the first frame, µs since the epoch.
    pub start_us: i64,
    pub parameters: CodecParameters,
}

/// The header's bytes, magic to CRC.
pub fn encode_header(header: &SegmentHeader) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out
}

/// The bytes before a sample.
pub fn encode_frame_header(time: i64, key: bool, sample: &[u8]) -> [u8; FRAME_HEADER_LEN] {
    let mut out = [0; FRAME_HEADER_LEN];
    out[0..8].copy_from_slice(&time.to_le_bytes());
    out[8] = u8::from(key);
    out[9..13].copy_from_slice(&(sample.len() as u32).to_le_bytes());
    out[13..17].copy_from_slice(&crc32fast::hash(sample).to_le_bytes());
    out
}

/// A whole frame found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedFrame {
    pub time: i64,
    pub key: bool,
    /// Offset of the sample (after its frame header).
    pub offset: u64,
    pub length: u32,
}

/// A file read back: its header and its whole frames, up to the first torn or damaged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub header: SegmentHeader,
    pub frames: Vec<ScannedFrame>,
    /// Where the last whole frame ends: the file's length after recovery.
    pub whole_len: u64,
}

/// Reads the header and every whole frame (length within the file, CRC right, times not going
/// back); `None` when the header itself is not whole.
pub fn scan(bytes: &[u8]) -> Option<Scanned> {
    if bytes.get(..8)? != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
    if len > MAX_HEADER_LEN {
        return None;
    }
    let json = bytes.get(12..12 + len)?;
    let crc = u32::from_le_bytes(bytes.get(12 + len..16 + len)?.try_into().ok()?);
    if crc32fast::hash(json) != crc {
        return None;
    }
    let header: SegmentHeader = serde_json::from_slice(json).ok()?;
    let mut pos = 16 + len;
    let mut frames: Vec<ScannedFrame> = Vec::new();
    while let Some(h) = bytes.get(pos..pos + FRAME_HEADER_LEN) {
        let time = i64::from_le_bytes(h[0..8].try_into().ok()?);
        let flags = h[8];
        let length = u32::from_le_bytes(h[9..13].try_into().ok()?);
        let crc = u32::from_le_bytes(h[13..17].try_into().ok()?);
        let start = pos + FRAME_HEADER_LEN;
        let Some(sample) = bytes.get(start..start + length as usize) else { break };
        let time_goes_back = frames.last().is_some_and(|f| f.time > time);
        if flags > 1 || crc32fast::hash(sample) != crc || time_goes_back || (frames.is_empty() && time != 0) {
            break;
        }
        frames.push(ScannedFrame { time, key: flags == 1, offset: start as u64, length });
        pos = start + length as usize;
    }
    Some(Scanned { header, whole_len: pos as u64, frames })
}

/// The frame entries of frames at `times`, the last lasting `last_duration` ticks.
pub fn frame_entries(frames: &[ScannedFrame], last_duration: u32) -> Vec<FrameEntry> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| FrameEntry {
            offset: f.offset,
            length: f.length,
            duration: match frames.get(i + 1) {
                Some(next) => u32::try_from(next.time - f.time).unwrap_or(u32::MAX),
                None => last_duration,
            },
            key: f.key,
        })
        .collect()
}

/// The duration to give a segment's last frame when nothing follows it: the one before's.
pub fn guess_last_duration(frames: &[ScannedFrame]) -> u32 {
    match frames {
        [.., a, b] => u32::try_from(b.time - a.time).unwrap_or(0),
        _ => 0,
    }
}

/// The wall time `ticks` after `start`.
pub fn wall_after(start: DateTime<Utc>, ticks: u64, clock_rate: u32) -> DateTime<Utc> {
    let us = u128::from(ticks) * 1_000_000 / u128::from(clock_rate.max(1));
    start + chrono::Duration::microseconds(i64::try_from(us).unwrap_or(i64::MAX / 2))
}

/// The index of a scanned file named `file` (relative to the recordings folder).
pub fn index_of(scanned: &Scanned, file: String) -> SegmentIndex {
    let start = limes_store::from_us(scanned.header.start_us);
    let frames = frame_entries(&scanned.frames, guess_last_duration(&scanned.frames));
    let ticks = frames.iter().map(|f| u64::from(f.duration)).sum();
    SegmentIndex {
        camera: scanned.header.camera.clone(),
        file,
        start,
        end: wall_after(start, ticks, scanned.header.parameters.clock_rate),
        parameters: scanned.header.parameters.clone(),
        bytes: scanned.whole_len,
        frames,
    }
}

#[cfg(test)]
mod tests {
    use limes_model::recording::VideoCodec;

    use super::*;

    fn header() -> SegmentHeader {
        SegmentHeader {
            camera: CameraId::new("cam-1").unwrap(),
            start_us: 1_700_000_000_000_000,
            parameters: CodecParameters {
                codec: VideoCodec::H264,
                rfc6381: "avc1.640016".into(),
                width: 320,
                height: 240,
                clock_rate: 90_000,
                sps: vec![0x67, 1, 2],
                pps: vec![0x68, 3],
                vps: None,
            },
        }
    }

    fn file(samples: &[&[u8]]) -> Vec<u8> {
        let mut out = encode_header(&header());
        for (i, s) in samples.iter().enumerate() {
            out.extend_from_slice(&encode_frame_header(i as i64 * 3600, i == 0, s));
            out.extend_from_slice(s);
        }
        out
    }

    #[test]
    fn whole_frames_are_found_and_a_torn_or_damaged_tail_is_not() {
        let bytes = file(&[b"first", b"second", b"third"]);
        let all = scan(&bytes).unwrap();
        assert_eq!(all.header, header());
        assert_eq!(all.frames.len(), 3);
        assert_eq!(all.whole_len, bytes.len() as u64);
        let f = all.frames[1];
        assert_eq!(&bytes[f.offset as usize..][..f.length as usize], b"second");
        // Every cut inside the last frame keeps the first two.
        for cut in (all.frames[1].offset as usize + 6)..bytes.len() {
            let s = scan(&bytes[..cut]).unwrap();
            assert_eq!(s.frames.len(), 2, "cut at {cut}");
            assert_eq!(s.whole_len, all.frames[1].offset + 6);
        }
        // A flipped byte in the second sample ends the file at the first.
        let mut damaged = bytes.clone();
        damaged[all.frames[1].offset as usize] ^= 0xff;
        assert_eq!(scan(&damaged).unwrap().frames.len(), 1);
        // A torn header: nothing.
        assert_eq!(scan(&bytes[..20]), None);
        assert_eq!(scan(b"not a segment at all"), None);
    }

    #[test]
    fn the_index_of_a_scan_has_durations_from_times_and_the_end_from_their_sum() {
        let s = scan(&file(&[b"a", b"bb", b"ccc"])).unwrap();
        let index = index_of(&s, "cam-1/x.h264".into());
        assert_eq!(index.frames.iter().map(|f| f.duration).collect::<Vec<_>>(), [3600, 3600, 3600]);
        assert!(index.frames[0].key && !index.frames[1].key);
        assert_eq!((index.end - index.start).num_milliseconds(), 120);
        assert_eq!(index.bytes, s.whole_len);
    }
}
