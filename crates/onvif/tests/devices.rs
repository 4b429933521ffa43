//! The clients against devices over real sockets: a WS-Discovery responder on UDP, an ONVIF
//! device and a Hikvision recorder on HTTP (axum). The devices are fixtures written from the
//! WS-Discovery, ONVIF and ISAPI specifications — ../shared/samples holds no Profile G or
//! ISAPI content-search answer — and they *check* what the client sends: the WS-Security
//! digest against the password, the HTTP Digest response against the challenge, the search's
//! time span and paging. The clients are the real ones.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use limes_onvif::xml::{self, Element};
use limes_onvif::{Credentials, DiscoverOptions, Error, IsapiClient, Limits, OnvifClient, discover};
use sha1::Digest;

const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn creds(password: &str) -> Option<Credentials> {
    Some(Credentials { username: "operator".into(), password: password.into() })
}

// ---------------------------------------------------------------------------------------------
// WS-Discovery

/// A ProbeMatch for one device, as WS-Discovery 2005/04 writes it.
fn probe_matches(relates_to: &str, endpoint: &str, types: &str, scopes: &str, xaddr: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="{SOAP}" xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><e:Header><w:MessageID>urn:uuid:00000000-0000-4000-8000-00000000000f</w:MessageID><w:RelatesTo>{relates_to}</w:RelatesTo><w:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</w:To><w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</w:Action></e:Header><e:Body><d:ProbeMatches><d:ProbeMatch><w:EndpointReference><w:Address>{endpoint}</w:Address></w:EndpointReference><d:Types>{types}</d:Types><d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>"#
    )
}

/// A responder for a camera (NetworkVideoTransmitter and Device) and a recorder (Device only):
/// each answers a Probe whose Types it has, as WS-Discovery's matching rule says. It also sends
/// what a client must skip: a datagram that is not XML and a ProbeMatches to another probe.
async fn responder() -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = vec![0; 65_536];
        while seen.len() < 2 {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            let probe = xml::parse(&buf[..n], &Limits::default()).unwrap();
            assert!(probe.is(SOAP, "Envelope"));
            let id = probe.text_at(&["Header", "MessageID"]).unwrap().to_owned();
            let p = probe.at(&["Body", "Probe"]).unwrap();
            assert_eq!(p.ns.as_deref(), Some("http://schemas.xmlsoap.org/ws/2005/04/discovery"));
            let types = p.text_at(&["Types"]).unwrap().to_owned();
            seen.push(types.clone());
            socket.send_to(b"\x00 not xml", from).await.unwrap();
            let stray =
                probe_matches("urn:uuid:someone-else", "urn:uuid:stray", "tds:Device", "", "http://192.0.2.99/");
            socket.send_to(stray.as_bytes(), from).await.unwrap();
            let camera = probe_matches(
                &id,
                "urn:uuid:11111111-0000-4000-8000-000000000001",
                "dn:NetworkVideoTransmitter tds:Device",
                "onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/Gate%20North onvif://www.onvif.org/hardware/IPC-1 onvif://www.onvif.org/location/city/Siret",
                "http://192.0.2.10/onvif/device_service",
            );
            socket.send_to(camera.as_bytes(), from).await.unwrap();
            if types == "tds:Device" {
                let recorder = probe_matches(
                    &id,
                    "urn:uuid:22222222-0000-4000-8000-000000000002",
                    "tds:Device",
                    "onvif://www.onvif.org/Profile/G onvif://www.onvif.org/name/NVR",
                    "http://192.0.2.20/onvif/device_service",
                );
                socket.send_to(recorder.as_bytes(), from).await.unwrap();
            }
        }
        seen
    });
    (addr, task)
}

#[tokio::test]
async fn discovery_over_udp() {
    let (addr, responder) = responder().await;
    let options = DiscoverOptions { timeout: Duration::from_millis(800), probe_addr: addr, ..Default::default() };
    let devices = discover(&options).await.unwrap();
    assert_eq!(responder.await.unwrap(), ["dn:NetworkVideoTransmitter", "tds:Device"]);
    assert_eq!(devices.len(), 2, "{devices:#?}");
    let camera = &devices[0];
    assert_eq!(camera.endpoint, "urn:uuid:11111111-0000-4000-8000-000000000001");
    assert_eq!(camera.name.as_deref(), Some("Gate North"));
    assert_eq!(camera.hardware.as_deref(), Some("IPC-1"));
    assert_eq!(camera.location.as_deref(), Some("city/Siret"));
    assert_eq!(camera.xaddrs, ["http://192.0.2.10/onvif/device_service"], "answers to both probes merged");
    let recorder = &devices[1];
    assert_eq!((recorder.name.as_deref(), recorder.profiles.as_slice()), (Some("NVR"), &["G".to_owned()][..]));
}

// ---------------------------------------------------------------------------------------------
// ONVIF device

const PASSWORD: &str = "correct horse";

#[derive(Default)]
struct Seen {
    actions: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP}" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:trp="http://www.onvif.org/ver10/replay/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

fn soap(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")], envelope(body)).into_response()
}

fn fault(reason: &str) -> Response {
    soap(
        StatusCode::BAD_REQUEST,
        &format!(
            r#"<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>"#
        ),
    )
}

/// The UsernameToken Profile's check: the digest recomputed from the nonce, the creation time
/// and the password the device knows.
fn authorized(envelope: &Element) -> bool {
    let Some(token) = envelope.at(&["Header", "Security", "UsernameToken"]) else { return false };
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        token.text_at(&["Username"]),
        token.text_at(&["Password"]),
        token.text_at(&["Nonce"]),
        token.text_at(&["Created"]),
    ) else {
        return false;
    };
    let Ok(nonce) = STANDARD.decode(nonce) else { return false };
    let fresh = DateTime::parse_from_rfc3339(created)
        .is_ok_and(|c| (Utc::now() - c.with_timezone(&Utc)).num_seconds().abs() < 60);
    let mut sha = sha1::Sha1::new();
    sha.update(&nonce);
    sha.update(created.as_bytes());
    sha.update(PASSWORD.as_bytes());
    user == "operator" && fresh && STANDARD.encode(sha.finalize()) == digest && nonce.len() == 16
}

async fn onvif_device(State(seen): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // The device names its services at the address it was reached at.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let Ok(envelope) = xml::parse(&body, &Limits::default()) else {
        return (StatusCode::BAD_REQUEST, "not xml").into_response();
    };
    if !authorized(&envelope) {
        return fault("Sender not Authorized");
    }
    let Some(request) = envelope.child("Body").and_then(|b| b.children.first()) else {
        return (StatusCode::BAD_REQUEST, "no body").into_response();
    };
    seen.lock().unwrap().actions.push(request.name.clone());
    let path = uri.path();
    match (path, request.name.as_str()) {
        ("/onvif/device_service", "GetServices") => soap(
            StatusCode::OK,
            &r#"<tds:GetServicesResponse>
              <tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>SELF/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>
              <tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>SELF/onvif/media</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>
              <tds:Service><tds:Namespace>http://www.onvif.org/ver10/search/wsdl</tds:Namespace><tds:XAddr>SELF/onvif/search</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>42</tt:Minor></tds:Version></tds:Service>
              <tds:Service><tds:Namespace>http://www.onvif.org/ver10/replay/wsdl</tds:Namespace><tds:XAddr>SELF/onvif/replay</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>21</tt:Minor></tds:Version></tds:Service>
            </tds:GetServicesResponse>"#
                .replace("SELF", &format!("http://{host}")),
        ),
        ("/onvif/media", "GetProfiles") => soap(
            StatusCode::OK,
            r#"<trt:GetProfilesResponse><trt:Profiles token="main" fixed="true"><tt:Name>mainStream</tt:Name><tt:VideoEncoderConfiguration token="v1"><tt:Name>v1</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles><trt:Profiles token="sub"><tt:Name>subStream</tt:Name></trt:Profiles></trt:GetProfilesResponse>"#,
        ),
        ("/onvif/media", "GetStreamUri") => {
            let token = request.text_at(&["ProfileToken"]).unwrap_or_default();
            let setup = (request.text_at(&["StreamSetup", "Stream"]), request.text_at(&["StreamSetup", "Transport", "Protocol"]));
            if setup != (Some("RTP-Unicast"), Some("RTSP")) {
                return fault("unsupported stream setup");
            }
            soap(
                StatusCode::OK,
                &format!(r#"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://192.0.2.10:554/{token}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"#),
            )
        }
        ("/onvif/search", "FindRecordings") => {
            soap(StatusCode::OK, r#"<tse:FindRecordingsResponse><tse:SearchToken>search-7</tse:SearchToken></tse:FindRecordingsResponse>"#)
        }
        ("/onvif/search", "GetRecordingSearchResults") => {
            // First a page still searching, then the last one.
            let pages = seen.lock().unwrap().actions.iter().filter(|a| *a == "GetRecordingSearchResults").count();
            let (state, token) = if pages == 1 { ("Searching", "rec-1") } else { ("Completed", "rec-2") };
            soap(
                StatusCode::OK,
                &format!(
                    r#"<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>{state}</tt:SearchState><tt:RecordingInformation><tt:RecordingToken>{token}</tt:RecordingToken><tt:Source><tt:SourceId>cam-{token}</tt:SourceId><tt:Name>Camera {token}</tt:Name><tt:Location>Siret</tt:Location><tt:Description/><tt:Address>http://192.0.2.10/onvif/device_service</tt:Address></tt:Source><tt:EarliestRecording>2024-03-01T08:00:00Z</tt:EarliestRecording><tt:LatestRecording>2024-03-01T12:00:00Z</tt:LatestRecording><tt:Content/><tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType><tt:Description/><tt:DataFrom>2024-03-01T08:00:00Z</tt:DataFrom><tt:DataTo>2024-03-01T12:00:00Z</tt:DataTo></tt:Track><tt:RecordingStatus>Recording</tt:RecordingStatus></tt:RecordingInformation></tse:ResultList></tse:GetRecordingSearchResultsResponse>"#
                ),
            )
        }
        ("/onvif/search", "EndSearch") => {
            soap(StatusCode::OK, r#"<tse:EndSearchResponse><tse:Endpoint>2024-03-01T12:00:00Z</tse:Endpoint></tse:EndSearchResponse>"#)
        }
        ("/onvif/replay", "GetReplayUri") => {
            let token = request.text_at(&["RecordingToken"]).unwrap_or_default();
            soap(StatusCode::OK, &format!(r#"<trp:GetReplayUriResponse><trp:Uri>rtsp://192.0.2.20/replay/{token}</trp:Uri></trp:GetReplayUriResponse>"#))
        }
        ("/onvif/huge", _) => {
            (StatusCode::OK, format!("<a>{}</a>", "x".repeat(5 << 20))).into_response()
        }
        _ => fault("unknown action"),
    }
}

/// Serves `router` on a free loopback port.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn onvif_streams_recordings_and_replay() {
    let seen = Shared::default();
    let addr = serve(Router::new().fallback(onvif_device).with_state(seen.clone())).await;
    let device = format!("http://{addr}/onvif/device_service");
    let client = OnvifClient::new(&device, creds(PASSWORD)).unwrap();

    let services = client.services().await.unwrap();
    let (media, search, replay) = (services.media.unwrap(), services.search.unwrap(), services.replay.unwrap());
    assert_eq!(media, format!("http://{addr}/onvif/media"));
    let profiles = client.profiles(&media).await.unwrap();
    assert_eq!(profiles.iter().map(|p| p.token.as_str()).collect::<Vec<_>>(), ["main", "sub"]);
    assert_eq!((profiles[0].encoding.as_deref(), profiles[0].width), (Some("H264"), Some(1920)));

    let recordings = client.recordings(&search).await.unwrap();
    assert_eq!(recordings.iter().map(|r| r.token.as_str()).collect::<Vec<_>>(), ["rec-1", "rec-2"]);
    assert_eq!(recordings[0].latest, Some(t("2024-03-01T12:00:00Z")));
    assert_eq!(client.replay_uri(&replay, "rec-2").await.unwrap(), "rtsp://192.0.2.20/replay/rec-2");
    assert_eq!(
        seen.lock().unwrap().actions,
        [
            "GetServices",
            "GetProfiles",
            "FindRecordings",
            "GetRecordingSearchResults",
            "GetRecordingSearchResults",
            "EndSearch",
            "GetReplayUri"
        ]
    );
}

#[tokio::test]
async fn onvif_stream_uris_of_each_profile() {
    let seen = Shared::default();
    let addr = serve(Router::new().fallback(onvif_device).with_state(seen.clone())).await;
    let client = OnvifClient::new(&format!("http://{addr}/onvif/device_service"), creds(PASSWORD)).unwrap();
    let streams = client.streams().await.unwrap();
    let got: Vec<_> = streams.iter().map(|s| (s.profile.token.as_str(), s.uri.as_str())).collect();
    assert_eq!(got, [("main", "rtsp://192.0.2.10:554/main"), ("sub", "rtsp://192.0.2.10:554/sub")]);
    assert_eq!(seen.lock().unwrap().actions, ["GetServices", "GetProfiles", "GetStreamUri", "GetStreamUri"]);
}

#[tokio::test]
async fn onvif_refusals_are_typed() {
    let addr = serve(Router::new().fallback(onvif_device).with_state(Shared::default())).await;
    let device = format!("http://{addr}/onvif/device_service");
    // A wrong password: the device's digest check fails, its Fault's reason comes back.
    let wrong = OnvifClient::new(&device, creds("wrong")).unwrap();
    assert_eq!(
        wrong.services().await.unwrap_err(),
        Error::Fault { code: "env:Sender/ter:NotAuthorized".into(), reason: "Sender not Authorized".into() }
    );
    let none = OnvifClient::new(&device, None).unwrap();
    assert!(matches!(none.services().await.unwrap_err(), Error::Fault { .. }));
    // An answer over the limit is refused before it is read whole.
    let client = OnvifClient::new(&device, creds(PASSWORD)).unwrap();
    let err = client.call(&format!("http://{addr}/onvif/huge"), "<x/>").await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit, .. } if limit == Limits::default().max_document_bytes), "{err:?}");
    // Nothing listens: a transport error naming the URL.
    let gone = OnvifClient::new("http://127.0.0.1:9/onvif/device_service", None).unwrap();
    assert!(matches!(gone.services().await.unwrap_err(), Error::Transport { .. }));
    assert!(matches!(OnvifClient::new("rtsp://x/", None).unwrap_err(), Error::BadUrl { .. }));
}

// ---------------------------------------------------------------------------------------------
// Hikvision ISAPI

#[derive(Default)]
struct Recorder {
    /// (startTime, endTime, searchResultPostion, trackIDs) of each search.
    searches: Vec<(String, String, String, Vec<String>)>,
    challenged: usize,
}

type SharedRecorder = Arc<Mutex<Recorder>>;

const REALM: &str = "DS-7608NI";
const NONCE: &str = "4e4445774d5445314e6a6f784f4459314f4463334e513d3d";

fn md5_hex(s: &str) -> String {
    use md5::{Digest as _, Md5};
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 2617 with `qop=auth`: the device's side, computed by hand.
fn digest_ok(headers: &HeaderMap, method: &Method) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(params) = value.strip_prefix("Digest ") else { return false };
    let mut p = std::collections::HashMap::new();
    for part in params.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            p.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
    }
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let ha1 = md5_hex(&format!("{}:{REALM}:{PASSWORD}", get("username")));
    let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
    let expected = md5_hex(&format!("{ha1}:{NONCE}:{}:{}:auth:{ha2}", get("nc"), get("cnonce")));
    get("username") == "operator" && get("realm") == REALM && get("nonce") == NONCE && get("response") == expected
}

fn item(start: &str, end: &str) -> String {
    let compact = |s: &str| s.replace(['-', ':'], "");
    format!(
        "<searchMatchItem><sourceID>{{0000}}</sourceID><trackID>201</trackID><timeSpan><startTime>{start}</startTime><endTime>{end}</endTime></timeSpan><mediaSegmentDescriptor><contentType>video</contentType><codecType>H.264-BP</codecType><playbackURI>rtsp://192.0.2.40/Streaming/tracks/201/?starttime={}&amp;endtime={}</playbackURI></mediaSegmentDescriptor></searchMatchItem>",
        compact(start),
        compact(end)
    )
}

async fn isapi_device(
    State(state): State<SharedRecorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !digest_ok(&headers, &method) {
        state.lock().unwrap().challenged += 1;
        let challenge = format!(r#"Digest qop="auth", realm="{REALM}", nonce="{NONCE}", stale="FALSE""#);
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], "").into_response();
    }
    let xml_ok = |body: String| (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
    match (method.as_str(), uri.path()) {
        ("POST", "/ISAPI/ContentMgmt/search") => {
            let Ok(d) = xml::parse(&body, &Limits::default()) else { return StatusCode::BAD_REQUEST.into_response() };
            let text = |path: &[&str]| d.text_at(path).unwrap_or_default().to_owned();
            let position = text(&["searchResultPostion"]);
            let tracks = d.child("trackIDList").map(|l| l.children_named("trackID").map(|t| t.text().to_owned()).collect()).unwrap_or_default();
            state.lock().unwrap().searches.push((
                text(&["timeSpanList", "timeSpan", "startTime"]),
                text(&["timeSpanList", "timeSpan", "endTime"]),
                position.clone(),
                tracks,
            ));
            let (status, items) = match position.as_str() {
                "0" => ("MORE", item("2024-03-01T08:00:00Z", "2024-03-01T08:15:00Z") + &item("2024-03-01T08:15:00Z", "2024-03-01T08:30:00Z")),
                "2" => ("OK", item("2024-03-01T08:30:00Z", "2024-03-01T08:40:00Z")),
                _ => ("NO MATCHES", String::new()),
            };
            xml_ok(format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><CMSearchResult version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><searchID>{}</searchID><responseStatus>true</responseStatus><responseStatusStrg>{status}</responseStatusStrg><numOfMatches>2</numOfMatches><matchList>{items}</matchList></CMSearchResult>"#,
                text(&["searchID"])
            ))
        }
        ("GET", "/ISAPI/ContentMgmt/InputProxy/channels") => (
            StatusCode::FORBIDDEN,
            r#"<?xml version="1.0" encoding="UTF-8"?><ResponseStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><requestURL>/ISAPI/ContentMgmt/InputProxy/channels</requestURL><statusCode>4</statusCode><statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode></ResponseStatus>"#,
        )
            .into_response(),
        ("GET", "/ISAPI/System/Video/inputs/channels") => xml_ok(
            r#"<?xml version="1.0" encoding="UTF-8"?><VideoInputChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><VideoInputChannel><id>1</id><inputPort>1</inputPort><name>Gate North</name></VideoInputChannel><VideoInputChannel><id>2</id><inputPort>2</inputPort><name>Gate South</name></VideoInputChannel></VideoInputChannelList>"#.into(),
        ),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn isapi_search_pages_with_digest() {
    let state = SharedRecorder::default();
    let addr = serve(Router::new().fallback(isapi_device).with_state(state.clone())).await;
    let client = IsapiClient::new(&format!("http://{addr}"), creds(PASSWORD)).unwrap();
    let (from, to) = (t("2024-03-01T08:00:00Z"), t("2024-03-01T09:00:00Z"));
    let found = client.search(&[limes_onvif::isapi::main_track(2)], from, to).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!((found[2].start, found[2].end), (t("2024-03-01T08:30:00Z"), t("2024-03-01T08:40:00Z")));
    assert!(found[0].playback_uri.starts_with("rtsp://192.0.2.40/Streaming/tracks/201/?starttime=20240301T080000Z"));
    let seen = state.lock().unwrap();
    let span = ("2024-03-01T08:00:00Z".to_owned(), "2024-03-01T09:00:00Z".to_owned());
    assert_eq!(seen.searches.len(), 2, "two pages");
    for (i, (start, end, position, tracks)) in seen.searches.iter().enumerate() {
        assert_eq!((start, end), (&span.0, &span.1), "the asked-for span");
        assert_eq!(position, ["0", "2"][i]);
        assert_eq!(tracks, &["201"]);
    }
    assert_eq!(seen.challenged, 2, "each request answered its challenge once");
}

#[tokio::test]
async fn isapi_channels_fall_back_and_refusals() {
    let addr = serve(Router::new().fallback(isapi_device).with_state(SharedRecorder::default())).await;
    let client = IsapiClient::new(&format!("http://{addr}"), creds(PASSWORD)).unwrap();
    let channels = client.channels().await.unwrap();
    assert_eq!(
        channels.iter().map(|c| (c.id, c.name.as_deref().unwrap())).collect::<Vec<_>>(),
        [(1, "Gate North"), (2, "Gate South")]
    );
    let err = client.send(Method::GET, "/ISAPI/ContentMgmt/InputProxy/channels", None).await.unwrap_err();
    assert_eq!(err.to_string(), "the device refused: Invalid Operation (status 4, notSupport)");
    let wrong = IsapiClient::new(&format!("http://{addr}"), creds("wrong")).unwrap();
    assert!(matches!(wrong.channels().await.unwrap_err(), Error::Unauthorized { .. }));
    let none = IsapiClient::new(&format!("http://{addr}"), None).unwrap();
    assert!(matches!(
        none.search(&[101], t("2024-03-01T08:00:00Z"), t("2024-03-01T09:00:00Z")).await.unwrap_err(),
        Error::Unauthorized { .. }
    ));
}
