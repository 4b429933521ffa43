//! Files that travel with shared items — incidents' attachments, joint operations' documents:
//! kept once under `<data>/attachments/`, named by their SHA-256, and sent to partners over the
//! link's resumable blob transfer (the partner verifies the bytes against the digest the item's
//! event names). A partner's file is found where the link keeps what it received.

use std::path::{Path, PathBuf};

use limes_agreement::Labels;
use limes_cooperation::incident::AnonymisedCopy;
use limes_model::AgencyId;

use crate::AppState;

/// Where files written here are kept.
fn dir(state: &AppState) -> PathBuf {
    state.store.dir().join("attachments")
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Keeps `bytes` so that they survive a crash once this returns; gives their digest and path.
/// Two uploads of the same file keep one copy.
pub async fn keep(state: &AppState, bytes: bytes::Bytes) -> std::io::Result<(String, PathBuf)> {
    let sha256 = sha256_hex(&bytes);
    let dir = dir(state);
    let path = dir.join(&sha256);
    let written = path.clone();
    tokio::task::spawn_blocking(move || write_durably(&dir, &written, &bytes))
        .await
        .map_err(std::io::Error::other)??;
    Ok((sha256, path))
}

/// Where the bytes with digest `sha256` are on this node: written here, or received from a
/// partner (verified against the digest). `None` for what is not a digest.
pub fn path(state: &AppState, sha256: &str) -> Option<PathBuf> {
    let digest = parse_digest(sha256)?;
    let own = dir(state).join(sha256);
    if own.exists() {
        return Some(own);
    }
    state.federation.get().and_then(|f| f.link.blob_path(&digest))
}

/// Whether `s` is a SHA-256 as files are named by it: 64 lower-case hexadecimal digits.
pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_digest(sha256: &str) -> Option<[u8; 32]> {
    if !is_sha256(sha256) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, b) in digest.iter_mut().enumerate() {
        *b = u8::from_str_radix(&sha256[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

/// Sends the file at `path` to each of `to` the agreement lets `labels` go to (the file goes
/// where its event may go, and nowhere else), in the background; `what` names it in the log.
pub fn send(state: &AppState, path: &Path, to: Vec<AgencyId>, labels: &Labels, what: &str) {
    let Some(fed) = state.federation.get() else { return };
    let now = chrono::Utc::now();
    for partner in to {
        if !fed.link.decide_send(&partner, labels, now).allowed {
            continue;
        }
        let (link, path, what) = (fed.link.clone(), path.to_owned(), what.to_owned());
        tokio::spawn(async move {
            if let Err(e) = link.send_blob(&partner, &path, 20).await {
                tracing::error!(what, partner = %partner, error = %e, "a file did not reach the partner");
            }
        });
    }
}

/// What partners receive of a file shared with them (an incident's attachment, an operation's
/// document).
#[derive(Debug)]
pub enum ForPartners {
    /// Not a picture or a video: the file as it is.
    AsIs,
    /// A picture: its copy with faces and plate-shaped texts blurred.
    Anonymised { bytes: bytes::Bytes, copy: AnonymisedCopy },
    /// What cannot cross anonymised — a picture the anonymiser could not blur (its models
    /// missing), a picture in a format it does not read, a video — stays on this node: why.
    Withheld(String),
}

impl ForPartners {
    pub fn copy(&self) -> Option<AnonymisedCopy> {
        match self {
            ForPartners::Anonymised { copy, .. } => Some(copy.clone()),
            _ => None,
        }
    }
}

/// What partners may receive of `bytes` (declared `media_type`), made before anything is kept:
/// a JPEG or PNG picture (by its type or its bytes) is checked within the node's image limits
/// (a picture that does not decode is refused: the error says why) and anonymised; other
/// pictures and videos are withheld; other files go as they are.
pub async fn for_partners(state: &AppState, media_type: &str, bytes: &bytes::Bytes) -> Result<ForPartners, String> {
    use limes_store::ImageFormat;
    let guessed = match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => Some(ImageFormat::Jpeg),
        Ok(image::ImageFormat::Png) => Some(ImageFormat::Png),
        _ => None,
    };
    let declared = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some(format) = ImageFormat::from_media_type(&declared).or(guessed) else {
        if declared.starts_with("image/") || declared.starts_with("video/") || image::guess_format(bytes).is_ok() {
            return Ok(ForPartners::Withheld(format!(
                "a {declared} file is not anonymised (only JPEG and PNG pictures are; video is shared as clips), \
                 so it stays on this node"
            )));
        }
        return Ok(ForPartners::AsIs);
    };
    let valid = limes_store::ValidImage::check(bytes.to_vec(), Some(format), &state.options.images)
        .map_err(|e| format!("the picture: {e}"))?;
    let hub = state.analysis.clone();
    let made = tokio::task::spawn_blocking(move || hub.anonymise_picture(valid.bytes(), valid.format()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(match made {
        Ok(picture) => {
            let copy = AnonymisedCopy {
                sha256: sha256_hex(&picture.bytes),
                bytes: picture.bytes.len() as u64,
                faces: picture.faces,
                plates: picture.plates,
            };
            ForPartners::Anonymised { bytes: picture.bytes.into(), copy }
        }
        Err(why) => ForPartners::Withheld(format!("{why}; the picture stays on this node")),
    })
}

/// The attachment (or document) `bytes` make, named `name` and of `media_type`, with what
/// partners receive of it ([`for_partners`]); nothing is kept yet. `Err` says why a picture is
/// refused.
pub async fn shared_file(
    state: &AppState,
    name: String,
    media_type: String,
    bytes: &bytes::Bytes,
) -> Result<(limes_cooperation::incident::Attachment, ForPartners), String> {
    let shared = for_partners(state, &media_type, bytes).await?;
    let attachment = limes_cooperation::incident::Attachment {
        name,
        media_type,
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
        anonymised: shared.copy(),
    };
    Ok((attachment, shared))
}

/// Keeps what partners receive of a file already kept at `path` (`shared`): the path to send,
/// or `None` when it is withheld (logged with `what`).
pub async fn keep_for_partners(
    state: &AppState,
    shared: ForPartners,
    path: PathBuf,
    what: &str,
) -> std::io::Result<Option<PathBuf>> {
    match shared {
        ForPartners::AsIs => Ok(Some(path)),
        ForPartners::Anonymised { bytes, .. } => keep(state, bytes).await.map(|(_, copy)| Some(copy)),
        ForPartners::Withheld(why) => {
            tracing::warn!(what, why, "not sent to partners");
            Ok(None)
        }
    }
}

/// Removes the files kept here that no item names any more (`named` holds the digests still
/// named) and that are older than `grace` (an upload between its file and its event is not
/// swept). Gives how many were removed.
pub fn sweep(state: &AppState, named: &std::collections::HashSet<String>, grace: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir(state)) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if parse_digest(&name).is_none() || named.contains(&name) {
            continue;
        }
        let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|m| m.elapsed().ok());
        if old.is_some_and(|age| age >= grace) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::error!(file = %entry.path().display(), error = %e, "removing a file no item names"),
            }
        }
    }
    removed
}

/// Writes a file so that it survives a crash once this returns: a temporary file, fsynced,
/// renamed into place, the folder fsynced.
fn write_durably(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    if path.exists() {
        return Ok(());
    }
    // Named by the content: two uploads of the same file write the same bytes.
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
