//! `limes agreement …`: sharing agreements between two agencies.
//!
//! 1. One agency writes the agreement (see `docs/agreements.md` and its examples) and runs
//!    `limes agreement check FILE`: what flows, in plain words, or why it is incoherent.
//! 2. Each agency signs it offline with its own key: `limes agreement sign FILE`.
//! 3. Each puts the twice-signed file in force on its own node: `limes agreement add FILE`
//!    (an administrator's token in LIMES_TOKEN); `list` and `revoke` follow.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use limes_agreement::{Agreement, coherence, document};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::client::{NodeUrl, print, send};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct AgreementArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: AgreementCommand,
}

#[derive(Debug, Subcommand)]
enum AgreementCommand {
    /// Explain in plain words what an agreement lets flow; fail if it is incoherent.
    Check {
        file: PathBuf,
        /// Also fail unless both parties signed it.
        #[arg(long)]
        signed: bool,
        /// Also print the Cedar rules the node will evaluate.
        #[arg(long)]
        rules: bool,
    },
    /// Sign an agreement with this agency's key (offline), keeping the file's comments.
    Sign {
        file: PathBuf,
        /// This node's configuration (for the agency and its identity).
        #[arg(long, short, default_value = "limes.toml")]
        config: PathBuf,
        /// Where to write the signed agreement (default: over FILE).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Put an agreement both agencies signed in force on the node.
    Add { file: PathBuf },
    /// Agreements on the node, ended ones included.
    List,
    /// End an agreement: nothing flows under it from now on.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

fn read(file: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if meta.len() > document::MAX_DOCUMENT_BYTES as u64 {
        bail!(
            "{}: an agreement is at most {} bytes; this file is {}",
            file.display(),
            document::MAX_DOCUMENT_BYTES,
            meta.len()
        );
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

pub async fn agreement(a: AgreementArgs) -> anyhow::Result<()> {
    match a.command {
        AgreementCommand::Check { file, signed, rules } => {
            let text = read(&file)?;
            let agreement = Agreement::parse(&text).with_context(|| file.display().to_string())?;
            print!("{}", limes_agreement::explain(&agreement));
            if rules && let Ok(policy) = limes_agreement::SharingPolicy::compile(&agreement) {
                println!("\nCedar rules:\n\n{}", policy.to_cedar());
            }
            if !coherence::is_coherent(&coherence::check(&agreement)) {
                bail!("{}: the agreement is incoherent", file.display());
            }
            if signed {
                limes_agreement::sign::verify(&agreement).with_context(|| file.display().to_string())?;
            }
            Ok(())
        }
        AgreementCommand::Sign { file, config, out } => {
            let cfg = Config::load(&config)?;
            let link = cfg.link_config()?.with_context(|| {
                format!("{} has no [federation] section: set listen, url and name first", config.display())
            })?;
            let dir = cfg.store.data_dir.join("federation").join("identity");
            let identity = limes_link::Identity::load(&dir)
                .with_context(|| format!("reading the agency's identity in {}", dir.display()))?;
            let text = read(&file)?;
            let me = link.agency.to_string();
            let signed = limes_agreement::sign::sign_text(&text, &me, &identity.key)
                .with_context(|| format!("{}: signing as {me}", file.display()))?;
            let path = out.unwrap_or(file);
            std::fs::write(&path, &signed).with_context(|| format!("writing {}", path.display()))?;
            let agreement = Agreement::parse(&signed)?;
            let missing: Vec<&str> = agreement
                .parties
                .iter()
                .filter(|p| !agreement.signatures.iter().any(|s| s.agency == p.agency))
                .map(|p| p.agency.as_str())
                .collect();
            eprintln!("signed {} as {me} in {}", agreement.id, path.display());
            if missing.is_empty() {
                eprintln!("both parties have signed: each puts it in force with `limes agreement add`");
            } else {
                eprintln!("send it to {} to sign", missing.join(", "));
            }
            Ok(())
        }
        AgreementCommand::Add { file } => {
            let text = read(&file)?;
            let c = a.node.client()?;
            print(
                &send(c.post(a.node.at("/api/v1/agreements")).header("content-type", "text/plain").body(text)).await?,
            );
            Ok(())
        }
        AgreementCommand::List => {
            let c = a.node.client()?;
            print(&send(c.get(a.node.at("/api/v1/agreements"))).await?);
            Ok(())
        }
        AgreementCommand::Revoke { id, reason } => {
            let c = a.node.client()?;
            let body = serde_json::json!({ "reason": reason });
            // Agreement ids have slashes (`RO-UA/ANPR/2026-01`): one path segment, encoded.
            let path = format!("/api/v1/agreements/{}/revoke", utf8_percent_encode(&id, NON_ALPHANUMERIC));
            print(&send(c.post(a.node.at(&path)).json(&body)).await?);
            Ok(())
        }
    }
}
