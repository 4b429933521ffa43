//! Segment files on disk: writing one, closing it durably (fsync the file, fsync its folder,
//! then commit the index row), and the folder helpers recovery and retention share.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use limes_model::CameraId;
use limes_model::recording::{CodecParameters, SegmentIndex};
use limes_store::{Recording, Store};

use crate::RecorderError;
use crate::format::{self, ScannedFrame, SegmentHeader};

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecorderError + '_ {
    move |source| RecorderError::File { path: path.to_owned(), source }
}

/// Fsyncs a folder, so the names created or removed in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), RecorderError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The folder of a camera's segments, created (and made durable) if missing. A camera id may
/// hold dots, so `.` and `..` are refused here.
pub(crate) fn camera_dir(root: &Path, camera: &CameraId) -> Result<PathBuf, RecorderError> {
    if camera.as_str().bytes().all(|b| b == b'.') {
        return Err(RecorderError::BadCamera(camera.as_str().to_owned()));
    }
    if !root.is_dir() {
        std::fs::create_dir_all(root).map_err(io(root))?;
        if let Some(parent) = root.parent() {
            fsync_dir(parent)?;
        }
    }
    let dir = root.join(camera.as_str());
    if !dir.is_dir() {
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        fsync_dir(root)?;
    }
    Ok(dir)
}

/// A segment being written: the header and whole frames appended to its file.
#[derive(Debug)]
pub(crate) struct OpenSegment {
    out: BufWriter<File>,
    path: PathBuf,
    /// Relative to the recordings folder.
    name: String,
    header: SegmentHeader,
    frames: Vec<ScannedFrame>,
    len: u64,
}

impl OpenSegment {
    /// Creates the file of a segment whose first frame is at `start` (wall time).
    pub(crate) fn create(
        root: &Path,
        camera: &CameraId,
        parameters: CodecParameters,
        start: DateTime<Utc>,
    ) -> Result<Self, RecorderError> {
        let dir = camera_dir(root, camera)?;
        let mut start_us = limes_store::to_us(start);
        // One file per start time; a later segment never starts before an earlier one ends,
        // but two cameras' clocks or a restart can meet: move on by a microsecond.
        let (path, file) = loop {
            let path = dir.join(format!("{start_us}.{}", parameters.codec));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => start_us += 1,
                Err(e) => return Err(RecorderError::File { path, source: e }),
            }
        };
        let name = format!("{}/{start_us}.{}", camera.as_str(), parameters.codec);
        let header = SegmentHeader { camera: camera.clone(), start_us, parameters };
        let bytes = format::encode_header(&header);
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        out.write_all(&bytes).map_err(io(&path))?;
        Ok(Self { out, path, name, header, frames: Vec::new(), len: bytes.len() as u64 })
    }

    /// Appends a frame `time` clock ticks after the segment's first.
    pub(crate) fn append(&mut self, time: i64, key: bool, sample: &[u8]) -> Result<(), RecorderError> {
        let head = format::encode_frame_header(time, key, sample);
        self.out.write_all(&head).map_err(io(&self.path))?;
        self.out.write_all(sample).map_err(io(&self.path))?;
        let offset = self.len + head.len() as u64;
        self.frames.push(ScannedFrame { time, key, offset, length: sample.len() as u32 });
        self.len = offset + sample.len() as u64;
        Ok(())
    }

    pub(crate) fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Ticks from the first frame to the last.
    pub(crate) fn span(&self) -> i64 {
        self.frames.last().map_or(0, |f| f.time)
    }

    pub(crate) fn parameters(&self) -> &CodecParameters {
        &self.header.parameters
    }

    pub(crate) fn start_us(&self) -> i64 {
        self.header.start_us
    }

    /// Closes the segment durably: flush, fsync the file, fsync its folder, then commit its
    /// index row. The last frame lasts `last_duration` ticks (until the next segment's first
    /// frame), or as long as the one before when `None`. A segment without frames is removed.
    pub(crate) fn close(self, last_duration: Option<u32>, store: &Store) -> Result<Option<Recording>, RecorderError> {
        let Self { out, path, name, header, frames, len } = self;
        let file = out.into_inner().map_err(|e| RecorderError::File { path: path.clone(), source: e.into_error() })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if frames.is_empty() {
            drop(file);
            std::fs::remove_file(&path).map_err(io(&path))?;
            fsync_dir(dir)?;
            return Ok(None);
        }
        file.sync_all().map_err(io(&path))?;
        fsync_dir(dir)?;
        let last = last_duration.unwrap_or_else(|| format::guess_last_duration(&frames));
        let scanned = format::Scanned { header, frames, whole_len: len };
        let mut index: SegmentIndex = format::index_of(&scanned, name);
        if let Some(f) = index.frames.last_mut() {
            f.duration = last;
        }
        let ticks = index.duration_ticks();
        index.end = format::wall_after(index.start, ticks, index.parameters.clock_rate);
        let id = store.add_recording(&index)?;
        Ok(Some(Recording { id, index }))
    }
}
