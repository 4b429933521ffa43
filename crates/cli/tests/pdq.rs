//! `limes pdq`: the reference's golden hashes for the bridge photographs kept beside the triage
//! crate's tests, in the reference's output form; the dihedral hashes; files that are not
//! pictures, are cut short, claim an absurd size or do not exist are each reported, and the
//! others are still hashed.

mod util;

use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../triage/tests/fixtures")
}

#[test]
fn limes_pdq_prints_the_reference_hashes_and_reports_what_it_cannot_hash() {
    let dir = fixtures();
    let golden = std::fs::read_to_string(dir.join("golden.csv")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let square = std::fs::read(dir.join("square-128x128.jpg")).unwrap();
    let cut = tmp.path().join("cut.jpg");
    std::fs::write(&cut, &square[..square.len() / 3]).unwrap();
    let empty = tmp.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let text = tmp.path().join("notes.jpg");
    std::fs::write(&text, "not a picture at all").unwrap();
    // A PNG header that claims 100 000 × 100 000 pixels: refused before anything is decoded.
    let mut bomb = Vec::new();
    bomb.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    bomb.extend_from_slice(&13u32.to_be_bytes());
    bomb.extend_from_slice(b"IHDR");
    bomb.extend_from_slice(&ihdr);
    let crc = crc32(&[b"IHDR".as_slice(), &ihdr].concat());
    bomb.extend_from_slice(&crc.to_be_bytes());
    let huge = tmp.path().join("huge.png");
    std::fs::write(&huge, &bomb).unwrap();
    let missing = tmp.path().join("missing.jpg");

    let mut args: Vec<String> = vec!["pdq".into()];
    let names: Vec<&str> = golden.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    for (i, name) in names.iter().enumerate() {
        args.push(dir.join(name).to_string_lossy().into_owned());
        // The bad files between the good ones: none stops the others.
        let bad = [&cut, &empty, &text, &huge, &missing][i % 5];
        args.push(bad.to_string_lossy().into_owned());
    }
    for bad in [&huge, &missing] {
        args.push(bad.to_string_lossy().into_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = util::limes(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "files failed, so the command fails: {stdout}{stderr}");
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), names.len(), "{stdout}\n{stderr}");
    for (line, want) in printed.iter().zip(golden.lines().skip(1)) {
        let mut want = want.split(',');
        let (file, hash, quality) = (want.next().unwrap(), want.next().unwrap(), want.next().unwrap());
        assert_eq!(*line, format!("{hash},{quality},{}", dir.join(file).display()));
    }
    for bad in [&cut, &empty, &text, &huge, &missing] {
        assert!(stderr.contains(&format!("error: {}:", bad.display())), "{} is reported: {stderr}", bad.display());
    }
    assert!(stderr.contains("could not be hashed"), "{stderr}");

    // The eight dihedral hashes, the original first.
    let square = dir.join("square-256x256.jpg");
    let out = util::limes(&["pdq", "--dihedral", square.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = line.trim().split(',').collect();
    assert_eq!(fields.len(), 10, "{line}");
    let want = golden.lines().find(|l| l.starts_with("square-256x256.jpg")).unwrap().split(',').nth(1).unwrap();
    assert_eq!(fields[0], want);
    assert!(fields[..8].iter().all(|h| h.len() == 64), "{line}");
    assert_eq!(fields[8], "100");
}

/// CRC-32 (IEEE), for the PNG chunk above.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
