//! Fragmented MP4 (ISO/IEC 14496-12, with the AVC/HEVC sample entries of 14496-15) out of
//! recorded samples, without I/O.
//!
//! A file is one [`init_segment`] (`ftyp` + `moov`: one video track whose timescale is the
//! recording's clock rate, `avc1`/`avcC` for H.264 or `hvc1`/`hvcC` for H.265, and `mvex`
//! announcing fragments) followed by any number of [`media_segment`]s (`moof` + `mdat`). The
//! same bytes serve a downloadable clip and Media Source Extensions, which take exactly this
//! shape.
//!
//! Samples are access units as the recorder stores them: NAL units each preceded by its length
//! as 4 big-endian bytes, which is MP4's own sample format, so they are copied as they are.
//!
//! The boxes are written by the `mp4-atom` crate; this module only decides their content and
//! reads the few fields of an H.265 sequence parameter set that `hvcC` repeats.
//!
//! ```
//! use limes_model::recording::{CodecParameters, VideoCodec};
//! use limes_video::mp4::{Sample, init_segment, media_segment};
//!
//! let params = CodecParameters {
//!     codec: VideoCodec::H264,
//!     rfc6381: "avc1.64000D".into(),
//!     width: 320,
//!     height: 240,
//!     clock_rate: 90_000,
//!     sps: vec![0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10],
//!     pps: vec![0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0],
//!     vps: None,
//! };
//! let mut file = init_segment(&params).unwrap();
//! let idr = [0, 0, 0, 2, 0x65, 0x88];
//! let samples = [Sample { data: &idr, duration: 3600, key: true }];
//! file.extend(media_segment(1, 0, &samples).unwrap());
//! assert_eq!(&file[4..8], b"ftyp");
//! ```

use limes_model::recording::{CodecParameters, VideoCodec};
use mp4_atom::{
    Avc1, Avcc, Codec, Dinf, Dref, Encode, Ftyp, Hdlr, Hvc1, HvcCArray, Hvcc, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex,
    Mvhd, Stbl, Stco, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, Url, Visual, Vmhd,
};

/// The one track's id.
const TRACK_ID: u32 = 1;

/// Sample flags (14496-12 §8.8.3.1): a key frame depends on no other (`sample_depends_on`
/// = 2); any other frame depends on others (1) and is not a sync sample.
const SYNC_SAMPLE: u32 = 0x0200_0000;
const NON_SYNC_SAMPLE: u32 = 0x0101_0000;

/// The most samples one media segment holds (an hour at 120 frames per second); more is a
/// caller's mistake, not a clip.
pub const MAX_SAMPLES: usize = 432_000;

/// Why MP4 bytes could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Error {
    /// The codec parameters cannot describe a decodable stream.
    #[error("codec parameters: {0}")]
    Parameters(String),
    /// A media segment needs at least one sample.
    #[error("a media segment needs at least one sample")]
    NoSamples,
    /// More samples than [`MAX_SAMPLES`].
    #[error("{0} samples in one media segment, more than {MAX_SAMPLES}")]
    TooManySamples(usize),
    /// A sample is not a sequence of whole length-prefixed NAL units.
    #[error("sample {index}: {reason}")]
    Sample { index: usize, reason: &'static str },
    /// The segment would be larger than a 32-bit box size allows.
    #[error("media segment of {0} bytes is larger than 4 GiB")]
    TooLarge(u64),
    /// The box writer refused a value.
    #[error("writing boxes: {0}")]
    Encode(String),
}

/// One access unit to put in a media segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// NAL units, each after its length as 4 big-endian bytes.
    pub data: &'a [u8],
    /// Until the next sample, in the track's timescale (the parameters' clock rate).
    pub duration: u32,
    /// A random access point (IDR/IRAP picture).
    pub key: bool,
}

/// `ftyp` + `moov`: what a player needs before the first media segment.
pub fn init_segment(params: &CodecParameters) -> Result<Vec<u8>, Mp4Error> {
    if params.clock_rate == 0 {
        return Err(Mp4Error::Parameters("clock rate is 0".into()));
    }
    let (width, height) = dimensions(params)?;
    let visual = Visual { data_reference_index: 1, width, height, ..Default::default() };
    let codec = match params.codec {
        VideoCodec::H264 => Codec::Avc1(Avc1 { visual, avcc: avcc(params)?, ..Default::default() }),
        VideoCodec::H265 => Codec::Hvc1(Hvc1 { visual, hvcc: hvcc(params)?, ..Default::default() }),
    };
    let ftyp = Ftyp {
        major_brand: b"isom".into(),
        minor_version: 0x200,
        compatible_brands: vec![b"isom".into(), b"iso6".into(), b"mp41".into()],
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: params.clock_rate,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: 2,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: TRACK_ID,
                default_sample_description_index: 1,
                default_sample_duration: 0,
                default_sample_size: 0,
                default_sample_flags: 0,
            }],
        }),
        trak: vec![Trak {
            tkhd: Tkhd {
                track_id: TRACK_ID,
                enabled: true,
                in_movie: true,
                width: width.into(),
                height: height.into(),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd { timescale: params.clock_rate, language: "und".into(), ..Default::default() },
                hdlr: Hdlr { handler: b"vide".into(), name: "limes video".into() },
                minf: Minf {
                    vmhd: Some(Vmhd::default()),
                    dinf: Dinf { dref: Dref { entries: vec![Url::default().into()] } },
                    stbl: Stbl {
                        stsd: Stsd { codecs: vec![codec] },
                        stco: Some(Stco::default()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1024);
    ftyp.encode(&mut out).map_err(encode)?;
    moov.encode(&mut out).map_err(encode)?;
    Ok(out)
}

/// `moof` + `mdat`: the fragment numbered `sequence` (from 1, increasing), whose first sample
/// is decoded at `base_decode_time` (in the track's timescale, the sum of all earlier
/// durations).
pub fn media_segment(sequence: u32, base_decode_time: u64, samples: &[Sample]) -> Result<Vec<u8>, Mp4Error> {
    if samples.is_empty() {
        return Err(Mp4Error::NoSamples);
    }
    if samples.len() > MAX_SAMPLES {
        return Err(Mp4Error::TooManySamples(samples.len()));
    }
    let mut payload: u64 = 0;
    let mut entries = Vec::with_capacity(samples.len());
    for (index, s) in samples.iter().enumerate() {
        check_sample(s.data).map_err(|reason| Mp4Error::Sample { index, reason })?;
        payload += s.data.len() as u64;
        entries.push(TrunEntry {
            duration: Some(s.duration),
            size: Some(s.data.len() as u32),
            flags: Some(if s.key { SYNC_SAMPLE } else { NON_SYNC_SAMPLE }),
            cts: None,
        });
    }
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number: sequence },
        traf: vec![Traf {
            tfhd: Tfhd { track_id: TRACK_ID, default_base_is_moof: true, ..Default::default() },
            tfdt: Some(Tfdt { base_media_decode_time: base_decode_time }),
            trun: vec![Trun { data_offset: Some(0), samples: entries.into() }],
            ..Default::default()
        }],
    };
    // The data offset counts from the start of the moof to the first sample; the moof's own
    // length does not depend on the offset's value, so measure it once and write it again.
    let mut measure = Vec::new();
    moof.encode(&mut measure).map_err(encode)?;
    let offset = measure.len() as u64 + 8;
    let total = offset + payload;
    let mdat_size = u32::try_from(payload + 8).map_err(|_| Mp4Error::TooLarge(total))?;
    moof.traf[0].trun[0].data_offset = Some(i32::try_from(offset).map_err(|_| Mp4Error::TooLarge(total))?);
    let mut out = Vec::with_capacity(usize::try_from(total).map_err(|_| Mp4Error::TooLarge(total))?);
    moof.encode(&mut out).map_err(encode)?;
    // The mdat header by hand: mp4-atom's `Mdat` owns its payload, which would copy every
    // sample once more.
    out.extend_from_slice(&mdat_size.to_be_bytes());
    out.extend_from_slice(b"mdat");
    for s in samples {
        out.extend_from_slice(s.data);
    }
    Ok(out)
}

fn encode(e: mp4_atom::Error) -> Mp4Error {
    Mp4Error::Encode(e.to_string())
}

/// A sample must be one or more NAL units, each with a 4-byte length that fits.
fn check_sample(data: &[u8]) -> Result<(), &'static str> {
    if data.is_empty() {
        return Err("empty");
    }
    if u32::try_from(data.len()).is_err() {
        return Err("larger than 4 GiB");
    }
    let mut p = 0usize;
    while p < data.len() {
        let Some(len) = data.get(p..p + 4) else {
            return Err("a NAL unit length is cut short");
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len == 0 {
            return Err("a NAL unit is empty");
        }
        p = p.checked_add(4 + len).filter(|&end| end <= data.len()).ok_or("a NAL unit runs past the sample's end")?;
    }
    Ok(())
}

fn dimensions(params: &CodecParameters) -> Result<(u16, u16), Mp4Error> {
    let w = u16::try_from(params.width).ok().filter(|&w| w > 0);
    let h = u16::try_from(params.height).ok().filter(|&h| h > 0);
    match (w, h) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(Mp4Error::Parameters(format!("picture size {}x{}", params.width, params.height))),
    }
}

/// A parameter set must be a NAL unit short enough for a 16-bit length.
fn parameter_set<'a>(name: &str, nal: &'a [u8], min: usize) -> Result<&'a [u8], Mp4Error> {
    if nal.len() < min {
        return Err(Mp4Error::Parameters(format!("{name} of {} bytes is too short", nal.len())));
    }
    if nal.len() > usize::from(u16::MAX) {
        return Err(Mp4Error::Parameters(format!("{name} of {} bytes is too long", nal.len())));
    }
    Ok(nal)
}

fn avcc(params: &CodecParameters) -> Result<Avcc, Mp4Error> {
    let sps = parameter_set("SPS", &params.sps, 4)?;
    let pps = parameter_set("PPS", &params.pps, 2)?;
    if sps[0] & 0x1f != 7 {
        return Err(Mp4Error::Parameters(format!("the SPS is a NAL unit of type {}, not 7", sps[0] & 0x1f)));
    }
    if pps[0] & 0x1f != 8 {
        return Err(Mp4Error::Parameters(format!("the PPS is a NAL unit of type {}, not 8", pps[0] & 0x1f)));
    }
    Avcc::new(sps, pps).map_err(|e| Mp4Error::Parameters(e.to_string()))
}

const HEVC_VPS: u8 = 32;
const HEVC_SPS: u8 = 33;
const HEVC_PPS: u8 = 34;

fn hevc_type(nal: &[u8]) -> u8 {
    (nal[0] >> 1) & 0x3f
}

fn hvcc(params: &CodecParameters) -> Result<Hvcc, Mp4Error> {
    let vps = parameter_set("VPS", params.vps.as_deref().unwrap_or_default(), 3)?;
    let sps = parameter_set("SPS", &params.sps, 3)?;
    let pps = parameter_set("PPS", &params.pps, 3)?;
    for (name, nal, want) in [("VPS", vps, HEVC_VPS), ("SPS", sps, HEVC_SPS), ("PPS", pps, HEVC_PPS)] {
        if hevc_type(nal) != want {
            return Err(Mp4Error::Parameters(format!(
                "the {name} is a NAL unit of type {}, not {want}",
                hevc_type(nal)
            )));
        }
    }
    let s = HevcSps::parse(sps).map_err(|e| Mp4Error::Parameters(format!("SPS: {e}")))?;
    let array = |nal_unit_type, nal: &[u8]| HvcCArray { completeness: true, nal_unit_type, nalus: vec![nal.to_vec()] };
    Ok(Hvcc {
        configuration_version: 1,
        general_profile_space: s.profile_space,
        general_tier_flag: s.tier,
        general_profile_idc: s.profile_idc,
        general_profile_compatibility_flags: s.compatibility,
        general_constraint_indicator_flags: s.constraints,
        general_level_idc: s.level_idc,
        min_spatial_segmentation_idc: 0,
        parallelism_type: 0,
        chroma_format_idc: s.chroma_format_idc,
        bit_depth_luma_minus8: s.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: s.bit_depth_chroma_minus8,
        avg_frame_rate: 0,
        constant_frame_rate: 0,
        num_temporal_layers: s.max_sub_layers_minus1 + 1,
        temporal_id_nested: s.temporal_id_nesting,
        length_size_minus_one: 3,
        arrays: vec![array(HEVC_VPS, vps), array(HEVC_SPS, sps), array(HEVC_PPS, pps)],
    })
}

/// The fields of an H.265 sequence parameter set (H.265 §7.3.2.2) that `hvcC` repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HevcSps {
    max_sub_layers_minus1: u8,
    temporal_id_nesting: bool,
    profile_space: u8,
    tier: bool,
    profile_idc: u8,
    compatibility: [u8; 4],
    constraints: [u8; 6],
    level_idc: u8,
    chroma_format_idc: u8,
    bit_depth_luma_minus8: u8,
    bit_depth_chroma_minus8: u8,
}

impl HevcSps {
    /// `nal` is the whole NAL unit, its 2-byte header included.
    fn parse(nal: &[u8]) -> Result<Self, &'static str> {
        let rbsp = unescape(nal.get(2..).ok_or("shorter than its header")?);
        let mut r = Bits::new(&rbsp);
        r.skip(4)?; // sps_video_parameter_set_id
        let max_sub_layers_minus1 = r.bits(3)? as u8;
        if max_sub_layers_minus1 > 6 {
            return Err("more than 7 sub-layers");
        }
        let temporal_id_nesting = r.bit()?;
        // profile_tier_level(1, max_sub_layers_minus1): the general part is 12 whole bytes.
        let profile_space = r.bits(2)? as u8;
        let tier = r.bit()?;
        let profile_idc = r.bits(5)? as u8;
        let mut compatibility = [0u8; 4];
        for b in &mut compatibility {
            *b = r.bits(8)? as u8;
        }
        let mut constraints = [0u8; 6];
        for b in &mut constraints {
            *b = r.bits(8)? as u8;
        }
        let level_idc = r.bits(8)? as u8;
        let mut present = [(false, false); 7];
        for p in present.iter_mut().take(usize::from(max_sub_layers_minus1)) {
            *p = (r.bit()?, r.bit()?);
        }
        if max_sub_layers_minus1 > 0 {
            r.skip(2 * (8 - u32::from(max_sub_layers_minus1)))?; // reserved_zero_2bits
        }
        for &(profile, level) in present.iter().take(usize::from(max_sub_layers_minus1)) {
            if profile {
                r.skip(88)?;
            }
            if level {
                r.skip(8)?;
            }
        }
        r.golomb()?; // sps_seq_parameter_set_id
        let chroma_format_idc = r.golomb()?;
        if chroma_format_idc > 3 {
            return Err("chroma_format_idc above 3");
        }
        if chroma_format_idc == 3 {
            r.skip(1)?; // separate_colour_plane_flag
        }
        r.golomb()?; // pic_width_in_luma_samples
        r.golomb()?; // pic_height_in_luma_samples
        if r.bit()? {
            for _ in 0..4 {
                r.golomb()?; // conformance window offsets
            }
        }
        let bit_depth_luma_minus8 = r.golomb()?;
        let bit_depth_chroma_minus8 = r.golomb()?;
        if bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8 {
            return Err("bit depth above 16");
        }
        Ok(Self {
            max_sub_layers_minus1,
            temporal_id_nesting,
            profile_space,
            tier,
            profile_idc,
            compatibility,
            constraints,
            level_idc,
            chroma_format_idc: chroma_format_idc as u8,
            bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
            bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
        })
    }
}

/// The RBSP of a NAL unit's payload: every `00 00 03` loses its emulation-prevention `03`.
fn unescape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// A big-endian bit reader over an RBSP.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, &'static str> {
        let byte = self.data.get(self.pos / 8).ok_or("ends too early")?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    fn bits(&mut self, n: u32) -> Result<u32, &'static str> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Ok(v)
    }

    fn skip(&mut self, n: u32) -> Result<(), &'static str> {
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err("ends too early");
        }
        self.pos = end;
        Ok(())
    }

    /// An unsigned Exp-Golomb code (`ue(v)`), at most 32 bits wide.
    fn golomb(&mut self) -> Result<u32, &'static str> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err("an Exp-Golomb code is too long");
            }
        }
        Ok(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)) as u32)
    }
}

#[cfg(test)]
mod tests;
