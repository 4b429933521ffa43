//! Unknown pictures with faces first: where a new victim may be. After matching, each unknown
//! picture of the case is read again (from disk, or out of its archives) and its faces counted
//! by a detector the caller gives (the node's CenterFace, from `limes-vision`: this crate does
//! not load models), on all cores, one detector per thread. Counted pictures are skipped when
//! it runs again.

use std::io::Read;
use std::path::Path;

use limes_triage::verdict::Status;
use rayon::prelude::*;

use crate::picture;
use crate::store::{CaseStore, Kind, StoreError};

/// Pictures counted, and of them those with at least one face.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub pictures: u64,
    pub with_faces: u64,
    /// Pictures that could not be read again or whose faces could not be counted.
    pub failed: u64,
}

/// Counts the faces of every unknown picture not yet counted. `detector` makes one detector
/// per thread; `count` runs it on a picture.
pub fn count_faces<D>(
    case: &mut CaseStore,
    threads: usize,
    detector: impl Fn() -> Result<D, String> + Sync,
    count: impl Fn(&mut D, &image::RgbImage) -> Result<usize, String> + Sync,
) -> Result<Counted, StoreError> {
    let todo: Vec<(u64, String)> = case
        .files()?
        .into_iter()
        .filter(|f| f.record.kind == Kind::Picture && f.record.pdq.is_some() && f.faces.is_none())
        .filter(|f| f.verdict.as_ref().is_some_and(|v| v.status == Status::Unknown))
        .map(|f| (f.id, f.record.path))
        .collect();
    let tmp = case.dir().join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let results: Vec<(u64, Result<usize, String>)> = pool.install(|| {
        todo.par_iter()
            .map_init(&detector, |d, (id, path)| {
                let n = match d {
                    Ok(d) => read_back(path, &tmp).and_then(|bytes| picture::decode(&bytes)).and_then(|p| count(d, &p)),
                    Err(e) => Err(e.clone()),
                };
                (*id, n)
            })
            .collect()
    });
    let mut counted = Counted::default();
    let mut faces = Vec::new();
    for (id, n) in results {
        match n {
            Ok(n) => {
                counted.pictures += 1;
                counted.with_faces += u64::from(n > 0);
                faces.push((id, n as u32));
            }
            Err(e) => {
                counted.failed += 1;
                case.add_note(id, &format!("faces not counted: {e}"))?;
            }
        }
    }
    case.set_faces(&faces)?;
    Ok(counted)
}

/// A recorded file's bytes again: from disk, or out of the archives its path names
/// (`a.zip!/b.tar.gz!/c.jpg`), inner archives spooled under `tmp`.
pub fn read_back(path: &str, tmp: &Path) -> Result<Vec<u8>, String> {
    let mut parts = path.split("!/");
    let outer = parts.next().unwrap_or_default();
    let members: Vec<&str> = parts.collect();
    let limit = picture::MAX_PICTURE_BYTES;
    if members.is_empty() {
        let size = std::fs::metadata(outer).map_err(|e| e.to_string())?.len();
        if size > limit {
            return Err(format!("{size} bytes: too large to read as a picture"));
        }
        return std::fs::read(outer).map_err(|e| e.to_string());
    }
    // Each inner archive is spooled to a file of our own under `tmp`, kept until the next one
    // is read out of it.
    let mut spooled: Option<tempfile::NamedTempFile> = None;
    let mut archive = std::path::PathBuf::from(outer);
    for (i, member) in members.iter().enumerate() {
        if i + 1 == members.len() {
            let mut bytes = Vec::new();
            extract(&archive, member, &mut bytes, limit)?;
            return Ok(bytes);
        }
        let next = tempfile::NamedTempFile::new_in(tmp).map_err(|e| e.to_string())?;
        {
            let mut w = std::io::BufWriter::new(next.as_file());
            extract(&archive, member, &mut w, u64::MAX)?;
            std::io::Write::flush(&mut w).map_err(|e| e.to_string())?;
        }
        archive = next.path().to_path_buf();
        spooled = Some(next);
    }
    drop(spooled);
    Err("no member named".into())
}

/// Copies the member `name` of the archive at `archive` (zip, tar, tar.gz) into `out`.
fn extract(archive: &Path, name: &str, out: &mut dyn std::io::Write, limit: u64) -> Result<(), String> {
    let mut file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut head = [0u8; 2];
    let n = file.read(&mut head).map_err(|e| e.to_string())?;
    drop(file);
    let copy = |r: &mut dyn Read, out: &mut dyn std::io::Write| -> Result<(), String> {
        let copied = std::io::copy(&mut r.take(limit.saturating_add(1)), out).map_err(|e| e.to_string())?;
        if copied > limit { Err("the member is too large to read as a picture".into()) } else { Ok(()) }
    };
    let file = std::io::BufReader::new(std::fs::File::open(archive).map_err(|e| e.to_string())?);
    if &head[..n] == b"PK" {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
        let mut entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
        return copy(&mut entry, out);
    }
    let stream: Box<dyn Read> =
        if head[..n] == [0x1f, 0x8b] { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut tar = tar::Archive::new(stream);
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&entry.path_bytes()) == name {
            return copy(&mut entry, out);
        }
    }
    Err(format!("{name}: not in the archive"))
}
