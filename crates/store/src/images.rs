//! Images of reads (plate crops and overviews), stored once per content.
//!
//! An image's identity is the SHA-256 of its bytes ([`ImageId`]). The bytes live in a file
//! `images/<hex 0..2>/<hex 2..4>/<hex>` under the data directory; the `images` table holds
//! what was found in them (format, size), and `read_images` which reads use the image, with
//! the acquisition metadata of each use. The same bytes posted for two reads are one file
//! and one `images` row with two `read_images` rows: the rows naming an image are its
//! reference count.
//!
//! Only a [`ValidImage`] can be stored: a JPEG or PNG whose header decodes, within
//! [`ImageLimits`], and that is not cut short.
//!
//! Order of durable steps (see `design/store.md`):
//! - storing: write a temporary file, fsync it, rename it to its name, fsync the directory,
//!   then commit the rows. A committed row always has its file.
//! - deleting: commit the deletion of the rows (with their reads), then unlink the files. A
//!   crash in between leaves orphan files, never a row without its file; orphan files are
//!   removed by [`Store::sweep_orphan_images`], which the node runs at startup.
//!
//! Writing, unlinking and sweeping an image's file happen under one of a few locks chosen by
//! the image id, so that a file is never unlinked while a new reference to it is committed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};
use limes_model::{AgencyId, CameraId, ImageKind};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Store, StoreError, corrupt, from_us, to_us};

/// The folder under the data directory that holds image files.
pub const IMAGES_DIR: &str = "images";

/// How many locks guard image files (chosen by the image id's first byte).
pub(crate) const LOCK_STRIPES: usize = 64;

/// The SHA-256 of an image's bytes, as 64 lower-case hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ImageId(String);

impl ImageId {
    /// The id of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut hex = String::with_capacity(64);
        for b in digest.iter() {
            hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            hex.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        Self(hex)
    }

    /// Parses 64 hexadecimal digits (either case); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file's path relative to the images folder: `ab/cd/abcd…`.
    fn relative_path(&self) -> PathBuf {
        Path::new(&self.0[0..2]).join(&self.0[2..4]).join(&self.0)
    }

    fn stripe(&self) -> usize {
        usize::from_str_radix(&self.0[0..2], 16).unwrap_or(0) % LOCK_STRIPES
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The image formats a node stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        }
    }

    /// The media type to serve it with.
    pub fn media_type(&self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// The format a media type names (`image/jpeg`, `image/png`), if it is one of these.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            _ => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "jpeg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    fn decoder_format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
        }
    }

    /// Whether the bytes run to the format's end marker: a file cut short in transfer
    /// decodes its header but lacks the end.
    fn is_complete(self, bytes: &[u8]) -> bool {
        match self {
            // End of image marker; some cameras pad the file with zero bytes after it.
            Self::Jpeg => {
                let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                bytes[..end].ends_with(&[0xff, 0xd9])
            }
            // The IEND chunk: length 0, type, CRC.
            Self::Png => bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]),
        }
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        })
    }
}

/// What an image may be, so that decoding it later (thumbnails, vision) cannot exhaust the
/// node: a decompression bomb is a small file that declares a huge picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// The largest file accepted.
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    /// The most memory its decoded pixels may take (width × height × bytes per pixel).
    pub max_decoded_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self { max_bytes: 8 << 20, max_width: 16_384, max_height: 16_384, max_decoded_bytes: 512 << 20 }
    }
}

/// Why bytes were refused as an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// No bytes at all.
    #[error("the image is empty")]
    Empty,
    /// More bytes than [`ImageLimits::max_bytes`].
    #[error("the image is {bytes} bytes, more than the {max} bytes this node accepts")]
    TooManyBytes { bytes: usize, max: usize },
    /// The bytes are not an image of any format known.
    #[error("the body is not an image (neither JPEG nor PNG)")]
    NotAnImage,
    /// An image, but of a format the node does not store.
    #[error("the body is a {0} image; only JPEG and PNG are accepted")]
    UnsupportedFormat(String),
    /// The declared content type names another format than the bytes hold.
    #[error("the content type says {declared} but the body is a {found} image")]
    WrongType { declared: ImageFormat, found: ImageFormat },
    /// Wider or taller than the limits.
    #[error("the image is larger than {max_width} x {max_height} pixels")]
    TooLargeDimensions { max_width: u32, max_height: u32 },
    /// Its decoded pixels would take more memory than allowed.
    #[error("the image is {width} x {height} pixels: decoded it would take {bytes} bytes, more than {max}")]
    TooManyPixels { width: u32, height: u32, bytes: u64, max: u64 },
    /// The header decodes but the file stops before the format's end marker.
    #[error("the {0} image is truncated (it stops before its end marker)")]
    Truncated(ImageFormat),
    /// The header does not decode.
    #[error("the {format} image is malformed: {detail}")]
    Malformed { format: ImageFormat, detail: String },
}

/// Bytes checked to be a storable image, with what was found in them.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidImage {
    bytes: Vec<u8>,
    id: ImageId,
    format: ImageFormat,
    width: u32,
    height: u32,
}

impl std::fmt::Debug for ValidImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidImage")
            .field("id", &self.id)
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl ValidImage {
    /// Checks that `bytes` are a JPEG or PNG image (of the `declared` format, when given)
    /// within `limits`. Decodes only the header, never the pixels.
    pub fn check(bytes: Vec<u8>, declared: Option<ImageFormat>, limits: &ImageLimits) -> Result<Self, ImageError> {
        if bytes.is_empty() {
            return Err(ImageError::Empty);
        }
        if bytes.len() > limits.max_bytes {
            return Err(ImageError::TooManyBytes { bytes: bytes.len(), max: limits.max_bytes });
        }
        let format = match image::guess_format(&bytes) {
            Ok(image::ImageFormat::Jpeg) => ImageFormat::Jpeg,
            Ok(image::ImageFormat::Png) => ImageFormat::Png,
            Ok(other) => return Err(ImageError::UnsupportedFormat(format!("{other:?}").to_uppercase())),
            Err(_) => return Err(ImageError::NotAnImage),
        };
        if let Some(declared) = declared
            && declared != format
        {
            return Err(ImageError::WrongType { declared, found: format });
        }
        let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes[..]), format.decoder_format());
        let mut decoder_limits = image::Limits::default();
        decoder_limits.max_image_width = Some(limits.max_width);
        decoder_limits.max_image_height = Some(limits.max_height);
        decoder_limits.max_alloc = Some(limits.max_decoded_bytes);
        reader.limits(decoder_limits);
        let (width, height, decoded) = match reader.into_decoder() {
            Ok(decoder) => {
                use image::ImageDecoder;
                let (w, h) = decoder.dimensions();
                (w, h, decoder.total_bytes())
            }
            Err(image::ImageError::Limits(_)) => {
                return Err(ImageError::TooLargeDimensions {
                    max_width: limits.max_width,
                    max_height: limits.max_height,
                });
            }
            Err(e) => return Err(ImageError::Malformed { format, detail: e.to_string().trim().to_owned() }),
        };
        if width == 0 || height == 0 {
            return Err(ImageError::Malformed { format, detail: format!("it is {width} x {height} pixels") });
        }
        if width > limits.max_width || height > limits.max_height {
            return Err(ImageError::TooLargeDimensions { max_width: limits.max_width, max_height: limits.max_height });
        }
        if decoded > limits.max_decoded_bytes {
            return Err(ImageError::TooManyPixels { width, height, bytes: decoded, max: limits.max_decoded_bytes });
        }
        if !format.is_complete(&bytes) {
            return Err(ImageError::Truncated(format));
        }
        let id = ImageId::of(&bytes);
        Ok(Self { bytes, id, format, width, height })
    }

    pub fn id(&self) -> &ImageId {
        &self.id
    }

    pub fn format(&self) -> ImageFormat {
        self.format
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// How an image is attached to a read. Camera, agency and time come from the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMeta {
    pub read_id: i64,
    pub kind: ImageKind,
    /// How the image reached the node (`http` for the API; an integration's name).
    pub source_format: String,
}

/// A stored image's content: what was found in its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub sha256: ImageId,
    pub format: ImageFormat,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// When the node first stored these bytes.
    pub first_seen: DateTime<Utc>,
}

/// One use of an image by a read, with its acquisition metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadImage {
    pub read_id: i64,
    pub kind: ImageKind,
    pub camera: CameraId,
    /// The camera's agency when the image was attached (none if the camera was removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<AgencyId>,
    /// When the camera took it: the read's time.
    pub time: DateTime<Utc>,
    pub source_format: String,
    /// When it was attached to the read.
    pub added: DateTime<Utc>,
    #[serde(flatten)]
    pub image: ImageInfo,
}

/// What [`Store::put_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutImage {
    pub id: ImageId,
    /// The read did not have this image (of this kind) before.
    pub attached: bool,
    /// The bytes were already stored (for this or another read): no new file.
    pub deduplicated: bool,
}

/// What [`Store::sweep_orphan_images`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Image files looked at.
    pub files: u64,
    /// Files removed: no row refers to them, or an unfinished temporary file.
    pub removed: u64,
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File { path: path.to_owned(), source }
}

/// Creates `dir` (and missing parents up to `root`), fsyncing each parent that gained an
/// entry, so that the new directory survives a power cut.
fn create_dir_durable(root: &Path, dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && parent != root
    {
        create_dir_durable(root, parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io_error(dir, e)),
    }
    fsync_dir(dir.parent().unwrap_or(root))
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))
}

fn decode_info(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Result<ImageInfo, StoreError>> {
    let sha: String = row.get(first)?;
    let format: String = row.get(first + 1)?;
    let (bytes, width, height, first_seen): (i64, u32, u32, i64) =
        (row.get(first + 2)?, row.get(first + 3)?, row.get(first + 4)?, row.get(first + 5)?);
    Ok((|| {
        Ok(ImageInfo {
            sha256: ImageId::parse(&sha).ok_or_else(|| corrupt("images", format!("sha256 {sha:?}")))?,
            format: ImageFormat::parse(&format).ok_or_else(|| corrupt("images", format!("format {format:?}")))?,
            bytes: bytes as u64,
            width,
            height,
            first_seen: from_us(first_seen),
        })
    })())
}

const INFO_COLUMNS: &str = "i.sha256, i.format, i.bytes, i.width, i.height, i.first_seen_us";

impl Store {
    /// The folder holding image files.
    pub fn images_dir(&self) -> &Path {
        &self.inner.images_dir
    }

    /// The file of an image (which exists only while the image is stored).
    pub fn image_path(&self, id: &ImageId) -> PathBuf {
        self.inner.images_dir.join(id.relative_path())
    }

    fn image_lock(&self, id: &ImageId) -> MutexGuard<'_, ()> {
        self.inner.image_locks[id.stripe()].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores an image (once per content) and attaches it to a read; returns once the file
    /// and the rows are durable. Attaching the same image to the same read again changes
    /// nothing. Fails with [`StoreError::NotFound`] when the read does not exist.
    pub fn put_image(&self, image: &ValidImage, meta: &ImageMeta) -> Result<PutImage, StoreError> {
        let id = image.id().clone();
        // Refuse early, before writing a file, when the read does not exist.
        self.read_exists(meta.read_id)?;
        let _guard = self.image_lock(&id);
        let path = self.image_path(&id);
        let on_disk = std::fs::metadata(&path).map(|m| m.len() == image.bytes().len() as u64).unwrap_or(false);
        if !on_disk {
            self.write_image_file(&path, image.bytes())?;
        }
        let result = self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let read: Option<(String, i64, Option<String>)> = tx
                .query_row(
                    "SELECT r.camera, r.time_us, c.agency FROM reads r LEFT JOIN cameras c ON c.id = r.camera
                     WHERE r.id = ?1",
                    [meta.read_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((camera, time_us, agency)) = read else {
                return Err(StoreError::NotFound(format!("read {}", meta.read_id)));
            };
            let now = to_us(Utc::now());
            let new_image = tx.execute(
                "INSERT INTO images (sha256, bytes, width, height, format, first_seen_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (sha256) DO NOTHING",
                params![id.as_str(), image.bytes().len() as i64, image.width(), image.height(), image.format().as_str(), now],
            )? == 1;
            let attached = tx.execute(
                "INSERT INTO read_images (read_id, sha256, kind, camera, agency, time_us, source_format, added_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                params![meta.read_id, id.as_str(), meta.kind.as_str(), camera, agency, time_us, meta.source_format, now],
            )? == 1;
            tx.commit()?;
            Ok(PutImage { id: id.clone(), attached, deduplicated: !new_image })
        });
        if result.is_err() {
            // The read went away meanwhile, or the commit failed: keep no file no row refers to.
            self.remove_file_if_unreferenced_locked(&id);
        }
        result
    }

    fn read_exists(&self, read_id: i64) -> Result<(), StoreError> {
        let exists = self
            .with_reader(|conn| Ok(conn.prepare_cached("SELECT 1 FROM reads WHERE id = ?1")?.exists([read_id])?))?;
        if exists { Ok(()) } else { Err(StoreError::NotFound(format!("read {read_id}"))) }
    }

    /// Writes a file durably: a temporary file, fsynced, renamed, then the directory fsynced.
    fn write_image_file(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = path.parent().unwrap_or(self.images_dir());
        create_dir_durable(self.images_dir(), dir)?;
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io_error(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
        fsync_dir(dir)
    }

    /// An image's bytes and what is known of them.
    pub fn get_image(&self, id: &ImageId) -> Result<(ImageInfo, Vec<u8>), StoreError> {
        let info = self.image_info(id)?;
        let path = self.image_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => Ok((info, bytes)),
            // Rows are deleted before their files: between the two, the image is gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.image_info(id).is_err() => {
                Err(StoreError::NotFound(format!("image {id}")))
            }
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// What is known of a stored image.
    pub fn image_info(&self, id: &ImageId) -> Result<ImageInfo, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {INFO_COLUMNS} FROM images i WHERE i.sha256 = ?1"))?;
            let mut rows = stmt.query_map([id.as_str()], |r| decode_info(r, 0))?;
            rows.next().ok_or_else(|| StoreError::NotFound(format!("image {id}")))??
        })
    }

    /// The images of a read, plate crops first, then by when they were attached.
    pub fn read_images(&self, read_id: i64) -> Result<Vec<ReadImage>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT ri.read_id, ri.kind, ri.camera, ri.agency, ri.time_us, ri.source_format, ri.added_us,
                        {INFO_COLUMNS}
                 FROM read_images ri JOIN images i ON i.sha256 = ri.sha256
                 WHERE ri.read_id = ?1 ORDER BY ri.kind = 'overview', ri.added_us, ri.sha256"
            ))?;
            let rows = stmt.query_map([read_id], |row| {
                let kind: String = row.get(1)?;
                let camera: String = row.get(2)?;
                let agency: Option<String> = row.get(3)?;
                let (read_id, time_us, source_format, added_us): (i64, i64, String, i64) =
                    (row.get(0)?, row.get(4)?, row.get(5)?, row.get(6)?);
                let info = decode_info(row, 7)?;
                Ok((|| {
                    Ok(ReadImage {
                        read_id,
                        kind: ImageKind::parse(&kind)
                            .ok_or_else(|| corrupt("read_images", format!("kind {kind:?}")))?,
                        camera: CameraId::new(camera).map_err(|e| corrupt("read_images", e))?,
                        agency: agency.map(AgencyId::new).transpose().map_err(|e| corrupt("read_images", e))?,
                        time: from_us(time_us),
                        source_format,
                        added: from_us(added_us),
                        image: info?,
                    })
                })())
            })?;
            rows.map(|r| r?).collect()
        })
    }

    /// How many reads use an image (0 once it is deleted).
    pub fn image_references(&self, id: &ImageId) -> Result<u64, StoreError> {
        self.with_reader(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM read_images WHERE sha256 = ?1", [id.as_str()], |r| {
                r.get::<_, i64>(0)
            })? as u64)
        })
    }

    /// Unlinks the files of images whose rows are gone (called after the rows' deletion
    /// committed). Failures are logged: the startup sweep removes what is left.
    pub(crate) fn remove_unreferenced_files(&self, ids: &[ImageId]) {
        for id in ids {
            self.remove_file_if_unreferenced(id);
        }
    }

    /// Removes an image's file if no row refers to it; returns whether it removed one.
    fn remove_file_if_unreferenced(&self, id: &ImageId) -> bool {
        let _guard = self.image_lock(id);
        self.remove_file_if_unreferenced_locked(id)
    }

    /// [`Self::remove_file_if_unreferenced`] for a caller that holds the image's lock.
    fn remove_file_if_unreferenced_locked(&self, id: &ImageId) -> bool {
        match self.image_info(id) {
            Err(StoreError::NotFound(_)) => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(image = %id, error = %e, "could not check an image before removing its file");
                return false;
            }
        }
        let path = self.image_path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove an image file; the startup sweep will");
                false
            }
        }
    }

    /// Removes image files no row refers to (left by a crash between a deletion's commit and
    /// its unlink, or between writing a file and committing its row) and unfinished temporary
    /// files. Safe while the node runs: each file is checked under its lock. Files whose names
    /// are not image ids are left alone.
    pub fn sweep_orphan_images(&self) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let root = self.images_dir().to_owned();
        let level = |dir: &Path| -> Result<Vec<PathBuf>, StoreError> {
            match std::fs::read_dir(dir) {
                Ok(entries) => Ok(entries.filter_map(Result::ok).map(|e| e.path()).collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(io_error(dir, e)),
            }
        };
        for first in level(&root)?.into_iter().filter(|p| p.is_dir()) {
            for second in level(&first)?.into_iter().filter(|p| p.is_dir()) {
                for file in level(&second)? {
                    let Some(name) = file.file_name().and_then(|n| n.to_str()) else { continue };
                    let (stem, temporary) = match name.strip_suffix(".tmp") {
                        Some(stem) => (stem, true),
                        None => (name, false),
                    };
                    let Some(id) = ImageId::parse(stem) else { continue };
                    report.files += 1;
                    let removed = if temporary {
                        // A write in progress holds this lock until its file is renamed.
                        let _guard = self.image_lock(&id);
                        std::fs::remove_file(&file).is_ok()
                    } else {
                        self.remove_file_if_unreferenced(&id)
                    };
                    if removed {
                        report.removed += 1;
                        tracing::info!(path = %file.display(), "removed an orphan image file");
                    }
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_are_lower_case_sha256_hex() {
        let id = ImageId::of(b"abc");
        assert_eq!(id.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(ImageId::parse(&id.as_str().to_uppercase()), Some(id.clone()));
        assert_eq!(id.relative_path(), Path::new("ba/78").join(id.as_str()));
        for bad in ["", "ba78", &format!("{}0", id), &id.as_str().replace('b', "g"), "../../../../etc/passwd"] {
            assert_eq!(ImageId::parse(bad), None, "{bad:?}");
        }
    }
}
