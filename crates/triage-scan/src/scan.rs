//! `limes triage PATH --case ID`: every file under the paths, and every member of every zip,
//! tar and tar.gz among them (archives in archives too), hashed (MD5, SHA-1, SHA-256), pictures
//! PDQ-hashed, videos PDQ-hashed one frame a second (as Meta's vPDQ does) through ffmpeg — on
//! all cores, into the case store, resumable, with a progress bar.
//!
//! Nothing in the evidence is trusted:
//! - symbolic links are recorded with their target, never followed (so a loop is one record);
//!   fifos, sockets and devices are recorded, never opened;
//! - an archive member's name is only ever a label: members are hashed as streams, and those
//!   that must be files (videos, archives in archives) are spooled under the case's `tmp/`
//!   with a name of our own, so a name like `../../etc/passwd` writes nothing anywhere (it is
//!   noted);
//! - a member that expands more than [`Limits::bomb_ratio`] times its compressed size (past
//!   [`Limits::bomb_floor`]) is stopped and noted as a possible zip bomb, and archives nest at
//!   most [`Limits::max_depth`] deep;
//! - a file of many gigabytes is hashed as a stream in fixed memory;
//! - whatever cannot be read is recorded with the reason, and the scan goes on.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use md5::Digest;
use rayon::prelude::*;

use crate::picture;
use crate::store::{CaseStore, FileRecord, Kind, StoreError};

/// How far triage goes into what it is given.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A member may expand to this many times its compressed size…
    pub bomb_ratio: u64,
    /// …once past this many bytes (small, very compressible files are common and harmless).
    pub bomb_floor: u64,
    /// Archives inside archives are opened this deep.
    pub max_depth: u32,
    /// Members read of one archive.
    pub max_members: u64,
    /// Frames hashed of one video (one a second: four hours).
    pub max_frames: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { bomb_ratio: 1000, bomb_floor: 64 << 20, max_depth: 4, max_members: 1_000_000, max_frames: 4 * 3600 }
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar on a terminal; a line every few seconds otherwise.
    Auto,
    /// A line every few seconds, terminal or not.
    Lines,
    Off,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub threads: usize,
    pub progress: Progress,
    pub limits: Limits,
    /// The ffmpeg to run for videos.
    pub ffmpeg: PathBuf,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: Progress::Auto,
            limits: Limits::default(),
            ffmpeg: PathBuf::from("ffmpeg"),
        }
    }
}

/// What a scan did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Files found on disk under the paths.
    pub found: u64,
    /// Of those, already recorded by an earlier scan of the case (resumed).
    pub already: u64,
    /// Records written (files on disk and archive members).
    pub recorded: u64,
    /// Records with a note (something could not be read or was noticed).
    pub noted: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{}: {error}", path.display())]
    Root { path: PathBuf, error: io::Error },
    #[error("{0}")]
    Threads(String),
}

/// A file on disk to read.
struct Item {
    path: PathBuf,
    name: String,
    size: u64,
    modified: Option<i64>,
}

/// Scans `roots` into `store`. Files already recorded are skipped, so a scan that was stopped
/// goes on where it was; an archive is recorded with all its members at once, so it is either
/// wholly recorded or read again.
pub fn scan(store: &mut CaseStore, roots: &[PathBuf], options: &Options) -> Result<Summary, ScanError> {
    let start = Instant::now();
    let tmp = store.dir().join("tmp");
    // Whatever a stopped scan left spooled is of no use now.
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| ScanError::Root { path: tmp.clone(), error: e })?;

    let recorded = store.recorded()?;
    let mut summary = Summary::default();
    let mut items = Vec::new();
    let mut early = Vec::new();
    for root in roots {
        let meta = std::fs::symlink_metadata(root).map_err(|e| ScanError::Root { path: root.clone(), error: e })?;
        if meta.is_dir() {
            walk(root, &recorded, &mut items, &mut early, &mut summary);
        } else {
            consider(root.clone(), &meta, &recorded, &mut items, &mut early, &mut summary);
        }
    }
    store.record(&early)?;
    summary.recorded += early.len() as u64;
    summary.noted += early.iter().filter(|r| r.note.is_some()).count() as u64;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| ScanError::Threads(e.to_string()))?;
    let meter = Meter::new(items.len() as u64, options.progress);
    let failed = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<FileRecord>>(options.threads.max(1) * 4);
    let mut write_error = None;
    std::thread::scope(|s| {
        let (items, failed, tmp) = (&items, &failed, &tmp);
        s.spawn(move || {
            pool.install(|| {
                items.par_iter().for_each_with(tx, |tx, item| {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let records = read_disk_file(item, tmp, options);
                    if tx.send(records).is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                })
            })
        });
        // The store is written from this thread alone, in transactions of many records: a
        // transaction a file would cost more than hashing it.
        let mut batch: Vec<FileRecord> = Vec::new();
        let mut files_in_batch = 0u64;
        let mut last = Instant::now();
        loop {
            let message = rx.recv_timeout(Duration::from_millis(200));
            let disconnected = matches!(message, Err(std::sync::mpsc::RecvTimeoutError::Disconnected));
            if let Ok(records) = message {
                files_in_batch += 1;
                batch.extend(records);
            }
            if !batch.is_empty() && (disconnected || batch.len() >= 512 || last.elapsed() > Duration::from_millis(500))
            {
                if let Err(e) = store.record(&batch) {
                    write_error = Some(e);
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
                summary.recorded += batch.len() as u64;
                summary.noted += batch.iter().filter(|r| r.note.is_some()).count() as u64;
                meter.advance(files_in_batch);
                batch.clear();
                files_in_batch = 0;
                last = Instant::now();
            }
            if disconnected {
                break;
            }
        }
        drop(rx);
    });
    meter.finish();
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

fn walk(
    root: &Path,
    recorded: &HashSet<String>,
    items: &mut Vec<Item>,
    early: &mut Vec<FileRecord>,
    summary: &mut Summary,
) {
    for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
        match entry {
            Ok(entry) => {
                if entry.file_type().is_dir() {
                    continue;
                }
                match entry.metadata() {
                    Ok(meta) => consider(entry.into_path(), &meta, recorded, items, early, summary),
                    Err(e) => unreadable(entry.path(), &e.to_string(), recorded, early),
                }
            }
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                unreadable(&path, &e.to_string(), recorded, early);
            }
        }
    }
}

fn unreadable(path: &Path, why: &str, recorded: &HashSet<String>, early: &mut Vec<FileRecord>) {
    let name = path.to_string_lossy().into_owned();
    if !recorded.contains(&name) {
        let mut record = FileRecord::new(name, Kind::Unreadable);
        record.note(why);
        early.push(record);
    }
}

fn consider(
    path: PathBuf,
    meta: &std::fs::Metadata,
    recorded: &HashSet<String>,
    items: &mut Vec<Item>,
    early: &mut Vec<FileRecord>,
    summary: &mut Summary,
) {
    let name = path.to_string_lossy().into_owned();
    summary.found += 1;
    if recorded.contains(&name) {
        summary.already += 1;
        return;
    }
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64);
    let file_type = meta.file_type();
    if file_type.is_file() {
        items.push(Item { path, name, size: meta.len(), modified });
        return;
    }
    let mut record = FileRecord::new(name, Kind::Other);
    record.modified = modified;
    if file_type.is_symlink() {
        record.kind = Kind::Link;
        let target =
            std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_else(|e| format!("(unreadable: {e})"));
        record.note(format!("a symbolic link to {target}: not followed"));
    } else {
        record.note("not a regular file (a fifo, socket or device): not read");
    }
    early.push(record);
}

// --- reading one file --------------------------------------------------------------------------

/// MD5, SHA-1 and SHA-256 of one stream, fed as it is read.
#[derive(Default)]
struct Hashes {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    bytes: u64,
}

impl Hashes {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
        self.bytes += data.len() as u64;
    }

    fn finish(self, record: &mut FileRecord) {
        record.md5 = Some(self.md5.finalize().into());
        record.sha1 = Some(self.sha1.finalize().into());
        record.sha256 = Some(self.sha256.finalize().into());
        record.size = self.bytes;
    }
}

const HEAD: usize = 4096;
const CHUNK: usize = 1 << 20;

/// Up to `HEAD` bytes from the start of a stream (fewer only at its end).
fn read_head(reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD);
    reader.take(HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Hashes the rest of a stream (after `head`), copying it to `copy` if given.
fn hash_rest(
    head: &[u8],
    reader: &mut dyn Read,
    hashes: &mut Hashes,
    mut copy: Option<&mut dyn Write>,
) -> io::Result<()> {
    hashes.update(head);
    if let Some(c) = copy.as_mut() {
        c.write_all(head)?;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hashes.update(&buf[..n]);
        if let Some(c) = copy.as_mut() {
            c.write_all(&buf[..n])?;
        }
    }
}

fn read_disk_file(item: &Item, tmp: &Path, options: &Options) -> Vec<FileRecord> {
    let mut record = FileRecord::new(item.name.clone(), Kind::Other);
    record.size = item.size;
    record.modified = item.modified;
    let mut out = Vec::new();
    let mut file = match std::fs::File::open(&item.path) {
        Ok(f) => f,
        Err(e) => {
            record.kind = Kind::Unreadable;
            record.note(e.to_string());
            return vec![record];
        }
    };
    let head = match read_head(&mut file) {
        Ok(h) => h,
        Err(e) => {
            record.kind = Kind::Unreadable;
            record.note(e.to_string());
            return vec![record];
        }
    };
    if item.size == 0 {
        record.note("empty (0 bytes)");
    }
    record.kind = picture::sniff(&head);
    if record.kind == Kind::Picture && item.size <= picture::MAX_PICTURE_BYTES {
        let mut bytes = head;
        match file.read_to_end(&mut bytes) {
            Ok(_) => picture_bytes(&bytes, &mut record),
            Err(e) => unread(&mut record, e),
        }
    } else {
        let mut hashes = Hashes::default();
        match hash_rest(&head, &mut file, &mut hashes, None) {
            Ok(()) => {
                hashes.finish(&mut record);
                match record.kind {
                    Kind::Archive => open_archive(&item.path, &mut record, 0, tmp, options, &mut out),
                    Kind::Video => video(&item.path, &mut record, options),
                    Kind::Picture => {
                        record.note(format!("more than {} bytes: not decoded as a picture", picture::MAX_PICTURE_BYTES))
                    }
                    _ => {}
                }
            }
            Err(e) => unread(&mut record, e),
        }
    }
    // The file's own record goes last: members first, so that a resumed scan, which skips
    // what is recorded, never skips an archive whose members are not.
    out.push(record);
    out
}

fn unread(record: &mut FileRecord, e: io::Error) {
    record.kind = Kind::Unreadable;
    record.md5 = None;
    record.sha1 = None;
    record.sha256 = None;
    record.note(format!("could not be read to its end: {e}"));
}

fn picture_bytes(bytes: &[u8], record: &mut FileRecord) {
    let mut hashes = Hashes::default();
    hashes.update(bytes);
    hashes.finish(record);
    match picture::pdq(bytes) {
        Ok((hashes, quality)) => {
            record.pdq = Some((hashes[0], quality));
            record.turned = hashes[1..].to_vec();
        }
        Err(e) => record.note(format!("the picture does not decode: {e}")),
    }
    match limes_triage::leads::read(bytes) {
        Ok(Some(limes_triage::leads::Metadata { mut leads, thumbnail })) => {
            // An embedded thumbnail far from the picture: the picture was edited after it was
            // taken, and the thumbnail may show what was cut away.
            if let (Some(thumbnail), Some((hash, _))) = (thumbnail, record.pdq) {
                match picture::pdq(&thumbnail) {
                    Ok((t, _)) => leads.thumbnail_distance = Some(hash.distance(&t[0])),
                    Err(e) => record.note(format!("the embedded thumbnail does not decode: {e}")),
                }
            }
            if !leads.is_empty() {
                record.leads = Some(leads);
            }
        }
        Ok(None) => {}
        Err(e) => record.note(e),
    }
}

/// A member of an archive, read from its stream.
fn read_member(
    reader: &mut dyn Read,
    record: &mut FileRecord,
    depth: u32,
    tmp: &Path,
    options: &Options,
    out: &mut Vec<FileRecord>,
) {
    let head = match read_head(reader) {
        Ok(h) => h,
        Err(e) => return unread(record, e),
    };
    record.kind = picture::sniff(&head);
    match record.kind {
        Kind::Picture if record.size <= picture::MAX_PICTURE_BYTES => {
            let mut bytes = head;
            match (&mut *reader).take(picture::MAX_PICTURE_BYTES + 1 - bytes.len() as u64).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 <= picture::MAX_PICTURE_BYTES => picture_bytes(&bytes, record),
                // Longer than its header said: hash it as a stream.
                Ok(_) => {
                    let mut hashes = Hashes::default();
                    match hash_rest(&bytes, reader, &mut hashes, None) {
                        Ok(()) => {
                            hashes.finish(record);
                            record.note("longer than its archive entry says: not decoded as a picture");
                        }
                        Err(e) => unread(record, e),
                    }
                }
                Err(e) => unread(record, e),
            }
        }
        Kind::Archive | Kind::Video => {
            // ffmpeg and the archive readers need a file: spool the member under the case's
            // folder, by a name of our own.
            let spooled = tempfile::NamedTempFile::new_in(tmp);
            let mut spooled = match spooled {
                Ok(f) => f,
                Err(e) => return record.note(format!("could not spool the member to read it: {e}")),
            };
            let mut hashes = Hashes::default();
            let copied = {
                let mut w = io::BufWriter::new(spooled.as_file_mut());
                hash_rest(&head, reader, &mut hashes, Some(&mut w)).and_then(|()| w.flush())
            };
            match copied {
                Ok(()) => {
                    hashes.finish(record);
                    if record.kind == Kind::Archive {
                        open_archive(spooled.path(), record, depth + 1, tmp, options, out);
                    } else {
                        video(spooled.path(), record, options);
                    }
                }
                Err(e) => unread(record, e),
            }
        }
        _ => {
            let mut hashes = Hashes::default();
            match hash_rest(&head, reader, &mut hashes, None) {
                Ok(()) => hashes.finish(record),
                Err(e) => unread(record, e),
            }
        }
    }
}

// --- archives ----------------------------------------------------------------------------------

/// Reads stop with an error once more than `limit` bytes came out.
struct Guard<R> {
    inner: R,
    out: u64,
    limit: Box<dyn Fn(u64) -> Option<String>>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        match (self.limit)(self.out) {
            Some(why) => Err(io::Error::other(why)),
            None => Ok(n),
        }
    }
}

/// Counts the bytes read through it, for a compressed stream's ratio.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

fn bomb(limits: &Limits, compressed: u64, expanded: u64) -> Option<String> {
    (expanded > limits.bomb_floor && expanded > compressed.saturating_mul(limits.bomb_ratio)).then(|| {
        format!(
            "expands more than {} times its {compressed} compressed bytes (a possible zip bomb): stopped after {expanded} bytes",
            limits.bomb_ratio
        )
    })
}

/// Notes a member name that would climb out of the archive if it were extracted (it never is).
fn check_name(name: &str, record: &mut FileRecord) {
    let climbs = name.starts_with('/')
        || name.starts_with('\\')
        || name.split(['/', '\\']).any(|c| c == "..")
        || name.get(1..2) == Some(":");
    if climbs {
        record.note(format!("the name {name:?} climbs out of the archive: recorded as named, nothing extracted"));
    }
}

fn open_archive(
    path: &Path,
    record: &mut FileRecord,
    depth: u32,
    tmp: &Path,
    options: &Options,
    out: &mut Vec<FileRecord>,
) {
    if depth >= options.limits.max_depth {
        return record.note(format!("an archive nested more than {} deep: not opened", options.limits.max_depth));
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return record.note(format!("the archive could not be opened: {e}")),
    };
    let head = match read_head(&mut file) {
        Ok(h) => h,
        Err(e) => return record.note(format!("the archive could not be read: {e}")),
    };
    drop(file);
    if head.starts_with(b"PK") {
        zip_members(path, record, depth, tmp, options, out);
    } else {
        tar_members(path, head.starts_with(&[0x1f, 0x8b]), record, depth, tmp, options, out);
    }
}

fn zip_members(
    path: &Path,
    record: &mut FileRecord,
    depth: u32,
    tmp: &Path,
    options: &Options,
    out: &mut Vec<FileRecord>,
) {
    let file = match std::fs::File::open(path) {
        Ok(f) => io::BufReader::new(f),
        Err(e) => return record.note(format!("the archive could not be opened: {e}")),
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => return record.note(format!("a damaged zip archive: {e}")),
    };
    let limits = &options.limits;
    for i in 0..zip.len() {
        if i as u64 >= limits.max_members {
            record.note(format!("more than {} members: the rest not read", limits.max_members));
            break;
        }
        let label = match zip.name_for_index(i) {
            Some(Ok(name)) => name.into_owned(),
            _ => format!("#{i}"),
        };
        let mut member = FileRecord::new(format!("{}!/{label}", record.path), Kind::Other);
        check_name(&label, &mut member);
        let entry = match zip.by_index(i) {
            Ok(entry) => entry,
            Err(e) => {
                member.kind = Kind::Unreadable;
                member.note(format!("the member could not be read: {e}"));
                out.push(member);
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        member.size = entry.size();
        member.modified = entry.last_modified().and_then(zip_time);
        if entry.is_symlink() {
            member.kind = Kind::Link;
            member.note("a symbolic link in the archive: not followed");
            out.push(member);
            continue;
        }
        let compressed = entry.compressed_size();
        if let Some(why) = bomb(limits, compressed, entry.size()) {
            member.note(format!("declares that it {why}; not expanded"));
            member.kind = Kind::Unreadable;
            out.push(member);
            continue;
        }
        let limits2 = limits.clone();
        let mut guarded = Guard { inner: entry, out: 0, limit: Box::new(move |n| bomb(&limits2, compressed, n)) };
        read_member(&mut guarded, &mut member, depth, tmp, options, out);
        out.push(member);
    }
}

/// Seconds since 1970 of a zip entry's local time (taken as UTC: zip stores no zone).
fn zip_time(t: zip::DateTime) -> Option<i64> {
    let days = days_from_civil(i64::from(t.year()), u32::from(t.month()), u32::from(t.day()))?;
    Some(days * 86_400 + i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second()))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm; a date
/// library for one conversion would be more than this).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn tar_members(
    path: &Path,
    gzipped: bool,
    record: &mut FileRecord,
    depth: u32,
    tmp: &Path,
    options: &Options,
    out: &mut Vec<FileRecord>,
) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return record.note(format!("the archive could not be opened: {e}")),
    };
    let compressed = Rc::new(Cell::new(0u64));
    let counted = Counting { inner: io::BufReader::new(file), count: compressed.clone() };
    let stream: Box<dyn Read> = if gzipped {
        let limits = options.limits.clone();
        let decoder = flate2::read::MultiGzDecoder::new(counted);
        Box::new(Guard { inner: decoder, out: 0, limit: Box::new(move |n| bomb(&limits, compressed.get(), n)) })
    } else {
        Box::new(counted)
    };
    let mut archive = tar::Archive::new(stream);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return record.note(format!("a damaged tar archive: {e}")),
    };
    let mut n = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let what = if n == 0 && gzipped {
                    "gzip data that is not a readable tar archive"
                } else {
                    "a damaged archive"
                };
                record.note(format!("{what} (after {n} members): {e}"));
                break;
            }
        };
        n += 1;
        if n > options.limits.max_members {
            record.note(format!("more than {} members: the rest not read", options.limits.max_members));
            break;
        }
        let label = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut member = FileRecord::new(format!("{}!/{label}", record.path), Kind::Other);
        check_name(&label, &mut member);
        member.size = entry.size();
        member.modified = entry.header().mtime().ok().and_then(|t| i64::try_from(t).ok());
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Directory | T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            T::Regular | T::Continuous | T::GNUSparse => {
                read_member(&mut entry, &mut member, depth, tmp, options, out);
            }
            T::Symlink | T::Link => {
                member.kind = Kind::Link;
                let target =
                    entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
                member.note(format!("a link in the archive to {target:?}: not followed"));
            }
            other => member.note(format!("a {other:?} entry: nothing to read")),
        }
        let stop = member.note.as_deref().is_some_and(|n| n.contains("possible zip bomb"));
        out.push(member);
        if stop {
            record.note("the compressed stream expands like a bomb: the rest not read");
            break;
        }
    }
}

// --- videos ------------------------------------------------------------------------------------

/// A video's frames, one a second, PDQ-hashed: ffmpeg decodes and scales them (at most 512 on a
/// side, the size PDQ itself works from) and writes them as a stream of PPM pictures.
fn video(path: &Path, record: &mut FileRecord, options: &Options) {
    match video_frames(path, options) {
        Ok((frames, warning)) => {
            if frames.is_empty() {
                record.note(format!(
                    "no frame could be decoded{}",
                    warning.map(|w| format!(": {w}")).unwrap_or_default()
                ));
            } else if let Some(w) = warning {
                record.note(format!("decoded {} frames, then: {w}", frames.len()));
            }
            record.frames = frames;
        }
        Err(e) => record.note(e),
    }
}

type Frames = Vec<(u32, limes_triage::pdq::Hash256, u8)>;

fn video_frames(path: &Path, options: &Options) -> Result<(Frames, Option<String>), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(&options.ffmpeg)
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-vf",
            "fps=1,scale='min(512,iw)':'min(512,ih)':force_original_aspect_ratio=decrease",
            "-frames:v",
            &options.limits.max_frames.to_string(),
            "-f",
            "image2pipe",
            "-c:v",
            "ppm",
            "pipe:1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("ffmpeg could not be started ({}): frames not hashed", e))?;
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stderr).take(64 << 10).read_to_end(&mut text);
        let _ = io::copy(&mut stderr, &mut io::sink());
        String::from_utf8_lossy(&text).trim().lines().last().unwrap_or_default().to_owned()
    });
    let mut stdout = io::BufReader::new(child.stdout.take().expect("piped"));
    let mut frames = Vec::new();
    let mut problem = None;
    loop {
        match read_ppm(&mut stdout) {
            Ok(None) => break,
            Ok(Some((w, h, rgb))) => match limes_triage::pdq::hash_rgb8(&rgb, w, h) {
                Ok((hash, quality)) => frames.push((frames.len() as u32, hash, quality)),
                Err(e) => {
                    problem = Some(e.to_string());
                    break;
                }
            },
            Err(e) => {
                problem = Some(e);
                break;
            }
        }
    }
    drop(stdout);
    let status = child.wait().map_err(|e| e.to_string())?;
    let said = errors.join().unwrap_or_default();
    if !status.success() || problem.is_some() {
        let mut why = problem.unwrap_or_default();
        if !said.is_empty() {
            why = if why.is_empty() { said } else { format!("{why}; ffmpeg: {said}") };
        }
        if why.is_empty() {
            why = format!("ffmpeg {status}");
        }
        return Ok((frames, Some(why)));
    }
    Ok((frames, None))
}

/// One binary PPM (`P6 width height 255` and the pixels) from a stream ffmpeg writes; `None`
/// at the end of the stream. Written here because it is ten lines and the stream is ffmpeg's.
fn read_ppm(r: &mut impl io::BufRead) -> Result<Option<(usize, usize, Vec<u8>)>, String> {
    let mut fields = Vec::new();
    let mut token = Vec::new();
    while fields.len() < 4 {
        let mut byte = [0u8];
        match r.read(&mut byte) {
            Ok(0) if fields.is_empty() && token.is_empty() => return Ok(None),
            Ok(0) => return Err("ffmpeg's frame stream stopped in a header".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        if byte[0].is_ascii_whitespace() {
            if !token.is_empty() {
                fields.push(String::from_utf8_lossy(&token).into_owned());
                token.clear();
            }
        } else if token.len() < 16 {
            token.push(byte[0]);
        } else {
            return Err("ffmpeg's frame stream is not PPM".into());
        }
    }
    let number = |s: &str| s.parse::<usize>().ok().filter(|&n| (1..=1 << 15).contains(&n));
    let (Some(w), Some(h)) = (number(&fields[1]), number(&fields[2])) else {
        return Err("ffmpeg's frame stream is not PPM".into());
    };
    if fields[0] != "P6" || fields[3] != "255" {
        return Err("ffmpeg's frame stream is not 8-bit PPM".into());
    }
    let mut rgb = vec![0u8; w * h * 3];
    r.read_exact(&mut rgb).map_err(|e| format!("ffmpeg's frame stream stopped in a frame: {e}"))?;
    Ok(Some((w, h, rgb)))
}

// --- progress ----------------------------------------------------------------------------------

/// The progress of a scan: files done of files found, files a second, time left.
struct Meter {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    total: u64,
    done: AtomicU64,
    start: Instant,
    last_line: std::sync::Mutex<Instant>,
}

impl Meter {
    fn new(total: u64, progress: Progress) -> Meter {
        use std::io::IsTerminal;
        let terminal = io::stderr().is_terminal();
        let bar = (progress == Progress::Auto && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} files · {per_sec} · ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let lines = progress == Progress::Lines || (progress == Progress::Auto && !terminal);
        Meter {
            bar,
            lines,
            total,
            done: AtomicU64::new(0),
            start: Instant::now(),
            last_line: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn advance(&self, files: u64) {
        let done = self.done.fetch_add(files, Ordering::Relaxed) + files;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
        if self.lines {
            let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= Duration::from_secs(2) {
                *last = Instant::now();
                eprintln!("{}", self.line(done));
            }
        }
    }

    fn line(&self, done: u64) -> String {
        let seconds = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / seconds;
        let left = if rate > 0.0 { (self.total.saturating_sub(done)) as f64 / rate } else { f64::INFINITY };
        let eta = if left.is_finite() { format!("{:.0} s", left.ceil()) } else { "unknown".into() };
        format!("triage: {done}/{} files, {rate:.1} files/s, ETA {eta}", self.total)
    }

    fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if self.lines {
            eprintln!("{}", self.line(done));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2026, 11, 23), Some(20_780));
        assert_eq!(days_from_civil(2026, 13, 1), None);
    }

    #[test]
    fn ppm_frames_are_read_and_hostile_headers_refused() {
        let mut stream = b"P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06P6 1 1 255\n\x07\x08\x09".to_vec();
        let mut r = io::Cursor::new(std::mem::take(&mut stream));
        assert_eq!(read_ppm(&mut r).unwrap(), Some((2, 1, vec![1, 2, 3, 4, 5, 6])));
        assert_eq!(read_ppm(&mut r).unwrap(), Some((1, 1, vec![7, 8, 9])));
        assert_eq!(read_ppm(&mut r).unwrap(), None);
        for bad in [
            &b"P6\n99999999 1\n255\n"[..],
            b"P5\n1 1\n255\n\0",
            b"P6\n1 1\n65535\n",
            b"P6\n1",
            b"P6\n2 2\n255\n\0\0",
            b"P6 aaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(read_ppm(&mut io::Cursor::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_that_climb_out_are_noted() {
        for (name, climbs) in [
            ("../../etc/passwd", true),
            ("/etc/passwd", true),
            ("a/../../b", true),
            ("C:\\x", true),
            ("dcim/1.jpg", false),
            ("a..b/c", false),
        ] {
            let mut r = FileRecord::new(String::new(), Kind::Other);
            check_name(name, &mut r);
            assert_eq!(r.note.is_some(), climbs, "{name}");
        }
    }
}
