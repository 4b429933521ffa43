//! The video benchmarks run briefly. `limes bench record`: one stream for 2 s, recorded by limes
//! and by ffmpeg from scripts/rtsp-test-server replaying the pre-encoded clip. `limes bench
//! video`: the clock cameras watched in Chromium for 2 s each. Checks the figures are printed and
//! that frames were recorded or read back, never how fast (benchmarks are not tests).

mod util;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;

/// One bench at a time: each keeps both cores busy (the RTSP server encoding H.265 live, ffmpeg,
/// Chromium), and run together the H.265 camera of `bench video` once took over 60 s to start
/// playing while `bench record` ran beside it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `limes bench ARGS`: its output, and its `name=value unit` figures by name.
fn bench(args: &[&str]) -> (String, HashMap<String, String>) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = Command::new(util::limes_bin()).arg("bench").args(args).output().expect("run limes bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let figures = stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    (stdout, figures)
}

/// The number a figure starts with.
fn number(stdout: &str, figures: &HashMap<String, String>, name: &str) -> f64 {
    let value = figures.get(name).unwrap_or_else(|| panic!("no {name} in\n{stdout}"));
    value.split_whitespace().next().unwrap().parse().unwrap_or_else(|_| panic!("{name}={value}"))
}

#[test]
fn bench_record_prints_its_figures() {
    let (stdout, figures) = bench(&["record", "--streams", "1", "--seconds", "2"]);
    let number = |name: &str| number(&stdout, &figures, name);
    for who in ["limes", "ffmpeg"] {
        let p = format!("record.n1.{who}");
        assert!(number(&format!("{p}.cpu_per_stream")) > 0.0, "{stdout}");
        assert!(number(&format!("{p}.rtsp_server_cpu")) >= 0.0);
        assert!(number(&format!("{p}.written")) > 0.0, "{stdout}");
        let frames = &figures[format!("{p}.frames").as_str()];
        let (recorded, expected) = frames.split_whitespace().next().unwrap().split_once('/').unwrap();
        let (recorded, expected): (u64, u64) = (recorded.parse().unwrap(), expected.parse().unwrap());
        // At least the two measured seconds at 25 fps (ffmpeg's count runs from its start).
        assert!(recorded > 0 && (45..=1_000).contains(&expected), "{who}: {frames}");
    }
    assert!(number("record.limes.max_streams_without_drops") <= 1.0);
    assert!(figures["record.n1.load_average"].split_whitespace().count() >= 3);
}

/// `limes bench video` run briefly (2 s of each clock camera, at 320×240): the figures are
/// printed and frames were read back from the page; never how fast.
#[test]
fn bench_video_prints_its_figures() {
    let (stdout, figures) = bench(&["video", "--seconds", "2", "--video-width", "320", "--video-height", "240"]);
    let number = |name: &str| number(&stdout, &figures, name);
    assert_eq!(figures["video.resolution"], "320x240 pixels");
    for camera in ["clock_h264", "clock_h265"] {
        assert!(number(&format!("video.{camera}.frames_read")) >= 10.0, "{stdout}");
        let p50 = number(&format!("video.{camera}.glass_to_glass_p50"));
        assert!(p50 > 0.0 && p50 <= number(&format!("video.{camera}.glass_to_glass_max")), "{stdout}");
        assert!(number(&format!("video.{camera}.ffmpeg_frames_read")) >= 10.0, "{stdout}");
        assert!(number(&format!("video.{camera}.ffmpeg_decode_p50")) > 0.0, "{stdout}");
    }
}
