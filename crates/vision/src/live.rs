//! Live video anonymised, for a partner watching one of the node's cameras: the camera's access
//! units (Annex B, H.264 or H.265) decoded by ffmpeg, faces and plate-shaped texts blurred, and
//! the pictures encoded again (H.264, `zerolatency`) by ffmpeg as a fragmented MP4.
//!
//! A live picture cannot wait for the detector the way a file can, so the pictures it cannot
//! keep up with are dropped, never sent unsearched: the newest decoded picture is the next one
//! searched, and only searched pictures are encoded. The viewer sees fewer pictures a second
//! than the camera sends (as many as the detector searches: about five a second at 720p on two
//! cores), each stamped with the time it was taken off the decoder, so that the video plays at
//! the pace it was seen. A [`Window`] of one searched picture either side blurs a face the
//! detector misses in one picture with where it was found in the one before or after; this
//! holds the view back by one picture.
//!
//! What leaves is never unblurred: when the detector fails, nothing more is encoded and the
//! stream ends, which the partner's node sees as the end of the view.

use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use image::RgbImage;
use limes_video::frames::{FrameLimits, FrameReader};

use crate::analyse::AnalyseError;
use crate::anonymise::{MASK_SCALE, Window, blur};
use crate::footage::{FootageError, ToBlur};

/// The RFC 6381 codec string of what [`start`] encodes: H.264 Main profile, level 4.1.
pub const CODEC: &str = "avc1.4D4029";

/// What the camera sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveCodec {
    H264,
    H265,
}

/// How live video is anonymised.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    /// Each picture sent is blurred with what was found in this many searched pictures before
    /// and after it (each one held back delays the view by one searched picture).
    pub hold: usize,
    /// A key frame at least every this many pictures sent, so that a player that falls behind
    /// starts again soon.
    pub key_every: u32,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings { hold: 1, key_every: 10 }
    }
}

/// How a stream goes, read while it runs.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Pictures the decoder gave.
    pub decoded: AtomicU64,
    /// Pictures searched, blurred and encoded (the others were dropped, never sent).
    pub sent: AtomicU64,
    pub faces: AtomicU64,
    pub plates: AtomicU64,
    /// Why the stream ended early (the detector failed, the encoder stopped), if it did.
    pub failure: Mutex<Option<String>>,
}

impl LiveStats {
    fn failed(&self, why: String) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// A running live anonymiser: its two ffmpeg processes, which are killed when it is dropped
/// (its threads end by themselves once their pipes close).
#[derive(Debug)]
pub struct LiveAnonymiser {
    decoder: Child,
    encoder: Child,
    slot: Arc<Slot>,
    pub stats: Arc<LiveStats>,
}

impl Drop for LiveAnonymiser {
    fn drop(&mut self) {
        self.slot.close();
        for child in [&mut self.decoder, &mut self.encoder] {
            if !matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// The newest decoded picture not yet searched: the decoder's reader replaces it, the searcher
/// takes it.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<(Option<RgbImage>, bool)>,
    ready: Condvar,
}

impl Slot {
    fn put(&self, picture: RgbImage) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = Some(picture);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.ready.notify_all();
    }

    /// The newest picture, waiting for one; `None` once closed and empty.
    fn take(&self) -> Option<RgbImage> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(p) = s.0.take() {
                return Some(p);
            }
            if s.1 {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Starts anonymising a live stream of `width`×`height` pictures (rounded down to even sides,
/// which H.264's 4:2:0 chroma needs; the decoder scales to them). Gives the anonymiser, the pipe
/// the camera's Annex B access units are written to, and the pipe the fragmented MP4 is read
/// from. `search` finds what to blur in a picture (faces, and plate-shaped texts).
pub fn start<S>(
    codec: LiveCodec,
    width: u32,
    height: u32,
    mut search: S,
    settings: &LiveSettings,
) -> Result<(LiveAnonymiser, ChildStdin, ChildStdout), FootageError>
where
    S: FnMut(&RgbImage) -> Result<ToBlur, AnalyseError> + Send + 'static,
{
    let (width, height) = (width & !1, height & !1);
    if width < 16 || height < 16 || width > 8192 || height > 8192 {
        return Err(FootageError::Ffmpeg(format!("a {width}×{height} picture is not anonymised live")));
    }
    let format = match codec {
        LiveCodec::H264 => "h264",
        LiveCodec::H265 => "hevc",
    };
    // Not `-fflags nobuffer`: on an Annex B pipe it loses pictures (30 of 40 seen).
    let mut decoder = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-flags", "low_delay"])
        .args(["-probesize", "32", "-analyzeduration", "0", "-f", format, "-i", "pipe:0", "-an", "-sn", "-dn"])
        .args(["-vf", &format!("scale={width}:{height}"), "-fps_mode", "passthrough"])
        .args(["-f", "image2pipe", "-c:v", "ppm", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| FootageError::Ffmpeg(format!("the decoder did not start: {e}")))?;
    let mut encoder = match Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-use_wallclock_as_timestamps", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{width}x{height}"), "-i", "pipe:0", "-an"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "main"])
        .args(["-level", "4.1", "-pix_fmt", "yuv420p", "-g", &settings.key_every.max(1).to_string()])
        .args(["-fps_mode", "passthrough", "-f", "mp4"])
        .args(["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "200000", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(e) => e,
        Err(e) => {
            let _ = decoder.kill();
            let _ = decoder.wait();
            return Err(FootageError::Ffmpeg(format!("the encoder did not start: {e}")));
        }
    };
    let (input, decoded) = (decoder.stdin.take().expect("piped"), decoder.stdout.take().expect("piped"));
    let (mut encoding, output) = (encoder.stdin.take().expect("piped"), encoder.stdout.take().expect("piped"));
    let slot = Arc::new(Slot::default());
    let stats = Arc::new(LiveStats::default());
    let running = Arc::new(AtomicBool::new(true));
    let hold = settings.hold;

    // The decoder's pictures, the newest kept for the searcher.
    {
        let (slot, stats, running) = (slot.clone(), stats.clone(), running.clone());
        std::thread::Builder::new()
            .name("live-decoded".into())
            .spawn(move || {
                let mut frames = FrameReader::new(BufReader::with_capacity(1 << 20, decoded), FrameLimits::default());
                while running.load(Ordering::Relaxed) {
                    match frames.next_frame() {
                        Ok(Some(raw)) if (raw.width, raw.height) == (width, height) => {
                            let picture = RgbImage::from_raw(raw.width, raw.height, raw.rgb).expect("sized");
                            stats.decoded.fetch_add(1, Ordering::Relaxed);
                            slot.put(picture);
                        }
                        Ok(Some(raw)) => {
                            stats.failed(format!("the decoder gave a {}×{} picture", raw.width, raw.height));
                            break;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            stats.failed(format!("decoded pictures: {e}"));
                            break;
                        }
                    }
                }
                slot.close();
            })
            .map_err(|e| FootageError::Ffmpeg(format!("no thread for the decoder: {e}")))?;
    }

    // The searcher: each picture taken is searched, held in the window, blurred and encoded.
    {
        let (slot, stats) = (slot.clone(), stats.clone());
        std::thread::Builder::new()
            .name("live-anonymise".into())
            .spawn(move || {
                let mut window = Window::new(hold);
                let send = |encoding: &mut ChildStdin, mut picture: RgbImage, regions: &[crate::anonymise::Region]| {
                    blur(&mut picture, regions, MASK_SCALE);
                    encoding.write_all(picture.as_raw()).and_then(|()| encoding.flush())
                };
                let mut ended_cleanly = true;
                while let Some(picture) = slot.take() {
                    let found = match search(&picture) {
                        Ok(found) => found,
                        Err(e) => {
                            stats.failed(format!("the search for faces and plates failed: {e}"));
                            ended_cleanly = false;
                            break;
                        }
                    };
                    stats.faces.fetch_add(found.faces as u64, Ordering::Relaxed);
                    stats.plates.fetch_add(found.plates as u64, Ordering::Relaxed);
                    if let Some((picture, regions)) = window.push(picture, found.regions) {
                        if let Err(e) = send(&mut encoding, picture, &regions) {
                            stats.failed(format!("the encoder stopped taking pictures: {e}"));
                            ended_cleanly = false;
                            break;
                        }
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                running.store(false, Ordering::Relaxed);
                if ended_cleanly {
                    for (picture, regions) in window.finish() {
                        if send(&mut encoding, picture, &regions).is_err() {
                            break;
                        }
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Closing the encoder's input ends the stream.
                drop(encoding);
            })
            .map_err(|e| FootageError::Ffmpeg(format!("no thread for the anonymiser: {e}")))?;
    }
    Ok((LiveAnonymiser { decoder, encoder, slot, stats }, input, output))
}
