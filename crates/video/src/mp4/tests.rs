use limes_model::recording::{CodecParameters, VideoCodec};
use mp4_atom::{Any, Codec, Decode, Ftyp, Moof, Moov};

use super::*;

/// Parameter sets as x264 and x265 write them for a 320x240 4:2:0 picture (High and Main).
const H264_SPS: &str = "6764000dacd94141fb011000000300100000030320f1429960";
const H264_PPS: &str = "68ebe3cb22c0";
const H265_VPS: &str = "40010c01ffff01600000030090000003000003003c959809";
const H265_SPS: &str = "42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003210";
const H265_PPS: &str = "4401c172b46240";
/// x265's 4:4:4 (Main 4:4:4, range extensions) SPS: `chroma_format_idc` 3.
const H265_SPS_444: &str = "4201010408000003009e0800000300003c90014101e2cb2b349265780b7020200040000003004000000642";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn h264() -> CodecParameters {
    CodecParameters {
        codec: VideoCodec::H264,
        rfc6381: "avc1.64000D".into(),
        width: 320,
        height: 240,
        clock_rate: 90_000,
        sps: hex(H264_SPS),
        pps: hex(H264_PPS),
        vps: None,
    }
}

fn h265() -> CodecParameters {
    CodecParameters {
        codec: VideoCodec::H265,
        rfc6381: "hvc1.1.6.L60.90".into(),
        sps: hex(H265_SPS),
        pps: hex(H265_PPS),
        vps: Some(hex(H265_VPS)),
        ..h264()
    }
}

fn decode_init(bytes: &[u8]) -> (Ftyp, Moov) {
    let mut buf = bytes;
    let ftyp = Ftyp::decode(&mut buf).unwrap();
    let moov = Moov::decode(&mut buf).unwrap();
    assert!(buf.is_empty(), "nothing after the moov");
    (ftyp, moov)
}

#[test]
fn h264_init_segment_describes_one_avc1_track() {
    let (ftyp, moov) = decode_init(&init_segment(&h264()).unwrap());
    assert_eq!(ftyp.major_brand, b"isom".into());
    assert_eq!(moov.mvhd.timescale, 90_000);
    assert_eq!(moov.mvex.as_ref().unwrap().trex[0].track_id, 1);
    let [trak] = &moov.trak[..] else { panic!("one track") };
    assert_eq!(trak.mdia.mdhd.timescale, 90_000);
    assert_eq!(trak.mdia.hdlr.handler, b"vide".into());
    let [Codec::Avc1(avc1)] = &trak.mdia.minf.stbl.stsd.codecs[..] else { panic!("avc1") };
    assert_eq!((avc1.visual.width, avc1.visual.height), (320, 240));
    assert_eq!((avc1.avcc.avc_profile_indication, avc1.avcc.avc_level_indication), (0x64, 0x0d));
    assert_eq!(avc1.avcc.length_size, 4);
    assert_eq!(avc1.avcc.sequence_parameter_sets, vec![hex(H264_SPS)]);
    assert_eq!(avc1.avcc.picture_parameter_sets, vec![hex(H264_PPS)]);
}

#[test]
fn h265_init_segment_repeats_the_sps_profile_in_hvcc() {
    let (_, moov) = decode_init(&init_segment(&h265()).unwrap());
    let [Codec::Hvc1(hvc1)] = &moov.trak[0].mdia.minf.stbl.stsd.codecs[..] else { panic!("hvc1") };
    let c = &hvc1.hvcc;
    assert_eq!((c.general_profile_space, c.general_tier_flag, c.general_profile_idc), (0, false, 1));
    assert_eq!(c.general_profile_compatibility_flags, [0x60, 0, 0, 0]);
    assert_eq!(c.general_constraint_indicator_flags, [0x90, 0, 0, 0, 0, 0]);
    assert_eq!(c.general_level_idc, 60);
    assert_eq!((c.chroma_format_idc, c.bit_depth_luma_minus8, c.bit_depth_chroma_minus8), (1, 0, 0));
    assert_eq!((c.num_temporal_layers, c.temporal_id_nested, c.length_size_minus_one), (1, true, 3));
    let types: Vec<_> = c.arrays.iter().map(|a| (a.nal_unit_type, a.completeness, a.nalus.len())).collect();
    assert_eq!(types, [(32, true, 1), (33, true, 1), (34, true, 1)]);
    assert_eq!(c.arrays[1].nalus[0], hex(H265_SPS));

    let rext = HevcSps::parse(&hex(H265_SPS_444)).unwrap();
    assert_eq!((rext.profile_idc, rext.chroma_format_idc, rext.level_idc), (4, 3, 60));
}

#[test]
fn media_segment_points_its_run_at_the_samples() {
    let key = [0, 0, 0, 3, 0x65, 0x88, 0x84, 0, 0, 0, 1, 0x06];
    let other = [0, 0, 0, 2, 0x41, 0x9a];
    let samples =
        [Sample { data: &key, duration: 3600, key: true }, Sample { data: &other, duration: 3601, key: false }];
    let bytes = media_segment(7, 123_456, &samples).unwrap();
    let mut buf = &bytes[..];
    let moof = Moof::decode(&mut buf).unwrap();
    assert_eq!(moof.mfhd.sequence_number, 7);
    let traf = &moof.traf[0];
    assert!(traf.tfhd.default_base_is_moof);
    assert_eq!(traf.tfdt.as_ref().unwrap().base_media_decode_time, 123_456);
    let trun = &traf.trun[0];
    let entries: Vec<_> = trun.samples.iter().map(|e| (e.size, e.duration, e.flags)).collect();
    assert_eq!(entries, [(Some(12), Some(3600), Some(SYNC_SAMPLE)), (Some(6), Some(3601), Some(NON_SYNC_SAMPLE))]);
    let offset = trun.data_offset.unwrap() as usize;
    assert_eq!(&bytes[offset..offset + 12], &key);
    assert_eq!(&bytes[offset + 12..], &other);
    let Any::Mdat(mdat) = Any::decode(&mut buf).unwrap() else { panic!("mdat") };
    assert_eq!(mdat.data, [&key[..], &other[..]].concat());
}

#[test]
fn hostile_samples_are_refused_by_place() {
    let good = [0u8, 0, 0, 1, 0x65];
    let check = |data: &[u8], expected: Mp4Error| {
        let samples = [Sample { data: &good, duration: 1, key: true }, Sample { data, duration: 1, key: false }];
        assert_eq!(media_segment(1, 0, &samples), Err(expected), "{data:?}");
    };
    check(&[], Mp4Error::Sample { index: 1, reason: "empty" });
    check(&[0, 0, 1], Mp4Error::Sample { index: 1, reason: "a NAL unit length is cut short" });
    check(&[0, 0, 0, 5, 1, 2], Mp4Error::Sample { index: 1, reason: "a NAL unit runs past the sample's end" });
    check(&[0xff, 0xff, 0xff, 0xff, 1], Mp4Error::Sample { index: 1, reason: "a NAL unit runs past the sample's end" });
    check(&[0, 0, 0, 0], Mp4Error::Sample { index: 1, reason: "a NAL unit is empty" });
    check(&[0, 0, 0, 1, 0x41, 0, 0], Mp4Error::Sample { index: 1, reason: "a NAL unit length is cut short" });
    assert_eq!(media_segment(1, 0, &[]), Err(Mp4Error::NoSamples));
}

#[test]
fn garbage_parameters_are_refused_with_what_is_wrong() {
    let check = |params: CodecParameters, expected: &str| {
        let e = init_segment(&params).unwrap_err();
        assert_eq!(e.to_string(), format!("codec parameters: {expected}"));
    };
    check(CodecParameters { sps: vec![], ..h264() }, "SPS of 0 bytes is too short");
    check(CodecParameters { sps: vec![0x68, 1, 2, 3], ..h264() }, "the SPS is a NAL unit of type 8, not 7");
    check(CodecParameters { pps: hex(H264_SPS), ..h264() }, "the PPS is a NAL unit of type 7, not 8");
    check(CodecParameters { sps: vec![0x67; 70_000], ..h264() }, "SPS of 70000 bytes is too long");
    check(CodecParameters { width: 0, ..h264() }, "picture size 0x240");
    check(CodecParameters { height: 70_000, ..h264() }, "picture size 320x70000");
    check(CodecParameters { clock_rate: 0, ..h264() }, "clock rate is 0");
    check(CodecParameters { vps: None, ..h265() }, "VPS of 0 bytes is too short");
    check(CodecParameters { sps: hex(H265_PPS), ..h265() }, "the SPS is a NAL unit of type 34, not 33");
    check(CodecParameters { sps: hex(&H265_SPS[..30]), ..h265() }, "SPS: ends too early");
    // An H.264 SPS given as H.265's.
    check(
        CodecParameters { vps: Some(hex(H265_VPS)), ..CodecParameters { codec: VideoCodec::H265, ..h264() } },
        "the SPS is a NAL unit of type 51, not 33",
    );
}

#[test]
fn emulation_prevention_bytes_are_removed() {
    assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), [0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(unescape(&[1, 3, 0, 3]), [1, 3, 0, 3]);
}

proptest::proptest! {
    #[test]
    fn any_sps_bytes_give_an_answer_not_a_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let mut sps = vec![0x42, 0x01];
        sps.extend(tail);
        let _ = HevcSps::parse(&sps);
        let _ = init_segment(&CodecParameters { sps, ..h265() });
    }

    #[test]
    fn any_sample_bytes_give_an_answer_not_a_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = media_segment(1, 0, &[Sample { data: &data, duration: 1, key: true }]);
    }
}
