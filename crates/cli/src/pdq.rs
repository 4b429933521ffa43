//! `limes pdq FILE…`: each picture's PDQ hash, as Meta's reference prints it
//! (`hash,quality,file`), with `--dihedral` the seven other variants too. Pictures are decoded
//! by the `image` crate within limits (a picture that claims a huge size is refused before it is
//! decoded); a file that cannot be hashed is reported on standard error and the others go on;
//! the command fails at the end if any did.

use std::io::Write;
use std::path::{Path, PathBuf};

use limes_triage::pdq::{self, Hash256};

#[derive(Debug, clap::Args)]
pub struct PdqArgs {
    /// Picture files (JPEG, PNG, GIF, BMP, TIFF, WebP).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print the eight dihedral hashes (original, rotate90, rotate180, rotate270, flipx,
    /// flipy, flipplus1, flipminus1) before the quality.
    #[arg(long)]
    dihedral: bool,
}

pub fn run(a: PdqArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for file in &a.files {
        match hash_file(file, a.dihedral) {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", file.display());
            }
        }
    }
    out.flush()?;
    anyhow::ensure!(failed == 0, "{failed} of {} files could not be hashed", a.files.len());
    Ok(())
}

/// One file's line.
fn hash_file(file: &Path, dihedral: bool) -> Result<String, String> {
    let picture = decode(file)?;
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let name = file.display();
    if dihedral {
        let (d, quality) = pdq::dihedral_rgb8(picture.as_raw(), w, h).map_err(|e| e.to_string())?;
        let hashes: Vec<String> = d.all().iter().map(Hash256::to_string).collect();
        Ok(format!("{},{quality},{name}", hashes.join(",")))
    } else {
        let (hash, quality) = pdq::hash_rgb8(picture.as_raw(), w, h).map_err(|e| e.to_string())?;
        Ok(format!("{hash},{quality},{name}"))
    }
}

/// The largest file read as a picture.
const MAX_FILE: u64 = limes_triage_scan::picture::MAX_PICTURE_BYTES;

/// The picture's RGB8 pixels, decoded within `limes_triage_scan::picture`'s limits.
pub fn decode(file: &Path) -> Result<image::RgbImage, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE {
        return Err(format!("{size} bytes: more than the {MAX_FILE} read as a picture"));
    }
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    limes_triage_scan::picture::decode(&bytes)
}
