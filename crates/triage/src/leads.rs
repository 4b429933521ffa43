//! Leads to a picture's author from its EXIF metadata: the camera (make, model, body and lens
//! serial numbers, owner name), the editing software, when it was taken and where (GPS), and
//! the embedded thumbnail, which an editor that crops or retouches the picture often leaves as
//! it was. Read by kamadak-exif from JPEG, TIFF, PNG, WebP and HEIF; this module only picks the
//! fields and checks them.

use std::collections::BTreeMap;

use exif::{In, Tag, Value};
use serde::{Deserialize, Serialize};

/// What a picture's metadata says of its device, time and place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Leads {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The camera body's serial number (`BodySerialNumber`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// When the picture was taken, as the camera's clock said (`2026-05-01T10:22:03`, with its
    /// offset when the camera wrote one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The PDQ distance between the picture and its embedded thumbnail, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_distance: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
}

impl Leads {
    pub fn is_empty(&self) -> bool {
        *self == Leads::default()
    }

    /// The device a picture comes from, when its metadata names one by serial number.
    pub fn device(&self) -> Option<String> {
        let serial = self.serial.as_deref()?;
        let name = [self.make.as_deref(), self.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        Some(if name.is_empty() { format!("serial {serial}") } else { format!("{name}, serial {serial}") })
    }
}

/// What a picture's metadata holds: its leads and its embedded thumbnail (a JPEG).
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub leads: Leads,
    pub thumbnail: Option<Vec<u8>>,
}

/// A picture's metadata, or `None` when it has none. Metadata that is partly damaged gives
/// what could be read.
pub fn read(picture: &[u8]) -> Result<Option<Metadata>, String> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let exif = match reader.read_from_container(&mut std::io::Cursor::new(picture)) {
        Ok(exif) => exif,
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(exif::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(format!("the EXIF metadata could not be read: {e}")),
    };
    let text = |tag: Tag| exif.get_field(tag, In::PRIMARY).and_then(|f| ascii(&f.value));
    let mut leads = Leads {
        make: text(Tag::Make),
        model: text(Tag::Model),
        serial: text(Tag::BodySerialNumber),
        lens_serial: text(Tag::LensSerialNumber),
        owner: text(Tag::CameraOwnerName),
        software: text(Tag::Software),
        taken: text(Tag::DateTimeOriginal).or_else(|| text(Tag::DateTime)).and_then(|t| datetime(&t)),
        position: position(&exif),
        thumbnail_distance: None,
    };
    if let (Some(taken), Some(offset)) = (&leads.taken, text(Tag::OffsetTimeOriginal))
        && offset.len() == 6
        && (offset.starts_with('+') || offset.starts_with('-'))
    {
        leads.taken = Some(format!("{taken}{offset}"));
    }
    Ok(Some(Metadata { leads, thumbnail: thumbnail(&exif) }))
}

/// The first string of an ASCII field, without control characters, at most 256 characters;
/// `None` when empty.
fn ascii(value: &Value) -> Option<String> {
    let Value::Ascii(strings) = value else { return None };
    let text: String =
        String::from_utf8_lossy(strings.first()?).chars().filter(|c| !c.is_control()).take(256).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// EXIF's `YYYY:MM:DD HH:MM:SS` as `YYYY-MM-DDTHH:MM:SS`; `None` when it is not that (cameras
/// with no clock set write blanks or zeros).
fn datetime(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 19
        && digits(0..4)
        && b[4] == b':'
        && digits(5..7)
        && b[7] == b':'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape || text.starts_with("0000") {
        return None;
    }
    Some(format!("{}-{}-{}T{}", &text[0..4], &text[5..7], &text[8..10], &text[11..19]))
}

fn position(exif: &exif::Exif) -> Option<Position> {
    let angle = |tag: Tag| -> Option<f64> {
        let f = exif.get_field(tag, In::PRIMARY)?;
        let Value::Rational(r) = &f.value else { return None };
        if r.len() < 3 || r.iter().any(|x| x.denom == 0) {
            return None;
        }
        Some(r[0].to_f64() + r[1].to_f64() / 60.0 + r[2].to_f64() / 3600.0)
    };
    let side = |tag: Tag| exif.get_field(tag, In::PRIMARY).and_then(|f| ascii(&f.value));
    let mut latitude = angle(Tag::GPSLatitude)?;
    let mut longitude = angle(Tag::GPSLongitude)?;
    match side(Tag::GPSLatitudeRef).as_deref() {
        Some("N") => {}
        Some("S") => latitude = -latitude,
        _ => return None,
    }
    match side(Tag::GPSLongitudeRef).as_deref() {
        Some("E") => {}
        Some("W") => longitude = -longitude,
        _ => return None,
    }
    (latitude.abs() <= 90.0 && longitude.abs() <= 180.0).then_some(Position { latitude, longitude })
}

fn thumbnail(exif: &exif::Exif) -> Option<Vec<u8>> {
    let number = |tag: Tag| exif.get_field(tag, In::THUMBNAIL).and_then(|f| f.value.get_uint(0)).map(|n| n as usize);
    let start = number(Tag::JPEGInterchangeFormat)?;
    let length = number(Tag::JPEGInterchangeFormatLength)?;
    exif.buf().get(start..start.checked_add(length)?).map(<[u8]>::to_vec)
}

/// Files grouped by the device their metadata names (`Leads::device`), devices with most
/// files first.
pub fn by_device<'a, K: Clone + Ord>(files: impl IntoIterator<Item = (K, &'a Leads)>) -> Vec<(String, Vec<K>)> {
    let mut groups: BTreeMap<String, Vec<K>> = BTreeMap::new();
    for (key, leads) in files {
        if let Some(device) = leads.device() {
            groups.entry(device).or_default().push(key);
        }
    }
    let mut out: Vec<(String, Vec<K>)> = groups.into_iter().collect();
    out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_times_are_checked_before_they_are_believed() {
        assert_eq!(datetime("2026:05:01 10:22:03").as_deref(), Some("2026-05-01T10:22:03"));
        assert_eq!(datetime("0000:00:00 00:00:00"), None);
        assert_eq!(datetime("    :  :     :  :  "), None);
        assert_eq!(datetime("2026:05:01"), None);
        assert_eq!(datetime("2026:05:01 10:22:0\u{e9}"), None);
    }

    #[test]
    fn pictures_without_or_with_broken_metadata_say_so() {
        assert_eq!(read(b"not a picture").ok().flatten(), None);
        // A JPEG whose APP1 segment claims EXIF and holds garbage.
        let mut jpeg = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\xff\xff\xff\x7f".to_vec();
        jpeg.extend_from_slice(b"\xff\xd9");
        // Its first directory lies past the end: what could be read is nothing, and no thumbnail.
        assert_eq!(read(&jpeg), Ok(Some(Metadata { leads: Leads::default(), thumbnail: None })));
        // Cut inside the TIFF header.
        let cut = b"\xff\xd8\xff\xe1\x00\x0aExif\x00\x00II\xff\xd9";
        assert!(!matches!(read(cut), Ok(Some(ref m)) if !m.leads.is_empty()));
    }

    proptest::proptest! {
        /// Any bytes in an EXIF segment: read or refused, never a panic, never a position
        /// outside the globe.
        #[test]
        fn any_exif_segment_is_read_or_refused(tiff in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut jpeg = b"\xff\xd8\xff\xe1".to_vec();
            jpeg.extend_from_slice(&((tiff.len() + 16) as u16).to_be_bytes());
            // A valid TIFF header (little-endian, first directory at 8), then anything.
            jpeg.extend_from_slice(b"Exif\0\0II*\0\x08\0\0\0");
            jpeg.extend_from_slice(&tiff);
            jpeg.extend_from_slice(b"\xff\xd9");
            if let Ok(Some(Metadata { leads: Leads { position: Some(p), .. }, .. })) = read(&jpeg) {
                proptest::prop_assert!(p.latitude.abs() <= 90.0 && p.longitude.abs() <= 180.0);
            }
        }
    }

    #[test]
    fn devices_are_grouped_by_serial_most_files_first() {
        let a = Leads {
            make: Some("Canon".into()),
            model: Some("EOS 80D".into()),
            serial: Some("123".into()),
            ..Leads::default()
        };
        let b = Leads { serial: Some("9".into()), ..Leads::default() };
        let none = Leads { make: Some("Canon".into()), ..Leads::default() };
        let groups = by_device([(1, &b), (2, &a), (3, &a), (4, &none)]);
        assert_eq!(
            groups,
            vec![("Canon EOS 80D, serial 123".to_string(), vec![2, 3]), ("serial 9".to_string(), vec![1])]
        );
    }
}
