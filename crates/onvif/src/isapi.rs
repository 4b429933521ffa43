//! Hikvision ISAPI: content search (`POST /ISAPI/ContentMgmt/search`), the channel lists of
//! recorders (`/ISAPI/ContentMgmt/InputProxy/channels`) and cameras
//! (`/ISAPI/System/Video/inputs/channels`), and playback by time over RTSP.
//!
//! ISAPI namespaces differ between firmware (`…hikvision.com/ver10/XMLSchema`, `ver20`,
//! `isapi.org/ver20`), so answers are read by local names; the root element is checked.
//! A track is a channel's stream: channel `n`'s main stream is track `n01` (101, 201…).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::time::{format_datetime, parse_datetime};
use crate::xml::{self, Element, escape};
use crate::{Error, Limits};

/// The namespace requests are written in.
pub const NS: &str = "http://www.hikvision.com/ver20/XMLSchema";

/// The main-stream track of channel `channel` (1 → 101).
pub fn main_track(channel: u32) -> u32 {
    channel * 100 + 1
}

/// What to search for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// The search's id (a UUID); the device echoes it.
    pub search_id: String,
    pub tracks: Vec<u32>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub max_results: u32,
    /// The index of the first match wanted (ISAPI spells the element `searchResultPostion`).
    pub position: u32,
}

/// The `CMSearchDescription` body of a search.
pub fn search_description(r: &SearchRequest) -> String {
    let tracks: String = r.tracks.iter().map(|t| format!("<trackID>{t}</trackID>")).collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><CMSearchDescription version="2.0" xmlns="{NS}"><searchID>{}</searchID><trackIDList>{tracks}</trackIDList><timeSpanList><timeSpan><startTime>{}</startTime><endTime>{}</endTime></timeSpan></timeSpanList><maxResults>{}</maxResults><searchResultPostion>{}</searchResultPostion><metadataList><metadataDescriptor>//recordType.meta.std-cgi.com</metadataDescriptor></metadataList></CMSearchDescription>"#,
        escape(&r.search_id),
        format_datetime(r.from),
        format_datetime(r.to),
        r.max_results,
        r.position,
    )
}

/// Whether more matches follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SearchStatus {
    /// `OK`: these are the last.
    Ok,
    /// `MORE`: ask again from the next position.
    More,
    /// `NO MATCHES`.
    NoMatches,
}

/// One recorded stretch of a track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchMatch {
    pub track: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The RTSP URI that plays this stretch, as the device gives it.
    pub playback_uri: String,
    pub content_type: Option<String>,
    pub codec: Option<String>,
}

/// A page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub status: SearchStatus,
    pub matches: Vec<SearchMatch>,
}

/// Parses a `CMSearchResult`, or the `ResponseStatus` a device answers a bad request with.
pub fn parse_search_result(bytes: &[u8], limits: &Limits) -> Result<SearchResult, Error> {
    let root = root(bytes, limits, "CMSearchResult")?;
    if root.text_at(&["responseStatus"]) == Some("false") {
        return Err(Error::Isapi {
            code: "false".into(),
            status: root.text_at(&["responseStatusStrg"]).unwrap_or("search failed").into(),
            sub: None,
        });
    }
    let status = match root.required(&["responseStatusStrg"], "the search status")? {
        "OK" => SearchStatus::Ok,
        "MORE" => SearchStatus::More,
        "NO MATCHES" => SearchStatus::NoMatches,
        other => return Err(Error::BadValue { what: "the search status", value: other.chars().take(64).collect() }),
    };
    let matches = match root.child("matchList") {
        Some(list) => list.children_named("searchMatchItem").map(search_match).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(SearchResult { status, matches })
}

fn search_match(m: &Element) -> Result<SearchMatch, Error> {
    let track = m.required(&["trackID"], "the track id")?;
    let track = track.parse().map_err(|_| Error::BadValue { what: "the track id", value: track.into() })?;
    let start = parse_datetime(m.required(&["timeSpan", "startTime"], "the start time")?, "the start time")?;
    let end = parse_datetime(m.required(&["timeSpan", "endTime"], "the end time")?, "the end time")?;
    let descriptor = |name: &str| m.text_at(&["mediaSegmentDescriptor", name]).map(str::to_owned);
    Ok(SearchMatch {
        track,
        start,
        end,
        playback_uri: m.required(&["mediaSegmentDescriptor", "playbackURI"], "the playback uri")?.to_owned(),
        content_type: descriptor("contentType"),
        codec: descriptor("codecType"),
    })
}

/// A channel of a recorder or camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: u32,
    pub name: Option<String>,
    /// The camera behind a recorder's channel, when it says.
    pub address: Option<String>,
}

/// Parses an `InputProxyChannelList` (a recorder's cameras) or a `VideoInputChannelList`
/// (a camera's own inputs).
pub fn parse_channels(bytes: &[u8], limits: &Limits) -> Result<Vec<Channel>, Error> {
    let root = xml::parse(bytes, limits)?;
    check_status(&root)?;
    let item = match root.name.as_str() {
        "InputProxyChannelList" => "InputProxyChannel",
        "VideoInputChannelList" => "VideoInputChannel",
        _ => {
            return Err(Error::Unexpected {
                expected: "InputProxyChannelList or VideoInputChannelList".into(),
                found: root.name.clone(),
            });
        }
    };
    root.children_named(item)
        .map(|c| {
            let id = c.required(&["id"], "the channel id")?;
            Ok(Channel {
                id: id.parse().map_err(|_| Error::BadValue { what: "the channel id", value: id.into() })?,
                name: c.text_at(&["name"]).map(str::to_owned),
                address: c.text_at(&["sourceInputPortDescriptor", "ipAddress"]).map(str::to_owned),
            })
        })
        .collect()
}

/// Parses an ISAPI `ResponseStatus` (what a device answers a write or a refused request with);
/// `Ok` when its status code is 1 (OK).
pub fn parse_response_status(bytes: &[u8], limits: &Limits) -> Result<(), Error> {
    check_status(&xml::parse(bytes, limits)?)
}

fn check_status(root: &Element) -> Result<(), Error> {
    if root.name != "ResponseStatus" {
        return Ok(());
    }
    let code = root.text_at(&["statusCode"]).unwrap_or("?");
    if code == "1" {
        return Ok(());
    }
    Err(Error::Isapi {
        code: code.to_owned(),
        status: root.text_at(&["statusString"]).unwrap_or("no status given").chars().take(200).collect(),
        sub: root.text_at(&["subStatusCode"]).map(|s| s.chars().take(200).collect()),
    })
}

fn root(bytes: &[u8], limits: &Limits, name: &str) -> Result<Element, Error> {
    let root = xml::parse(bytes, limits)?;
    check_status(&root)?;
    if root.name != name {
        return Err(Error::Unexpected { expected: name.to_owned(), found: root.name.clone() });
    }
    Ok(root)
}

/// Playback by time: `rtsp://host[:port]/Streaming/tracks/<track>?starttime=…&endtime=…`
/// (times `YYYYMMDDTHHMMSSZ`). `host` may carry a port.
pub fn playback_uri(host: &str, track: u32, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let t = |d: DateTime<Utc>| d.format("%Y%m%dT%H%M%SZ").to_string();
    format!("rtsp://{host}/Streaming/tracks/{track}?starttime={}&endtime={}", t(from), t(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written from the ISAPI specification's ContentMgmt schema (`CMSearchResult`,
    // `searchMatchItem`, `mediaSegmentDescriptor`); ../shared/samples has no search answer.
    pub(crate) const RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CMSearchResult version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<searchID>C8E3A2B0-0000-0001-0000-000000000001</searchID>
<responseStatus>true</responseStatus>
<responseStatusStrg>MORE</responseStatusStrg>
<numOfMatches>2</numOfMatches>
<matchList>
<searchMatchItem>
<sourceID>{0000-0000}</sourceID>
<trackID>101</trackID>
<timeSpan><startTime>2024-03-01T08:00:00Z</startTime><endTime>2024-03-01T08:15:00Z</endTime></timeSpan>
<mediaSegmentDescriptor><contentType>video</contentType><codecType>H.264-BP</codecType><playbackURI>rtsp://192.0.2.40/Streaming/tracks/101/?starttime=20240301T080000Z&amp;endtime=20240301T081500Z&amp;name=00010000&amp;size=104857600</playbackURI></mediaSegmentDescriptor>
<metadataMatches><metadataDescriptor>recordType.meta.hikvision.com/timing</metadataDescriptor></metadataMatches>
</searchMatchItem>
<searchMatchItem>
<sourceID>{0000-0000}</sourceID>
<trackID>101</trackID>
<timeSpan><startTime>2024-03-01T08:15:00Z</startTime><endTime>2024-03-01T08:30:00Z</endTime></timeSpan>
<mediaSegmentDescriptor><contentType>video</contentType><playbackURI>rtsp://192.0.2.40/Streaming/tracks/101/?starttime=20240301T081500Z&amp;endtime=20240301T083000Z</playbackURI></mediaSegmentDescriptor>
</searchMatchItem>
</matchList>
</CMSearchResult>"#;

    #[test]
    fn search_description_has_the_span_and_paging() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let body = search_description(&SearchRequest {
            search_id: "id-1".into(),
            tracks: vec![101, 201],
            from: t("2024-03-01T08:00:00Z"),
            to: t("2024-03-01T09:00:00Z"),
            max_results: 40,
            position: 80,
        });
        let root = xml::parse(body.as_bytes(), &Limits::default()).unwrap();
        assert!(root.is(NS, "CMSearchDescription"));
        let tracks: Vec<_> = root.child("trackIDList").unwrap().children_named("trackID").map(Element::text).collect();
        assert_eq!(tracks, ["101", "201"]);
        assert_eq!(root.text_at(&["timeSpanList", "timeSpan", "startTime"]), Some("2024-03-01T08:00:00Z"));
        assert_eq!(root.text_at(&["timeSpanList", "timeSpan", "endTime"]), Some("2024-03-01T09:00:00Z"));
        assert_eq!(root.text_at(&["maxResults"]), Some("40"));
        assert_eq!(root.text_at(&["searchResultPostion"]), Some("80"));
    }

    #[test]
    fn search_result() {
        let r = parse_search_result(RESULT.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.status, SearchStatus::More);
        assert_eq!(r.matches.len(), 2);
        let m = &r.matches[0];
        assert_eq!((m.track, m.codec.as_deref()), (101, Some("H.264-BP")));
        assert_eq!(format_datetime(m.end), "2024-03-01T08:15:00Z");
        assert!(m.playback_uri.ends_with("&endtime=20240301T081500Z&name=00010000&size=104857600"));
        let none = r#"<CMSearchResult xmlns="http://www.isapi.org/ver20/XMLSchema"><searchID>x</searchID><responseStatus>true</responseStatus><responseStatusStrg>NO MATCHES</responseStatusStrg><numOfMatches>0</numOfMatches></CMSearchResult>"#;
        let r = parse_search_result(none.as_bytes(), &Limits::default()).unwrap();
        assert_eq!((r.status, r.matches.len()), (SearchStatus::NoMatches, 0));
    }

    #[test]
    fn hostile_results() {
        let l = Limits::default();
        let check = |doc: String| parse_search_result(doc.as_bytes(), &l).unwrap_err().to_string();
        assert_eq!(
            check(RESULT.replacen("2024-03-01T08:15:00Z</endTime>", "soon</endTime>", 1)),
            "the end time: \"soon\" does not parse"
        );
        assert_eq!(
            check(RESULT.replacen("<trackID>101</trackID>", "<trackID>main</trackID>", 1)),
            "the track id: \"main\" does not parse"
        );
        assert!(
            check(RESULT.replace("<playbackURI>", "<uri>").replace("</playbackURI>", "</uri>"))
                .contains("the playback uri missing")
        );
        assert_eq!(check("<CMSearchDescription/>".into()), "expected CMSearchResult, found CMSearchDescription");
        let status = r#"<ResponseStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><requestURL>/ISAPI/ContentMgmt/search</requestURL><statusCode>4</statusCode><statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode></ResponseStatus>"#;
        assert_eq!(check(status.into()), "the device refused: Invalid Operation (status 4, notSupport)");
        assert!(matches!(parse_search_result(&vec![b' '; 5 << 20], &l), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn channels() {
        let proxy = r#"<InputProxyChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<InputProxyChannel><id>1</id><name>Gate North</name><sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress</addressingFormatType><ipAddress>192.0.2.51</ipAddress><managePortNo>8000</managePortNo><srcInputPort>1</srcInputPort></sourceInputPortDescriptor></InputProxyChannel>
<InputProxyChannel><id>2</id><name>Gate South</name></InputProxyChannel></InputProxyChannelList>"#;
        let c = parse_channels(proxy.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(c[0], Channel { id: 1, name: Some("Gate North".into()), address: Some("192.0.2.51".into()) });
        assert_eq!(c[1].id, 2);
        let inputs = r#"<VideoInputChannelList xmlns="http://www.hikvision.com/ver20/XMLSchema"><VideoInputChannel><id>1</id><inputPort>1</inputPort><name>Camera 01</name></VideoInputChannel></VideoInputChannelList>"#;
        assert_eq!(
            parse_channels(inputs.as_bytes(), &Limits::default()).unwrap()[0].name.as_deref(),
            Some("Camera 01")
        );
        let e = parse_channels(
            b"<VideoInputChannelList><VideoInputChannel><id>one</id></VideoInputChannel></VideoInputChannelList>",
            &Limits::default(),
        );
        assert_eq!(e.unwrap_err().to_string(), "the channel id: \"one\" does not parse");
    }

    #[test]
    fn playback() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            playback_uri("192.0.2.40:554", main_track(2), t("2024-03-01T08:00:00Z"), t("2024-03-01T08:05:30Z")),
            "rtsp://192.0.2.40:554/Streaming/tracks/201?starttime=20240301T080000Z&endtime=20240301T080530Z"
        );
    }
}
