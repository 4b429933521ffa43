//! Decoded frames as a stream of binary PPM pictures (`P6`), the form a decoder writes to a pipe
//! (`ffmpeg … -f image2pipe -c:v ppm pipe:1`): each picture names its own size, so a stream
//! whose resolution changes mid-way needs no probing and no second channel.
//!
//! Written by hand: the `image` crate decodes one PNM picture from a whole buffer, but not
//! pictures back to back from a pipe with a bound on each one's size before it is read, which is
//! what a node fed by a decoder it does not control needs (a hostile or broken stream must not
//! make it allocate 8K × 8K × 3 bytes because a header says so).
//!
//! ```
//! use limes_video::frames::{FrameLimits, FrameReader};
//! let mut stream = b"P6\n2 1\n255\n".to_vec();
//! stream.extend_from_slice(&[255, 0, 0, 0, 0, 255]);
//! let mut frames = FrameReader::new(&stream[..], FrameLimits::default());
//! let frame = frames.next_frame().unwrap().unwrap();
//! assert_eq!((frame.width, frame.height, &frame.rgb[..3]), (2, 1, &[255, 0, 0][..]));
//! assert!(frames.next_frame().unwrap().is_none());
//! ```

use std::io::Read;

/// One decoded picture: `width × height` RGB pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// The largest picture a reader takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    pub max_width: u32,
    pub max_height: u32,
}

impl Default for FrameLimits {
    /// 8K on either side.
    fn default() -> Self {
        FrameLimits { max_width: 8192, max_height: 8192 }
    }
}

/// Why a frame stream could not be read on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("reading the decoded frames: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame {index}: {reason}")]
    Bad { index: u64, reason: String },
    #[error("frame {index} is {width}×{height}, larger than {max_width}×{max_height}")]
    TooLarge { index: u64, width: u32, height: u32, max_width: u32, max_height: u32 },
    #[error("frame {index} ends after {got} of its {expected} bytes")]
    Truncated { index: u64, got: usize, expected: usize },
}

/// Reads P6 pictures one after another from `R`.
#[derive(Debug)]
pub struct FrameReader<R> {
    input: R,
    limits: FrameLimits,
    index: u64,
}

/// The longest header token (a number of at most ten digits, or the magic).
const MAX_TOKEN: usize = 10;

impl<R: Read> FrameReader<R> {
    pub fn new(input: R, limits: FrameLimits) -> Self {
        FrameReader { input, limits, index: 0 }
    }

    /// How many frames were read.
    pub fn frames_read(&self) -> u64 {
        self.index
    }

    /// The next picture; `None` at the end of the stream (between pictures).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, FrameError> {
        let index = self.index;
        let bad = |reason: &str| FrameError::Bad { index, reason: reason.to_owned() };
        let Some(magic) = self.token()? else { return Ok(None) };
        if magic != "P6" {
            return Err(bad(&format!("not a binary PPM picture (starts {magic:?}, not \"P6\")")));
        }
        let mut number = |what: &str| -> Result<u32, FrameError> {
            let t = self.token()?.ok_or_else(|| bad(&format!("the stream ends before the {what}")))?;
            t.parse::<u32>().map_err(|_| bad(&format!("the {what} {t:?} is not a number")))
        };
        let width = number("width")?;
        let height = number("height")?;
        let maxval = number("largest value")?;
        if width == 0 || height == 0 {
            return Err(bad(&format!("a {width}×{height} picture is empty")));
        }
        let FrameLimits { max_width, max_height } = self.limits;
        if width > max_width || height > max_height {
            return Err(FrameError::TooLarge { index, width, height, max_width, max_height });
        }
        if maxval != 255 {
            return Err(bad(&format!("{maxval} levels per colour; only 8-bit pictures (255) are read")));
        }
        let expected = width as usize * height as usize * 3;
        let mut rgb = Vec::with_capacity(expected);
        let got = (&mut self.input).take(expected as u64).read_to_end(&mut rgb)?;
        if got < expected {
            return Err(FrameError::Truncated { index, got, expected });
        }
        self.index += 1;
        Ok(Some(RawFrame { width, height, rgb }))
    }

    /// The next header token; after the last one (the largest value) exactly one whitespace
    /// byte has been consumed, as the format says. `None` when the stream ends before a token
    /// starts (a clean end when it is the magic, between pictures).
    fn token(&mut self) -> Result<Option<String>, FrameError> {
        let index = self.index;
        let mut token = String::new();
        loop {
            let mut byte = [0u8];
            if self.input.read(&mut byte)? == 0 {
                return if token.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Bad { index, reason: "the stream ends inside a header".into() })
                };
            }
            match byte[0] {
                b'#' if token.is_empty() => self.skip_comment()?,
                b' ' | b'\t' | b'\n' | b'\r' => {
                    if !token.is_empty() {
                        return Ok(Some(token));
                    }
                }
                b if b.is_ascii_alphanumeric() && token.len() < MAX_TOKEN => token.push(b as char),
                b if b.is_ascii_alphanumeric() => {
                    return Err(FrameError::Bad { index, reason: format!("a header field longer than {MAX_TOKEN}") });
                }
                b => return Err(FrameError::Bad { index, reason: format!("byte {b:#04x} in a header") }),
            }
        }
    }

    /// Skips a header comment, to its line's end (at most a kilobyte).
    fn skip_comment(&mut self) -> Result<(), FrameError> {
        for _ in 0..1024 {
            let mut byte = [0u8];
            if self.input.read(&mut byte)? == 0 || byte[0] == b'\n' {
                return Ok(());
            }
        }
        Err(FrameError::Bad { index: self.index, reason: "a header comment longer than a kilobyte".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm(w: u32, h: u32, fill: u8) -> Vec<u8> {
        let mut v = format!("P6\n{w} {h}\n255\n").into_bytes();
        v.extend(std::iter::repeat_n(fill, (w * h * 3) as usize));
        v
    }

    fn all(bytes: &[u8]) -> Result<Vec<RawFrame>, FrameError> {
        let mut r = FrameReader::new(bytes, FrameLimits { max_width: 64, max_height: 64 });
        let mut out = Vec::new();
        while let Some(f) = r.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn pictures_back_to_back_of_changing_sizes_are_read_in_order() {
        let mut stream = ppm(4, 3, 10);
        stream.extend(b"P6 # a comment as ffmpeg never writes one\n2 2 255\n");
        stream.extend([20; 12]);
        stream.extend(ppm(8, 1, 30));
        let frames = all(&stream).unwrap();
        let sizes: Vec<_> = frames.iter().map(|f| (f.width, f.height, f.rgb[0])).collect();
        assert_eq!(sizes, [(4, 3, 10), (2, 2, 20), (8, 1, 30)]);
        assert!(all(b"").unwrap().is_empty(), "an empty stream has no frames");
    }

    #[test]
    fn hostile_streams_are_refused_with_the_frame_they_broke_at() {
        let good = ppm(2, 2, 1);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"P5\n2 2\n255\n".to_vec(), "not a binary PPM"),
            (b"\x89PNG\r\n".to_vec(), "byte 0x89"),
            (b"GIF89a".to_vec(), "ends inside a header"),
            (b"P6\n2".to_vec(), "ends inside a header"),
            (b"P6\n2 2\n65535\n".to_vec(), "8-bit"),
            (b"P6\n0 2\n255\n".to_vec(), "empty"),
            (b"P6\n-2 2\n255\n".to_vec(), "byte"),
            (b"P6\n99999999999 2\n255\n".to_vec(), "longer than"),
            (b"P6\n4294967295 4294967295\n255\n".to_vec(), "larger than 64"),
            (b"P6\n65 1\n255\n".to_vec(), "larger than 64"),
            ([&good[..], b"P6\n2 2\n255\n\x01\x02"].concat(), "frame 1 ends after 2 of its 12 bytes"),
            ([&good[..], b"P6\nx 2\n255\n"].concat(), "frame 1: the width \"x\" is not a number"),
            ([b"P6\n#".to_vec(), vec![b'a'; 2000]].concat(), "comment longer"),
        ];
        for (bytes, want) in cases {
            let e = all(&bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(&bytes[..bytes.len().min(40)]));
        }
    }

    #[test]
    fn a_clean_end_between_frames_keeps_every_frame_read() {
        let stream = [ppm(3, 3, 5), ppm(3, 3, 6)].concat();
        let mut r = FrameReader::new(&stream[..], FrameLimits::default());
        assert!(r.next_frame().unwrap().is_some());
        assert!(r.next_frame().unwrap().is_some());
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.frames_read(), 2);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_frames_or_an_error_never_a_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = all(&bytes);
            let mut prefixed = b"P6\n".to_vec();
            prefixed.extend(&bytes);
            let _ = all(&prefixed);
        }
    }
}
