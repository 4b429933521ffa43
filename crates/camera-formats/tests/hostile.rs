//! Hostile and broken input: every parser refuses it with the specific error, never a panic.

mod common;

use common::fixture;
use limes_camera_formats::{
    FormatError, Limits, MultipartProblem, Observation, SourceFormat, decode_axis_images, parse_axis_event_xml,
    parse_axis_push_json, parse_frigate, parse_hikvision_multipart, parse_hikvision_xml, parse_onvif_json,
    parse_onvif_xml, split_multipart,
};

type Parse = fn(&[u8]) -> Result<Vec<Observation>, FormatError>;

fn onvif_xml(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_onvif_xml(b, None, &Limits::default())
}
fn onvif_json(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_onvif_json(b, None, &Limits::default())
}
fn hikvision(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_hikvision_xml(b, &Limits::default())
}
fn axis_xml(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_axis_event_xml(b, None, &Limits::default())
}
fn axis_json(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_axis_push_json(b, &Limits::default())
}
fn frigate(b: &[u8]) -> Result<Vec<Observation>, FormatError> {
    parse_frigate(b, &Limits::default())
}

/// Each XML parser, its format and a valid fixture of it.
const XML: [(Parse, SourceFormat, &str); 3] = [
    (onvif_xml, SourceFormat::OnvifXml, "onvif_metadatastream_humanface.xml"),
    (hikvision, SourceFormat::HikvisionIsapi, "hikvision_anpr_plate.xml"),
    (axis_xml, SourceFormat::AxisLpv, "axis_lpv_alpv_allplates_event.xml"),
];

/// Each JSON parser, its format and a valid fixture of it.
const JSON: [(Parse, SourceFormat, &str); 3] = [
    (onvif_json, SourceFormat::OnvifJson, "onvif_json_plate_vehicle.json"),
    (axis_json, SourceFormat::AxisLpv, "axis_lpv_push_event.json"),
    (frigate, SourceFormat::Frigate, "frigate_events_car_new.json"),
];

/// The fixture with `from` replaced by `to` (which must occur).
fn edited(name: &str, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture(name)).unwrap();
    assert!(text.contains(from), "{name} has no {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

/// The JSON fixture changed by `edit`.
fn edited_json(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

fn bad_value(result: Result<Vec<Observation>, FormatError>) -> (String, String, &'static str) {
    match result {
        Err(FormatError::BadValue { path, value, reason, .. }) => (path, value, reason),
        other => panic!("expected BadValue, got {other:?}"),
    }
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<EventNotificationAlert><ANPR><licensePlate>&lol9;</licensePlate></ANPR></EventNotificationAlert>"#;

const XXE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<tt:MetadataStream><tt:VideoAnalytics><tt:Frame UtcTime="2026-01-01T00:00:00Z"><tt:Object ObjectId="1">
<tt:Appearance><tt:LicensePlateInfo><tt:PlateNumber>&xxe;</tt:PlateNumber></tt:LicensePlateInfo></tt:Appearance>
</tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;

#[test]
fn xml_entity_bombs_and_external_entities_are_refused() {
    for (parse, format, _) in XML {
        for doc in [BILLION_LAUGHS, XXE, "<!DOCTYPE a SYSTEM \"http://example.invalid/a.dtd\"><a/>"] {
            let err = parse(doc.as_bytes()).unwrap_err();
            assert_eq!(err, FormatError::Doctype { format });
            assert!(err.to_string().contains("<!DOCTYPE> is refused"), "{err}");
        }
        // An entity used without any definition.
        let err = parse(b"<a>&lol9;</a>").unwrap_err();
        assert!(matches!(err, FormatError::UnknownEntity { ref name, .. } if name == "lol9"), "{err:?}");
    }
}

#[test]
fn deep_nesting_is_refused_before_recursion() {
    for (parse, format, _) in XML {
        let doc = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        let err = parse(doc.as_bytes()).unwrap_err();
        assert!(matches!(err, FormatError::TooDeep { limit: 64, .. }), "{format}: {err:?}");
    }
    for (parse, format, _) in JSON {
        let doc = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err, FormatError::TooDeep { format, limit: 64, path: "byte 64".into() });
        let doc = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
        assert!(matches!(parse(doc.as_bytes()), Err(FormatError::TooDeep { .. })), "{format}");
    }
}

#[test]
fn documents_over_the_size_limit_are_refused_unread() {
    let huge = vec![b' '; (4 << 20) + 1];
    for (parse, format, _) in XML.into_iter().chain(JSON) {
        let err = parse(&huge).unwrap_err();
        assert_eq!(err, FormatError::TooLarge { format, what: "the document", size: (4 << 20) + 1, limit: 4 << 20 });
        assert_eq!(err.to_string(), format!("{format}: the document is 4194305 bytes, more than the limit of 4194304"));
    }
    // The limit is the caller's.
    let small = Limits { max_document_bytes: 100, ..Limits::default() };
    let err = parse_hikvision_xml(&fixture("hikvision_anpr_plate.xml"), &small).unwrap_err();
    assert!(matches!(err, FormatError::TooLarge { limit: 100, .. }), "{err:?}");
}

#[test]
fn truncated_documents_are_refused() {
    for (parse, format, name) in XML {
        let bytes = fixture(name);
        let text = String::from_utf8(bytes.clone()).unwrap();
        // Cut after a complete tag: elements are left open.
        let cut = text[..text.len() / 2].rfind('>').unwrap() + 1;
        let err = parse(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, FormatError::Truncated { .. }), "{format}: {err:?}");
        assert!(err.to_string().contains("the document ends inside <"), "{err}");
        // Cut inside a tag.
        let cut = text[..text.len() / 2].rfind('<').unwrap() + 3;
        assert!(matches!(parse(&bytes[..cut]), Err(FormatError::Xml { .. })), "{format}");
    }
    for (parse, format, name) in JSON {
        let bytes = fixture(name);
        let err = parse(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(err, FormatError::Json { ref message, .. } if message.contains("EOF")), "{format}: {err:?}");
    }
}

#[test]
fn invalid_utf8_is_refused_with_its_offset() {
    for (parse, format, name) in XML.into_iter().chain(JSON) {
        let mut bytes = fixture(name);
        bytes.insert(40, 0xFF);
        assert_eq!(parse(&bytes).unwrap_err(), FormatError::InvalidUtf8 { format, offset: 40 });
        // UTF-16 (with its byte order mark) is not accepted either.
        let utf16: Vec<u8> = "\u{FEFF}<a/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(parse(&utf16).unwrap_err(), FormatError::InvalidUtf8 { format, offset: 0 });
    }
}

#[test]
fn empty_input_is_refused() {
    for (parse, format, _) in XML.into_iter().chain(JSON) {
        assert_eq!(parse(b"").unwrap_err(), FormatError::Empty { format });
        assert_eq!(parse(b" \r\n\t").unwrap_err(), FormatError::Empty { format });
    }
}

#[test]
fn documents_of_another_format_are_refused_by_their_root() {
    let err = onvif_xml(b"<html><body/></html>").unwrap_err();
    assert_eq!(
        err.to_string(),
        "onvif-xml: the root is <html>, expected <tt:MetadataStream>, <tt:VideoAnalytics> or <tt:Frame>"
    );
    let err = hikvision(&fixture("onvif_metadatastream_humanface.xml")).unwrap_err();
    assert_eq!(err.to_string(), "hikvision-isapi: the root is <MetadataStream>, expected <EventNotificationAlert>");
    let err = hikvision(b"<EventNotificationAlert/><EventNotificationAlert/>").unwrap_err();
    assert!(matches!(err, FormatError::WrongRoot { ref found, .. } if found == "2 root elements"), "{err:?}");
    let err = axis_xml(&fixture("hikvision_anpr_plate.xml")).unwrap_err();
    assert!(matches!(err, FormatError::WrongRoot { ref found, .. } if found == "<EventNotificationAlert>"));

    let err = onvif_json(br#"{"UtcTime": "2008-10-10T12:24:57.321Z", "Source": {}, "Data": {}}"#).unwrap_err();
    assert!(matches!(err, FormatError::WrongRoot { ref found, .. } if found.starts_with("an object with")), "{err:?}");
    assert!(matches!(onvif_json(b"[1]"), Err(FormatError::WrongRoot { .. })));
    assert!(matches!(axis_json(b"[]"), Err(FormatError::WrongRoot { ref found, .. }) if found == "an array"));
    assert!(matches!(frigate(b"[]"), Err(FormatError::WrongRoot { ref found, .. }) if found == "an array"));
    let err = frigate(br#"{"type": "bogus"}"#).unwrap_err();
    assert!(err.to_string().contains(r#"a message of type "bogus""#), "{err}");
    // A JSON parser fed XML, and an XML parser fed JSON.
    assert!(matches!(frigate(BILLION_LAUGHS.as_bytes()), Err(FormatError::Json { .. })));
    assert!(matches!(axis_xml(b"{\"a\": 1}"), Err(FormatError::Xml { .. })));
}

#[test]
fn out_of_range_confidences_are_refused() {
    let name = "onvif_fragment_licenseplateinfo.xml";
    let (path, value, reason) = bad_value(onvif_xml(&edited(
        name,
        r#"<tt:PlateNumber Likelihood="0.9">"#,
        r#"<tt:PlateNumber Likelihood="7">"#,
    )));
    assert_eq!(
        (path.as_str(), value.as_str(), reason),
        (
            r#"<Frame>[0]/<Object ObjectId="12">/<Appearance>/<LicensePlateInfo>/<PlateNumber>@Likelihood"#,
            "7",
            "a confidence must be in 0..=1"
        )
    );
    let json = edited("onvif_json_plate_vehicle.json", r#""@Likelihood": 0.93"#, r#""@Likelihood": 7"#);
    assert_eq!(bad_value(onvif_json(&json)).2, "a confidence must be in 0..=1");
    let err =
        hikvision(&edited("hikvision_anpr_plate.xml", "<confidenceLevel>87<", "<confidenceLevel>700<")).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"hikvision-isapi: <ANPR>/<confidenceLevel> is "700": a confidence must be in 0..=100"#
    );
    let (path, _, _) = bad_value(axis_json(&edited("axis_lpv_push_event.json", r#""0.861402""#, r#""7""#)));
    assert_eq!(path, "plateConfidence");
    let (path, _, _) = bad_value(frigate(&edited("frigate_events_car_new.json", "0.88", "7")));
    assert_eq!(path, "after.recognized_license_plate_score");
    let (path, _, _) = bad_value(frigate(&edited("frigate_mqtt_tracked_object_update_lpr.json", "0.95", "-0.5")));
    assert_eq!(path, "score");
    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", r#"Likelihood="0.8""#, r#"Likelihood="high""#));
    assert_eq!(bad_value(err).2, "not a number");
}

#[test]
fn nan_is_refused() {
    let name = "onvif_fragment_licenseplateinfo.xml";
    let err = onvif_xml(&edited(name, r#"Likelihood="0.9""#, r#"Likelihood="NaN""#));
    assert_eq!(bad_value(err).2, "not a finite number");
    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", r#"left="20.0""#, r#"left="inf""#));
    assert_eq!(bad_value(err).2, "not a finite number");
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<confidenceLevel>87<", "<confidenceLevel>NaN<"));
    assert_eq!(bad_value(err).2, "not a finite number");
    let err = axis_json(&edited("axis_lpv_push_event.json", r#""0.861402""#, r#""NaN""#));
    assert_eq!(bad_value(err), ("plateConfidence".into(), "NaN".into(), "not a finite number"));
    let err = axis_xml(&edited("axis_lpv_alpv_allplates_event.xml", r#""left" Value="880""#, r#""left" Value="NaN""#));
    assert_eq!(bad_value(err).2, "not a finite number");
    // JSON has no NaN: the JSON parsers refuse the literal.
    for (parse, format, name) in JSON {
        let text = String::from_utf8(fixture(name)).unwrap();
        let at = text.find(": ").unwrap();
        let doc = format!("{}: NaN, {}", &text[..at], &text[at + 2..]);
        assert!(matches!(parse(doc.as_bytes()), Err(FormatError::Json { .. })), "{format}");
    }
    let err = frigate(&edited("frigate_events_car_new.json", "1781000000.951004", "1e300")).unwrap_err();
    assert_eq!(bad_value(Err(err)).2, "not a time in seconds since 1970");
}

#[test]
fn impossible_positions_boxes_and_ages_are_refused() {
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<degree>47</degree>", "<degree>200</degree>"));
    assert_eq!(bad_value(err), ("<DeviceGPSInfo>/<Latitude>/<degree>".into(), "200".into(), "too many degrees"));
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<minute>57</minute>", "<minute>75</minute>"));
    assert_eq!(bad_value(err).2, "not in 0..60");
    let err = axis_json(&edited("axis_lpv_push_event.json", r#""lat": 48.01062"#, r#""lat": 200"#));
    assert_eq!(bad_value(err), ("geotag".into(), "200, 26.02971".into(), "not a WGS84 position"));
    let geo = r#"<tt:Appearance><tt:GeoLocation lat="200" lon="26.1"/>"#;
    let err = onvif_xml(&edited("onvif_fragment_licenseplateinfo.xml", "<tt:Appearance>", geo));
    assert_eq!(bad_value(err).2, "not a WGS84 position");

    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", r#"right="100.0""#, r#"right="10000.0""#));
    assert_eq!(bad_value(err).2, "outside the picture (-1..=1 after the transformation)");
    let err = frigate(&edited_json("frigate_events_person_new.json", |m| m["after"]["box"][0] = (-100).into()));
    assert_eq!(bad_value(err).2, "not a box inside the picture");
    let err = frigate(&edited("frigate_mqtt_tracked_object_update_lpr.json", "[917, 487, 1029, 529]", "[1, 2]"));
    assert_eq!(bad_value(err).2, "a box has four numbers");
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<X>412</X>", "<X>990</X>"));
    assert_eq!(bad_value(err).2, "not inside the picture");

    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", "<tt:Min>20</tt:Min>", "<tt:Min>40</tt:Min>"));
    assert_eq!(bad_value(err).2, "Min above Max");
    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", "<tt:Max>30</tt:Max>", "<tt:Max>300</tt:Max>"));
    assert_eq!(bad_value(err).2, "not an age in whole years 0..=130");
    let err = onvif_xml(&edited("onvif_metadatastream_humanface.xml", "2021-10-05T15:13:27.321", "yesterday"));
    assert_eq!(bad_value(err), ("<Frame>[0]@UtcTime".into(), "yesterday".into(), "not an ISO 8601 date and time"));
}

#[test]
fn empty_and_missing_plates_are_refused() {
    let err = onvif_xml(&edited("onvif_fragment_licenseplateinfo.xml", ">6DZG261<", "> <"));
    assert_eq!(bad_value(err).2, "the plate text is empty");
    let err = onvif_json(&edited("onvif_json_plate_vehicle.json", r#""B123XYZ""#, r#""""#));
    assert_eq!(bad_value(err).2, "the plate text is empty");
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<licensePlate>CJ07LMN</licensePlate>", "<licensePlate/>"));
    assert_eq!(bad_value(err), ("<ANPR>/<licensePlate>".into(), String::new(), "the plate text is empty"));
    let err = hikvision(&edited("hikvision_anpr_plate.xml", "<licensePlate>CJ07LMN</licensePlate>", "")).unwrap_err();
    assert_eq!(err.to_string(), "hikvision-isapi: <ANPR>/<licensePlate> missing");
    let err = axis_xml(&edited("axis_lpv_alpv_allplates_event.xml", r#"Value="SV12ABC""#, r#"Value="""#));
    assert_eq!(bad_value(err).2, "the plate text is empty");
    let err = axis_xml(&edited("axis_lpv_alpv_allplates_event.xml", r#"Name="text""#, r#"Name="other""#)).unwrap_err();
    assert!(
        matches!(err, FormatError::Missing { ref path, .. } if path.ends_with(r#"<SimpleItem Name="text">@Value"#))
    );
    let blank = r#""plateText": "   ",    "plateUnicode": "",    "plateUTF8": """#;
    let doc = edited(
        "axis_lpv_push_event.json",
        r#""plateText": "АА1234ВХ",    "plateUnicode": "АА1234ВХ",    "plateUTF8": "АА1234ВХ""#,
        blank,
    );
    assert_eq!(bad_value(axis_json(&doc)).2, "the plate text is empty");
    let doc = br#"{"carState": "new", "camera_info": {"SerialNumber": "X"}}"#;
    assert_eq!(axis_json(doc).unwrap_err().to_string(), "axis-lpv: plateText missing");
    let err = frigate(&edited(
        "frigate_events_car_new.json",
        r#""recognized_license_plate": "SV12ABC""#,
        r#""recognized_license_plate": "  ""#,
    ));
    assert_eq!(bad_value(err).2, "the plate text is empty");
    let err = frigate(&edited("frigate_mqtt_tracked_object_update_lpr.json", r#""123ABC""#, r#""""#));
    assert_eq!(bad_value(err).2, "the plate text is empty");
    let err = frigate(&edited_json("frigate_events_car_new.json", |m| m["after"]["camera"] = serde_json::Value::Null));
    assert_eq!(err.unwrap_err().to_string(), "frigate: after.camera missing");
}

#[test]
fn wrong_json_types_name_their_place() {
    let err = frigate(&edited("frigate_events_car_new.json", "1781000000.951004", r#""soon""#)).unwrap_err();
    let FormatError::Json { line, message, .. } = &err else { panic!("{err:?}") };
    assert!(message.contains("invalid type: string \"soon\""), "{message}");
    assert!(*line > 1, "{err}");
    let err = axis_json(&edited("axis_lpv_push_event.json", r#""0.861402""#, r#"{"v": 1}"#));
    assert_eq!(bad_value(err).2, "not a number");
}

#[test]
fn too_many_objects_are_refused() {
    let limits = Limits { max_objects: 2, ..Limits::default() };
    let err = parse_onvif_json(&fixture("onvif_json_plate_vehicle.json"), None, &limits).unwrap_err();
    assert_eq!(err, FormatError::TooMany { format: SourceFormat::OnvifJson, what: "objects", limit: 2 });
    let object = r#"<tt:Object ObjectId="1"><tt:Appearance/></tt:Object>"#;
    let doc = format!("<tt:Frame>{}</tt:Frame>", object.repeat(300));
    let err = onvif_xml(doc.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "onvif-xml: more than 256 objects");
    let message = String::from_utf8(fixture("axis_lpv_alpv_allplates_event.xml")).unwrap();
    let start = message.find("<wsnt:NotificationMessage").unwrap();
    let end = message.find("</tt:Event>").unwrap();
    let doc = format!("{}{}{}", &message[..start], message[start..end].repeat(3), &message[end..]);
    let limits = Limits { max_objects: 3, ..Limits::default() };
    assert_eq!(parse_axis_event_xml(doc.as_bytes(), None, &limits).unwrap().len(), 3);
    let limits = Limits { max_objects: 2, ..Limits::default() };
    let err = parse_axis_event_xml(doc.as_bytes(), None, &limits).unwrap_err();
    assert_eq!(err, FormatError::TooMany { format: SourceFormat::AxisLpv, what: "notifications", limit: 2 });
    let elements = Limits { max_elements: 10, ..Limits::default() };
    let err = parse_hikvision_xml(&fixture("hikvision_anpr_plate.xml"), &elements).unwrap_err();
    assert_eq!(err, FormatError::TooMany { format: SourceFormat::HikvisionIsapi, what: "elements", limit: 10 });
}

#[test]
fn bad_base64_images_are_refused() {
    let doc = edited("axis_lpv_push_event_images.json", r#""BinaryImage": "iVBOR"#, r#""BinaryImage": "!!!!"#);
    let err = decode_axis_images(&doc, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, FormatError::BadValue { ref path, reason: "not base64", .. } if path == "ImageArray[0].BinaryImage")
    );
}

// ---- multipart ----

const CT: &str = "multipart/form-data; boundary=b0und";

fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (headers, data) in parts {
        body.extend_from_slice(format!("--b0und\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b0und--\r\n");
    body
}

const XML_PART: &str = "Content-Disposition: form-data; name=\"anpr.xml\"\r\nContent-Type: text/xml";
const JPEG_PART: &str = "Content-Disposition: form-data; name=\"licensePlatePicture.jpg\"\r\nContent-Type: image/jpeg";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0xFF, 0xD9];

fn multipart_problem(result: Result<impl std::fmt::Debug, FormatError>) -> MultipartProblem {
    match result {
        Err(FormatError::Multipart { problem, .. }) => problem,
        other => panic!("expected a multipart problem, got {other:?}"),
    }
}

#[test]
fn multipart_without_an_xml_part_is_refused() {
    let b = body(&[(JPEG_PART, JPEG), (JPEG_PART, JPEG)]);
    let err = parse_hikvision_multipart(CT, &b, &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "hikvision-isapi: multipart: no XML part among 2 parts");
}

#[test]
fn multipart_part_that_lies_about_being_a_jpeg_is_flagged() {
    let xml = fixture("hikvision_anpr_plate.xml");
    let b = body(&[(XML_PART, &xml), (JPEG_PART, b"MZ\x90\x00 not a picture"), (JPEG_PART, JPEG)]);
    let upload = parse_hikvision_multipart(CT, &b, &Limits::default()).unwrap();
    assert_eq!(upload.observations.len(), 1);
    assert!(upload.images[0].mislabelled && !upload.images[0].is_jpeg);
    assert!(!upload.images[1].mislabelled && upload.images[1].is_jpeg);
    // A .jpg name without a Content-Type is a claim too.
    let b = body(&[(XML_PART, &xml), ("Content-Disposition: form-data; name=\"x.jpg\"", b"GIF89a")]);
    assert!(split_multipart(CT, &b, &Limits::default()).unwrap().images[0].mislabelled);
}

#[test]
fn multipart_over_its_limits_is_refused() {
    let xml = fixture("hikvision_anpr_plate.xml");
    let b = body(&[(XML_PART, &xml), (JPEG_PART, JPEG), (JPEG_PART, JPEG)]);
    let limits = Limits { max_parts: 2, ..Limits::default() };
    let err = split_multipart(CT, &b, &limits).unwrap_err();
    assert_eq!(err, FormatError::TooMany { format: SourceFormat::HikvisionIsapi, what: "multipart parts", limit: 2 });
    let limits = Limits { max_part_bytes: 1000, ..Limits::default() };
    let err = split_multipart(CT, &b, &limits).unwrap_err();
    assert!(matches!(err, FormatError::TooLarge { what: "a multipart part", limit: 1000, .. }), "{err:?}");
    let limits = Limits { max_body_bytes: 100, ..Limits::default() };
    let err = split_multipart(CT, &b, &limits).unwrap_err();
    assert!(matches!(err, FormatError::TooLarge { what: "the multipart body", .. }), "{err:?}");
    // The XML part is still bound by the document limit.
    let limits = Limits { max_document_bytes: 100, ..Limits::default() };
    assert!(matches!(
        parse_hikvision_multipart(CT, &b, &limits),
        Err(FormatError::TooLarge { what: "the document", .. })
    ));
    // Many tiny parts.
    let many: Vec<(&str, &[u8])> = (0..10_000).map(|_| (JPEG_PART, JPEG)).collect();
    let err = split_multipart(CT, &body(&many), &Limits::default()).unwrap_err();
    assert!(matches!(err, FormatError::TooMany { limit: 16, .. }), "{err:?}");
}

#[test]
fn truncated_multipart_is_refused() {
    let xml = fixture("hikvision_anpr_plate.xml");
    let b = body(&[(XML_PART, &xml), (JPEG_PART, JPEG)]);
    let cut = &b[..b.len() - "\r\n--b0und--\r\n".len() - 2];
    assert_eq!(
        multipart_problem(split_multipart(CT, cut, &Limits::default())),
        MultipartProblem::Truncated { index: 1 }
    );
    let cut = &b[..50];
    assert_eq!(
        multipart_problem(split_multipart(CT, cut, &Limits::default())),
        MultipartProblem::Truncated { index: 0 }
    );
    // The body stops right after a boundary line.
    assert_eq!(
        multipart_problem(split_multipart(CT, b"--b0und", &Limits::default())),
        MultipartProblem::Truncated { index: 0 }
    );
}

#[test]
fn multipart_without_a_boundary_is_refused() {
    let xml = fixture("hikvision_anpr_plate.xml");
    let b = body(&[(XML_PART, &xml)]);
    for ct in ["multipart/form-data", "multipart/form-data; boundary=", "multipart/mixed; charset=utf-8"] {
        assert_eq!(
            multipart_problem(split_multipart(ct, &b, &Limits::default())),
            MultipartProblem::NoBoundary(ct.to_owned())
        );
    }
    assert!(matches!(
        multipart_problem(split_multipart("application/xml", &b, &Limits::default())),
        MultipartProblem::NotMultipart(_)
    ));
    // A boundary the body never uses.
    let ct = "multipart/mixed; boundary=other";
    assert_eq!(multipart_problem(split_multipart(ct, &b, &Limits::default())), MultipartProblem::NoDelimiter);
    // Malformed part headers.
    let broken = b"--b0und\r\nContent-Type text/xml\r\n\r\n<a/>\r\n--b0und--";
    assert_eq!(
        multipart_problem(split_multipart(CT, broken, &Limits::default())),
        MultipartProblem::BadPart { index: 0, message: "a header line has no colon" }
    );
    let broken = b"--b0und\r\nContent-Type: text/xml\r\n<a/>\r\n--b0und--";
    assert_eq!(
        multipart_problem(split_multipart(CT, broken, &Limits::default())),
        MultipartProblem::BadPart { index: 0, message: "its headers do not end with an empty line" }
    );
    let broken = b"--b0undX\r\n\r\n<a/>\r\n--b0und--";
    assert_eq!(
        multipart_problem(split_multipart(CT, broken, &Limits::default())),
        MultipartProblem::BadPart { index: 0, message: "the boundary line does not end" }
    );
}

#[test]
fn multipart_mixed_with_quoted_boundary_and_epilogue() {
    let xml = fixture("hikvision_anpr_plate.xml");
    let mut b = body(&[(XML_PART, &xml), (JPEG_PART, JPEG)]);
    b.extend_from_slice(b"epilogue that is ignored\r\n");
    let upload = parse_hikvision_multipart("Multipart/Mixed; boundary=\"b0und\"", &b, &Limits::default()).unwrap();
    assert_eq!(upload.observations.len(), 1);
    assert_eq!(upload.images[0].name.as_deref(), Some("licensePlatePicture.jpg"));
}
