//! Signed video clips: the manifest an agency writes beside an exported MP4 so that anyone
//! holding its public key — a partner, a prosecutor, a court — can check that the file is the
//! one the agency exported, from which camera and for which time, and that nothing in either
//! was changed since.
//!
//! The manifest names the MP4 by its length and SHA-256 and is signed (Ed25519) over the
//! canonical encoding every signature of this crate uses (`canonical.rs`: a domain string, then
//! each field length-prefixed), not over its JSON, so re-indenting the file breaks nothing and
//! editing any field breaks the signature.
//!
//! ```
//! use chrono::Utc;
//! use limes_federation::AgencyKey;
//! use limes_federation::clip::{ClipFacts, ClipManifest};
//!
//! let key = AgencyKey::from_seed(&[7; 32]);
//! let mp4 = b"not really an mp4, but bytes all the same";
//! let now = Utc::now();
//! let facts = ClipFacts {
//!     camera: limes_model::CameraId::new("gate-1").unwrap(),
//!     agency: limes_model::AgencyId::new("ro-igpf").unwrap(),
//!     from: now,
//!     to: now,
//!     first_frame: now,
//!     last_frame: now,
//!     codec: "avc1.64001E".into(),
//!     frames: 1,
//!     exported_at: now,
//!     exported_by: "duty officer".into(),
//!     anonymised: None,
//! };
//! let manifest = ClipManifest::sign(facts, mp4, &key).unwrap();
//! let text = manifest.to_json();
//! let read = ClipManifest::parse(text.as_bytes()).unwrap();
//! assert!(read.clone().verify(mp4, Some(&key.public())).is_ok());
//! assert!(read.verify(b"other bytes", Some(&key.public())).is_err());
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use limes_model::{AgencyId, CameraId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::anchor::Fingerprint;
use crate::canonical::signed_bytes;
use crate::key::{AgencyKey, PublicKey};

/// The manifest's format, and the domain its signature is made under.
pub const CLIP_FORMAT: &str = "limes-clip-v1";

/// The name of a clip's manifest beside it: `clip.mp4` → `clip.mp4.limes-clip.json`.
pub const MANIFEST_SUFFIX: &str = ".limes-clip.json";

/// What an anonymised clip says it blurred, in its manifest.
pub const BLURRED_FACES_AND_PLATES: &str = "faces,plates";

/// A manifest longer than this is not one (a real one is under 2 KiB).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// The longest free-text field (`codec`, `exported_by`), in characters.
const MAX_TEXT: usize = 200;

/// What the exporting node says about a clip; [`ClipManifest::sign`] adds the MP4's length and
/// digest, the key and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipFacts {
    pub camera: CameraId,
    pub agency: AgencyId,
    /// The time asked for: from…
    pub from: DateTime<Utc>,
    /// …to.
    pub to: DateTime<Utc>,
    /// Wall time of the clip's first frame (a key frame at or before `from`).
    pub first_frame: DateTime<Utc>,
    /// Wall time of the clip's last frame (before `to`).
    pub last_frame: DateTime<Utc>,
    /// RFC 6381 codec string, e.g. `avc1.64001E`.
    pub codec: String,
    pub frames: u64,
    pub exported_at: DateTime<Utc>,
    /// Who exported it: a person's account, or the operator of an offline export.
    pub exported_by: String,
    /// For an anonymised copy: what was blurred, and the clip it was made from.
    pub anonymised: Option<Anonymisation>,
}

/// How an anonymised clip was made from another of the agency's clips: signed with the rest, so
/// a court can tell a blurred copy from the recording and find the recording it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anonymisation {
    /// SHA-256 of the clip it was made from (the agency keeps that clip and its manifest).
    pub source_sha256: String,
    /// What was blurred in every frame, comma-separated: [`BLURRED_FACES_AND_PLATES`], or `faces`.
    pub blurred: String,
    /// Faces found, summed over the frames.
    pub faces: u64,
    /// Plate-shaped texts found, summed over the frames.
    pub plates: u64,
}

/// A clip's signed manifest, as written to `<clip>.limes-clip.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipManifest {
    pub format: String,
    pub camera: CameraId,
    pub agency: AgencyId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub first_frame: DateTime<Utc>,
    pub last_frame: DateTime<Utc>,
    pub codec: String,
    pub frames: u64,
    /// Length of the MP4 in bytes.
    pub bytes: u64,
    /// SHA-256 of the MP4, 64 lowercase hex digits.
    pub sha256: String,
    pub exported_at: DateTime<Utc>,
    pub exported_by: String,
    /// Present on an anonymised copy only; a clip without it is the recording in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymised: Option<Anonymisation>,
    /// The agency key that signed: `ed25519:<base64>`.
    pub signing_key: PublicKey,
    /// `sha256:<hex>` of the signing key's 32 bytes, to compare with what the agency publishes.
    pub key_fingerprint: String,
    /// Base64 of the Ed25519 signature over the canonical encoding of every field above.
    pub signature: String,
}

/// Why a clip or its manifest does not verify. Each names the first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClipError {
    /// The manifest is larger than [`MAX_MANIFEST_BYTES`].
    #[error("the manifest is {0} bytes, more than {MAX_MANIFEST_BYTES}")]
    TooLarge(usize),
    /// The manifest is not a manifest's JSON (syntax, a missing or unknown field, a wrong type).
    #[error("not a clip manifest: {0}")]
    Malformed(String),
    /// Another format than [`CLIP_FORMAT`].
    #[error("unknown manifest format {0:?} (expected {CLIP_FORMAT})")]
    Format(String),
    /// A field holds a value no exporter writes.
    #[error("manifest field {field}: {reason}")]
    Field { field: &'static str, reason: String },
    /// The signature is not base64 of 64 bytes.
    #[error("the signature is not base64 of 64 bytes")]
    SignatureEncoding,
    /// The signature does not match the manifest: a field was edited, or another key signed.
    #[error("the signature does not match the manifest (a field was changed after signing)")]
    Signature,
    /// The manifest was signed by another key than the one trusted.
    /// Each key is named in its text form with its fingerprint.
    #[error("signed by {found}, not by the trusted key {trusted}")]
    WrongKey { found: String, trusted: String },
    /// The manifest names another agency than the trusted key's.
    #[error("the manifest names agency {found}, the trusted key is {trusted}'s")]
    WrongAgency { found: AgencyId, trusted: AgencyId },
    /// The MP4 is not as long as the manifest says.
    #[error("the MP4 is {found} bytes, the manifest says {expected}")]
    Length { expected: u64, found: u64 },
    /// The MP4's SHA-256 is not the manifest's: the file was changed.
    #[error("the MP4's SHA-256 is {found}, the manifest says {expected}: the file was changed")]
    Digest { expected: String, found: String },
}

/// What a successful [`ClipManifest::verify`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClip {
    pub manifest: ClipManifest,
    /// Whether the signing key was checked against a key the caller trusts; `false` means only
    /// that the clip and manifest hold together under the key the manifest itself names.
    pub key_trusted: bool,
}

/// `sha256:<hex>` of a public key's 32 bytes.
pub fn key_fingerprint(key: &PublicKey) -> String {
    Fingerprint(Sha256::digest(key.as_bytes()).into()).to_hex()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl ClipManifest {
    /// The manifest of `mp4`, signed by `key`.
    pub fn sign(facts: ClipFacts, mp4: &[u8], key: &AgencyKey) -> Result<Self, ClipError> {
        let public = key.public();
        let mut m = ClipManifest {
            format: CLIP_FORMAT.to_owned(),
            camera: facts.camera,
            agency: facts.agency,
            from: facts.from,
            to: facts.to,
            first_frame: facts.first_frame,
            last_frame: facts.last_frame,
            codec: facts.codec,
            frames: facts.frames,
            bytes: mp4.len() as u64,
            sha256: hex(&Sha256::digest(mp4)),
            exported_at: facts.exported_at,
            exported_by: facts.exported_by,
            anonymised: facts.anonymised,
            signing_key: public,
            key_fingerprint: key_fingerprint(&public),
            signature: String::new(),
        };
        m.check_fields()?;
        m.signature = BASE64.encode(key.sign(&m.signed_bytes()));
        Ok(m)
    }

    /// Reads a manifest, bounded in size; its signature is checked by [`ClipManifest::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ClipError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ClipError::TooLarge(bytes.len()));
        }
        let m: ClipManifest = serde_json::from_slice(bytes).map_err(|e| ClipError::Malformed(e.to_string()))?;
        m.check_fields()?;
        Ok(m)
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Checks the signature, then that `mp4` is the file the manifest names. With `trusted`,
    /// the manifest must also have been signed by that key.
    pub fn verify(self, mp4: &[u8], trusted: Option<&PublicKey>) -> Result<VerifiedClip, ClipError> {
        self.check_fields()?;
        if let Some(trusted) = trusted
            && *trusted != self.signing_key
        {
            let named = |k: &PublicKey| format!("{k} ({})", key_fingerprint(k));
            return Err(ClipError::WrongKey { found: named(&self.signing_key), trusted: named(trusted) });
        }
        let sig = BASE64.decode(self.signature.trim()).map_err(|_| ClipError::SignatureEncoding)?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| ClipError::SignatureEncoding)?;
        if !self.signing_key.verifies(&self.signed_bytes(), &sig) {
            return Err(ClipError::Signature);
        }
        if mp4.len() as u64 != self.bytes {
            return Err(ClipError::Length { expected: self.bytes, found: mp4.len() as u64 });
        }
        let found = hex(&Sha256::digest(mp4));
        if found != self.sha256 {
            return Err(ClipError::Digest { expected: self.sha256, found });
        }
        Ok(VerifiedClip { manifest: self, key_trusted: trusted.is_some() })
    }

    fn check_fields(&self) -> Result<(), ClipError> {
        if self.format != CLIP_FORMAT {
            return Err(ClipError::Format(self.format.chars().take(80).collect()));
        }
        let field = |field, reason: &str| Err(ClipError::Field { field, reason: reason.to_owned() });
        for (name, text) in [("codec", &self.codec), ("exported_by", &self.exported_by)] {
            if text.trim().is_empty() || text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
                return field(name, "empty, over 200 characters or with control characters");
            }
        }
        if self.from > self.to {
            return field("to", "before from");
        }
        if self.first_frame > self.last_frame {
            return field("last_frame", "before first_frame");
        }
        if self.frames == 0 {
            return field("frames", "a clip has at least one frame");
        }
        if !is_digest(&self.sha256) {
            return field("sha256", "not 64 lowercase hex digits");
        }
        if self.key_fingerprint != key_fingerprint(&self.signing_key) {
            return field("key_fingerprint", "not the signing key's");
        }
        if let Some(a) = &self.anonymised {
            if !is_digest(&a.source_sha256) || a.source_sha256 == self.sha256 {
                return field("anonymised", "source_sha256 is not 64 lowercase hex digits of another file");
            }
            if a.blurred.is_empty() || !a.blurred.split(',').all(|w| matches!(w, "faces" | "plates")) {
                return field("anonymised", "blurred is not a list of faces and plates");
            }
        }
        Ok(())
    }

    /// Every field but the signature, in a fixed order, under [`CLIP_FORMAT`] as the domain.
    /// An anonymised copy's part comes last, so a clip in clear signs as it always did, and
    /// removing or adding the part breaks the signature.
    fn signed_bytes(&self) -> Vec<u8> {
        let [from, to, first, last, exported] =
            [&self.from, &self.to, &self.first_frame, &self.last_frame, &self.exported_at].map(time);
        let frames = self.frames.to_be_bytes();
        let bytes = self.bytes.to_be_bytes();
        let anonymised = self.anonymised.as_ref().map(|a| [a.faces.to_be_bytes(), a.plates.to_be_bytes()].concat());
        let mut fields: Vec<&[u8]> = vec![
            self.camera.as_str().as_bytes(),
            self.agency.as_str().as_bytes(),
            from.as_bytes(),
            to.as_bytes(),
            first.as_bytes(),
            last.as_bytes(),
            self.codec.as_bytes(),
            &frames,
            &bytes,
            self.sha256.as_bytes(),
            exported.as_bytes(),
            self.exported_by.as_bytes(),
            self.signing_key.as_bytes(),
        ];
        if let (Some(a), Some(counts)) = (&self.anonymised, &anonymised) {
            fields.extend([b"anonymised".as_slice(), a.source_sha256.as_bytes(), a.blurred.as_bytes(), counts]);
        }
        signed_bytes(&self.format, &fields)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn facts() -> ClipFacts {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        ClipFacts {
            camera: CameraId::new("gate-1").unwrap(),
            agency: AgencyId::new("ro-igpf").unwrap(),
            from: t,
            to: t + chrono::Duration::seconds(5),
            first_frame: t - chrono::Duration::milliseconds(480),
            last_frame: t + chrono::Duration::milliseconds(4960),
            codec: "avc1.64000D".into(),
            frames: 137,
            exported_at: t + chrono::Duration::hours(1),
            exported_by: "duty officer 7".into(),
            anonymised: None,
        }
    }

    fn anonymised() -> ClipFacts {
        ClipFacts {
            anonymised: Some(Anonymisation {
                source_sha256: "ab".repeat(32),
                blurred: BLURRED_FACES_AND_PLATES.into(),
                faces: 40,
                plates: 12,
            }),
            ..facts()
        }
    }

    const MP4: &[u8] = b"\0\0\0\x18ftypisom and the rest of the file";

    #[test]
    fn a_signed_manifest_verifies_and_survives_reformatting() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let m = ClipManifest::sign(facts(), MP4, &key).unwrap();
        assert_eq!(m.bytes, MP4.len() as u64);
        let compact = serde_json::to_vec(&m).unwrap();
        for text in [m.to_json().into_bytes(), compact] {
            let v = ClipManifest::parse(&text).unwrap().verify(MP4, Some(&key.public())).unwrap();
            assert!(v.key_trusted);
            assert_eq!(v.manifest, m);
        }
        assert!(!ClipManifest::parse(m.to_json().as_bytes()).unwrap().verify(MP4, None).unwrap().key_trusted);
    }

    #[test]
    fn every_edited_field_breaks_the_signature() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let m = ClipManifest::sign(facts(), MP4, &key).unwrap();
        let json: serde_json::Value = serde_json::to_value(&m).unwrap();
        let edits: &[(&str, serde_json::Value)] = &[
            ("camera", "gate-2".into()),
            ("agency", "ua-dpsu".into()),
            ("from", "2026-03-01T09:59:59Z".into()),
            ("to", "2026-03-01T10:00:06Z".into()),
            ("first_frame", "2026-03-01T09:59:59.6Z".into()),
            ("last_frame", "2026-03-01T10:00:04.9Z".into()),
            ("codec", "avc1.640028".into()),
            ("frames", 136.into()),
            ("bytes", 12.into()),
            ("sha256", "0".repeat(64).into()),
            ("exported_at", "2026-03-01T12:00:00Z".into()),
            ("exported_by", "someone else".into()),
        ];
        for (field, value) in edits {
            let mut edited = json.clone();
            edited[*field] = value.clone();
            let e = ClipManifest::parse(edited.to_string().as_bytes()).unwrap().verify(MP4, None).unwrap_err();
            assert_eq!(e, ClipError::Signature, "{field}");
        }
        // Another key over the same fields, with its own fingerprint: a valid signature, but not
        // the trusted key's.
        let other = AgencyKey::from_seed(&[2; 32]);
        let forged = ClipManifest::sign(facts(), MP4, &other).unwrap();
        assert!(matches!(forged.clone().verify(MP4, Some(&key.public())), Err(ClipError::WrongKey { .. })));
        assert!(forged.verify(MP4, None).is_ok());
        // A key swapped in without re-signing.
        let mut swapped = m.clone();
        swapped.signing_key = other.public();
        swapped.key_fingerprint = key_fingerprint(&other.public());
        assert_eq!(swapped.verify(MP4, None), Err(ClipError::Signature));
    }

    #[test]
    fn an_anonymised_copy_signs_what_it_blurred_and_where_it_came_from() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let m = ClipManifest::sign(anonymised(), MP4, &key).unwrap();
        let v = ClipManifest::parse(m.to_json().as_bytes()).unwrap().verify(MP4, Some(&key.public())).unwrap();
        assert_eq!(v.manifest.anonymised, anonymised().anonymised);
        // A clip in clear carries no such part, and signs as it did before the part existed.
        let clear = ClipManifest::sign(facts(), MP4, &key).unwrap();
        assert!(!clear.to_json().contains("anonymised"));
        let json: serde_json::Value = serde_json::to_value(&m).unwrap();
        // Passing the copy off as the recording in clear, or the recording as a copy, or editing
        // the part, breaks the signature.
        let mut stripped = json.clone();
        stripped.as_object_mut().unwrap().remove("anonymised");
        let mut added = serde_json::to_value(&clear).unwrap();
        added["anonymised"] = json["anonymised"].clone();
        let mut edited = vec![stripped, added];
        for (field, value) in [
            ("source_sha256", serde_json::Value::from("cd".repeat(32))),
            ("blurred", "faces".into()),
            ("faces", 41.into()),
            ("plates", 0.into()),
        ] {
            let mut e = json.clone();
            e["anonymised"][field] = value;
            edited.push(e);
        }
        for e in edited {
            let got = ClipManifest::parse(e.to_string().as_bytes()).unwrap().verify(MP4, None).unwrap_err();
            assert_eq!(got, ClipError::Signature, "{e}");
        }
        // What no anonymiser writes.
        for (field, value) in [
            ("source_sha256", serde_json::Value::from("AB".repeat(32))),
            ("source_sha256", m.sha256.clone().into()),
            ("blurred", "".into()),
            ("blurred", "faces,eyes".into()),
        ] {
            let mut e = json.clone();
            e["anonymised"][field] = value;
            let got = ClipManifest::parse(e.to_string().as_bytes()).unwrap_err().to_string();
            assert!(got.starts_with("manifest field anonymised"), "{got}");
        }
        let mut unknown = json.clone();
        unknown["anonymised"]["model"] = "x".into();
        assert!(ClipManifest::parse(unknown.to_string().as_bytes()).is_err());
    }

    #[test]
    fn a_changed_file_is_found() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let m = ClipManifest::sign(facts(), MP4, &key).unwrap();
        let mut flipped = MP4.to_vec();
        flipped[20] ^= 1;
        assert!(matches!(m.clone().verify(&flipped, None), Err(ClipError::Digest { .. })));
        let (expected, found) = (MP4.len() as u64, MP4.len() as u64 - 1);
        assert_eq!(m.verify(&MP4[1..], None), Err(ClipError::Length { expected, found }));
    }

    #[test]
    fn hostile_manifests_are_refused() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let good: serde_json::Value = serde_json::to_value(ClipManifest::sign(facts(), MP4, &key).unwrap()).unwrap();
        let with = |field: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[field] = value;
            v.to_string().into_bytes()
        };
        let mut unknown = good.clone();
        unknown["note"] = "x".into();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "not a clip manifest"),
            (b"not json".to_vec(), "not a clip manifest"),
            (b"\xff\xfe{}".to_vec(), "not a clip manifest"),
            (b"[1, 2]".to_vec(), "not a clip manifest"),
            (b"{}".to_vec(), "not a clip manifest"),
            (unknown.to_string().into_bytes(), "not a clip manifest"),
            (with("frames", "137".into()), "not a clip manifest"),
            (with("frames", (-1).into()), "not a clip manifest"),
            (with("from", 17.into()), "not a clip manifest"),
            (with("camera", "".into()), "not a clip manifest"),
            (with("signing_key", "ed25519:AAAA".into()), "not a clip manifest"),
            (with("format", "limes-clip-v9".into()), "unknown manifest format"),
            (with("frames", 0.into()), "manifest field frames"),
            (with("sha256", "AB".repeat(32).into()), "manifest field sha256"),
            (with("exported_by", "a\u{0}b".into()), "manifest field exported_by"),
            (with("codec", "x".repeat(201).into()), "manifest field codec"),
            (with("to", "2020-01-01T00:00:00Z".into()), "manifest field to"),
            (with("key_fingerprint", "sha256:00".into()), "manifest field key_fingerprint"),
            (vec![b' '; MAX_MANIFEST_BYTES + 1], "the manifest is"),
        ];
        for (bytes, expected) in cases {
            let e = ClipManifest::parse(&bytes).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e:?} for {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(80)]));
        }
        let e = ClipManifest::parse(&with("signature", "!!".into())).unwrap().verify(MP4, None).unwrap_err();
        assert_eq!(e, ClipError::SignatureEncoding);
    }
}
