//! WS-Discovery (the 2005/04 draft ONVIF Core names): a Probe sent as SOAP over UDP to the
//! multicast group 239.255.255.250:3702, and the ProbeMatches devices answer with unicast.
//!
//! A Probe's `Types` must all match, so cameras (`dn:NetworkVideoTransmitter`) and recorders
//! (which announce only `tds:Device`) are asked in two Probes. [`probe`] and
//! [`parse_probe_matches`] do no I/O; [`discover`] sends and listens.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use serde::Serialize;

use crate::soap::{SOAP12, TDS};
use crate::xml::escape;
use crate::{Error, Limits, xml};

/// WS-Discovery's namespace (the version ONVIF uses).
pub const WSD: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";
/// WS-Addressing's namespace (the version WS-Discovery 2005/04 uses).
pub const WSA: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// ONVIF's network namespace (`dn:NetworkVideoTransmitter`).
pub const DN: &str = "http://www.onvif.org/ver10/network/wsdl";
/// Where Probes go.
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);

/// What a Probe asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeType {
    /// Cameras and encoders: `dn:NetworkVideoTransmitter`.
    NetworkVideoTransmitter,
    /// Any ONVIF device, recorders included: `tds:Device`.
    Device,
}

impl ProbeType {
    fn qname(self) -> &'static str {
        match self {
            ProbeType::NetworkVideoTransmitter => "dn:NetworkVideoTransmitter",
            ProbeType::Device => "tds:Device",
        }
    }
}

/// A Probe message with this `MessageID` (an `urn:uuid:…`).
pub fn probe(message_id: &str, kind: ProbeType) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}" xmlns:a="{WSA}" xmlns:d="{WSD}" xmlns:dn="{DN}" xmlns:tds="{TDS}"><s:Header><a:Action s:mustUnderstand="1">{WSD}/Probe</a:Action><a:MessageID>{}</a:MessageID><a:ReplyTo><a:Address>{WSA}/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe><d:Types>{}</d:Types></d:Probe></s:Body></s:Envelope>"#,
        escape(message_id),
        kind.qname()
    )
}

/// A message id from 16 random bytes: `urn:uuid:` and a version-4 UUID.
pub fn message_id(random: [u8; 16]) -> String {
    let mut b = random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A device that answered: its endpoint reference, where its services are, and what its
/// scopes say about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The endpoint reference address (`urn:uuid:…`): the device's stable identity.
    pub endpoint: String,
    /// Its types (`dn:NetworkVideoTransmitter`, `tds:Device`…), as written.
    pub types: Vec<String>,
    /// The Device service URLs (`http://…/onvif/device_service`).
    pub xaddrs: Vec<String>,
    /// All its scopes, as written.
    pub scopes: Vec<String>,
    /// `onvif://www.onvif.org/name/…`, decoded.
    pub name: Option<String>,
    /// `onvif://www.onvif.org/hardware/…`, decoded.
    pub hardware: Option<String>,
    /// `onvif://www.onvif.org/location/…`, decoded (several are joined by `/`).
    pub location: Option<String>,
    /// The profiles it claims (`onvif://www.onvif.org/Profile/G` → `G`, `Streaming`…).
    pub profiles: Vec<String>,
}

impl Device {
    fn merge(&mut self, other: Device) {
        for (mine, theirs) in [(&mut self.xaddrs, other.xaddrs), (&mut self.scopes, other.scopes)] {
            for x in theirs {
                if !mine.contains(&x) {
                    mine.push(x);
                }
            }
        }
        for t in other.types {
            if !self.types.contains(&t) {
                self.types.push(t);
            }
        }
        let (name, hardware, location, profiles) = scope_values(&self.scopes);
        (self.name, self.hardware, self.location, self.profiles) = (name, hardware, location, profiles);
    }
}

/// The answer to a Probe: the `RelatesTo` message id and the devices it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeMatches {
    pub relates_to: Option<String>,
    pub devices: Vec<Device>,
}

/// Parses a ProbeMatches message. Each match must have an endpoint address; its XAddrs,
/// Types and Scopes are space-separated lists.
pub fn parse_probe_matches(bytes: &[u8], limits: &Limits) -> Result<ProbeMatches, Error> {
    let root = xml::parse(bytes, limits)?;
    if !root.is(SOAP12, "Envelope") {
        return Err(Error::Unexpected { expected: "a SOAP 1.2 Envelope".into(), found: crate::soap::describe(&root) });
    }
    let relates_to = root.text_at(&["Header", "RelatesTo"]).map(str::to_owned);
    let body = crate::soap::body(bytes, limits)?;
    if !body.is(WSD, "ProbeMatches") {
        return Err(Error::Unexpected {
            expected: format!("{{{WSD}}}ProbeMatches"),
            found: crate::soap::describe(&body),
        });
    }
    let mut devices = Vec::new();
    for m in body.children_named("ProbeMatch") {
        let endpoint = m.required(&["EndpointReference", "Address"], "the endpoint address")?.to_owned();
        let list = |name: &str| -> Vec<String> {
            m.text_at(&[name]).map(|t| t.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
        };
        let scopes = list("Scopes");
        let (name, hardware, location, profiles) = scope_values(&scopes);
        devices.push(Device {
            endpoint,
            types: list("Types"),
            xaddrs: list("XAddrs"),
            scopes,
            name,
            hardware,
            location,
            profiles,
        });
    }
    Ok(ProbeMatches { relates_to, devices })
}

type ScopeValues = (Option<String>, Option<String>, Option<String>, Vec<String>);

fn scope_values(scopes: &[String]) -> ScopeValues {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (mut name, mut hardware, mut locations, mut profiles) = (None, None, Vec::new(), Vec::new());
    for scope in scopes {
        let Some(rest) = scope.strip_prefix("onvif://www.onvif.org/") else { continue };
        let (key, value) = rest.split_once('/').unwrap_or((rest, ""));
        let value = decode(value);
        match key.to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "hardware" => hardware = Some(value),
            "location" => locations.push(value),
            "profile" => profiles.push(value),
            _ => {}
        }
    }
    let location = (!locations.is_empty()).then(|| locations.join("/"));
    (name, hardware, location, profiles)
}

/// How to look for devices.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// How long to listen for answers.
    pub timeout: Duration,
    /// The local IPv4 address (interface) to send from; without it, the system's choice.
    pub interface: Option<Ipv4Addr>,
    /// Where Probes go: [`MULTICAST`], or one device's address (unicast).
    pub probe_addr: SocketAddr,
    pub limits: Limits,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            interface: None,
            probe_addr: SocketAddr::V4(MULTICAST),
            limits: Limits::default(),
        }
    }
}

/// Sends a Probe for cameras and one for any device, and gathers the ProbeMatches that
/// answer them until `timeout`, one [`Device`] per endpoint (ordered by it). Answers that are
/// not ProbeMatches to these Probes are skipped.
pub async fn discover(options: &DiscoverOptions) -> Result<Vec<Device>, Error> {
    let url = format!("soap.udp://{}", options.probe_addr);
    let io = |e: std::io::Error| Error::Transport { url: url.clone(), reason: e.to_string() };
    let socket = socket(options).map_err(io)?;
    let mut ids = Vec::new();
    for kind in [ProbeType::NetworkVideoTransmitter, ProbeType::Device] {
        let id = message_id(rand::random());
        socket.send_to(probe(&id, kind).as_bytes(), options.probe_addr).await.map_err(io)?;
        ids.push(id);
    }
    let mut found: BTreeMap<String, Device> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r.map_err(io)?,
            () = tokio::time::sleep_until(deadline) => break,
        };
        let (n, from) = received;
        let matches = match parse_probe_matches(&buf[..n], &options.limits) {
            Ok(m) => m,
            Err(error) => {
                tracing::debug!(%from, %error, "not a ProbeMatches");
                continue;
            }
        };
        if !matches.relates_to.as_ref().is_some_and(|r| ids.contains(r)) {
            tracing::debug!(%from, relates_to = ?matches.relates_to, "ProbeMatches to another probe");
            continue;
        }
        for device in matches.devices {
            match found.get_mut(&device.endpoint) {
                Some(known) => known.merge(device),
                None => {
                    found.insert(device.endpoint.clone(), device);
                }
            }
        }
    }
    Ok(found.into_values().collect())
}

fn socket(options: &DiscoverOptions) -> std::io::Result<tokio::net::UdpSocket> {
    let local = match options.probe_addr {
        SocketAddr::V4(_) => SocketAddr::from((options.interface.unwrap_or(Ipv4Addr::UNSPECIFIED), 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = socket2::Socket::new(socket2::Domain::for_address(local), socket2::Type::DGRAM, None)?;
    if let (SocketAddr::V4(to), Some(interface)) = (options.probe_addr, options.interface)
        && to.ip().is_multicast()
    {
        socket.set_multicast_if_v4(&interface)?;
    }
    socket.set_multicast_ttl_v4(4).or_else(|e| if local.is_ipv6() { Ok(()) } else { Err(e) })?;
    socket.set_nonblocking(true)?;
    socket.bind(&local.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ProbeMatches shaped on the WS-Discovery 2005/04 specification's example and ONVIF
    /// Core's scope definitions (no device sample is in ../shared/samples).
    const MATCHES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
 <SOAP-ENV:Header>
  <wsa:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsa:MessageID>
  <wsa:RelatesTo>urn:uuid:1b0e6a42-8a1c-4f39-9d37-6f0c5e1fd1c2</wsa:RelatesTo>
  <wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
  <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
 </SOAP-ENV:Header>
 <SOAP-ENV:Body>
  <d:ProbeMatches>
   <d:ProbeMatch>
    <wsa:EndpointReference><wsa:Address>urn:uuid:4f0b3c2e-0000-4000-8000-000000000001</wsa:Address></wsa:EndpointReference>
    <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
    <d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/G onvif://www.onvif.org/name/Gate%20North onvif://www.onvif.org/hardware/IPC-1 onvif://www.onvif.org/location/country/RO onvif://www.onvif.org/location/city/Siret</d:Scopes>
    <d:XAddrs>http://192.0.2.10/onvif/device_service http://[2001:db8::10]/onvif/device_service</d:XAddrs>
    <d:MetadataVersion>1</d:MetadataVersion>
   </d:ProbeMatch>
  </d:ProbeMatches>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;

    #[test]
    fn probe_matches() {
        let m = parse_probe_matches(MATCHES.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(m.relates_to.as_deref(), Some("urn:uuid:1b0e6a42-8a1c-4f39-9d37-6f0c5e1fd1c2"));
        let d = &m.devices[0];
        assert_eq!(d.endpoint, "urn:uuid:4f0b3c2e-0000-4000-8000-000000000001");
        assert_eq!(d.types, ["dn:NetworkVideoTransmitter", "tds:Device"]);
        assert_eq!(d.xaddrs.len(), 2);
        assert_eq!(d.name.as_deref(), Some("Gate North"));
        assert_eq!(d.hardware.as_deref(), Some("IPC-1"));
        assert_eq!(d.location.as_deref(), Some("country/RO/city/Siret"));
        assert_eq!(d.profiles, ["Streaming", "G"]);
    }

    #[test]
    fn hostile_matches() {
        let check = |doc: &str| parse_probe_matches(doc.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(check("garbage"), Error::Xml { .. }));
        let no_address =
            MATCHES.replace("<wsa:Address>urn:uuid:4f0b3c2e-0000-4000-8000-000000000001</wsa:Address>", "");
        assert_eq!(
            check(&no_address).to_string(),
            "the endpoint address missing at <ProbeMatch>/<EndpointReference>/<Address>"
        );
        // The 2009 (WS-Discovery 1.1) namespace is not what ONVIF devices speak.
        let other = MATCHES.replace(WSD, "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01");
        assert!(matches!(check(&other), Error::Unexpected { .. }));
        let soap11 = MATCHES.replace(SOAP12, crate::soap::SOAP11);
        assert!(matches!(check(&soap11), Error::Unexpected { .. }));
    }

    #[test]
    fn probe_is_well_formed() {
        let id = message_id([7; 16]);
        assert_eq!(id, "urn:uuid:07070707-0707-4707-8707-070707070707");
        let p = probe(&id, ProbeType::NetworkVideoTransmitter);
        let root = xml::parse(p.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(root.text_at(&["Header", "MessageID"]), Some(id.as_str()));
        let probe = root.at(&["Body", "Probe"]).unwrap();
        assert!(probe.is(WSD, "Probe"));
        assert_eq!(probe.text_at(&["Types"]), Some("dn:NetworkVideoTransmitter"));
    }
}
