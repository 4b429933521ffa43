//! Parsing of camera registries (CSV, GeoJSON) and hotlists (CSV, JSON).
//!
//! Every parser keeps the good records and reports each bad one with its place
//! (a CSV line, a JSON index), so that one typo never loses a whole file.

use chrono::{DateTime, NaiveDate, Utc};
use limes_model::{AgencyId, Camera, CameraId, CameraKind, GeoPoint, HotlistEntry, HotlistReason};
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
    let mut out = Parsed::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(ImportError { at: line, error: e.to_string() });
                continue;
            }
        };
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c));
        let camera = (|| {
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
        })();
        match camera {
            Ok(c) => out.records.push((line, c)),
            Err(error) => out.errors.push(ImportError { at: line, error }),
        }
    }
    Ok(out)
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
        })
    }
}

/// The columns a hotlist CSV may have; `plate`, `reason` and `agency` are required.
pub const HOTLIST_CSV_HEADER: &str = "plate,country,reason,priority,agency,expires,fuzzy,note";

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
    let mut out = Parsed::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(ImportError { at: line, error: e.to_string() });
                continue;
            }
        };
        let get = |c: Option<usize>| opt(c.and_then(|c| rec.get(c))).map(str::to_owned);
        let parsed = (|| {
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
            })
        })();
        match parsed {
            Ok(h) => out.records.push((line, h)),
            Err(error) => out.errors.push(ImportError { at: line, error }),
        }
    }
    Ok(out)
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
