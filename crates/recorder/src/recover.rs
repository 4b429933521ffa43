//! Recovery at start (design/recording.md, "Recovery"): the index and the files made to agree
//! again, never by trusting a damaged file.

use std::collections::HashSet;
use std::path::Path;

use limes_store::{Recording, Store};

use crate::RecorderError;
use crate::files::{fsync_dir, io};
use crate::format;

/// What recovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Rows whose file was shorter than indexed: cut to the frames the file still holds whole.
    pub shortened: Vec<i64>,
    /// Rows whose file held no whole frame any more (or was gone): deleted.
    pub dropped: Vec<i64>,
    /// Files without a row (a crash before the commit): indexed from their whole frames.
    pub indexed: Vec<Recording>,
    /// Files without a row and without one whole frame (or not segments at all): removed.
    pub removed: Vec<String>,
}

/// Makes the store's recording index and the files under `root` agree. Runs before recording
/// starts, never beside it.
pub fn recover(store: &Store, root: &Path) -> Result<RecoveryReport, RecorderError> {
    let mut report = RecoveryReport::default();
    let rows = store.recordings(None)?;
    let mut known: HashSet<String> = HashSet::with_capacity(rows.len());
    for row in rows {
        known.insert(row.index.file.clone());
        let path = root.join(&row.index.file);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(RecorderError::File { path, source: e }),
        };
        if len >= row.index.bytes {
            continue;
        }
        let mut index = row.index.clone();
        index.frames.retain(|f| f.offset + u64::from(f.length) <= len);
        match index.frames.last() {
            None => {
                if len > 0 {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    fsync_dir(path.parent().unwrap_or(root))?;
                }
                store.delete_recording(row.id)?;
                report.dropped.push(row.id);
            }
            Some(last) => {
                index.bytes = last.offset + u64::from(last.length);
                truncate(&path, index.bytes)?;
                index.end = format::wall_after(index.start, index.duration_ticks(), index.parameters.clock_rate);
                store.replace_recording(row.id, &index)?;
                report.shortened.push(row.id);
            }
        }
    }
    let Ok(cameras) = std::fs::read_dir(root) else { return Ok(report) };
    for camera in cameras {
        let camera = camera.map_err(io(root))?;
        if !camera.file_type().map_err(io(root))?.is_dir() {
            continue;
        }
        let dir = camera.path();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = format!("{}/{}", camera.file_name().to_string_lossy(), entry.file_name().to_string_lossy());
            if known.contains(&name) || !entry.file_type().map_err(io(&dir))?.is_file() {
                continue;
            }
            let path = entry.path();
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            match format::scan(&bytes).filter(|s| !s.frames.is_empty() && name_matches(&name, s)) {
                Some(scanned) => {
                    truncate(&path, scanned.whole_len)?;
                    let index = format::index_of(&scanned, name);
                    let id = store.add_recording(&index)?;
                    report.indexed.push(Recording { id, index });
                }
                None => {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    fsync_dir(&dir)?;
                    report.removed.push(name);
                }
            }
        }
    }
    if report != RecoveryReport::default() {
        tracing::warn!(?report, "recordings recovered");
    }
    Ok(report)
}

/// A file is indexed only under the name its header gives (camera folder, start time, codec).
fn name_matches(name: &str, scanned: &format::Scanned) -> bool {
    let h = &scanned.header;
    name == format!("{}/{}.{}", h.camera.as_str(), h.start_us, h.parameters.codec)
}

/// Cuts a file to `len` bytes (when longer) and makes that durable before the index says so.
fn truncate(path: &Path, len: u64) -> Result<(), RecorderError> {
    let file = std::fs::OpenOptions::new().write(true).open(path).map_err(io(path))?;
    if file.metadata().map_err(io(path))?.len() > len {
        file.set_len(len).map_err(io(path))?;
    }
    file.sync_all().map_err(io(path))
}
