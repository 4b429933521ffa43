//! Parsing of camera registries (CSV, GeoJSON) and hotlists (CSV, JSON).
//!
//! Every parser keeps the good records and reports each bad one with its place
//! (a CSV line, a JSON index), so that one typo never loses a whole file.

use chrono::{DateTime, NaiveDate, Utc};
use limes_model::{AgencyId, Camera, CameraId, CameraKind, GeoPoint, HotlistEntry, HotlistReason, VehicleInfo};
use limes_plate::CountryCode;
use serde::{Deserialize, Serialize};

/// A record that could not be imported, and where it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportError {
    /// CSV: the 1-based line number; JSON: the 0-based array index.
    pub at: usize,
    pub error: String,
}

/// Good records and the places of bad ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// Each good record with its place (as in [`ImportError::at`]).
    pub records: Vec<(usize, T)>,
    pub errors: Vec<ImportError>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Self { records: Vec::new(), errors: Vec::new() }
    }
}

fn opt(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn parse_f64(field: &str, s: Option<&str>) -> Result<Option<f64>, String> {
    opt(s).map(|v| v.parse::<f64>().map_err(|_| format!("{field} {v:?} is not a number"))).transpose()
}

/// The header names a camera CSV may use.
pub const CAMERA_CSV_HEADER: &str = "id,agency,kind,lat,lon,heading,road,lane,country,name";

/// Parses a camera CSV with a header row naming (some of) [`CAMERA_CSV_HEADER`]'s columns.
pub fn cameras_csv(data: &[u8]) -> Result<Parsed<Camera>, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(data);
    let headers = rdr.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (id, agency, kind, country) = (col("id"), col("agency"), col("kind"), col("country"));
    let missing: Vec<&str> = [("id", id), ("agency", agency), ("kind", kind), ("country", country)]
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(format!("CSV header lacks column(s) {}; expected {CAMERA_CSV_HEADER}", missing.join(", ")));
    }
    let (lat, lon, heading, road, lane, name) =
        (col("lat"), col("lon"), col("heading"), col("road"), col("lane"), col("name"));
    Ok(each_record(rdr, |rec| {
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c));
        let position = match (parse_f64("lat", get(lat))?, parse_f64("lon", get(lon))?) {
            (Some(la), Some(lo)) => Some(GeoPoint::new(la, lo).map_err(|e| e.to_string())?),
            (None, None) => None,
            _ => return Err("lat and lon must be given together".to_owned()),
        };
        let kind_s = get(kind).unwrap_or("");
        let c = Camera {
            id: CameraId::new(get(id).unwrap_or("").trim()).map_err(|e| e.to_string())?,
            agency: AgencyId::new(get(agency).unwrap_or("").trim()).map_err(|e| e.to_string())?,
            kind: CameraKind::parse(kind_s)
                .ok_or_else(|| format!("kind {kind_s:?} is not fixed, anpr, mobile or drone"))?,
            position,
            heading: parse_f64("heading", get(heading))?,
            road: opt(get(road)).map(str::to_owned),
            lane: opt(get(lane)).map(str::to_owned),
            country: CountryCode::parse(get(country).unwrap_or("")).map_err(|e| e.to_string())?,
            name: opt(get(name)).map(str::to_owned),
        };
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }))
}

/// Runs `parse` on every record of a CSV reader; keeps what it accepts with its line number
/// (the header is line 1) and reports what it or the CSV reader refuses.
fn each_record<T>(
    mut rdr: csv::Reader<&[u8]>,
    mut parse: impl FnMut(&csv::StringRecord) -> Result<T, String>,
) -> Parsed<T> {
    let mut out = Parsed::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        match rec.map_err(|e| e.to_string()).and_then(|r| parse(&r)) {
            Ok(t) => out.records.push((line, t)),
            Err(error) => out.errors.push(ImportError { at: line, error }),
        }
    }
    out
}

#[derive(Deserialize)]
struct FeatureCollection {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Feature {
    #[serde(rename = "type")]
    kind: String,
    geometry: Option<Geometry>,
    properties: CameraProperties,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraProperties {
    id: Option<String>,
    agency: String,
    kind: String,
    country: String,
    heading: Option<f64>,
    road: Option<String>,
    lane: Option<String>,
    name: Option<String>,
}

/// Parses a GeoJSON FeatureCollection of Point features (RFC 7946: `[lon, lat]`)
/// whose properties describe cameras.
pub fn cameras_geojson(data: &[u8]) -> Result<Parsed<Camera>, String> {
    let fc: FeatureCollection = serde_json::from_slice(data).map_err(|e| format!("GeoJSON: {e}"))?;
    if fc.kind != "FeatureCollection" {
        return Err(format!("GeoJSON type is {:?}, expected \"FeatureCollection\"", fc.kind));
    }
    let mut out = Parsed::default();
    for (at, value) in fc.features.into_iter().enumerate() {
        let camera = (|| {
            let f: Feature = serde_json::from_value(value).map_err(|e| e.to_string())?;
            if f.kind != "Feature" {
                return Err(format!("type is {:?}, expected \"Feature\"", f.kind));
            }
            let position = match f.geometry {
                None => None,
                Some(g) if g.kind == "Point" && g.coordinates.len() >= 2 => {
                    Some(GeoPoint::new(g.coordinates[1], g.coordinates[0]).map_err(|e| e.to_string())?)
                }
                Some(g) => {
                    return Err(format!(
                        "geometry {:?} with {} coordinates is not a Point",
                        g.kind,
                        g.coordinates.len()
                    ));
                }
            };
            let p = f.properties;
            let id = p.id.or_else(|| f.id.and_then(|v| v.as_str().map(str::to_owned))).unwrap_or_default();
            let c = Camera {
                id: CameraId::new(id).map_err(|e| e.to_string())?,
                agency: AgencyId::new(p.agency).map_err(|e| e.to_string())?,
                kind: CameraKind::parse(&p.kind)
                    .ok_or_else(|| format!("kind {:?} is not fixed, anpr, mobile or drone", p.kind))?,
                position,
                heading: p.heading,
                road: p.road,
                lane: p.lane,
                country: CountryCode::parse(&p.country).map_err(|e| e.to_string())?,
                name: p.name,
            };
            c.validate().map_err(|e| e.to_string())?;
            Ok(c)
        })();
        match camera {
            Ok(c) => out.records.push((at, c)),
            Err(error) => out.errors.push(ImportError { at, error }),
        }
    }
    Ok(out)
}

/// A hotlist entry as imported, before it has an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotlistIn {
    pub plate: String,
    #[serde(default)]
    pub country: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub priority: Option<u8>,
    pub agency: String,
    /// RFC 3339 time or a date (`2027-01-31`, meaning the end of that day, UTC).
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub fuzzy: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
    /// The vehicle's make (`Dacia`, `VW`), as the list gives it.
    #[serde(default)]
    pub make: Option<String>,
    /// The vehicle's colour (`white`, `gri`), as the list gives it.
    #[serde(default)]
    pub colour: Option<String>,
    /// An exercise's entry (`limes exercise run`): only exercise reads hit it. The mark is
    /// set when the entry is added and never changes.
    #[serde(default)]
    pub exercise: bool,
}

fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expires {s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    Ok(d.and_hms_opt(23, 59, 59).map(|t| t.and_utc()).unwrap_or_default())
}

impl HotlistIn {
    /// Normalises the plate for its country and checks every field; `id` is assigned by the caller.
    pub fn into_entry(self, id: u64) -> Result<HotlistEntry, String> {
        let country = opt(self.country.as_deref()).map(CountryCode::parse).transpose().map_err(|e| e.to_string())?;
        let n = limes_plate::normalize(&self.plate, country).map_err(|e| format!("plate {:?}: {e}", self.plate))?;
        let priority = self.priority.unwrap_or(3);
        if !(1..=5).contains(&priority) {
            return Err(format!("priority {priority} is not in 1..=5"));
        }
        Ok(HotlistEntry {
            exercise: self.exercise,
            id,
            plate: n.text,
            country,
            reason: HotlistReason::parse(&self.reason).ok_or_else(|| {
                format!("reason {:?} is not stolen, wanted, missing_person, suspect or other", self.reason)
            })?,
            priority,
            agency: AgencyId::new(self.agency.trim()).map_err(|e| e.to_string())?,
            expires: opt(self.expires.as_deref()).map(parse_expiry).transpose()?,
            fuzzy: self.fuzzy.unwrap_or(false),
            note: opt(self.note.as_deref()).map(str::to_owned),
            vehicle: vehicle(self.make.as_deref(), self.colour.as_deref()),
        })
    }
}

/// The fields of an entry that can change in place (`PUT /api/v1/hotlist/{id}`): all but
/// its plate, country and agency, which name what the entry is about (another plate is
/// another entry: expire this one and add that). A field left out is cleared, as a `PUT`
/// replaces; `priority` defaults to 3 as on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotlistEdit {
    pub reason: String,
    #[serde(default)]
    pub priority: Option<u8>,
    /// RFC 3339 time or a date (`2027-01-31`, meaning the end of that day, UTC).
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub fuzzy: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub make: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
}

impl HotlistEdit {
    /// `entry` with these fields, each checked as on import.
    pub fn apply(self, entry: HotlistEntry) -> Result<HotlistEntry, String> {
        let priority = self.priority.unwrap_or(3);
        if !(1..=5).contains(&priority) {
            return Err(format!("priority {priority} is not in 1..=5"));
        }
        Ok(HotlistEntry {
            reason: HotlistReason::parse(&self.reason).ok_or_else(|| {
                format!("reason {:?} is not stolen, wanted, missing_person, suspect or other", self.reason)
            })?,
            priority,
            expires: opt(self.expires.as_deref()).map(parse_expiry).transpose()?,
            fuzzy: self.fuzzy.unwrap_or(false),
            note: opt(self.note.as_deref()).map(str::to_owned),
            vehicle: vehicle(self.make.as_deref(), self.colour.as_deref()),
            ..entry
        })
    }
}

/// The vehicle an entry describes, if it names a make or colour. Words are kept as the
/// list gives them; matching compares those it knows ([`limes_model::VehicleCode`]).
fn vehicle(make: Option<&str>, colour: Option<&str>) -> Option<VehicleInfo> {
    let (make, colour) = (opt(make).map(str::to_owned), opt(colour).map(str::to_owned));
    (make.is_some() || colour.is_some()).then_some(VehicleInfo { make, colour, class: None })
}

/// The columns a hotlist CSV may have; `plate`, `reason` and `agency` are required.
pub const HOTLIST_CSV_HEADER: &str = "plate,country,reason,priority,agency,expires,fuzzy,note,make,colour";

/// Parses a hotlist CSV with a header row.
pub fn hotlist_csv(data: &[u8]) -> Result<Parsed<HotlistIn>, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(data);
    let headers = rdr.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (plate, reason, agency) = (col("plate"), col("reason"), col("agency"));
    if plate.is_none() || reason.is_none() || agency.is_none() {
        return Err(format!("CSV header must name plate, reason and agency; expected {HOTLIST_CSV_HEADER}"));
    }
    let (country, priority, expires, fuzzy, note) =
        (col("country"), col("priority"), col("expires"), col("fuzzy"), col("note"));
    let (make, colour) = (col("make"), col("colour").or_else(|| col("color")));
    Ok(each_record(rdr, |rec| {
        let get = |c: Option<usize>| opt(c.and_then(|c| rec.get(c))).map(str::to_owned);
        Ok(HotlistIn {
            plate: get(plate).ok_or("plate is empty")?,
            country: get(country),
            reason: get(reason).ok_or("reason is empty")?,
            priority: get(priority)
                .map(|p| p.parse::<u8>().map_err(|_| format!("priority {p:?} is not a number 1..=5")))
                .transpose()?,
            agency: get(agency).ok_or("agency is empty")?,
            expires: get(expires),
            fuzzy: get(fuzzy)
                .map(|f| match f.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" => Ok(true),
                    "0" | "false" | "no" => Ok(false),
                    _ => Err(format!("fuzzy {f:?} is not true or false")),
                })
                .transpose()?,
            note: get(note),
            make: get(make),
            colour: get(colour),
            // A list in a file is real data; an exercise adds its entries through the API.
            exercise: false,
        })
    }))
}

/// Parses a JSON array of hotlist entries, each checked on its own.
pub fn hotlist_json(data: &[u8]) -> Result<Parsed<HotlistIn>, String> {
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(data).map_err(|e| format!("hotlist JSON must be an array of entries: {e}"))?;
    let mut out = Parsed::default();
    for (at, v) in items.into_iter().enumerate() {
        match serde_json::from_value::<HotlistIn>(v) {
            Ok(h) => out.records.push((at, h)),
            Err(e) => out.errors.push(ImportError { at, error: e.to_string() }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_csv_keeps_good_rows_and_names_bad_ones() {
        let csv = "id,agency,kind,lat,lon,heading,road,lane,country,name\n\
                   a,ro-igpf,anpr,47.9,26.0,180,E85,1,RO,North\n\
                   b,ro-igpf,anpr,47.9,,,,,RO,\n\
                   c,ro-igpf,anpr,north,26,,,,RO,\n\
                   d,ro-igpf,anpr,,,400,,,RO,\n\
                   e,ro igpf,anpr,,,,,,RO,\n\
                   f,ro-igpf,drone,,,,,,ROU,\n\
                   g,ro-igpf,fixed\n";
        let p = cameras_csv(csv.as_bytes()).unwrap();
        assert_eq!(p.records.iter().map(|(at, c)| (*at, c.id.as_str())).collect::<Vec<_>>(), vec![(2, "a")]);
        let errs: Vec<(usize, &str)> = p.errors.iter().map(|e| (e.at, e.error.as_str())).collect();
        assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 5, 6, 7, 8]);
        assert!(errs[0].1.contains("together"), "{errs:?}");
        assert!(errs[1].1.contains("\"north\" is not a number"), "{errs:?}");
        assert!(errs[2].1.contains("heading 400"), "{errs:?}");
        assert!(errs[3].1.contains("agency id"), "{errs:?}");
        assert!(errs[4].1.contains("ROU"), "{errs:?}");
        assert!(errs[5].1.contains("country code"), "{errs:?}");
    }

    #[test]
    fn hostile_csv_is_refused_or_reported_never_panics() {
        let long_field = format!("id,agency,kind,country\n{},ro-igpf,anpr,RO\n", "x".repeat(1 << 20));
        let inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\xff\xfe\x00garbage\n\x00\x01".to_vec(),
            b"id,agency\nx,y\n".to_vec(),
            b"id,agency,kind,country\n\"unterminated,ro-igpf,anpr,RO\n".to_vec(),
            long_field.into_bytes(),
            b"id,agency,kind,country\n\xc3\x28,ro-igpf,anpr,RO\n".to_vec(),
        ];
        for input in inputs {
            match cameras_csv(&input) {
                Ok(p) => assert!(p.records.is_empty(), "{:?}", p.records),
                Err(e) => assert!(!e.is_empty()),
            }
            match hotlist_csv(&input) {
                Ok(p) => assert!(p.records.is_empty()),
                Err(e) => assert!(!e.is_empty()),
            }
        }
        assert!(cameras_csv(b"id,agency\nx,y\n").unwrap_err().contains("kind, country"));
    }

    #[test]
    fn geojson_checks_types_geometry_and_properties() {
        let doc = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [26.07, 47.95]},
             "properties": {"id": "a", "agency": "ro-igpf", "kind": "anpr", "country": "RO", "heading": 90.0}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [226.0, 47.95]},
             "properties": {"id": "b", "agency": "ro-igpf", "kind": "anpr", "country": "RO"}},
            {"type": "Feature", "geometry": null, "id": "c",
             "properties": {"agency": "ro-igpf", "kind": "drone", "country": "RO"}},
            {"type": "Feature", "geometry": null,
             "properties": {"id": "d", "agency": "ro-igpf", "kind": "anpr", "country": "RO", "colour": "red"}},
            {"type": "Point", "coordinates": [1, 2]},
            42
        ]});
        let p = cameras_geojson(doc.to_string().as_bytes()).unwrap();
        let ok: Vec<(usize, &str)> = p.records.iter().map(|(at, c)| (*at, c.id.as_str())).collect();
        assert_eq!(ok, vec![(0, "a"), (2, "c")]);
        assert_eq!(p.records[0].1.position.unwrap().lat, 47.95, "GeoJSON is [lon, lat]");
        assert_eq!(p.errors.iter().map(|e| e.at).collect::<Vec<_>>(), vec![1, 3, 4, 5]);
        assert!(p.errors[1].error.contains("colour"));

        assert!(cameras_geojson(br#"{"type": "Feature", "features": []}"#).unwrap_err().contains("FeatureCollection"));
        assert!(cameras_geojson(b"not json").unwrap_err().starts_with("GeoJSON"));
        // Deep nesting stops at serde_json's recursion limit instead of overflowing the stack.
        let deep =
            format!("{{\"type\":\"FeatureCollection\",\"features\":[{}{}]}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(cameras_geojson(deep.as_bytes()).is_err());
    }

    #[test]
    fn hotlist_entries_are_normalised_and_checked() {
        let csv = "plate,country,reason,priority,agency,expires,fuzzy,note\n\
                   b-12-abc,RO,stolen,1,ro-igpf,2027-01-31,yes,grey\n\
                   АА 1234 ВВ,UA,wanted,,ua-npu,2027-01-31T10:00:00Z,,\n\
                   X1,RO,stolen,9,ro-igpf,,,\n\
                   X2,RO,stolen,1,ro-igpf,tomorrow,,\n\
                   X3,RO,stolen,1,ro-igpf,,maybe,\n";
        let p = hotlist_csv(csv.as_bytes()).unwrap();
        assert_eq!(p.errors.iter().map(|e| e.at).collect::<Vec<_>>(), vec![6]);
        let entries: Vec<Result<HotlistEntry, String>> =
            p.records.into_iter().enumerate().map(|(i, (_, h))| h.into_entry(i as u64 + 1)).collect();
        let e0 = entries[0].as_ref().unwrap();
        assert_eq!((e0.plate.as_str(), e0.fuzzy, e0.priority), ("B12ABC", true, 1));
        assert_eq!(e0.expires.unwrap().to_rfc3339(), "2027-01-31T23:59:59+00:00");
        let e1 = entries[1].as_ref().unwrap();
        assert_eq!((e1.plate.as_str(), e1.priority), ("AA1234BB", 3));
        assert!(entries[2].as_ref().unwrap_err().contains("priority 9"));
        assert!(entries[3].as_ref().unwrap_err().contains("tomorrow"));

        let json = br#"[{"plate": "CJ 01 XYZ", "country": "RO", "reason": "missing person", "agency": "ro-igpr"},
                        {"plate": "CJ 01 XYZ", "reason": "stolen"}, "text", {"plate": 5}]"#;
        let p = hotlist_json(json).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.errors.iter().map(|e| e.at).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(p.errors[0].error.contains("agency"));
        assert!(hotlist_json(b"{\"plate\": 1}").unwrap_err().contains("array"));
    }
}

#[cfg(test)]
mod fuzz {
    //! Property tests standing in for fuzzing until a nightly toolchain is available for
    //! cargo-fuzz: no input makes a parser panic, and every record is either kept or
    //! reported.
    use proptest::prelude::*;

    use super::*;

    const CAMERA_CSV: &str = "id,agency,kind,lat,lon,heading,road,lane,country,name\n\
                              a,ro-igpf,anpr,47.9,26.0,180,E85,1,RO,North\n\
                              b,ro-igpf,drone,,,,,,UA,\n";
    const HOTLIST_CSV: &str = "plate,country,reason,priority,agency,expires,fuzzy,note\n\
                               B 12 ABC,RO,stolen,1,ro-igpf,2027-01-31,true,x\n\
                               АА 1234 ВВ,UA,wanted,2,ua-npu,,,\n";

    /// A valid document with a few bytes overwritten, inserted or removed.
    fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..8).prop_map(move |edits| {
            let mut b = base.as_bytes().to_vec();
            for (at, byte, op) in edits {
                let at = at % (b.len() + 1);
                match op {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ if at < b.len() => {
                        b.remove(at);
                    }
                    _ => {}
                }
            }
            b
        })
    }

    fn check_csv<T>(parsed: Result<Parsed<T>, String>, data: &[u8]) {
        if let Ok(p) = parsed {
            let lines = data.split(|&b| b == b'\n').count();
            assert!(p.records.len() + p.errors.len() <= lines);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_csv(cameras_csv(&data), &data);
            check_csv(hotlist_csv(&data), &data);
            let _ = cameras_geojson(&data);
            let _ = hotlist_json(&data);
        }

        #[test]
        fn mutated_camera_csv_never_panics(data in mutated(CAMERA_CSV)) {
            check_csv(cameras_csv(&data), &data);
        }

        #[test]
        fn mutated_hotlist_csv_never_panics(data in mutated(HOTLIST_CSV)) {
            let parsed = hotlist_csv(&data);
            if let Ok(p) = parsed {
                for (i, (_, h)) in p.records.into_iter().enumerate() {
                    let _ = h.into_entry(i as u64);
                }
            }
        }

        #[test]
        fn mutated_read_json_never_panics(data in mutated(r#"{"camera":"ro-1","time":"2026-11-21T10:00:00Z","plate":"B 12 ABC","country":"RO","confidence":0.9,"position":{"lat":47.9,"lon":26.1}}"#)) {
            if let Ok(r) = serde_json::from_slice::<crate::wire::ReadIn>(&data) {
                let _ = r.into_domain().map(|read| read.validate(chrono::Utc::now()));
            }
        }
    }
}
