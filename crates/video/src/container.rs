//! What kind of video file a footage upload is, from its first bytes: the containers drones and
//! body cameras write (ISO base media — MP4, MOV, 3GP —, Matroska/WebM, MPEG transport stream,
//! AVI). Nothing is decoded; a file that is none of these (a picture, a document, text) is refused
//! before it is kept.
//!
//! Written here rather than taken from a crate: the `infer` family of crates guesses hundreds of
//! types by magic numbers, while this needs four containers with their structure checked a step
//! further (a box size that fits, a transport stream's sync byte repeating every 188 bytes).
//!
//! ```
//! use limes_video::container::{Container, sniff};
//! let mp4 = [0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'i', b's', b'o', b'm', 0, 0, 2, 0, b'i', b's', b'o', b'm', b'm', b'p', b'4', b'1'];
//! assert_eq!(sniff(&mp4), Some(Container::IsoMedia));
//! assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), None);
//! ```

/// A video container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// ISO base media file format: MP4, MOV (QuickTime), 3GP, M4V.
    IsoMedia,
    /// Matroska or WebM.
    Matroska,
    /// MPEG-2 transport stream (some body cameras, broadcast recorders).
    TransportStream,
    /// AVI (RIFF).
    Avi,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::IsoMedia => "MP4/MOV",
            Container::Matroska => "Matroska/WebM",
            Container::TransportStream => "MPEG-TS",
            Container::Avi => "AVI",
        }
    }
}

/// How many first bytes [`sniff`] looks at, at most.
pub const SNIFF_BYTES: usize = 1024;

/// The box types an ISO media file may start with: `ftyp` first, as the standard asks, or, in
/// older QuickTime files, a movie, data or padding box.
const FIRST_BOXES: [&[u8; 4]; 6] = [b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"];

/// The container `prefix` (the file's first bytes, [`SNIFF_BYTES`] or all of a shorter file)
/// begins, if any.
pub fn sniff(prefix: &[u8]) -> Option<Container> {
    let prefix = &prefix[..prefix.len().min(SNIFF_BYTES)];
    if is_iso_media(prefix) {
        return Some(Container::IsoMedia);
    }
    if prefix.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) && prefix.len() >= 8 {
        return Some(Container::Matroska);
    }
    if prefix.len() >= 12 && &prefix[..4] == b"RIFF" && &prefix[8..12] == b"AVI " {
        return Some(Container::Avi);
    }
    if is_transport_stream(prefix) {
        return Some(Container::TransportStream);
    }
    None
}

fn is_iso_media(p: &[u8]) -> bool {
    if p.len() < 12 {
        return false;
    }
    let size = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    let kind: &[u8; 4] = p[4..8].try_into().expect("four bytes");
    if !FIRST_BOXES.contains(&kind) {
        return false;
    }
    // 0: to the end of the file; 1: a 64-bit size follows; otherwise at least the header.
    let size_fits = size == 0 || size == 1 || size >= 8;
    if kind == b"ftyp" {
        // A brand of four printable characters, and the box holds at least it and a version.
        return size_fits && size >= 16 && p[8..12].iter().all(|b| (0x20..0x7F).contains(b));
    }
    size_fits
}

/// The sync byte at the start of at least three consecutive 188-byte packets (two when the
/// prefix holds no more).
fn is_transport_stream(p: &[u8]) -> bool {
    const PACKET: usize = 188;
    let packets = (p.len() / PACKET).min(3);
    packets >= 2 && (0..packets).all(|i| p[i * PACKET] == 0x47)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0x18];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0, 0, 2, 0]);
        v.extend_from_slice(b"isommp41");
        v
    }

    #[test]
    fn the_containers_of_cameras_are_known() {
        assert_eq!(sniff(&ftyp(b"isom")), Some(Container::IsoMedia));
        assert_eq!(sniff(&ftyp(b"qt  ")), Some(Container::IsoMedia), "QuickTime");
        let mut old_quicktime = vec![0, 0, 0, 8];
        old_quicktime.extend_from_slice(b"wide");
        old_quicktime.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(sniff(&old_quicktime), Some(Container::IsoMedia));
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 1]), Some(Container::Matroska));
        let mut avi = b"RIFF\x24\x00\x00\x00AVI LIST".to_vec();
        avi.extend_from_slice(&[0; 8]);
        assert_eq!(sniff(&avi), Some(Container::Avi));
        let mut ts = vec![0u8; 188 * 4];
        for i in 0..4 {
            ts[i * 188] = 0x47;
        }
        assert_eq!(sniff(&ts), Some(Container::TransportStream));
        assert_eq!(Container::TransportStream.name(), "MPEG-TS");
    }

    #[test]
    fn what_is_not_video_is_refused() {
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1];
        let riff_wave = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
        let zip = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
        let text = b"This is not a video, only a text about one. ".repeat(30);
        let mut one_sync = vec![0u8; 400];
        one_sync[0] = 0x47;
        let mut bad_second_sync = vec![0u8; 188 * 3];
        bad_second_sync[0] = 0x47;
        bad_second_sync[188] = 0x47;
        let mut ftyp_too_small = ftyp(b"isom");
        ftyp_too_small[3] = 4;
        let mut ftyp_binary_brand = ftyp(b"isom");
        ftyp_binary_brand[8] = 0;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("short", b"ftyp".to_vec()),
            ("PNG", png),
            ("JPEG", jpeg),
            ("WAV", riff_wave),
            ("ZIP", zip),
            ("text", text),
            ("one TS sync byte", one_sync),
            ("a TS sync byte missing", bad_second_sync),
            ("an ftyp box smaller than its header", ftyp_too_small),
            ("an ftyp brand that is not text", ftyp_binary_brand),
            ("the Matroska magic alone", vec![0x1A, 0x45, 0xDF, 0xA3]),
        ];
        for (what, bytes) in cases {
            assert_eq!(sniff(&bytes), None, "{what}");
        }
    }

    #[test]
    fn only_the_first_bytes_are_read() {
        let mut long = vec![0u8; SNIFF_BYTES * 4];
        long[..24].copy_from_slice(&ftyp(b"isom"));
        assert_eq!(sniff(&long), Some(Container::IsoMedia));
        // A transport stream whose sync bytes only line up beyond the prefix is not one.
        let mut late = vec![0u8; SNIFF_BYTES * 4];
        for i in (5..20).map(|i| i * 188) {
            late[i] = 0x47;
        }
        assert_eq!(sniff(&late), None);
    }
}
