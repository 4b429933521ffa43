//! `limes audit`: verify the node's audit log, export its records, show its key.
//!
//! They read `<data_dir>/audit.sqlite` directly and read-only, so they run beside a serving
//! node; the data directory is `--data-dir`, or the one the configuration names.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use limes_audit::{ExportFilter, VerifierKey, VerifyError};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Args)]
struct Location {
    /// The node's data directory (holding audit.sqlite); without it, the configuration's.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The configuration naming the data directory.
    #[arg(long, short, default_value = "limes.toml")]
    config: PathBuf,
}

impl Location {
    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => Ok(crate::config::Config::load(&self.config)
                .context("no --data-dir given, and the configuration could not be read")?
                .store
                .data_dir),
        }
    }
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the audit log and check every checkpoint; exits non-zero and names the
    /// place where the log breaks.
    Verify {
        #[command(flatten)]
        at: Location,
        /// The verifier key to trust (as partners hold it: name+id+key). Without it, the
        /// node's own key file, which proves the log holds together but not that the node
        /// did not rewrite and re-sign it.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print readable records as JSON lines, in log order.
    Export {
        #[command(flatten)]
        at: Location,
        /// Records logged at or after this time (RFC 3339, or a date: midnight UTC).
        #[arg(long)]
        from: Option<String>,
        /// Records logged before this time (RFC 3339, or a date: midnight UTC).
        #[arg(long)]
        to: Option<String>,
        /// Records of this actor: `user:ana`, or a bare id of any kind.
        #[arg(long)]
        actor: Option<String>,
        /// Records mentioning this plate (in their object or details).
        #[arg(long)]
        plate: Option<String>,
        /// Records whose object contains this text (`hotlist:42`, `reads:`).
        #[arg(long)]
        object: Option<String>,
    },
    /// Print the log's verifier key (for partners) and its newest checkpoint as a signed note.
    Key {
        #[command(flatten)]
        at: Location,
    },
}

pub fn run(a: AuditArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    match a.command {
        AuditCommand::Verify { at, key } => {
            let dir = at.data_dir()?;
            let key = match key {
                Some(k) => VerifierKey::parse(&k).context("--key")?,
                None => {
                    eprintln!(
                        "verifying against the node's own key; pass --key with the key partners hold to detect a re-signed log"
                    );
                    limes_audit::read_verifier_key(&dir)?
                }
            };
            verify(&dir, &key, &mut stdout.lock())
        }
        AuditCommand::Export { at, from, to, actor, plate, object } => {
            let filter = ExportFilter {
                from: from.as_deref().map(parse_time).transpose().context("--from")?,
                to: to.as_deref().map(parse_time).transpose().context("--to")?,
                actor,
                object_contains: object,
                mentions: plate.map(|p| p.to_uppercase()),
            };
            let n = limes_audit::export(&at.data_dir()?, &filter, &mut stdout.lock())?;
            eprintln!("{n} records");
            Ok(())
        }
        AuditCommand::Key { at } => {
            let dir = at.data_dir()?;
            let key = limes_audit::read_verifier_key(&dir)?;
            let mut out = stdout.lock();
            writeln!(out, "{key}")?;
            if let Err(e) = latest_note(&dir, &key, &mut out) {
                eprintln!("no checkpoint shown: {e}");
            }
            Ok(())
        }
    }
}

/// Verifies the log and prints a summary, or every break (the first is where it breaks).
fn verify(dir: &Path, key: &VerifierKey, out: &mut dyn Write) -> anyhow::Result<()> {
    match limes_audit::verify(&dir.join(limes_audit::DB_FILE), key) {
        Ok(r) => {
            writeln!(
                out,
                "ok: {} records ({} readable, {} erased), {} checkpoints",
                r.size, r.records, r.erased, r.checkpoints
            )?;
            if let Some(latest) = &r.latest {
                let time = DateTime::from_timestamp(latest.time as i64, 0).unwrap_or_default();
                writeln!(
                    out,
                    "latest checkpoint: size {} at {time}, root {}",
                    latest.checkpoint.size, latest.checkpoint.root
                )?;
            }
            if r.uncovered > 0 {
                writeln!(out, "{} records appended after the latest checkpoint", r.uncovered)?;
            }
            Ok(())
        }
        Err(VerifyError::Broken { breaks, total }) => {
            for b in breaks.iter().take(20) {
                writeln!(out, "{b}")?;
            }
            if total > 20 {
                writeln!(out, "… and {} more", total - 20)?;
            }
            let more = if total > 1 { format!(" ({total} problems in all)") } else { String::new() };
            bail!("the audit log breaks at {}{more}", breaks[0]);
        }
        Err(e) => Err(e.into()),
    }
}

fn latest_note(dir: &Path, key: &VerifierKey, out: &mut dyn Write) -> anyhow::Result<()> {
    let report = limes_audit::verify(&dir.join(limes_audit::DB_FILE), key)?;
    match report.latest {
        Some(latest) => write!(out, "\n{}", key.note(&latest))?,
        None => writeln!(out, "(no checkpoint yet)")?,
    }
    Ok(())
}

/// RFC 3339, or a bare date meaning its midnight UTC.
fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{s:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))?;
    Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

#[cfg(test)]
mod tests {
    use limes_audit::{Action, Actor, AuditEvent, AuditLog, AuditOptions, Details, Object, Outcome};

    use super::*;

    fn event(plate: &str) -> AuditEvent {
        AuditEvent {
            actor: Actor::User("ana".into()),
            role: "investigator".into(),
            action: Action::Consult,
            object: Object::plate(plate),
            purpose: "investigation".into(),
            legal_basis: "RO Law 363/2018 art. 5".into(),
            case_ref: None,
            outcome: Outcome::Allowed,
            details: Details::none(),
        }
    }

    #[test]
    fn verify_prints_a_summary_then_names_the_break() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), AuditOptions::new("limes.test/audit")).unwrap();
        for plate in ["B123ABC", "CJ10XYZ", "B123ABC"] {
            log.append_blocking(event(plate)).unwrap();
        }
        log.close().unwrap();
        let key = limes_audit::read_verifier_key(dir.path()).unwrap();
        let mut out = Vec::new();
        verify(dir.path(), &key, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("ok: 3 records (3 readable, 0 erased)"), "{text}");

        let conn = rusqlite::Connection::open(dir.path().join(limes_audit::DB_FILE)).unwrap();
        conn.execute("UPDATE records SET object = 'plate:B123ABD' WHERE seq = 2", []).unwrap();
        let mut out = Vec::new();
        let err = verify(dir.path(), &key, &mut out).unwrap_err();
        assert!(err.to_string().contains("record 2"), "{err}");
        assert!(String::from_utf8(out).unwrap().starts_with("record 2: "));

        // The export reads the records as stored, and selects by plate.
        let filter = ExportFilter { mentions: Some("B123ABC".into()), ..Default::default() };
        let mut out = Vec::new();
        assert_eq!(limes_audit::export(dir.path(), &filter, &mut out).unwrap(), 1);
    }

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(parse_time("2026-03-01").unwrap().to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(parse_time("2026-03-01T10:00:00+02:00").unwrap().to_rfc3339(), "2026-03-01T08:00:00+00:00");
        assert!(parse_time("yesterday").is_err());
    }
}
