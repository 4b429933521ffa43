//! ONVIF Profile G: the Recording Search service (`FindRecordings`, then
//! `GetRecordingSearchResults` until the search is `Completed`, then `EndSearch`) and the
//! Replay service (`GetReplayUri`).
//!
//! Replaying needs the RTSP headers `Require: onvif-replay` and `Range: clock=…` on PLAY
//! (ONVIF Streaming, replay control); retina, the node's RTSP client, sends neither (it always
//! asks `Range: npt=0.000-`), so a replay URI is recorded as a plain stream: from wherever the
//! recorder starts it. See `design/onvif.md`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::soap::{self, TRP, TSE};
use crate::time::parse_datetime;
use crate::xml::{Element, escape};
use crate::{Error, Limits};

/// `FindRecordings` over all recordings, keeping the search alive for `keep_alive_seconds`.
pub fn find_recordings(max_matches: u32, keep_alive_seconds: u32) -> String {
    format!(
        r#"<tse:FindRecordings xmlns:tse="{TSE}"><tse:Scope/><tse:MaxMatches>{max_matches}</tse:MaxMatches><tse:KeepAliveTime>PT{keep_alive_seconds}S</tse:KeepAliveTime></tse:FindRecordings>"#
    )
}

/// Parses a `FindRecordingsResponse` into its search token.
pub fn parse_search_token(bytes: &[u8], limits: &Limits) -> Result<String, Error> {
    let answer = soap::expect(bytes, limits, TSE, "FindRecordingsResponse")?;
    Ok(answer.required(&["SearchToken"], "the search token")?.to_owned())
}

/// `GetRecordingSearchResults`: at most `max_results`, waiting up to `wait_seconds` for them.
pub fn get_recording_search_results(token: &str, max_results: u32, wait_seconds: u32) -> String {
    format!(
        r#"<tse:GetRecordingSearchResults xmlns:tse="{TSE}"><tse:SearchToken>{}</tse:SearchToken><tse:MinResults>1</tse:MinResults><tse:MaxResults>{max_results}</tse:MaxResults><tse:WaitTime>PT{wait_seconds}S</tse:WaitTime></tse:GetRecordingSearchResults>"#,
        escape(token)
    )
}

/// `EndSearch`, which frees the device's search.
pub fn end_search(token: &str) -> String {
    format!(r#"<tse:EndSearch xmlns:tse="{TSE}"><tse:SearchToken>{}</tse:SearchToken></tse:EndSearch>"#, escape(token))
}

/// Where a search is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SearchState {
    Queued,
    Searching,
    Completed,
    Unknown,
}

/// One recording a recorder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    pub token: String,
    /// The source's id (often the camera's RTSP or device address) and name.
    pub source_id: Option<String>,
    pub source_name: Option<String>,
    pub location: Option<String>,
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
    pub tracks: Vec<Track>,
    /// `Recording`, `Stopped`, `Removing`…
    pub status: Option<String>,
}

impl Recording {
    /// Whether the recording holds anything in `[from, to)`; one without times might.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.earliest.is_none_or(|e| e < to) && self.latest.is_none_or(|l| l > from)
    }
}

/// One track of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Track {
    pub token: String,
    /// `Video`, `Audio`, `Metadata` or `Extended`.
    pub kind: String,
    pub description: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    pub state: SearchState,
    pub recordings: Vec<Recording>,
}

/// Parses a `GetRecordingSearchResultsResponse`: its `ResultList` with `SearchState` and its
/// `RecordingInformation`s.
pub fn parse_recording_search_results(bytes: &[u8], limits: &Limits) -> Result<SearchResults, Error> {
    let answer = soap::expect(bytes, limits, TSE, "GetRecordingSearchResultsResponse")?;
    let list = answer.child("ResultList").ok_or(Error::Missing {
        what: "the result list",
        path: "<GetRecordingSearchResultsResponse>/<ResultList>".into(),
    })?;
    let state = match list.required(&["SearchState"], "the search state")? {
        "Queued" => SearchState::Queued,
        "Searching" => SearchState::Searching,
        "Completed" => SearchState::Completed,
        "Unknown" => SearchState::Unknown,
        other => return Err(Error::BadValue { what: "the search state", value: other.chars().take(64).collect() }),
    };
    let recordings = list.children_named("RecordingInformation").map(recording).collect::<Result<_, _>>()?;
    Ok(SearchResults { state, recordings })
}

fn time(e: &Element, path: &[&str], what: &'static str) -> Result<Option<DateTime<Utc>>, Error> {
    e.text_at(path).map(|t| parse_datetime(t, what)).transpose()
}

fn recording(r: &Element) -> Result<Recording, Error> {
    let text = |path: &[&str]| r.text_at(path).map(str::to_owned);
    let tracks = r
        .children_named("Track")
        .map(|t| {
            Ok(Track {
                token: t.required(&["TrackToken"], "the track token")?.to_owned(),
                kind: t.required(&["TrackType"], "the track type")?.to_owned(),
                description: t.text_at(&["Description"]).map(str::to_owned),
                from: time(t, &["DataFrom"], "a track's DataFrom")?,
                to: time(t, &["DataTo"], "a track's DataTo")?,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Recording {
        token: r.required(&["RecordingToken"], "the recording token")?.to_owned(),
        source_id: text(&["Source", "SourceId"]),
        source_name: text(&["Source", "Name"]),
        location: text(&["Source", "Location"]),
        earliest: time(r, &["EarliestRecording"], "EarliestRecording")?,
        latest: time(r, &["LatestRecording"], "LatestRecording")?,
        tracks,
        status: text(&["RecordingStatus"]),
    })
}

/// `GetReplayUri` for RTP unicast over RTSP.
pub fn get_replay_uri(recording_token: &str) -> String {
    format!(
        r#"<trp:GetReplayUri xmlns:trp="{TRP}"><trp:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trp:StreamSetup><trp:RecordingToken>{}</trp:RecordingToken></trp:GetReplayUri>"#,
        escape(recording_token)
    )
}

/// Parses a `GetReplayUriResponse` into its URI.
pub fn parse_replay_uri(bytes: &[u8], limits: &Limits) -> Result<String, Error> {
    let answer = soap::expect(bytes, limits, TRP, "GetReplayUriResponse")?;
    Ok(answer.required(&["Uri"], "the replay uri")?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped on the Recording Search service's schema (search.wsdl; onvif.xsd
    // `tt:RecordingInformation`, `tt:TrackInformation`) and Profile G's search example; no
    // recorder answer is in ../shared/samples.
    pub(crate) const RESULTS: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tse:GetRecordingSearchResultsResponse><tse:ResultList>
      <tt:SearchState>Completed</tt:SearchState>
      <tt:RecordingInformation><tt:RecordingToken>rec-0001</tt:RecordingToken>
        <tt:Source><tt:SourceId>http://192.0.2.30/onvif/device_service</tt:SourceId><tt:Name>Gate North</tt:Name><tt:Location>Siret</tt:Location><tt:Description>lane 1</tt:Description><tt:Address>http://192.0.2.30/onvif/device_service</tt:Address></tt:Source>
        <tt:EarliestRecording>2024-03-01T08:00:00Z</tt:EarliestRecording><tt:LatestRecording>2024-03-01T12:00:00Z</tt:LatestRecording>
        <tt:Content>continuous</tt:Content>
        <tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType><tt:Description>video</tt:Description><tt:DataFrom>2024-03-01T08:00:00Z</tt:DataFrom><tt:DataTo>2024-03-01T12:00:00Z</tt:DataTo></tt:Track>
        <tt:Track><tt:TrackToken>META001</tt:TrackToken><tt:TrackType>Metadata</tt:TrackType><tt:Description/><tt:DataFrom>2024-03-01T08:00:00Z</tt:DataFrom><tt:DataTo>2024-03-01T12:00:00Z</tt:DataTo></tt:Track>
        <tt:RecordingStatus>Recording</tt:RecordingStatus></tt:RecordingInformation>
    </tse:ResultList></tse:GetRecordingSearchResultsResponse></s:Body></s:Envelope>"#;

    #[test]
    fn search_results() {
        let r = parse_recording_search_results(RESULTS.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.state, SearchState::Completed);
        let rec = &r.recordings[0];
        assert_eq!(rec.token, "rec-0001");
        assert_eq!(rec.source_name.as_deref(), Some("Gate North"));
        assert_eq!(rec.earliest.unwrap().to_rfc3339(), "2024-03-01T08:00:00+00:00");
        assert_eq!(rec.tracks.len(), 2);
        assert_eq!((rec.tracks[0].kind.as_str(), rec.tracks[1].description.as_deref()), ("Video", None));
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(rec.overlaps(t("2024-03-01T11:00:00Z"), t("2024-03-01T13:00:00Z")));
        assert!(!rec.overlaps(t("2024-03-01T12:00:00Z"), t("2024-03-01T13:00:00Z")));
    }

    #[test]
    fn hostile_results() {
        let l = Limits::default();
        let check = |doc: String| parse_recording_search_results(doc.as_bytes(), &l).unwrap_err().to_string();
        assert_eq!(
            check(RESULTS.replace("2024-03-01T08:00:00Z</tt:EarliestRecording>", "8 am</tt:EarliestRecording>")),
            "EarliestRecording: \"8 am\" does not parse"
        );
        assert_eq!(check(RESULTS.replace("Completed", "Done")), "the search state: \"Done\" does not parse");
        assert_eq!(
            check(RESULTS.replace("<tt:RecordingToken>rec-0001</tt:RecordingToken>", "")),
            "the recording token missing at <RecordingInformation>/<RecordingToken>"
        );
        // A search answer in the Replay service's namespace is not a search answer.
        let wrong = RESULTS.replace("http://www.onvif.org/ver10/search/wsdl", "http://www.onvif.org/ver10/replay/wsdl");
        assert!(
            check(wrong)
                .starts_with("expected {http://www.onvif.org/ver10/search/wsdl}GetRecordingSearchResultsResponse")
        );
        assert!(
            check(RESULTS.replace("<tse:ResultList>", "").replace("</tse:ResultList>", ""))
                .contains("the result list missing")
        );
    }

    #[test]
    fn tokens_and_uris() {
        let l = Limits::default();
        let doc = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tse="http://www.onvif.org/ver10/search/wsdl"><s:Body><tse:FindRecordingsResponse><tse:SearchToken>st-1</tse:SearchToken></tse:FindRecordingsResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_search_token(doc.as_bytes(), &l).unwrap(), "st-1");
        let doc = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trp="http://www.onvif.org/ver10/replay/wsdl"><s:Body><trp:GetReplayUriResponse><trp:Uri>rtsp://192.0.2.30/replay/rec-0001</trp:Uri></trp:GetReplayUriResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_replay_uri(doc.as_bytes(), &l).unwrap(), "rtsp://192.0.2.30/replay/rec-0001");
        let body = get_replay_uri("a&b");
        assert!(body.contains("<trp:RecordingToken>a&amp;b</trp:RecordingToken>"), "{body}");
    }
}
