//! `limes clip export` and `limes clip verify`, the real binary on a real recording: a node made
//! by `limes init`, a camera recorded from GStreamer's RTSP server into its data directory, the
//! clip decoded by Debian's ffprobe and ffmpeg, then verified and tampered with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta};
use limes_federation::AgencyKey;
use limes_store::{Store, StoreOptions};

#[path = "../../recorder/tests/support/ffmpeg.rs"]
mod ffmpeg;
#[path = "../../recorder/tests/support/rtsp_server.rs"]
mod rtsp_server;

fn limes(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limes")).current_dir(dir).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed, saying `expected` on standard error.
fn refused(out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(expected), "expected {expected:?} in {stderr}");
}

fn verify(dir: &Path, clip: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["clip", "verify", clip.to_str().unwrap()];
    args.extend(extra);
    limes(dir, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_clip_decodes_verifies_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&limes(d, &["init", "--dir", ".", "--agency", "ro-igpf", "--federation-listen", "127.0.0.1:18443"]));
    let data = d.join("limes-data");

    // Record the test camera into the node's data directory: about 4.5 s, 2 s segments.
    let server = rtsp_server::Server::start(0);
    let store = Store::open(&data, StoreOptions::default()).unwrap();
    let segments = rtsp_server::record(&store, "gate-1", &server.url("h264"), 4.5, Duration::from_secs(2)).await;
    drop(store);
    drop(server);
    assert!(segments.len() >= 2);
    let from = segments[0].index.start + TimeDelta::milliseconds(1300);
    let to = segments[1].index.start + TimeDelta::milliseconds(700);
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);

    let clip = d.join("clip.mp4");
    let out = limes(
        d,
        &["clip", "export", "--data", "limes-data", "--camera", "gate-1", "--from", &rfc(from), "--to", &rfc(to)],
    );
    refused(&out, "--out");
    let export = |out: &Path| {
        limes(
            d,
            &[
                "clip",
                "export",
                "--data",
                "limes-data",
                "--camera",
                "gate-1",
                "--from",
                &rfc(from),
                "--to",
                &rfc(to),
                "--out",
                out.to_str().unwrap(),
                "--by",
                "duty officer 7",
            ],
        )
    };
    let said = ok(&export(&clip));
    assert!(said.contains("clip.mp4.limes-clip.json"), "{said}");
    // Never over an existing clip.
    refused(&export(&clip), "never overwritten");

    let manifest_file = PathBuf::from(format!("{}.limes-clip.json", clip.display()));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    assert_eq!(manifest["camera"], "gate-1");
    assert_eq!(manifest["agency"], "ro-igpf");
    assert_eq!(manifest["exported_by"], "duty officer 7");
    assert_eq!(manifest["bytes"], std::fs::metadata(&clip).unwrap().len());
    let frames = manifest["frames"].as_u64().unwrap();
    let (codec, w, h, decoded) = ffmpeg::probe(&clip);
    assert_eq!((codec.as_str(), w, h, decoded), ("h264", 320, 240, frames));
    ffmpeg::decode(&clip);

    // The node's public key, as the agency would publish it, and its trust anchor.
    let key_text = std::fs::read_to_string(data.join("federation/identity/agency.key")).unwrap();
    let public = AgencyKey::parse_private_text(&key_text).unwrap().public().to_string();
    let key_file = d.join("agency.pub");
    std::fs::write(&key_file, format!("{public}\n")).unwrap();
    ok(&limes(d, &["trust", "export", "--config", "limes.toml", "--out", "anchor.toml"]));

    let said = ok(&verify(d, &clip, &[]));
    assert!(said.contains("camera       gate-1") && said.contains("WARNING: the key was not checked"), "{said}");
    for extra in
        [vec!["--key", public.as_str()], vec!["--key", key_file.to_str().unwrap()], vec!["--anchor", "anchor.toml"]]
    {
        let said = ok(&verify(d, &clip, &extra));
        assert!(said.contains("agency       ro-igpf") && !said.contains("WARNING"), "{said}");
        assert!(said.contains(manifest["key_fingerprint"].as_str().unwrap()), "{said}");
    }

    // Another agency's key, or its anchor.
    let other = AgencyKey::from_seed(&[9; 32]).public().to_string();
    refused(&verify(d, &clip, &["--key", &other]), "not by the trusted key");
    let other_node = tempfile::tempdir().unwrap();
    ok(&limes(
        other_node.path(),
        &["init", "--dir", ".", "--agency", "ua-dpsu", "--federation-listen", "127.0.0.1:18444"],
    ));
    ok(&limes(other_node.path(), &["trust", "export", "--config", "limes.toml", "--out", "anchor.toml"]));
    let other_anchor = other_node.path().join("anchor.toml");
    refused(&verify(d, &clip, &["--anchor", other_anchor.to_str().unwrap()]), "CLIP NOT VERIFIED");

    // A flipped byte anywhere in the MP4.
    let original = std::fs::read(&clip).unwrap();
    for at in [10, original.len() / 2, original.len() - 1] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        std::fs::write(&clip, &bytes).unwrap();
        refused(&verify(d, &clip, &["--key", &public]), "the file was changed");
    }
    std::fs::write(&clip, &original[..original.len() - 1]).unwrap();
    refused(&verify(d, &clip, &["--key", &public]), "the manifest says");
    std::fs::write(&clip, &original).unwrap();
    ok(&verify(d, &clip, &["--key", &public]));

    // An edited manifest: a time, the camera, the digest (of another file).
    let original_manifest = std::fs::read(&manifest_file).unwrap();
    let edits = [
        ("from", serde_json::Value::from(rfc(from - TimeDelta::seconds(60)))),
        ("camera", "gate-2".into()),
        ("frames", (frames + 1).into()),
        ("exported_by", "someone else".into()),
    ];
    for (field, value) in edits {
        let mut m = manifest.clone();
        m[field] = value;
        std::fs::write(&manifest_file, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        refused(&verify(d, &clip, &["--key", &public]), "the signature does not match");
    }
    // Hostile manifests: not JSON, oversized, wrong types, unknown fields.
    let mut wrong_type = manifest.clone();
    wrong_type["frames"] = "many".into();
    let mut unknown = manifest.clone();
    unknown["comment"] = "trust me".into();
    let hostile: [(Vec<u8>, &str); 5] = [
        (b"this is not json".to_vec(), "not a clip manifest"),
        (vec![b'{'; 70_000], "more than 65536"),
        (serde_json::to_vec(&wrong_type).unwrap(), "not a clip manifest"),
        (serde_json::to_vec(&unknown).unwrap(), "unknown field"),
        (b"\x00\xff\xfe".to_vec(), "not a clip manifest"),
    ];
    for (bytes, expected) in hostile {
        std::fs::write(&manifest_file, bytes).unwrap();
        refused(&verify(d, &clip, &["--key", &public]), expected);
    }
    std::fs::write(&manifest_file, &original_manifest).unwrap();
    ok(&verify(d, &clip, &["--anchor", "anchor.toml"]));

    // Nothing recorded then, a camera never recorded, and times the wrong way round.
    let later = rfc(to + TimeDelta::hours(2));
    let out = limes(
        d,
        &[
            "clip",
            "export",
            "--data",
            "limes-data",
            "--camera",
            "gate-1",
            "--from",
            &later,
            "--to",
            &later,
            "--out",
            "x.mp4",
        ],
    );
    refused(&out, "is not after its start");
    let out = limes(
        d,
        &[
            "clip",
            "export",
            "--data",
            "limes-data",
            "--camera",
            "gate-9",
            "--from",
            &rfc(from),
            "--to",
            &rfc(to),
            "--out",
            "x.mp4",
        ],
    );
    refused(&out, "camera gate-9 has no recording");
    assert!(!d.join("x.mp4").exists());
}
