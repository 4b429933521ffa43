//! Real decoders for the clip tests: Debian's ffprobe and ffmpeg (`scripts/test` installs them).

use std::path::Path;
use std::process::Command;

/// What ffprobe counts in `file`: (codec name, width, height, frames decoded).
pub fn probe(file: &Path) -> (String, u32, u32, u64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe runs (scripts/test installs Debian's ffmpeg)");
    assert!(out.status.success() && out.stderr.is_empty(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    (
        s["codec_name"].as_str().unwrap().to_owned(),
        s["width"].as_u64().unwrap() as u32,
        s["height"].as_u64().unwrap() as u32,
        s["nb_read_frames"].as_str().unwrap().parse().unwrap(),
    )
}

/// Decodes every frame of `file` with ffmpeg, which must say nothing at `-v error`.
pub fn decode(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs (scripts/test installs Debian's ffmpeg)");
    assert!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "ffmpeg decoded with errors: {}", String::from_utf8_lossy(&out.stderr));
}
