//! Subcommands that talk to a running node over its HTTP API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use reqwest::{Client, RequestBuilder};

/// Where the node is, who is asking and why.
#[derive(Debug, Args)]
pub struct NodeUrl {
    /// The node's API address.
    #[arg(long, env = "LIMES_URL", default_value = "http://127.0.0.1:8080", global = true)]
    url: String,
    /// A session token (`limes login`) or an API token.
    #[arg(long, env = "LIMES_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Why you consult the data (e.g. investigation, detection): required for searches.
    #[arg(long, env = "LIMES_PURPOSE", global = true)]
    purpose: Option<String>,
    /// The provision relied on, e.g. "RO Law 363/2018 art. 5".
    #[arg(long, env = "LIMES_LEGAL_BASIS", global = true)]
    legal_basis: Option<String>,
    /// The case or file number served.
    #[arg(long = "case", env = "LIMES_CASE", global = true)]
    case_ref: Option<String>,
}

impl NodeUrl {
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{}", self.url.trim_end_matches('/'), path)
    }

    /// The declared purpose, legal basis and case.
    pub(crate) fn declared(&self) -> (Option<String>, Option<String>, Option<String>) {
        (self.purpose.clone(), self.legal_basis.clone(), self.case_ref.clone())
    }

    /// An HTTP client that sends the token and the declared purpose with every request.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        authed_client(
            self.token.as_deref(),
            [
                ("limes-purpose", self.purpose.as_deref()),
                ("limes-legal-basis", self.legal_basis.as_deref()),
                ("limes-case", self.case_ref.as_deref()),
            ],
        )
    }
}

/// A client sending `Authorization: Bearer <token>` and the given headers on every request.
pub fn authed_client<'a>(
    token: Option<&str>,
    headers: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
) -> anyhow::Result<Client> {
    use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
    let mut map = HeaderMap::new();
    if let Some(t) = token {
        let mut v =
            HeaderValue::from_str(&format!("Bearer {}", t.trim())).context("the token is not a header value")?;
        v.set_sensitive(true);
        map.insert(AUTHORIZATION, v);
    }
    for (name, value) in headers {
        if let Some(value) = value {
            map.insert(name, HeaderValue::from_str(value).with_context(|| format!("{name} is not a header value"))?);
        }
    }
    Ok(Client::builder().default_headers(map).build()?)
}

/// Sends a request; prints the JSON answer, or fails with the node's error message.
pub(crate) async fn send(req: RequestBuilder) -> anyhow::Result<serde_json::Value> {
    answer(req.send().await.context("sending the request (is the node running? see --url)")?).await
}

/// The JSON body of an answer, or an error naming its status and the node's message.
pub(crate) async fn answer(resp: reqwest::Response) -> anyhow::Result<serde_json::Value> {
    let status = resp.status();
    let text = resp.text().await.context("reading the answer")?;
    let body: serde_json::Value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    };
    if !status.is_success() {
        let msg = body.get("message").and_then(|m| m.as_str()).map(str::to_owned).unwrap_or_else(|| body.to_string());
        bail!("node answered {status}: {msg}");
    }
    Ok(body)
}

pub(crate) fn print(v: &serde_json::Value) {
    if !v.is_null() {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

/// The content type of an import file, by its extension.
fn content_type_for(file: &std::path::Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => "text/csv",
        Some("geojson") => "application/geo+json",
        _ => "application/json",
    }
}

#[derive(Debug, Args)]
pub struct CameraArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: CameraCommand,
}

#[derive(Debug, Subcommand)]
enum CameraCommand {
    /// List every camera.
    List,
    /// Show one camera.
    Show { id: String },
    /// Register or replace one camera.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        agency: String,
        /// fixed, anpr, mobile or drone.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        country: String,
        #[arg(long, requires = "lon", allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, requires = "lat", allow_negative_numbers = true)]
        lon: Option<f64>,
        /// Degrees clockwise from north.
        #[arg(long)]
        heading: Option<f64>,
        #[arg(long)]
        road: Option<String>,
        #[arg(long)]
        lane: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Import cameras from CSV (id,agency,kind,lat,lon,heading,road,lane,country,name) or GeoJSON.
    Import { file: PathBuf },
    /// Remove a camera (its reads stay).
    Remove { id: String },
}

pub async fn camera(a: CameraArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    let n = &a.node;
    let v = match a.command {
        CameraCommand::List => send(c.get(n.at("/api/v1/cameras"))).await?,
        CameraCommand::Show { id } => send(c.get(n.at(&format!("/api/v1/cameras/{id}")))).await?,
        CameraCommand::Add { id, agency, kind, country, lat, lon, heading, road, lane, name } => {
            let position = lat.zip(lon).map(|(lat, lon)| serde_json::json!({"lat": lat, "lon": lon}));
            let mut body = serde_json::json!({"id": id, "agency": agency, "kind": kind, "country": country});
            let obj = body.as_object_mut().expect("object literal");
            for (k, v) in [
                ("position", position),
                ("heading", heading.map(Into::into)),
                ("road", road.map(Into::into)),
                ("lane", lane.map(Into::into)),
                ("name", name.map(Into::into)),
            ] {
                if let Some(v) = v {
                    obj.insert(k.into(), v);
                }
            }
            send(c.post(n.at("/api/v1/cameras")).json(&body)).await?
        }
        CameraCommand::Import { file } => {
            let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let ct = content_type_for(&file);
            send(c.post(n.at("/api/v1/cameras/import")).header("content-type", ct).body(data)).await?
        }
        CameraCommand::Remove { id } => send(c.delete(n.at(&format!("/api/v1/cameras/{id}")))).await?,
    };
    print(&v);
    Ok(())
}

#[derive(Debug, Args)]
pub struct HotlistArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: HotlistCommand,
}

#[derive(Debug, Subcommand)]
enum HotlistCommand {
    /// Import entries from CSV (plate,country,reason,priority,agency,expires,fuzzy,note) or a JSON array.
    Import { file: PathBuf },
    /// Search the hotlist as an investigator: exact, lookalike, fuzzy (edit distance) or wildcard.
    Search {
        plate: String,
        #[arg(long = "match", default_value = "exact")]
        mode: String,
        #[arg(long)]
        distance: Option<u8>,
        #[arg(long)]
        country: Option<String>,
    },
    /// Remove an entry.
    Remove { id: u64 },
}

pub async fn hotlist(a: HotlistArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    let n = &a.node;
    let v = match a.command {
        HotlistCommand::Import { file } => {
            let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let ct = content_type_for(&file);
            send(c.post(n.at("/api/v1/hotlist")).header("content-type", ct).body(data)).await?
        }
        HotlistCommand::Search { plate, mode, distance, country } => {
            let mut q = vec![("plate", plate), ("match", mode)];
            q.extend(distance.map(|d| ("distance", d.to_string())));
            q.extend(country.map(|c| ("country", c)));
            send(c.get(n.at("/api/v1/hotlist/search")).query(&q)).await?
        }
        HotlistCommand::Remove { id } => send(c.delete(n.at(&format!("/api/v1/hotlist/{id}")))).await?,
    };
    print(&v);
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReadsArgs {
    #[command(flatten)]
    node: NodeUrl,
    /// Plate to look for (omit to list the newest reads).
    plate: Option<String>,
    /// exact, lookalike, fuzzy or wildcard (`B*12?ABC`).
    #[arg(long = "match", default_value = "exact")]
    mode: String,
    /// Edit distance for --match fuzzy (1 or 2).
    #[arg(long)]
    distance: Option<u8>,
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    camera: Option<String>,
    /// RFC 3339 start time (inclusive).
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339 end time (exclusive).
    #[arg(long)]
    to: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Continue from a previous page's `next`.
    #[arg(long)]
    cursor: Option<String>,
}

pub async fn reads(a: ReadsArgs) -> anyhow::Result<()> {
    let mut q: Vec<(&str, String)> = vec![("match", a.mode), ("limit", a.limit.to_string())];
    for (k, v) in [
        ("plate", a.plate),
        ("country", a.country),
        ("camera", a.camera),
        ("from", a.from),
        ("to", a.to),
        ("cursor", a.cursor),
    ] {
        q.extend(v.map(|v| (k, v)));
    }
    q.extend(a.distance.map(|d| ("distance", d.to_string())));
    print(&send(a.node.client()?.get(a.node.at("/api/v1/reads")).query(&q)).await?);
    Ok(())
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: QueryCommand,
}

#[derive(Debug, Subcommand)]
enum QueryCommand {
    /// Ask partner agencies whether they saw a plate, as written or as a look-alike (hit/no-hit:
    /// they do not learn which plate). Needs --purpose and --legal-basis (and --case for
    /// investigators).
    Plate {
        plate: String,
        /// The plate's country, for the grammar repair of its text.
        #[arg(long)]
        country: Option<String>,
        /// Ask only this partner (repeatable; default: every partner whose agreement allows it).
        #[arg(long = "partner")]
        partners: Vec<String>,
    },
}

pub async fn query(a: QueryArgs) -> anyhow::Result<()> {
    let v = match a.command {
        QueryCommand::Plate { plate, country, partners } => {
            let mut body = serde_json::json!({ "plate": plate });
            if let Some(c) = country {
                body["country"] = c.into();
            }
            if !partners.is_empty() {
                body["partners"] = partners.into();
            }
            send(a.node.client()?.post(a.node.at("/api/v1/queries/plates")).json(&body)).await?
        }
    };
    print(&v);
    Ok(())
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: RequestCommand,
}

#[derive(Debug, Subcommand)]
enum RequestCommand {
    /// Ask a partner for the full data behind a hit/no-hit reference or a pseudonym; its
    /// supervisor decides. Needs --purpose, --legal-basis and --case.
    Make {
        partner: String,
        /// The reference of the hit (`limes query plate` prints it) or the alert's pseudonym.
        reference: String,
        /// Why, in words the partner's supervisor reads.
        #[arg(long)]
        justification: String,
        /// A threat to life or a pursuit in progress: eight hours to answer, not seven days.
        #[arg(long)]
        urgent: bool,
        /// The category asked for.
        #[arg(long, default_value = "plate-reads")]
        category: String,
    },
    /// Ask a partner for a clip of one of its cameras (what a released read or a partner's
    /// incident points at); its supervisor decides, and the clip comes signed by the partner.
    /// Needs --purpose, --legal-basis and --case.
    Clip {
        partner: String,
        /// The partner's camera.
        camera: String,
        /// Start of the clip (RFC 3339).
        #[arg(long)]
        from: chrono::DateTime<chrono::Utc>,
        /// End of the clip (RFC 3339; at most an hour after --from).
        #[arg(long)]
        to: chrono::DateTime<chrono::Utc>,
        #[arg(long)]
        justification: String,
        #[arg(long)]
        urgent: bool,
    },
    /// The requests this node made (`out`) or received (`in`), newest first.
    List {
        #[arg(long, default_value = "out")]
        direction: String,
    },
    /// One request, with what was released (opened for the declared --purpose).
    Show { direction: String, partner: String, id: String },
    /// Approve or refuse a partner's request (a supervisor).
    Decide {
        partner: String,
        id: String,
        #[arg(long, conflicts_with = "refuse")]
        approve: bool,
        #[arg(long)]
        refuse: bool,
        /// Why (required to refuse).
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn request(a: RequestArgs) -> anyhow::Result<()> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let c = a.node.client()?;
    let seg = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let v = match a.command {
        RequestCommand::Make { partner, reference, justification, urgent, category } => {
            let body = serde_json::json!({ "partner": partner, "reference": reference, "urgent": urgent,
                "justification": justification, "category": category });
            send(c.post(a.node.at("/api/v1/requests")).json(&body)).await?
        }
        RequestCommand::Clip { partner, camera, from, to, justification, urgent } => {
            let body = serde_json::json!({ "partner": partner, "category": "images", "urgent": urgent,
                "clip": { "camera": camera, "from": from, "to": to }, "justification": justification });
            send(c.post(a.node.at("/api/v1/requests")).json(&body)).await?
        }
        RequestCommand::List { direction } => {
            send(c.get(a.node.at(&format!("/api/v1/requests?direction={}", seg(&direction))))).await?
        }
        RequestCommand::Show { direction, partner, id } => {
            let path = format!("/api/v1/requests/{}/{}/{}", seg(&direction), seg(&partner), seg(&id));
            send(c.get(a.node.at(&path))).await?
        }
        RequestCommand::Decide { partner, id, approve, refuse, reason } => {
            anyhow::ensure!(approve != refuse, "say --approve or --refuse");
            let body = serde_json::json!({ "approve": approve, "reason": reason });
            let path = format!("/api/v1/requests/in/{}/{}/decision", seg(&partner), seg(&id));
            send(c.post(a.node.at(&path)).json(&body)).await?
        }
    };
    print(&v);
    Ok(())
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    node: NodeUrl,
    /// The registered camera the files come from.
    #[arg(long)]
    camera: String,
    /// onvif (tt:MetadataStream XML), hikvision (EventNotificationAlert XML, or a saved
    /// multipart body with --content-type) or axis (push-event JSON).
    #[arg(long)]
    format: String,
    /// The Content-Type to send (default: by format; a saved Hikvision multipart body needs
    /// its `multipart/form-data; boundary=…`).
    #[arg(long)]
    content_type: Option<String>,
    /// The files; each is one request.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Sends each file to the node's camera push route; stops at the first refusal.
pub async fn push(a: PushArgs) -> anyhow::Result<()> {
    let (route, default_type) = match a.format.as_str() {
        "onvif" | "onvif-xml" => ("onvif", "application/xml"),
        "hikvision" | "isapi" => ("hikvision", "application/xml"),
        "axis" | "axis-lpv" => ("axis", "application/json"),
        other => anyhow::bail!("format {other:?} is not onvif, hikvision or axis"),
    };
    let content_type = a.content_type.as_deref().unwrap_or(default_type);
    let url = a.node.at(&format!("/api/v1/cameras/{}/push/{route}", a.camera));
    let client = a.node.client()?;
    for file in &a.files {
        let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let report = send(client.post(&url).header(reqwest::header::CONTENT_TYPE, content_type).body(body))
            .await
            .with_context(|| format!("pushing {}", file.display()))?;
        println!("{}\t{}", file.display(), report);
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    node: NodeUrl,
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// List alerts, newest first.
    List {
        #[arg(long)]
        unacknowledged: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Acknowledge an alert.
    /// Acknowledge an alert: the signed-in person is recorded as who did.
    Ack {
        id: i64,
        /// Ignored (kept for scripts written before accounts): the session names who.
        #[arg(long, hide = true)]
        by: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Print alerts as they come (Server-Sent Events), one JSON line each.
    Watch,
}

pub async fn alerts(a: AlertsArgs) -> anyhow::Result<()> {
    let c = a.node.client()?;
    let n = &a.node;
    match a.command {
        AlertsCommand::List { unacknowledged, limit } => {
            let q = [("unacknowledged", unacknowledged.to_string()), ("limit", limit.to_string())];
            print(&send(c.get(n.at("/api/v1/alerts")).query(&q)).await?);
        }
        AlertsCommand::Ack { id, by: _, note } => {
            let body = serde_json::json!({ "note": note });
            print(&send(c.post(n.at(&format!("/api/v1/alerts/{id}/ack"))).json(&body)).await?);
        }
        AlertsCommand::Watch => {
            let mut events = sse_events(&c, &n.at("/api/v1/alerts/stream")).await?;
            while let Some(ev) = events.next().await {
                let (kind, data) = ev?;
                if kind == "alert" {
                    println!("{data}");
                } else {
                    eprintln!("{kind}: {data}");
                }
            }
        }
    }
    Ok(())
}

/// Connects to an SSE endpoint and yields `(event, data)` pairs.
pub async fn sse_events(
    c: &Client,
    url: &str,
) -> anyhow::Result<futures::stream::BoxStream<'static, anyhow::Result<(String, String)>>> {
    let resp =
        c.get(url).header("accept", "text/event-stream").send().await.context("connecting to the alert stream")?;
    if !resp.status().is_success() {
        bail!("alert stream answered {}", resp.status());
    }
    let bytes = resp.bytes_stream();
    Ok(Box::pin(futures::stream::unfold((bytes, String::new()), |(mut bytes, mut buf)| async move {
        loop {
            if let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut kind, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((Ok((kind, data)), (bytes, buf)));
            }
            match bytes.next().await {
                Some(Ok(chunk)) => buf.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(e)) => return Some((Err(anyhow::Error::new(e).context("alert stream broke")), (bytes, buf))),
                None => return None,
            }
        }
    })))
}

/// An alert as the stream carries it: the fields the CLI shows.
#[derive(Debug, serde::Deserialize)]
pub struct AlertLine {
    pub kind: String,
    pub plate: String,
    pub read_text: String,
    pub camera: String,
    pub reason: String,
    pub priority: u8,
    /// The agency that owns the hotlist entry.
    #[serde(default)]
    pub agency: String,
    /// When the node received the read (for an alert a partner sent: when the partner's
    /// node received it).
    pub created: chrono::DateTime<chrono::Utc>,
    /// The partner agency that raised the alert; none for the node's own.
    #[serde(default)]
    pub origin: Option<AlertLineOrigin>,
}

/// Where an alert a partner sent came from, as the stream carries it.
#[derive(Debug, serde::Deserialize)]
pub struct AlertLineOrigin {
    pub agency: String,
    #[serde(default)]
    pub country: Option<String>,
}

/// Watches a node's alert stream and measures each alert's latency: from the read's arrival
/// at the node to the alert's arrival here, in microseconds.
#[derive(Debug)]
pub struct AlertWatch {
    latencies: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AlertWatch {
    /// Subscribes to the stream at `base_url`; `on_alert` sees every alert with its latency.
    pub async fn start(
        client: &Client,
        base_url: &str,
        mut on_alert: impl FnMut(&AlertLine, u64) + Send + 'static,
    ) -> anyhow::Result<Self> {
        let mut events = sse_events(client, &format!("{base_url}/api/v1/alerts/stream")).await?;
        let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = latencies.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok((kind, data))) = events.next().await {
                if kind != "alert" {
                    continue;
                }
                let Ok(alert) = serde_json::from_str::<AlertLine>(&data) else { continue };
                let us = (chrono::Utc::now() - alert.created).num_microseconds().unwrap_or(0).max(0) as u64;
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(us);
                on_alert(&alert, us);
            }
        });
        Ok(Self { latencies, task })
    }

    /// Stops watching; the latencies of the alerts seen, in arrival order.
    pub fn stop(self) -> Vec<u64> {
        self.task.abort();
        std::mem::take(&mut *self.latencies.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
