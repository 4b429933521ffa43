//! `limes clip`: export a signed clip of a camera's recording, and verify one.
//!
//! `export` works offline on a node's data directory with the agency's key
//! (`<data>/federation/identity/agency.key`): it cuts the recording (`limes_recorder::clip`),
//! writes `FILE` and `FILE.limes-clip.json` (the signed manifest, `limes_federation::clip`).
//! `verify` needs nothing of a node: the clip, its manifest and, to know who signed, the
//! agency's public key or trust anchor.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use limes_federation::clip::{ClipFacts, ClipManifest, MANIFEST_SUFFIX, key_fingerprint};
use limes_federation::{AgencyKey, PublicKey};
use limes_model::{AgencyId, CameraId};

#[derive(Debug, Args)]
pub struct ClipArgs {
    #[command(subcommand)]
    command: ClipCommand,
}

#[derive(Debug, Subcommand)]
enum ClipCommand {
    /// Cut a camera's recording from one time to another into an MP4, with a manifest signed
    /// by the agency's key beside it (FILE.limes-clip.json). Works offline on the data directory.
    Export {
        /// The node's data directory (holding recordings/ and federation/identity/agency.key).
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        camera: String,
        /// Start (RFC 3339); the clip starts at the last key frame at or before it.
        #[arg(long)]
        from: DateTime<Utc>,
        /// End (RFC 3339).
        #[arg(long)]
        to: DateTime<Utc>,
        /// The MP4 to write; the manifest goes beside it.
        #[arg(long)]
        out: PathBuf,
        /// The agency the node belongs to; without it, the configuration's.
        #[arg(long)]
        agency: Option<String>,
        /// The configuration naming the agency, when --agency is not given.
        #[arg(long, short, default_value = "limes.toml")]
        config: PathBuf,
        /// Who exports, as the manifest will say (default: the operating-system user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Check a clip against its manifest: the signature, the SHA-256 and length of the MP4,
    /// and (with --key or --anchor) who signed. Exits non-zero on any mismatch.
    Verify {
        /// The MP4.
        file: PathBuf,
        /// The manifest (default: FILE.limes-clip.json).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The agency's public key (`ed25519:…`), or a file holding it.
        #[arg(long, conflicts_with = "anchor")]
        key: Option<String>,
        /// The agency's trust anchor (as `limes trust export` writes it): its key and agency.
        #[arg(long)]
        anchor: Option<PathBuf>,
    },
}

pub fn run(a: ClipArgs) -> anyhow::Result<()> {
    match a.command {
        ClipCommand::Export { data, camera, from, to, out, agency, config, by } => {
            let agency = match agency {
                Some(a) => a,
                None => crate::config::Config::load(&config)
                    .context("no --agency given, and the configuration could not be read")?
                    .node
                    .agency
                    .to_string(),
            };
            let by = by.unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "operator".into()));
            export(&data, &camera, from, to, &out, &agency, &by)
        }
        ClipCommand::Verify { file, manifest, key, anchor } => verify(&file, manifest, key, anchor),
    }
}

/// `<out>.limes-clip.json`.
pub fn manifest_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(MANIFEST_SUFFIX);
    PathBuf::from(name)
}

fn export(
    data: &Path,
    camera: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &Path,
    agency: &str,
    by: &str,
) -> anyhow::Result<()> {
    let camera = CameraId::new(camera).map_err(|e| anyhow::anyhow!("--camera {camera:?}: {e}"))?;
    let agency = AgencyId::new(agency).map_err(|e| anyhow::anyhow!("agency {agency:?}: {e}"))?;
    let key_file = data.join("federation").join("identity").join("agency.key");
    let key_text = std::fs::read_to_string(&key_file)
        .with_context(|| format!("reading the agency's key {} (made by limes init)", key_file.display()))?;
    let key = AgencyKey::parse_private_text(&key_text).with_context(|| key_file.display().to_string())?;
    if !data.is_dir() {
        bail!("{} is not a node's data directory", data.display());
    }
    let store = limes_store::Store::open(data, limes_store::StoreOptions::default())
        .with_context(|| format!("opening the store in {}", data.display()))?;
    let clip = limes_recorder::clip::cut(
        &store,
        &store.recordings_dir(),
        &camera,
        from,
        to,
        &limes_recorder::clip::ClipLimits::default(),
    )?;
    let facts = ClipFacts {
        camera,
        agency,
        from,
        to,
        first_frame: clip.first_frame,
        last_frame: clip.last_frame,
        codec: clip.parameters.rfc6381.clone(),
        frames: clip.frames,
        exported_at: Utc::now(),
        exported_by: by.to_owned(),
        anonymised: None,
    };
    let manifest = ClipManifest::sign(facts, &clip.mp4, &key)?;
    let manifest_file = manifest_path(out);
    write_new(out, &clip.mp4)?;
    write_new(&manifest_file, manifest.to_json().as_bytes())?;
    println!(
        "wrote {} ({} frames, {} bytes, {} from {} to {}) and {}",
        out.display(),
        manifest.frames,
        manifest.bytes,
        manifest.codec,
        manifest.first_frame,
        manifest.last_frame,
        manifest_file.display()
    );
    println!("sha256 {}, signed by {} ({})", manifest.sha256, manifest.signing_key, manifest.key_fingerprint);
    Ok(())
}

/// Writes a file that must not exist yet, and fsyncs it.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (an existing file is never overwritten)", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))
}

/// The key a `--key` names: the text itself, or a file holding it.
fn read_key(key: &str) -> anyhow::Result<PublicKey> {
    if let Ok(k) = key.parse() {
        return Ok(k);
    }
    let path = Path::new(key);
    let meta =
        std::fs::metadata(path).with_context(|| format!("--key {key:?} is neither a key (ed25519:…) nor a file"))?;
    if meta.len() > 4096 {
        bail!("--key {}: a public key is a line of text; this file is {} bytes", path.display(), meta.len());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim().parse().with_context(|| format!("{}: not a public key", path.display()))
}

fn verify(file: &Path, manifest: Option<PathBuf>, key: Option<String>, anchor: Option<PathBuf>) -> anyhow::Result<()> {
    let manifest_file = manifest.unwrap_or_else(|| manifest_path(file));
    let size = std::fs::metadata(&manifest_file).with_context(|| format!("reading {}", manifest_file.display()))?.len();
    if size > limes_federation::clip::MAX_MANIFEST_BYTES as u64 {
        bail!(
            "{}: not a clip manifest: {size} bytes, more than {}",
            manifest_file.display(),
            limes_federation::clip::MAX_MANIFEST_BYTES
        );
    }
    let text = std::fs::read(&manifest_file).with_context(|| format!("reading {}", manifest_file.display()))?;
    let m = ClipManifest::parse(&text).with_context(|| format!("{}: refused", manifest_file.display()))?;
    let (trusted, agency) = match (key, anchor) {
        (Some(k), _) => (Some(read_key(&k)?), None),
        (None, Some(a)) => {
            let v = crate::federation::read_anchor(&a)?;
            (Some(v.anchor.signing_key), Some(v.anchor.agency))
        }
        (None, None) => (None, None),
    };
    if let Some(agency) = agency
        && agency != m.agency
    {
        bail!("CLIP NOT VERIFIED: the manifest names agency {}, the trust anchor is {agency}'s", m.agency);
    }
    let mp4 = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let v = m.verify(&mp4, trusted.as_ref()).map_err(|e| anyhow::anyhow!("CLIP NOT VERIFIED: {e}"))?;
    let m = &v.manifest;
    println!("verified {} against {}", file.display(), manifest_file.display());
    println!("camera       {}", m.camera);
    println!("agency       {}", m.agency);
    println!("asked        {} to {}", m.from, m.to);
    println!("frames       {} ({}), {} to {}", m.frames, m.codec, m.first_frame, m.last_frame);
    println!("file         {} bytes, sha256 {}", m.bytes, m.sha256);
    println!("exported     {} by {}", m.exported_at, m.exported_by);
    match &m.anonymised {
        Some(a) => println!(
            "anonymised   {} blurred in every frame ({} faces, {} plates found); made from clip {}",
            a.blurred.replace(',', " and "),
            a.faces,
            a.plates,
            a.source_sha256
        ),
        None => println!("anonymised   no: the recording in clear"),
    }
    println!("signed by    {} ({})", m.signing_key, key_fingerprint(&m.signing_key));
    if !v.key_trusted {
        println!(
            "WARNING: the key was not checked against one you trust: anyone can sign a clip with a key of \
             their own. Give --key or --anchor with the agency's key to know who signed."
        );
    }
    Ok(())
}
