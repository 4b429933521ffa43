//! `limes login`, `limes user …` and `limes token …`: accounts and API tokens of a running
//! node, over its HTTP API.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::client::{NodeUrl, print, send};

/// Reads a password from a file (its first line), or else from `LIMES_PASSWORD`, or else a
/// line of standard input.
fn password(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        None => match std::env::var("LIMES_PASSWORD") {
            Ok(p) => p,
            Err(_) => {
                eprint!("password: ");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
                line
            }
        },
    };
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    node: NodeUrl,
    /// The account.
    #[arg(long)]
    user: String,
    /// A file whose first line is the password (default: LIMES_PASSWORD, else standard input).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// The one-time code of the account's authenticator app, if it has one.
    #[arg(long)]
    totp: Option<String>,
}

/// Signs in and prints the session token (for `LIMES_TOKEN`). A purpose given with
/// `--purpose`, `--legal-basis` and `--case` holds for the whole session.
pub async fn login(a: LoginArgs) -> anyhow::Result<()> {
    let mut body = serde_json::json!({ "user": a.user, "password": password(a.password_file.as_ref())? });
    if let Some(code) = &a.totp {
        body["totp"] = code.as_str().into();
    }
    let (purpose, basis, case) = a.node.declared();
    if let Some(p) = purpose {
        body["purpose"] = p.into();
        body["legal_basis"] = basis.unwrap_or_default().into();
        if let Some(c) = case {
            body["case"] = c.into();
        }
    }
    let answer = send(reqwest::Client::new().post(a.node.at("/api/v1/auth/login")).json(&body)).await?;
    let token = answer.get("token").and_then(|t| t.as_str()).context("the node answered without a token")?;
    println!("{token}");
    if let Some(until) = answer.get("expires_at").and_then(|t| t.as_str()) {
        eprintln!("signed in as {} until {until}; export LIMES_TOKEN=<the line above>", a.user);
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// List accounts.
    List,
    /// Create an account.
    Add {
        name: String,
        /// operator, analyst, investigator, supervisor, dpo, administrator (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A file whose first line is the password (default: LIMES_PASSWORD, else standard
        /// input); `--no-password` for an account that signs in only through the identity
        /// provider.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[arg(long, conflicts_with = "password_file")]
        no_password: bool,
        /// The agency (default: the node's).
        #[arg(long)]
        agency: Option<String>,
        /// Cases the account is assigned to (repeatable).
        #[arg(long = "assign-case")]
        cases: Vec<String>,
        #[arg(long, default_value_t = 0)]
        clearance: i64,
    },
}

pub async fn user(a: UserArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    match a.command {
        UserCommand::List => print(&send(c.get(a.node.at("/api/v1/users"))).await?),
        UserCommand::Add { name, roles, password_file, no_password, agency, cases, clearance } => {
            let mut body = serde_json::json!({ "name": name, "roles": roles, "cases": cases, "clearance": clearance });
            if !no_password {
                body["password"] = password(password_file.as_ref())?.into();
            }
            if let Some(agency) = agency {
                body["agency"] = agency.into();
            }
            print(&send(c.post(a.node.at("/api/v1/users")).json(&body)).await?);
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// List tokens (never their secrets).
    List,
    /// Create a token for an integration; prints it once.
    Create {
        /// What the token is for (e.g. "camera gateway Siret").
        #[arg(long)]
        name: String,
        /// Operations it may perform, e.g. reads.ingest,detections.ingest.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// The purpose and legal basis every call of the token serves (needed when the scope
        /// consults data).
        #[arg(long = "token-purpose")]
        token_purpose: Option<String>,
        #[arg(long = "token-legal-basis")]
        token_legal_basis: Option<String>,
        /// The agency it speaks for (default: the node's).
        #[arg(long)]
        agency: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

pub async fn token(a: TokenArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    match a.command {
        TokenCommand::List => print(&send(c.get(a.node.at("/api/v1/tokens"))).await?),
        TokenCommand::Create { name, scope, token_purpose, token_legal_basis, agency } => {
            let mut body = serde_json::json!({ "name": name, "scope": scope });
            if let Some(p) = token_purpose {
                body["purpose"] = p.into();
                body["legal_basis"] = token_legal_basis.unwrap_or_default().into();
            }
            if let Some(agency) = agency {
                body["agency"] = agency.into();
            }
            print(&send(c.post(a.node.at("/api/v1/tokens")).json(&body)).await?);
        }
        TokenCommand::Revoke { id } => {
            send(c.delete(a.node.at(&format!("/api/v1/tokens/{id}")))).await?;
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}
