//! `limes onvif` and `limes recorder`: the cameras and recorders an agency already runs.
//! Finding ONVIF devices and their streams, searching a recorder's recordings (ONVIF Profile G
//! or Hikvision ISAPI), and pulling one into the node's recordings with `limes-recorder`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use limes_onvif::{Credentials, DiscoverOptions, IsapiClient, OnvifClient, isapi};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct OnvifArgs {
    #[command(subcommand)]
    command: OnvifCommand,
}

#[derive(Debug, Subcommand)]
enum OnvifCommand {
    /// Find ONVIF cameras and recorders on the local network (WS-Discovery).
    Discover {
        /// Seconds to listen for answers.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
        /// The local IPv4 address (interface) to probe from.
        #[arg(long)]
        interface: Option<Ipv4Addr>,
        /// Where the probe goes: the multicast group, or one device's address (unicast).
        #[arg(long, default_value = "239.255.255.250:3702")]
        probe_addr: SocketAddr,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A device's media profiles and the RTSP URI of each.
    Streams {
        /// The Device service URL (http://host/onvif/device_service).
        url: String,
        #[command(flatten)]
        login: Login,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct Login {
    /// The device's user.
    #[arg(long)]
    user: Option<String>,
    /// The environment variable holding the password (never on the command line).
    #[arg(long, requires = "user")]
    password_env: Option<String>,
}

impl Login {
    fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(username) = self.user.clone() else { return Ok(None) };
        let password = match &self.password_env {
            Some(var) => std::env::var(var).with_context(|| format!("--password-env {var}: not set"))?,
            None => String::new(),
        };
        Ok(Some(Credentials { username, password }))
    }
}

#[derive(Debug, Args)]
pub struct RecorderArgs {
    #[command(subcommand)]
    command: RecorderCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// ONVIF Profile G (Recording Search and Replay); URL is the Device service.
    Onvif,
    /// Hikvision ISAPI (ContentMgmt search, playback by time); URL is http://host[:port].
    Isapi,
}

#[derive(Debug, Args)]
struct Query {
    /// The recorder: its Device service URL (onvif) or http://host[:port] (isapi).
    url: String,
    #[arg(long, value_enum)]
    kind: Kind,
    /// Start of the span (RFC 3339, or a date: midnight UTC).
    #[arg(long)]
    from: String,
    /// End of the span (RFC 3339, or a date: midnight UTC).
    #[arg(long)]
    to: String,
    /// Only this channel (isapi: its main-stream track; onvif: the n-th recording found).
    #[arg(long)]
    channel: Option<u32>,
    #[command(flatten)]
    login: Login,
}

#[derive(Debug, Subcommand)]
enum RecorderCommand {
    /// Recordings (onvif) or recorded stretches (isapi) within a span, with the RTSP URI
    /// that replays each.
    Search {
        #[command(flatten)]
        search: Query,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Record the first match of a search into the node's recordings, as a camera of the
    /// node: until the span's end, or for `--seconds`.
    Pull {
        #[command(flatten)]
        search: Query,
        /// The node's camera id to store the recording under.
        #[arg(long)]
        camera: String,
        /// The node's data directory (its store and recordings/).
        #[arg(long)]
        data: PathBuf,
        /// Record for this long instead of the match's length within the span.
        #[arg(long)]
        seconds: Option<f64>,
    },
}

pub async fn onvif(a: OnvifArgs) -> anyhow::Result<()> {
    match a.command {
        OnvifCommand::Discover { timeout, interface, probe_addr, json } => {
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
                bail!("--timeout must be more than 0 and at most 600 seconds");
            }
            let options = DiscoverOptions {
                timeout: Duration::from_secs_f64(timeout),
                interface,
                probe_addr,
                ..DiscoverOptions::default()
            };
            let devices = limes_onvif::discover(&options).await.context("discovery")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                println!("{:<46} {:<20} {:<16} {:<12} XADDRS", "ENDPOINT", "NAME", "HARDWARE", "PROFILES");
                for d in &devices {
                    println!(
                        "{:<46} {:<20} {:<16} {:<12} {}",
                        d.endpoint,
                        d.name.as_deref().unwrap_or("-"),
                        d.hardware.as_deref().unwrap_or("-"),
                        d.profiles.join(","),
                        d.xaddrs.join(" ")
                    );
                }
                eprintln!("{} device(s)", devices.len());
            }
            Ok(())
        }
        OnvifCommand::Streams { url, login, json } => {
            let client = OnvifClient::new(&url, login.credentials()?)?;
            let streams = client.streams().await.with_context(|| format!("streams of {url}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&streams)?);
            } else {
                println!("{:<20} {:<20} {:<8} {:<11} URI", "PROFILE", "NAME", "CODEC", "SIZE");
                for s in &streams {
                    let size = match (s.profile.width, s.profile.height) {
                        (Some(w), Some(h)) => format!("{w}x{h}"),
                        _ => "-".into(),
                    };
                    let codec = s.profile.encoding.as_deref().unwrap_or("-");
                    println!("{:<20} {:<20} {codec:<8} {size:<11} {}", s.profile.token, s.profile.name, s.uri);
                }
            }
            Ok(())
        }
    }
}

/// One row of a search: something recorded and how to replay it.
#[derive(Debug, Serialize)]
struct Found {
    /// The recording token (onvif) or track id (isapi).
    source: String,
    name: Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    uri: String,
}

fn parse_time(s: &str, flag: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{flag} {s:?}: not an RFC 3339 time or a YYYY-MM-DD date"))?;
    Ok(date.and_hms_opt(0, 0, 0).context("midnight")?.and_utc())
}

async fn search(s: &Query) -> anyhow::Result<(Vec<Found>, DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = (parse_time(&s.from, "--from")?, parse_time(&s.to, "--to")?);
    if from >= to {
        bail!("--from must be before --to");
    }
    let credentials = s.login.credentials()?;
    let found = match s.kind {
        Kind::Onvif => {
            let client = OnvifClient::new(&s.url, credentials)?;
            let services = client.services().await.with_context(|| format!("services of {}", s.url))?;
            let search = services.search.context("the device offers no Recording Search service (Profile G)")?;
            let replay = services.replay.context("the device offers no Replay service (Profile G)")?;
            let recordings = client.recordings(&search).await.context("searching recordings")?;
            let chosen: Vec<_> = recordings
                .into_iter()
                .filter(|r| r.overlaps(from, to))
                .enumerate()
                .filter(|(i, _)| s.channel.is_none_or(|c| c as usize == i + 1))
                .map(|(_, r)| r)
                .collect();
            let mut found = Vec::new();
            for r in chosen {
                let uri =
                    client.replay_uri(&replay, &r.token).await.with_context(|| format!("replay of {}", r.token))?;
                found.push(Found { source: r.token, name: r.source_name, start: r.earliest, end: r.latest, uri });
            }
            found
        }
        Kind::Isapi => {
            let client = IsapiClient::new(&s.url, credentials)?;
            let tracks = match s.channel {
                Some(c) => vec![isapi::main_track(c)],
                None => client.channels().await.context("channels")?.iter().map(|c| isapi::main_track(c.id)).collect(),
            };
            client
                .search(&tracks, from, to)
                .await
                .context("searching recordings")?
                .into_iter()
                .map(|m| Found {
                    source: m.track.to_string(),
                    name: None,
                    start: Some(m.start),
                    end: Some(m.end),
                    uri: m.playback_uri,
                })
                .collect()
        }
    };
    Ok((found, from, to))
}

pub async fn recorder(a: RecorderArgs) -> anyhow::Result<()> {
    match a.command {
        RecorderCommand::Search { search: s, json } => {
            let (found, _, _) = search(&s).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                let t = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
                println!("{:<16} {:<26} {:<26} URI", "SOURCE", "START", "END");
                for f in &found {
                    println!("{:<16} {:<26} {:<26} {}", f.source, t(f.start), t(f.end), f.uri);
                }
                eprintln!("{} match(es)", found.len());
            }
            Ok(())
        }
        RecorderCommand::Pull { search: s, camera, data, seconds } => pull(&s, &camera, &data, seconds).await,
    }
}

async fn pull(s: &Query, camera: &str, data: &std::path::Path, seconds: Option<f64>) -> anyhow::Result<()> {
    let camera = limes_model::CameraId::new(camera).context("--camera")?;
    let (found, from, to) = search(s).await?;
    let Some(first) = found.into_iter().next() else { bail!("nothing recorded between {from} and {to}") };
    let length = match seconds {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
        Some(_) => bail!("--seconds must be more than 0"),
        None => {
            let start = first.start.map_or(from, |s| s.max(from));
            let end = first.end.map_or(to, |e| e.min(to));
            (end - start).to_std().context("the match ends before it starts")?
        }
    };
    // Profile G replay would need `Require: onvif-replay` and `Range: clock=…` on PLAY, which
    // retina does not send: the URI is played as a plain stream (design/onvif.md).
    let credentials = s.login.credentials()?.map(|c| (c.username, c.password));
    let source = limes_recorder::StreamSource::parse(&first.uri, credentials)?;
    let store = limes_store::Store::open(data, limes_store::StoreOptions::default())
        .with_context(|| format!("opening the store in {}", data.display()))?;
    let config = limes_recorder::RecorderConfig::new(camera, source, store.recordings_dir());
    limes_recorder::recover(&store, &config.root)?;
    eprintln!("recording {} for {:.1} s", first.uri, length.as_secs_f64());
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    limes_recorder::record(config, store, None, events, tokio::time::sleep(length)).await?;
    let mut segments = 0;
    while let Ok(event) = received.try_recv() {
        match event {
            limes_recorder::RecorderEvent::Segment(r) => {
                segments += 1;
                println!(
                    "{}",
                    serde_json::json!({
                        "file": r.index.file,
                        "start": r.index.start,
                        "end": r.index.end,
                        "frames": r.index.frames.len(),
                        "bytes": r.index.bytes,
                    })
                );
            }
            limes_recorder::RecorderEvent::Disconnected { error, .. } => eprintln!("stream lost: {error}"),
            limes_recorder::RecorderEvent::Connected { .. } => {}
        }
    }
    if segments == 0 {
        bail!("no segment was recorded from {}", first.uri);
    }
    Ok(())
}
