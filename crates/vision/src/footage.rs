//! Footage anonymised: a video file decoded by ffmpeg into pictures, every face (and, unless told
//! otherwise, every plate-shaped text) blurred in every frame with a [`Window`] of the frames
//! around it, and the frames encoded again (H.264) by ffmpeg into a new MP4.
//!
//! What is written is never unblurred: the output is written to a temporary file beside it and
//! renamed over it only when every frame has been analysed, blurred and encoded; any failure
//! (a corrupt frame, a model error, the encoder ending) leaves no output at all.
//!
//! ffmpeg decodes and encodes because the node already needs it (the live view of H.265, clip
//! checks); the pictures cross its pipes as PPM (`limes_video::frames`) and raw RGB.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use image::RgbImage;
use limes_video::frames::{FrameLimits, FrameReader};

use crate::analyse::{AnalyseError, Analyser};
use crate::anonymise::{MASK_SCALE, Region, Window, blur};
use crate::faces::{Face, FaceDetector};

/// Why footage could not be anonymised. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum FootageError {
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
    #[error("{}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
    #[error("frame {index}: {source}")]
    Analyse { index: u64, source: AnalyseError },
    #[error("writing {}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
}

/// How footage is anonymised.
#[derive(Debug, Clone, PartialEq)]
pub struct FootageSettings {
    /// Each frame is blurred with what was found in this many frames before and after it.
    pub hold: usize,
    /// libx264's constant rate factor (23: its default; lower is better and larger).
    pub crf: u8,
}

impl Default for FootageSettings {
    fn default() -> Self {
        FootageSettings { hold: 3, crf: 23 }
    }
}

/// What is to be blurred in one picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToBlur {
    /// The faces' regions (with their hair), then the plate-shaped texts' boxes.
    pub regions: Vec<Region>,
    pub faces: usize,
    pub plates: usize,
}

/// The regions of `picture` to blur: every face `faces` finds and, when `plates` is given, every
/// plate-shaped text box it finds, read or not.
pub fn to_blur(
    picture: &RgbImage,
    faces: &mut FaceDetector,
    plates: Option<&mut Analyser>,
) -> Result<ToBlur, AnalyseError> {
    let mut regions: Vec<Region> = faces.faces(picture)?.iter().map(Face::region).collect();
    let faces = regions.len();
    let boxes = match plates {
        Some(a) => a.text_boxes(picture)?,
        None => Vec::new(),
    };
    regions.extend(boxes.iter().map(|b| Region::around(&b.corners)));
    Ok(ToBlur { regions, faces, plates: boxes.len() })
}

/// What was done, and where the time went.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FootageReport {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    /// The output's RFC 6381 codec string (`avc1.64001f`), from its `avcC` box.
    pub codec: String,
    /// Faces found, summed over the frames.
    pub faces: u64,
    /// Plate-shaped texts found, summed over the frames.
    pub plates: u64,
    /// Time waiting for decoded frames.
    pub decode: Duration,
    /// Time in the face detector (and the text detector).
    pub detect: Duration,
    pub blur: Duration,
    /// Time handing frames to the encoder (and waiting for it at the end).
    pub encode: Duration,
    pub total: Duration,
}

/// The RFC 6381 codec string (`avc1.PPCCLL`: profile, constraint flags, level) of the first
/// H.264 track of an MP4, from its `avcC` box; `None` when it has none.
///
/// Written by hand: it walks five container boxes to one 4-byte field, less than a dependency.
pub fn rfc6381(mp4: &[u8]) -> Option<String> {
    // moov/trak/mdia/minf/stbl/stsd, whose entry `avc1` holds `avcC`.
    let mut level = mp4;
    for name in [b"moov", b"trak", b"mdia", b"minf", b"stbl"] {
        level = child(level, name)?;
    }
    // stsd: version and flags (4), entry count (4), then sample entries.
    let stsd = child(level, b"stsd")?;
    let avc1 = child(stsd.get(8..)?, b"avc1")?;
    // A visual sample entry's fixed part is 78 bytes before its boxes.
    let avcc = child(avc1.get(78..)?, b"avcC")?;
    let [1, profile, constraints, level, ..] = *avcc else { return None };
    Some(format!("avc1.{profile:02x}{constraints:02x}{level:02x}"))
}

/// The body of the first box named `name` among the boxes of `data`.
fn child<'a>(mut data: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    while data.len() >= 8 {
        let size = u32::from_be_bytes(data[..4].try_into().ok()?) as usize;
        let (header, size) = match size {
            1 => (16, usize::try_from(u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)).ok()?),
            0 => (8, data.len()),
            n => (8, n),
        };
        if size < header || size > data.len() {
            return None;
        }
        if &data[4..8] == name {
            return Some(&data[header..size]);
        }
        data = &data[size..];
    }
    None
}

/// The video's frame rate as ffprobe gives it (`30000/1001`), for the encoder.
fn frame_rate(input: &Path) -> Result<String, FootageError> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate", "-of"])
        .arg("default=noprint_wrappers=1:nokey=1")
        .arg(input)
        .output()
        .map_err(|e| FootageError::Ffmpeg(format!("ffprobe did not start: {e}")))?;
    let rate = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let valid = rate
        .split_once('/')
        .is_some_and(|(n, d)| n.parse::<u32>().is_ok_and(|n| n > 0) && d.parse::<u32>().is_ok_and(|d| d > 0));
    if !out.status.success() || !valid {
        let reason = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let reason = if reason.is_empty() { format!("no video stream with a frame rate ({rate:?})") } else { reason };
        return Err(FootageError::Input { path: input.to_owned(), reason });
    }
    Ok(rate)
}

/// The pieces of a run that must be torn down when it fails.
struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Encoder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn encoder(width: u32, height: u32, rate: &str, crf: u8, out: &Path) -> Result<Encoder, FootageError> {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-s", &format!("{width}x{height}"), "-framerate", rate, "-i", "pipe:0"])
        .args(["-c:v", "libx264", "-crf", &crf.to_string(), "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .args(["-f", "mp4"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FootageError::Ffmpeg(format!("the encoder did not start: {e}")))?;
    let stdin = child.stdin.take();
    Ok(Encoder { child, stdin })
}

/// Anonymises the video `input` into the MP4 `output`: faces found by `faces` (and plate-shaped
/// texts by `plates`, when given) blurred in every frame.
pub fn anonymise(
    input: &Path,
    output: &Path,
    faces: &mut FaceDetector,
    plates: Option<&mut Analyser>,
    settings: &FootageSettings,
) -> Result<FootageReport, FootageError> {
    let started = Instant::now();
    let out_err = |reason: String| FootageError::Output { path: output.to_owned(), reason };
    let rate = frame_rate(input)?;
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().suffix(".mp4").tempfile_in(parent).map_err(|e| out_err(e.to_string()))?;

    let mut decoder = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-xerror", "-nostdin", "-i"])
        .arg(input)
        .args(["-an", "-sn", "-dn", "-fps_mode", "passthrough", "-f", "image2pipe", "-c:v", "ppm", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FootageError::Ffmpeg(format!("the decoder did not start: {e}")))?;
    let stdout = decoder.stdout.take().expect("piped");
    let mut stderr = decoder.stderr.take().expect("piped");
    // The decoder's complaints, read on the side so that it never blocks on them.
    let complaints = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let result = run(stdout, &rate, tmp.path(), faces, plates, settings);
    if result.is_err() {
        let _ = decoder.kill();
    }
    let status = decoder.wait().map_err(|e| FootageError::Ffmpeg(e.to_string()))?;
    let complaints = complaints.join().unwrap_or_default();
    let mut report = result?;
    if !status.success() || report.frames == 0 {
        let reason = complaints.trim();
        let reason = if reason.is_empty() { "no video frames".to_owned() } else { reason.to_owned() };
        return Err(FootageError::Input { path: input.to_owned(), reason });
    }
    let written = std::fs::read(tmp.path()).map_err(|e| out_err(e.to_string()))?;
    report.codec = rfc6381(&written).ok_or_else(|| out_err("the encoder wrote no H.264 sample description".into()))?;
    tmp.persist(output).map_err(|e| out_err(e.error.to_string()))?;
    report.total = started.elapsed();
    Ok(report)
}

fn run(
    decoded: impl Read,
    rate: &str,
    tmp: &Path,
    detector: &mut FaceDetector,
    mut plates: Option<&mut Analyser>,
    settings: &FootageSettings,
) -> Result<FootageReport, FootageError> {
    let mut frames = FrameReader::new(BufReader::with_capacity(1 << 20, decoded), FrameLimits::default());
    let mut report = FootageReport::default();
    let mut window = Window::new(settings.hold);
    let mut encoder: Option<Encoder> = None;
    loop {
        let t = Instant::now();
        let next = frames.next_frame().map_err(|e| FootageError::Ffmpeg(format!("decoded frames: {e}")))?;
        report.decode += t.elapsed();
        let Some(raw) = next else { break };
        let index = report.frames;
        if encoder.is_none() {
            (report.width, report.height) = (raw.width, raw.height);
            encoder = Some(encoder_for(&raw, rate, settings.crf, tmp)?);
        }
        if (raw.width, raw.height) != (report.width, report.height) {
            return Err(FootageError::Ffmpeg(format!(
                "frame {index} is {}×{}, the video began at {}×{}: a change of size is not anonymised",
                raw.width, raw.height, report.width, report.height
            )));
        }
        let picture = RgbImage::from_raw(raw.width, raw.height, raw.rgb).expect("the reader checked the size");
        let t = Instant::now();
        let found = to_blur(&picture, detector, plates.as_deref_mut())
            .map_err(|source| FootageError::Analyse { index, source })?;
        report.faces += found.faces as u64;
        report.plates += found.plates as u64;
        report.detect += t.elapsed();
        report.frames += 1;
        if let Some((picture, regions)) = window.push(picture, found.regions) {
            write(encoder.as_mut().expect("started"), picture, &regions, &mut report)?;
        }
    }
    let Some(mut encoder) = encoder else { return Ok(report) };
    for (picture, regions) in window.finish() {
        write(&mut encoder, picture, &regions, &mut report)?;
    }
    let t = Instant::now();
    drop(encoder.stdin.take());
    let mut complaints = String::new();
    if let Some(mut e) = encoder.child.stderr.take() {
        let _ = e.read_to_string(&mut complaints);
    }
    let status = encoder.child.wait().map_err(|e| FootageError::Ffmpeg(e.to_string()))?;
    report.encode += t.elapsed();
    if !status.success() {
        return Err(FootageError::Ffmpeg(format!("the encoder failed: {}", complaints.trim())));
    }
    Ok(report)
}

fn encoder_for(raw: &limes_video::frames::RawFrame, rate: &str, crf: u8, tmp: &Path) -> Result<Encoder, FootageError> {
    // libx264 with 4:2:0 chroma needs even sides.
    if raw.width % 2 == 1 || raw.height % 2 == 1 {
        return Err(FootageError::Ffmpeg(format!("a {}×{} video: H.264 needs even sides", raw.width, raw.height)));
    }
    encoder(raw.width, raw.height, rate, crf, tmp)
}

fn write(
    encoder: &mut Encoder,
    mut picture: RgbImage,
    regions: &[Region],
    report: &mut FootageReport,
) -> Result<(), FootageError> {
    let t = Instant::now();
    blur(&mut picture, regions, MASK_SCALE);
    report.blur += t.elapsed();
    let t = Instant::now();
    let stdin = encoder.stdin.as_mut().expect("open until the end");
    stdin
        .write_all(picture.as_raw())
        .map_err(|e| FootageError::Ffmpeg(format!("the encoder stopped taking frames: {e}")))?;
    report.encode += t.elapsed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(name: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(name);
        b.extend_from_slice(body);
        b
    }

    /// An MP4's box tree down to `avcC`, with a box before each that the walk must skip.
    fn mp4(avcc: &[u8]) -> Vec<u8> {
        let mut entry = vec![0u8; 78];
        entry.extend(boxed(b"pasp", &[0; 8]));
        entry.extend(boxed(b"avcC", avcc));
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(boxed(b"avc1", &entry));
        let mut inner = [boxed(b"stts", &[0; 8]), boxed(b"stsd", &stsd)].concat();
        for name in [b"stbl", b"minf", b"mdia", b"trak"] {
            inner = [boxed(b"free", &[]), boxed(name, &inner)].concat();
        }
        [boxed(b"ftyp", b"isom"), boxed(b"moov", &[boxed(b"mvhd", &[0; 12]), inner].concat()), boxed(b"mdat", &[7; 9])]
            .concat()
    }

    #[test]
    fn the_codec_string_is_read_from_the_avcc_box() {
        assert_eq!(rfc6381(&mp4(&[1, 0x64, 0x00, 0x1f, 0xff])).as_deref(), Some("avc1.64001f"));
        assert_eq!(rfc6381(&mp4(&[1, 0x42, 0xc0, 0x0d])).as_deref(), Some("avc1.42c00d"));
        // A 64-bit box size.
        let mut large = vec![0, 0, 0, 1];
        large.extend_from_slice(b"free");
        large.extend_from_slice(&16u64.to_be_bytes());
        large.extend(mp4(&[1, 0x4d, 0x40, 0x28]));
        assert_eq!(rfc6381(&large).as_deref(), Some("avc1.4d4028"));
    }

    #[test]
    fn hostile_mp4s_give_no_codec_and_never_panic() {
        let good = mp4(&[1, 0x64, 0x00, 0x1f]);
        for cut in 0..good.len() {
            let _ = rfc6381(&good[..cut]);
        }
        assert_eq!(rfc6381(&good[..good.len() - 20]), None, "truncated inside moov (mdat is its last 17 bytes)");
        assert_eq!(rfc6381(&mp4(&[0, 0x64, 0x00, 0x1f])), None, "an avcC version no encoder writes");
        assert_eq!(rfc6381(&mp4(&[1, 0x64])), None, "an avcC too short");
        assert_eq!(rfc6381(b""), None);
        assert_eq!(rfc6381(b"not an mp4 at all"), None);
        let mut lying = good.clone();
        lying[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(rfc6381(&lying), None, "a box larger than the file");
        let mut tiny = good.clone();
        tiny[..4].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(rfc6381(&tiny), None, "a box smaller than its header");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = good.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % bytes.len();
                bytes[i] = (seed >> 32) as u8;
            }
            let _ = rfc6381(&bytes);
        }
    }
}
