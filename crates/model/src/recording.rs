//! Recorded video as the index knows it: a segment of one camera's stream, its codec
//! parameters and one entry per frame. No I/O: `limes-recorder` writes the files, `limes-store`
//! keeps the index rows (design/recording.md).
//!
//! ```
//! use limes_model::recording::{FrameEntry, decode_frame_index, encode_frame_index};
//! let frames = [FrameEntry { offset: 64, length: 1000, duration: 3600, key: true }];
//! assert_eq!(decode_frame_index(&encode_frame_index(&frames)).unwrap(), frames);
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CameraId;

/// The video codecs recorded, without transcoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    /// The name stored and shown: `h264` or `h265`.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
        }
    }

    /// The inverse of [`VideoCodec::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "h264" => Some(VideoCodec::H264),
            "h265" => Some(VideoCodec::H265),
            _ => None,
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a decoder needs besides the samples: the codec and its parameter sets as the camera
/// sent them (SPS and PPS; the VPS too for H.265).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodecParameters {
    pub codec: VideoCodec,
    /// RFC 6381 codec string, e.g. `avc1.64001E`.
    pub rfc6381: String,
    pub width: u32,
    pub height: u32,
    /// Ticks per second of the frames' timestamps and durations (90,000 for RTP video).
    pub clock_rate: u32,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    /// H.265's video parameter set; `None` for H.264.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vps: Option<Vec<u8>>,
}

/// One frame (access unit) of a segment: where its sample is in the segment's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameEntry {
    /// Offset of the sample's first byte in the file.
    pub offset: u64,
    /// Length of the sample in bytes.
    pub length: u32,
    /// Until the next frame, in clock ticks.
    pub duration: u32,
    /// A random access point: decodable without any earlier frame.
    pub key: bool,
}

/// Bytes per frame in [`encode_frame_index`]'s format.
pub const FRAME_ENTRY_LEN: usize = 17;

/// The frame index as stored: per frame, offset (u64), length (u32), duration (u32) and flags
/// (u8, bit 0 a key frame), little-endian.
pub fn encode_frame_index(frames: &[FrameEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len() * FRAME_ENTRY_LEN);
    for f in frames {
        out.extend_from_slice(&f.offset.to_le_bytes());
        out.extend_from_slice(&f.length.to_le_bytes());
        out.extend_from_slice(&f.duration.to_le_bytes());
        out.push(u8::from(f.key));
    }
    out
}

/// The inverse of [`encode_frame_index`]; `None` when the length is not a whole number of
/// entries or a flag byte holds unknown bits.
pub fn decode_frame_index(bytes: &[u8]) -> Option<Vec<FrameEntry>> {
    if !bytes.len().is_multiple_of(FRAME_ENTRY_LEN) {
        return None;
    }
    bytes
        .chunks_exact(FRAME_ENTRY_LEN)
        .map(|c| {
            let flags = c[16];
            (flags <= 1).then(|| FrameEntry {
                offset: u64::from_le_bytes(c[0..8].try_into().unwrap_or_default()),
                length: u32::from_le_bytes(c[8..12].try_into().unwrap_or_default()),
                duration: u32::from_le_bytes(c[12..16].try_into().unwrap_or_default()),
                key: flags == 1,
            })
        })
        .collect()
}

/// The index of one segment: a camera's frames from `start` to `end`, stored in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentIndex {
    pub camera: CameraId,
    /// The file's name, relative to the recordings folder (`<camera>/<start µs>.<codec>`).
    pub file: String,
    /// Wall time of the first frame.
    pub start: DateTime<Utc>,
    /// Wall time of the end of the last frame.
    pub end: DateTime<Utc>,
    pub parameters: CodecParameters,
    /// Length of the file in bytes: headers and samples.
    pub bytes: u64,
    pub frames: Vec<FrameEntry>,
}

impl SegmentIndex {
    /// Sum of the frames' durations, in clock ticks.
    pub fn duration_ticks(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.duration)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_index_round_trips_and_refuses_partial_entries() {
        let frames = vec![
            FrameEntry { offset: 40, length: 5000, duration: 3600, key: true },
            FrameEntry { offset: u64::MAX, length: u32::MAX, duration: 0, key: false },
        ];
        let bytes = encode_frame_index(&frames);
        assert_eq!(bytes.len(), 2 * FRAME_ENTRY_LEN);
        assert_eq!(decode_frame_index(&bytes), Some(frames));
        assert_eq!(decode_frame_index(&bytes[..FRAME_ENTRY_LEN + 3]), None);
        let mut bad_flags = bytes.clone();
        bad_flags[16] = 2;
        assert_eq!(decode_frame_index(&bad_flags), None);
        assert_eq!(decode_frame_index(&[]), Some(vec![]));
    }

    #[test]
    fn codec_names_round_trip() {
        for c in [VideoCodec::H264, VideoCodec::H265] {
            assert_eq!(VideoCodec::parse(c.as_str()), Some(c));
        }
        assert_eq!(VideoCodec::parse("mjpeg"), None);
    }
}
