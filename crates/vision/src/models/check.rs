//! Checking the models folder against the manifest (edge: reads files).

use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ModelError;
use super::manifest::{MANIFEST, ModelFile, ModelId, file};
use super::wheel::hex;

/// A models folder whose every pinned file was found with its pinned digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Models {
    dir: PathBuf,
}

impl Models {
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a model's file is.
    pub fn path(&self, id: ModelId) -> PathBuf {
        self.dir.join(file(id).name)
    }
}

/// A pinned file that is not in the folder as pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: &'static ModelFile,
    pub found: Found,
}

/// What was found in a pinned file's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Missing,
    /// A file with another content.
    Altered { sha256: String, size: u64 },
    /// Something that cannot be read as a file (a folder, no permission).
    Unreadable(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.file;
        match &self.found {
            Found::Missing => write!(f, "{} is missing; expected sha256 {}", m.name, m.sha256)?,
            Found::Altered { sha256, size } => write!(
                f,
                "{} is altered: found sha256 {sha256} ({size} bytes), expected {} ({} bytes)",
                m.name, m.sha256, m.size
            )?,
            Found::Unreadable(reason) => {
                write!(f, "{} cannot be read ({reason}); expected sha256 {}", m.name, m.sha256)?
            }
        }
        write!(f, " [from {} {}, {}]", m.package.name, m.package.version, m.path)
    }
}

/// Checks that every file of the manifest is in `dir` with its pinned digest. Every file is
/// hashed whole; the error lists each one that is not as pinned.
pub fn check(dir: &Path) -> Result<Models, ModelError> {
    let problems: Vec<Problem> =
        MANIFEST.iter().filter_map(|m| inspect(dir, m).err().map(|found| Problem { file: m, found })).collect();
    if problems.is_empty() {
        Ok(Models { dir: dir.to_owned() })
    } else {
        Err(ModelError::NotReady { dir: dir.to_owned(), problems })
    }
}

/// Whether `dir` holds `file` as pinned.
pub(super) fn inspect(dir: &Path, file: &ModelFile) -> Result<(), Found> {
    let path = dir.join(file.name);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(Found::Missing),
        Err(e) => return Err(Found::Unreadable(e.to_string())),
    };
    match f.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(Found::Unreadable("not a regular file".into())),
        Err(e) => return Err(Found::Unreadable(e.to_string())),
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Found::Unreadable(e.to_string())),
        }
    }
    let sha256 = hex(&hasher.finalize());
    if sha256 == file.sha256 && size == file.size { Ok(()) } else { Err(Found::Altered { sha256, size }) }
}
