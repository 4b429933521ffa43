//! The Device service: where a device's other services are (`GetServices`, or the older
//! `GetCapabilities` for devices that lack it).

use serde::Serialize;

use crate::soap::{self, TDS, TRP, TRT, TSE};
use crate::{Error, Limits};

/// The Events service's namespace.
pub const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
/// The Recording Control service's namespace.
pub const TRC: &str = "http://www.onvif.org/ver10/recording/wsdl";

/// The service URLs of a device that this crate uses (the others are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Services {
    pub device: Option<String>,
    pub media: Option<String>,
    pub events: Option<String>,
    pub search: Option<String>,
    pub replay: Option<String>,
    pub recording: Option<String>,
}

impl Services {
    fn set(&mut self, namespace: &str, xaddr: String) {
        let slot = match namespace {
            TDS => &mut self.device,
            TRT => &mut self.media,
            TEV => &mut self.events,
            TSE => &mut self.search,
            TRP => &mut self.replay,
            TRC => &mut self.recording,
            _ => return,
        };
        slot.get_or_insert(xaddr);
    }
}

/// `GetServices` without the capabilities.
pub fn get_services() -> String {
    format!(
        r#"<tds:GetServices xmlns:tds="{TDS}"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"#
    )
}

/// Parses a `GetServicesResponse`: each `Service` has a `Namespace` and an `XAddr`.
pub fn parse_services(bytes: &[u8], limits: &Limits) -> Result<Services, Error> {
    let answer = soap::expect(bytes, limits, TDS, "GetServicesResponse")?;
    let mut services = Services::default();
    for s in answer.children_named("Service") {
        let namespace = s.required(&["Namespace"], "the service namespace")?;
        let xaddr = s.required(&["XAddr"], "the service address")?;
        services.set(namespace, xaddr.to_owned());
    }
    Ok(services)
}

/// `GetCapabilities` for all categories.
pub fn get_capabilities() -> String {
    format!(r#"<tds:GetCapabilities xmlns:tds="{TDS}"><tds:Category>All</tds:Category></tds:GetCapabilities>"#)
}

/// Parses a `GetCapabilitiesResponse`: `Device`, `Media`, `Events` and, under `Extension`,
/// `Search`, `Replay` and `Recording`, each with its `XAddr`.
pub fn parse_capabilities(bytes: &[u8], limits: &Limits) -> Result<Services, Error> {
    let answer = soap::expect(bytes, limits, TDS, "GetCapabilitiesResponse")?;
    let caps = answer
        .child("Capabilities")
        .ok_or(Error::Missing { what: "the capabilities", path: "<GetCapabilitiesResponse>/<Capabilities>".into() })?;
    let at = |path: &[&str]| caps.text_at(path).map(str::to_owned);
    Ok(Services {
        device: at(&["Device", "XAddr"]),
        media: at(&["Media", "XAddr"]),
        events: at(&["Events", "XAddr"]),
        search: at(&["Extension", "Search", "XAddr"]),
        replay: at(&["Extension", "Replay", "XAddr"]),
        recording: at(&["Extension", "Recording", "XAddr"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped on ONVIF Core's GetServices and GetCapabilities schemas (devicemgmt.wsdl); no
    // device answer is in ../shared/samples.
    const SERVICES: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tds:GetServicesResponse>
      <tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>http://192.0.2.10/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>
      <tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://192.0.2.10/onvif/media</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>
      <tds:Service><tds:Namespace>http://www.onvif.org/ver10/search/wsdl</tds:Namespace><tds:XAddr>http://192.0.2.10/onvif/search</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>42</tt:Minor></tds:Version></tds:Service>
      <tds:Service><tds:Namespace>http://www.onvif.org/ver10/replay/wsdl</tds:Namespace><tds:XAddr>http://192.0.2.10/onvif/replay</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>21</tt:Minor></tds:Version></tds:Service>
      <tds:Service><tds:Namespace>http://www.onvif.org/ver20/ptz/wsdl</tds:Namespace><tds:XAddr>http://192.0.2.10/onvif/ptz</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tds:Version></tds:Service>
    </tds:GetServicesResponse></s:Body></s:Envelope>"#;

    #[test]
    fn services() {
        let s = parse_services(SERVICES.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(s.media.as_deref(), Some("http://192.0.2.10/onvif/media"));
        assert_eq!(s.search.as_deref(), Some("http://192.0.2.10/onvif/search"));
        assert_eq!(s.replay.as_deref(), Some("http://192.0.2.10/onvif/replay"));
        assert_eq!(s.recording, None);
        let broken = SERVICES.replacen("<tds:XAddr>http://192.0.2.10/onvif/media</tds:XAddr>", "", 1);
        let err = parse_services(broken.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(err.to_string(), "the service address missing at <Service>/<XAddr>");
        let wrong =
            SERVICES.replace("http://www.onvif.org/ver10/device/wsdl\"", "http://www.onvif.org/ver20/media/wsdl\"");
        assert!(matches!(parse_services(wrong.as_bytes(), &Limits::default()), Err(Error::Unexpected { .. })));
    }

    #[test]
    fn capabilities() {
        let doc = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tds:GetCapabilitiesResponse><tds:Capabilities>
          <tt:Device><tt:XAddr>http://192.0.2.20/onvif/device_service</tt:XAddr></tt:Device>
          <tt:Media><tt:XAddr>http://192.0.2.20/onvif/Media</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast></tt:StreamingCapabilities></tt:Media>
          <tt:Extension><tt:Search><tt:XAddr>http://192.0.2.20/onvif/SearchRecording</tt:XAddr><tt:MetadataSearch>false</tt:MetadataSearch></tt:Search><tt:Replay><tt:XAddr>http://192.0.2.20/onvif/Replay</tt:XAddr></tt:Replay></tt:Extension>
        </tds:Capabilities></tds:GetCapabilitiesResponse></s:Body></s:Envelope>"#;
        let s = parse_capabilities(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(s.media.as_deref(), Some("http://192.0.2.20/onvif/Media"));
        assert_eq!(s.search.as_deref(), Some("http://192.0.2.20/onvif/SearchRecording"));
        assert_eq!(s.replay.as_deref(), Some("http://192.0.2.20/onvif/Replay"));
    }
}
