//! `limes trust export` and `limes partner …`: how two agencies become partners.
//!
//! 1. Each runs `limes trust export` (offline, from its config and identity) and sends the
//!    file to the other out of band; they compare the fingerprints it prints by phone.
//! 2. Each runs `limes partner add THEIR-FILE --send alert --receive alert` against its own
//!    running node (an administrator's token in LIMES_TOKEN).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use limes_federation::{MessageType, TrustAnchor};

use crate::client::{NodeUrl, print, send};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    command: TrustCommand,
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Write this agency's trust anchor (certificate, public signing key, node URL, agency,
    /// country, legal regime; never a private key) for partners to add.
    Export {
        /// The node's configuration (with a [federation] section).
        #[arg(long, short, default_value = "limes.toml")]
        config: PathBuf,
        /// Where to write it (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Write JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
    /// Check a trust anchor a partner sent, and print who it names and its fingerprint.
    Show { file: PathBuf },
}

/// Reads a trust anchor from TOML or JSON and checks its signature.
pub fn read_anchor(file: &PathBuf) -> anyhow::Result<limes_federation::VerifiedAnchor> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    if text.len() > 64 * 1024 {
        bail!("{}: a trust anchor is a few kilobytes; this file is {} bytes", file.display(), text.len());
    }
    let anchor: TrustAnchor = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).with_context(|| format!("{}: not a trust anchor (JSON)", file.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("{}: not a trust anchor (TOML)", file.display()))?
    };
    anchor.verify().with_context(|| format!("{}: the trust anchor does not hold", file.display()))
}

pub fn trust(a: TrustArgs) -> anyhow::Result<()> {
    match a.command {
        TrustCommand::Export { config, out, json } => {
            let cfg = Config::load(&config)?;
            let link = cfg.link_config()?.with_context(|| {
                format!("{} has no [federation] section: set listen, url and name first", config.display())
            })?;
            let dir = cfg.store.data_dir.join("federation").join("identity");
            let identity = limes_link::Identity::load(&dir).with_context(|| {
                format!(
                    "reading the agency's identity in {} (made by limes init or the first limes serve)",
                    dir.display()
                )
            })?;
            // The audit log's key, so that partners can check and witness its checkpoints. A
            // node that never ran has none yet: its audit log is made now, as `serve` would.
            let data_dir = &cfg.store.data_dir;
            if !data_dir.join(limes_audit::KEY_FILE).exists() {
                let origin = format!("limes/{}/audit", cfg.node.agency);
                limes_audit::AuditLog::open(data_dir, limes_audit::AuditOptions::new(origin))
                    .and_then(limes_audit::AuditLog::close)
                    .with_context(|| format!("making the audit log in {}", data_dir.display()))?;
            }
            let audit_key = limes_audit::read_verifier_key(data_dir)
                .with_context(|| format!("reading the audit key in {}", data_dir.display()))?;
            let fields =
                limes_federation::AnchorFields { audit_key: Some(audit_key.to_string()), ..link.anchor_fields() };
            let anchor = identity.anchor(fields)?;
            let text = if json { serde_json::to_string_pretty(&anchor)? + "\n" } else { toml::to_string(&anchor)? };
            match out {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
            eprintln!(
                "agency {} ({}), certificate fingerprint: {}",
                anchor.agency,
                anchor.country,
                identity.fingerprint().to_spoken()
            );
            eprintln!("read the fingerprint to the partner by phone; they compare it with `limes trust show`");
            Ok(())
        }
        TrustCommand::Show { file } => {
            let v = read_anchor(&file)?;
            println!(
                "{}",
                serde_json::json!({
                    "agency": v.anchor.agency,
                    "name": v.anchor.name,
                    "country": v.anchor.country,
                    "regime": v.anchor.regime,
                    "url": v.anchor.url,
                    "signing_key": v.anchor.signing_key,
                    "format": v.anchor.format,
                    "audit_key": v.anchor.audit_key,
                    "fingerprint": v.fingerprint.to_hex(),
                    "fingerprint_spoken": v.fingerprint.to_spoken(),
                    "issued_at": v.anchor.issued_at,
                })
            );
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct PartnerArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: PartnerCommand,
}

#[derive(Debug, Subcommand)]
enum PartnerCommand {
    /// Partners and the state of the links to them (queue, last success, last error).
    List,
    /// Add a partner from the trust anchor it sent (or change what is exchanged with it).
    Add {
        /// The partner's trust anchor (TOML or JSON).
        file: PathBuf,
        /// Message types to send it (repeatable or comma-separated), e.g. alert.
        #[arg(long, value_delimiter = ',')]
        send: Vec<String>,
        /// Message types to accept from it.
        #[arg(long, value_delimiter = ',')]
        receive: Vec<String>,
    },
    /// Remove a partner; what was queued for it is dropped.
    Remove { agency: String },
    /// Revoke a partner (a lost or stolen key): its certificate and key are refused from now
    /// on and never trusted again.
    Revoke {
        agency: String,
        #[arg(long)]
        reason: String,
    },
    /// This node's trust anchor and the links' counters.
    Status,
}

fn types(names: &[String]) -> anyhow::Result<BTreeSet<MessageType>> {
    names.iter().map(|n| MessageType::new(n.trim()).with_context(|| format!("message type {n:?}"))).collect()
}

pub async fn partner(a: PartnerArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    match a.command {
        PartnerCommand::List => print(&send(c.get(a.node.at("/api/v1/partners"))).await?),
        PartnerCommand::Status => print(&send(c.get(a.node.at("/api/v1/federation"))).await?),
        PartnerCommand::Add { file, send: out, receive } => {
            let v = read_anchor(&file)?;
            eprintln!(
                "adding {} ({}, {}) at {}, certificate {}",
                v.anchor.agency,
                v.anchor.name,
                v.anchor.country,
                v.anchor.url,
                v.fingerprint.to_spoken()
            );
            let body = serde_json::json!({ "anchor": v.anchor, "send": types(&out)?, "receive": types(&receive)? });
            print(&send(c.post(a.node.at("/api/v1/partners")).json(&body)).await?);
        }
        PartnerCommand::Remove { agency } => {
            print(&send(c.delete(a.node.at(&format!("/api/v1/partners/{agency}")))).await?)
        }
        PartnerCommand::Revoke { agency, reason } => {
            let body = serde_json::json!({ "reason": reason });
            print(&send(c.post(a.node.at(&format!("/api/v1/partners/{agency}/revoke"))).json(&body)).await?)
        }
    }
    Ok(())
}
