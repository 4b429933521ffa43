//! A case written as a VICS 2.0 JSON export (`…$metadata#Cases`): what Griffeye, Magnet and
//! Project VIC's own tools read, and what [`crate::known::parse_vics`] reads back.

use serde_json::{Value, json};

use crate::known::{Category, Scheme, hex};
use crate::pdq::Hash256;

/// One file of the case as the export describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    pub id: u64,
    pub md5: [u8; 16],
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
    pub pdq: Option<Hash256>,
    pub size: u64,
    /// The file's path in the evidence (inside an archive: `archive.zip!/inner/name`).
    pub path: String,
    /// The VICS US category, when a source or a reviewer gave one under that scheme.
    pub category: Option<Category>,
}

/// The case's VICS 2.0 document. Only VICS US categories are written as `Category`; a file
/// graded under another scheme, or not at all, is written uncategorised (`null`).
pub fn export(case: &str, media: &[Media]) -> String {
    let items: Vec<Value> = media
        .iter()
        .map(|m| {
            let category =
                m.category.as_ref().filter(|c| c.scheme == Scheme::VicsUs).and_then(|c| c.code.parse::<u8>().ok());
            let name = m.path.rsplit(['/', '!']).next().unwrap_or(&m.path);
            let mut alternative = vec![json!({"HashName": "SHA256", "HashValue": hex(&m.sha256)})];
            if let Some(pdq) = m.pdq {
                alternative.push(json!({"HashName": "PDQ", "HashValue": pdq.to_string()}));
            }
            json!({
                "MediaID": m.id,
                "Category": category,
                "MD5": hex(&m.md5).to_uppercase(),
                "SHA1": hex(&m.sha1).to_uppercase(),
                "MediaSize": m.size,
                "IsPrecategorized": category.is_some(),
                "MediaFiles": [{"FileName": name, "FilePath": m.path}],
                "AlternativeHashes": alternative,
            })
        })
        .collect();
    let doc = json!({
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
        "value": [{
            "CaseNumber": case,
            "SourceApplicationName": "limes",
            "SourceApplicationVersion": env!("CARGO_PKG_VERSION"),
            "Media": items,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::{KnownHash, parse_vics};

    #[test]
    fn an_export_reads_back_as_the_same_hashes_and_categories() {
        let media: Vec<Media> = (0..5u8)
            .map(|i| Media {
                id: u64::from(i) + 1,
                md5: [i; 16],
                sha1: [i + 1; 20],
                sha256: [i + 2; 32],
                pdq: (i % 2 == 0).then(|| Hash256 { words: [u16::from(i) * 1000 + 7; 16] }),
                size: 1000 + u64::from(i),
                path: format!("seized.zip!/dcim/{i}.jpg"),
                category: match i {
                    0 => Some(Category::new(Scheme::VicsUs, "1").unwrap()),
                    1 => Some(Category::new(Scheme::VicsUs, "0").unwrap()),
                    2 => Some(Category::new(Scheme::Caid, "A").unwrap()),
                    _ => None,
                },
            })
            .collect();
        let text = export("RO-2026-17", &media);
        let back = parse_vics(&text, Scheme::VicsUs).unwrap();
        let want: Vec<KnownHash> = media
            .iter()
            .map(|m| KnownHash {
                md5: Some(m.md5),
                sha1: Some(m.sha1),
                sha256: Some(m.sha256),
                pdq: m.pdq,
                category: m.category.clone().filter(|c| c.scheme == Scheme::VicsUs),
                name: Some(format!("{}.jpg", m.id - 1)),
            })
            .collect();
        assert_eq!(back, want);
        assert!(text.contains("\"CaseNumber\": \"RO-2026-17\""));
    }
}
