//! Known hashes: what a hash set says about a file, and the readers of the formats hash sets
//! come in.
//!
//! A hash set comes from a *source* (Project VIC's VICS export, the UK's CAID, Interpol's ICSE,
//! NIST's NSRL, a unit's own list); each of its hashes carries the source's *category*, kept as
//! the source wrote it ([`Category`]: scheme and code) and mapped explicitly onto the few
//! [`Class`]es triage decides by. A code a scheme does not define is refused, never guessed.
//!
//! Readers take the whole text and return every hash or the first error, naming the record:
//! an import is all or nothing, so a bad file never leaves half a set behind.

use std::fmt;

use serde::Deserialize;

use crate::pdq::Hash256;

/// How a category code is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Project VIC's US categories, 0–4 (VICS data model).
    VicsUs,
    /// The UK's Child Abuse Image Database: categories A, B, C (Sentencing Council grading).
    Caid,
    /// Interpol's ICSE database: `baseline` (the internationally agreed worst material) or
    /// `national` (illegal in the submitting country).
    Icse,
    /// NIST's National Software Reference Library: files of known software, nothing to review.
    Nsrl,
    /// A list with no categories: the hashes are known, not graded.
    Uncategorised,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::VicsUs => "vics-us",
            Scheme::Caid => "caid",
            Scheme::Icse => "icse",
            Scheme::Nsrl => "nsrl",
            Scheme::Uncategorised => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheme> {
        [Scheme::VicsUs, Scheme::Caid, Scheme::Icse, Scheme::Nsrl, Scheme::Uncategorised]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// What triage does with a file whose hash is known, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Child-abuse material under the source's grading.
    Abuse,
    /// Exploitative or age-difficult material that is not abuse material.
    Exploitative,
    /// Known to a source, not graded.
    Uncategorised,
    /// Reviewed and not pertinent (VICS 0), or a comparison picture (VICS 4).
    NotPertinent,
    /// A file of known software (NSRL): set aside, nothing to review.
    KnownGood,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Abuse => "abuse",
            Class::Exploitative => "exploitative",
            Class::Uncategorised => "uncategorised",
            Class::NotPertinent => "not-pertinent",
            Class::KnownGood => "known-good",
        }
    }
}

/// A category as its source wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category {
    pub scheme: Scheme,
    /// The code, normalised: `1` for VICS, `A` for CAID, `baseline` for ICSE, empty where
    /// the scheme has none.
    pub code: String,
}

/// The explicit mapping of each scheme's codes: code, label, class. Nothing outside these
/// tables is accepted.
const VICS_US: [(&str, &str, Class); 5] = [
    ("0", "non-pertinent", Class::NotPertinent),
    ("1", "child abuse material", Class::Abuse),
    ("2", "child exploitive / age difficult", Class::Exploitative),
    ("3", "CGI / animation of child abuse", Class::Abuse),
    ("4", "comparison image", Class::NotPertinent),
];
const CAID: [(&str, &str, Class); 3] =
    [("A", "category A", Class::Abuse), ("B", "category B", Class::Abuse), ("C", "category C", Class::Abuse)];
const ICSE: [(&str, &str, Class); 2] =
    [("baseline", "baseline", Class::Abuse), ("national", "illegal in the submitting country", Class::Abuse)];

impl Category {
    /// The category of `code` under `scheme`, or why the code is not one of the scheme's.
    pub fn new(scheme: Scheme, code: &str) -> Result<Category, String> {
        let code = code.trim();
        let table: &[(&str, &str, Class)] = match scheme {
            Scheme::VicsUs => &VICS_US,
            Scheme::Caid => &CAID,
            Scheme::Icse => &ICSE,
            Scheme::Nsrl | Scheme::Uncategorised => {
                return Ok(Category { scheme, code: String::new() });
            }
        };
        table
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
            .map(|(c, _, _)| Category { scheme, code: (*c).to_owned() })
            .ok_or_else(|| {
                let known: Vec<&str> = table.iter().map(|(c, _, _)| *c).collect();
                format!("{code:?} is not a {} category (it has {})", scheme.name(), known.join(", "))
            })
    }

    pub fn uncategorised() -> Category {
        Category { scheme: Scheme::Uncategorised, code: String::new() }
    }

    fn entry(&self) -> Option<&'static (&'static str, &'static str, Class)> {
        let table: &'static [(&str, &str, Class)] = match self.scheme {
            Scheme::VicsUs => &VICS_US,
            Scheme::Caid => &CAID,
            Scheme::Icse => &ICSE,
            Scheme::Nsrl | Scheme::Uncategorised => return None,
        };
        table.iter().find(|(c, _, _)| *c == self.code)
    }

    pub fn class(&self) -> Class {
        match self.scheme {
            Scheme::Nsrl => Class::KnownGood,
            Scheme::Uncategorised => Class::Uncategorised,
            _ => self.entry().map_or(Class::Uncategorised, |e| e.2),
        }
    }

    pub fn label(&self) -> &'static str {
        match self.scheme {
            Scheme::Nsrl => "known software (NSRL)",
            Scheme::Uncategorised => "not graded",
            _ => self.entry().map_or("not graded", |e| e.1),
        }
    }

    /// `scheme:code`, as the command line takes it (`vics-us:1`, `caid:A`, `nsrl`, `none`).
    pub fn parse(text: &str) -> Result<Category, String> {
        let (scheme, code) = text.split_once(':').unwrap_or((text, ""));
        let scheme = Scheme::from_name(scheme)
            .ok_or_else(|| format!("{scheme:?} is not a scheme (vics-us, caid, icse, nsrl, none)"))?;
        Category::new(scheme, code)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            f.write_str(self.scheme.name())
        } else {
            write!(f, "{}:{}", self.scheme.name(), self.code)
        }
    }
}

/// One known file: its hashes (any of them may be missing) and what its source says of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHash {
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    pub pdq: Option<Hash256>,
    pub category: Option<Category>,
    /// The file name the source gives, if any (NSRL's, VICS's first media file).
    pub name: Option<String>,
}

impl KnownHash {
    pub fn category(&self) -> Category {
        self.category.clone().unwrap_or_else(Category::uncategorised)
    }

    fn is_empty(&self) -> bool {
        self.md5.is_none() && self.sha1.is_none() && self.sha256.is_none() && self.pdq.is_none()
    }
}

/// Why a hash set could not be read; the location names the record.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ImportError {
    pub location: String,
    pub message: String,
}

fn err(location: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError { location: location.into(), message: message.into() }
}

/// `N` bytes from hex digits (either case); `None` for an empty field.
pub fn parse_hex<const N: usize>(text: &str) -> Result<Option<[u8; N]>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() != 2 * N {
        return Err(format!("{text:?} is not {} hex digits", 2 * N));
    }
    let mut out = [0u8; N];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit =
            |c: u8| (c as char).to_digit(16).ok_or_else(|| format!("{text:?} has a character that is not a hex digit"));
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Ok(Some(out))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// --- VICS 2.0 JSON -----------------------------------------------------------------------------

/// A VICS document: `@odata.context` (`odata.metadata` in 1.x exports) names the form,
/// `…$metadata#Cases` (cases, each with its `Media`) or `…$metadata#Media` (media alone).
#[derive(Deserialize)]
struct VicsDoc {
    #[serde(rename = "@odata.context", alias = "odata.metadata")]
    context: String,
    value: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VicsMedia {
    #[serde(default)]
    category: Option<serde_json::Value>,
    #[serde(default, rename = "MD5")]
    md5: Option<String>,
    #[serde(default, rename = "SHA1")]
    sha1: Option<String>,
    #[serde(default)]
    alternative_hashes: Vec<VicsHash>,
    #[serde(default)]
    media_files: Vec<VicsFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VicsHash {
    hash_name: String,
    hash_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VicsFile {
    #[serde(default)]
    file_name: Option<String>,
}

/// Every media item of a VICS 2.0 export, in either form. `Category` is read under `scheme`
/// (a US export's numbers under [`Scheme::VicsUs`]); a missing or null category is not graded.
/// SHA-256 and PDQ are read from `AlternativeHashes` (`HashName` `SHA256`, `PDQ`); other
/// alternative hashes (PhotoDNA) are not ours to read and are skipped.
pub fn parse_vics(text: &str, scheme: Scheme) -> Result<Vec<KnownHash>, ImportError> {
    let doc: VicsDoc =
        serde_json::from_str(text).map_err(|e| err("document", format!("not a VICS JSON document: {e}")))?;
    let form = doc.context.rsplit('#').next().unwrap_or_default();
    let mut out = Vec::new();
    match form {
        "Media" => {
            for (i, media) in doc.value.into_iter().enumerate() {
                out.push(vics_media(media, &format!("value[{i}]"), scheme)?);
            }
        }
        "Cases" => {
            for (i, case) in doc.value.into_iter().enumerate() {
                let serde_json::Value::Object(mut case) = case else {
                    return Err(err(format!("value[{i}]"), "a case is not an object"));
                };
                let media = match case.remove("Media") {
                    Some(serde_json::Value::Array(media)) => media,
                    None | Some(serde_json::Value::Null) => Vec::new(),
                    Some(_) => return Err(err(format!("value[{i}].Media"), "not a list")),
                };
                for (j, m) in media.into_iter().enumerate() {
                    out.push(vics_media(m, &format!("value[{i}].Media[{j}]"), scheme)?);
                }
            }
        }
        other => return Err(err("@odata.context", format!("{other:?} is neither #Cases nor #Media"))),
    }
    Ok(out)
}

fn vics_media(value: serde_json::Value, at: &str, scheme: Scheme) -> Result<KnownHash, ImportError> {
    let media: VicsMedia = serde_json::from_value(value).map_err(|e| err(at, e.to_string()))?;
    let category = match media.category {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => {
            Some(Category::new(scheme, &n.to_string()).map_err(|e| err(format!("{at}.Category"), e))?)
        }
        Some(serde_json::Value::String(s)) => {
            Some(Category::new(scheme, &s).map_err(|e| err(format!("{at}.Category"), e))?)
        }
        Some(other) => return Err(err(format!("{at}.Category"), format!("{other} is not a category"))),
    };
    let mut known = KnownHash {
        md5: parse_hex(media.md5.as_deref().unwrap_or_default()).map_err(|e| err(format!("{at}.MD5"), e))?,
        sha1: parse_hex(media.sha1.as_deref().unwrap_or_default()).map_err(|e| err(format!("{at}.SHA1"), e))?,
        category,
        name: media.media_files.into_iter().find_map(|f| f.file_name),
        ..KnownHash::default()
    };
    for h in media.alternative_hashes {
        let here = format!("{at}.AlternativeHashes[{}]", h.hash_name);
        match h.hash_name.to_ascii_uppercase().as_str() {
            "SHA256" | "SHA-256" => known.sha256 = parse_hex(&h.hash_value).map_err(|e| err(here, e))?,
            "PDQ" => {
                known.pdq =
                    Some(h.hash_value.trim().parse().map_err(|e: crate::pdq::BadHash| err(here, e.to_string()))?)
            }
            _ => {}
        }
    }
    if known.is_empty() {
        return Err(err(at, "a media item with no MD5, SHA1, SHA256 or PDQ"));
    }
    Ok(known)
}

// --- Interpol ICSE CSV -------------------------------------------------------------------------

/// An ICSE export: semicolon-separated, a header row naming the columns. No public sample of
/// the format exists, so the reader goes by the header rather than by position: it takes the
/// columns `MD5`, `SHA1` (or `SHA-1`), `SHA256`, `PDQ`, `Category` and `FileName` wherever
/// they are (case and surrounding spaces do not matter) and needs at least one hash column.
/// A `Category` holds an ICSE code (`baseline`, `national`) or, when numeric, a VICS US one.
pub fn parse_icse_csv(text: &str) -> Result<Vec<KnownHash>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').flexible(false).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err("header", e.to_string()))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)));
    let md5 = column(&["md5"]);
    let sha1 = column(&["sha1", "sha-1"]);
    let sha256 = column(&["sha256", "sha-256"]);
    let pdq = column(&["pdq"]);
    let category = column(&["category"]);
    let name = column(&["filename", "file name"]);
    if md5.is_none() && sha1.is_none() && sha256.is_none() && pdq.is_none() {
        return Err(err("header", "no MD5, SHA1, SHA256 or PDQ column"));
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = format!("line {}", i + 2);
        let record = record.map_err(|e| err(&line, e.to_string()))?;
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or_default();
        let at = |col: &str| format!("{line}, {col}");
        let code = field(category).trim();
        let known = KnownHash {
            md5: parse_hex(field(md5)).map_err(|e| err(at("MD5"), e))?,
            sha1: parse_hex(field(sha1)).map_err(|e| err(at("SHA1"), e))?,
            sha256: parse_hex(field(sha256)).map_err(|e| err(at("SHA256"), e))?,
            pdq: match field(pdq).trim() {
                "" => None,
                h => Some(h.parse().map_err(|e: crate::pdq::BadHash| err(at("PDQ"), e.to_string()))?),
            },
            category: match code {
                "" => None,
                c if c.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(Category::new(Scheme::VicsUs, c).map_err(|e| err(at("Category"), e))?)
                }
                c => Some(Category::new(Scheme::Icse, c).map_err(|e| err(at("Category"), e))?),
            },
            name: Some(field(name).trim().to_owned()).filter(|n| !n.is_empty()),
        };
        if known.is_empty() {
            return Err(err(line, "a row with no hash"));
        }
        out.push(known);
    }
    Ok(out)
}

// --- NSRL RDS 2.x NSRLFile.txt -----------------------------------------------------------------

/// NSRL's RDS 2.x `NSRLFile.txt`: quoted comma-separated, header
/// `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"`.
/// Every row is known software. (RDS 3 ships SQLite; the store reads that one.)
pub fn parse_nsrl_txt(text: &str) -> Result<Vec<KnownHash>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err("header", e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(sha1), Some(md5)) = (column("SHA-1"), column("MD5")) else {
        return Err(err("header", "not an NSRLFile.txt header (it has no \"SHA-1\" and \"MD5\" columns)"));
    };
    let name = column("FileName");
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = format!("line {}", i + 2);
        let record = record.map_err(|e| err(&line, e.to_string()))?;
        let known = KnownHash {
            sha1: parse_hex(record.get(sha1).unwrap_or_default()).map_err(|e| err(format!("{line}, SHA-1"), e))?,
            md5: parse_hex(record.get(md5).unwrap_or_default()).map_err(|e| err(format!("{line}, MD5"), e))?,
            category: Some(Category { scheme: Scheme::Nsrl, code: String::new() }),
            name: name.and_then(|n| record.get(n)).map(str::to_owned),
            ..KnownHash::default()
        };
        if known.is_empty() {
            return Err(err(line, "a row with no hash"));
        }
        out.push(known);
    }
    Ok(out)
}

// --- plain lists -------------------------------------------------------------------------------

/// Which hash a plain list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Md5,
    Sha1,
    Sha256,
    Pdq,
}

/// A plain list: one hash per line, the hash first; anything after a comma, semicolon, space or
/// tab is ignored (so `limes pdq`'s `hash,quality,file` lines and `md5sum`'s `hash  name` lines
/// are lists too). Blank lines and lines starting with `#` are skipped. Every hash gets
/// `category`.
pub fn parse_list(text: &str, kind: ListKind, category: Option<Category>) -> Result<Vec<KnownHash>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("line {}", i + 1);
        let first = line.split([',', ';', ' ', '\t']).next().unwrap_or_default();
        let mut known = KnownHash { category: category.clone(), ..KnownHash::default() };
        match kind {
            ListKind::Md5 => known.md5 = parse_hex(first).map_err(|e| err(&at, e))?,
            ListKind::Sha1 => known.sha1 = parse_hex(first).map_err(|e| err(&at, e))?,
            ListKind::Sha256 => known.sha256 = parse_hex(first).map_err(|e| err(&at, e))?,
            ListKind::Pdq => known.pdq = Some(first.parse().map_err(|e: crate::pdq::BadHash| err(&at, e.to_string()))?),
        }
        out.push(known);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_map_explicitly_and_refuse_what_a_scheme_lacks() {
        assert_eq!(Category::new(Scheme::VicsUs, "1").unwrap().class(), Class::Abuse);
        assert_eq!(Category::new(Scheme::VicsUs, "2").unwrap().class(), Class::Exploitative);
        assert_eq!(Category::new(Scheme::VicsUs, "0").unwrap().class(), Class::NotPertinent);
        assert_eq!(Category::new(Scheme::Caid, "b").unwrap().code, "B");
        assert_eq!(Category::parse("icse:Baseline").unwrap().class(), Class::Abuse);
        assert_eq!(Category::parse("nsrl").unwrap().class(), Class::KnownGood);
        let e = Category::new(Scheme::VicsUs, "5").unwrap_err();
        assert!(e.contains("not a vics-us category"), "{e}");
        assert!(Category::new(Scheme::Caid, "D").is_err());
        assert!(Category::parse("photodna:1").is_err());
        assert_eq!(Category::parse("caid:A").unwrap().to_string(), "caid:A");
    }

    #[test]
    fn hex_needs_exactly_its_digits() {
        assert_eq!(parse_hex::<2>("aBcd").unwrap(), Some([0xab, 0xcd]));
        assert_eq!(parse_hex::<2>("  ").unwrap(), None);
        assert!(parse_hex::<2>("abc").is_err());
        assert!(parse_hex::<2>("abcg").is_err());
        assert!(parse_hex::<2>("ab\u{e9}").is_err());
    }

    #[test]
    fn lists_take_the_first_field_and_name_the_bad_line() {
        let text =
            "# md5sum output\nd41d8cd98f00b204e9800998ecf8427e  empty.txt\n\nD41D8CD98F00B204E9800998ECF8427F,x\n";
        let got = parse_list(text, ListKind::Md5, None).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].md5.unwrap()[15], 0x7f);
        let e = parse_list("d41d8cd98f00b204e9800998ecf8427e\nnot-a-hash\n", ListKind::Md5, None).unwrap_err();
        assert_eq!(e.location, "line 2");
        assert!(parse_list("d41d8cd98f00b204e9800998ecf8427e\n", ListKind::Sha1, None).is_err());
    }

    #[test]
    fn hostile_vics_documents_are_refused_with_the_record_named() {
        for (text, location) in [
            ("", "document"),
            ("[]", "document"),
            (r#"{"@odata.context":"x#Things","value":[]}"#, "@odata.context"),
            (r#"{"@odata.context":"x#Media","value":[{"MD5":"zz"}]}"#, "value[0].MD5"),
            (
                r#"{"@odata.context":"x#Media","value":[{"Category":9,"MD5":"d41d8cd98f00b204e9800998ecf8427e"}]}"#,
                "value[0].Category",
            ),
            (r#"{"@odata.context":"x#Media","value":[{"Category":[1]}]}"#, "value[0].Category"),
            (r#"{"@odata.context":"x#Media","value":[{"Category":1}]}"#, "value[0]"),
            (r#"{"@odata.context":"x#Cases","value":[{"Media":{}}]}"#, "value[0].Media"),
            (r#"{"@odata.context":"x#Cases","value":[7]}"#, "value[0]"),
            (
                r#"{"@odata.context":"x#Media","value":[{"MD5":"d41d8cd98f00b204e9800998ecf8427e","AlternativeHashes":[{"HashName":"PDQ","HashValue":"12"}]}]}"#,
                "value[0].AlternativeHashes[PDQ]",
            ),
        ] {
            let e = parse_vics(text, Scheme::VicsUs).unwrap_err();
            assert_eq!(e.location, location, "{text}: {e}");
        }
        // Deeply nested JSON stops at serde_json's recursion limit rather than the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_vics(&deep, Scheme::VicsUs).is_err());
    }

    #[test]
    fn icse_rows_go_by_the_header() {
        let text = "FileName ; Category;MD5\nx.jpg;baseline;d41d8cd98f00b204e9800998ecf8427e\ny.jpg;2;d41d8cd98f00b204e9800998ecf8427f\nz.jpg;;d41d8cd98f00b204e9800998ecf84270\n";
        let got = parse_icse_csv(text).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].category().to_string(), "icse:baseline");
        assert_eq!(got[0].name.as_deref(), Some("x.jpg"));
        assert_eq!(got[1].category().to_string(), "vics-us:2");
        assert_eq!(got[2].category, None);
        for (text, location) in [
            ("Name;Size\nx;1\n", "header"),
            ("MD5;Category\nd41d8cd98f00b204e9800998ecf8427e;worst\n", "line 2, Category"),
            ("MD5;Category\nd41d8cd98f00b204e9800998ecf8427e\n", "line 2"),
            ("MD5;PDQ\n;\n", "line 2"),
            ("MD5\n\"unterminated\n", "line 2, MD5"),
        ] {
            let e = parse_icse_csv(text).unwrap_err();
            assert_eq!(e.location, location, "{text:?}: {e}");
        }
    }
}
