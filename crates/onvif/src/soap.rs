//! SOAP envelopes: built around a request body, and taken apart (the body's element, or the
//! Fault the device answered with).

use crate::xml::{self, Element};
use crate::{Error, Limits};

/// SOAP 1.2, which ONVIF uses.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1, which some older devices answer with.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The ONVIF schema (`tt:`).
pub const TT: &str = "http://www.onvif.org/ver10/schema";
/// The Device service (`tds:`).
pub const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
/// The Media service (`trt:`).
pub const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
/// The Recording Search service (`tse:`).
pub const TSE: &str = "http://www.onvif.org/ver10/search/wsdl";
/// The Replay service (`trp:`).
pub const TRP: &str = "http://www.onvif.org/ver10/replay/wsdl";

/// A SOAP 1.2 envelope around `body` (elements with their own namespace declarations), with
/// `header` (e.g. a WS-Security header) when given.
pub fn envelope(header: Option<&str>, body: &str) -> String {
    let header = header.map(|h| format!("<s:Header>{h}</s:Header>")).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}" xmlns:tt="{TT}">{header}<s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// Parses an envelope and returns the element in its body. A Fault becomes [`Error::Fault`]
/// with its reason; anything that is not a SOAP 1.2 or 1.1 envelope is [`Error::Unexpected`].
pub fn body(bytes: &[u8], limits: &Limits) -> Result<Element, Error> {
    let root = xml::parse(bytes, limits)?;
    let ns = match root.ns.as_deref() {
        Some(ns @ (SOAP12 | SOAP11)) if root.name == "Envelope" => ns.to_owned(),
        _ => return Err(Error::Unexpected { expected: "a SOAP Envelope".into(), found: describe(&root) }),
    };
    let Some(body) = root.children.into_iter().find(|c| c.name == "Body" && c.ns.as_deref() == Some(ns.as_str()))
    else {
        return Err(Error::Missing { what: "the SOAP Body", path: "<Envelope>/<Body>".into() });
    };
    let Some(first) = body.children.into_iter().next() else {
        return Err(Error::Missing { what: "the answer", path: "<Envelope>/<Body>/*".into() });
    };
    if first.name == "Fault" && first.ns.as_deref() == Some(ns.as_str()) {
        return Err(fault(&first));
    }
    Ok(first)
}

/// The body element, checked to be `name` in namespace `ns`.
pub fn expect(bytes: &[u8], limits: &Limits, ns: &str, name: &str) -> Result<Element, Error> {
    let element = body(bytes, limits)?;
    if !element.is(ns, name) {
        return Err(Error::Unexpected { expected: format!("{{{ns}}}{name}"), found: describe(&element) });
    }
    Ok(element)
}

/// An element's name as an error shows it: `{namespace}name`.
pub(crate) fn describe(e: &Element) -> String {
    match &e.ns {
        Some(ns) => format!("{{{ns}}}{}", e.name),
        None => format!("{} (no namespace)", e.name),
    }
}

/// A SOAP 1.2 Fault (`Code/Value`, `Code/Subcode/Value`, `Reason/Text`) or 1.1 Fault
/// (`faultcode`, `faultstring`).
fn fault(f: &Element) -> Error {
    let code = f.text_at(&["Code", "Value"]).or_else(|| f.text_at(&["faultcode"])).unwrap_or("unknown");
    let sub = f.text_at(&["Code", "Subcode", "Value"]);
    let reason = f.text_at(&["Reason", "Text"]).or_else(|| f.text_at(&["faultstring"])).unwrap_or("no reason given");
    let code = match sub {
        Some(sub) => format!("{code}/{sub}"),
        None => code.to_owned(),
    };
    Error::Fault { code, reason: reason.chars().take(500).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(doc: &str) -> Result<Element, Error> {
        body(doc.as_bytes(), &Limits::default())
    }

    #[test]
    fn faults_are_typed_with_their_reason() {
        // The shape of ONVIF Core's fault examples (`ter:NotAuthorized` under `env:Sender`).
        let doc = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error">
          <env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>
          <env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        assert_eq!(
            check(doc).unwrap_err(),
            Error::Fault { code: "env:Sender/ter:NotAuthorized".into(), reason: "Sender not Authorized".into() }
        );
        let doc = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(check(doc).unwrap_err().to_string(), "the device refused: bad (s:Client)");
    }

    #[test]
    fn only_soap_envelopes() {
        let err = check(r#"<Envelope xmlns="urn:not-soap"><Body><x/></Body></Envelope>"#).unwrap_err();
        assert_eq!(err.to_string(), "expected a SOAP Envelope, found {urn:not-soap}Envelope");
        let err = check(r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>"#).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        // A Body in another namespace is not the envelope's.
        let err =
            check(r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><Body><x/></Body></s:Envelope>"#)
                .unwrap_err();
        assert!(matches!(err, Error::Missing { what: "the SOAP Body", .. }), "{err:?}");
        let e =
            expect(envelope(None, r#"<a xmlns="urn:a"/>"#).as_bytes(), &Limits::default(), "urn:b", "a").unwrap_err();
        assert_eq!(e.to_string(), "expected {urn:b}a, found {urn:a}a");
    }
}
