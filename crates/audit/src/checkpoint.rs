//! Signed checkpoints (domain: no I/O; keys come in as bytes).
//!
//! A checkpoint is the log's signed statement "at time *t* my tree had *size* leaves and this
//! root". Its text is a [C2SP tlog-checkpoint](https://c2sp.org/tlog-checkpoint) body (origin,
//! size, base64 root, no extension lines) in a [C2SP signed note](https://c2sp.org/signed-note):
//!
//! ```text
//! limes.example/ro-igpf/node-1/audit
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — limes.example/ro-igpf/node-1/audit jWbPPwAAAABkGFDLEZMHwSRaJNiI…
//! ```
//!
//! The node signs with a *timestamped* Ed25519 signature, the [C2SP tlog-cosignature] v1
//! format (signature type 0x04): the signed message is `cosignature/v1\ntime <t>\n` followed by
//! the body, and the signature is `key ID (4) || t (8, big-endian seconds) || Ed25519 (64)`.
//! So the time is signed without an extension line (which tlog-checkpoint advises against),
//! and a partner that witnesses the log adds its own line of the very same kind under its own
//! key: the node's signature is simply the first cosignature.
//!
//! [C2SP tlog-cosignature]: https://c2sp.org/tlog-cosignature

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature type byte of timestamped Ed25519 cosignatures (c2sp.org/signed-note).
pub const SIGNATURE_TYPE: u8 = 0x04;

/// What is wrong with a key, a note or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A key's text or bytes are not what they should be.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A note or checkpoint text is malformed.
    #[error("bad checkpoint note: {0}")]
    BadNote(String),
    /// The note has no signature line of the expected key.
    #[error("no signature by {0}")]
    NoSignature(String),
    /// A signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The note is another log's checkpoint: its origin is not the name of the log's key.
    #[error("the checkpoint's origin is {found:?}, not {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

/// A tree head: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root.0))
    }

    /// Parses a note text of exactly three lines (limes writes no extension lines).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::BadNote(m.to_owned());
        let lines: Vec<&str> =
            text.strip_suffix('\n').ok_or_else(|| bad("the text must end in a newline"))?.split('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(bad("a checkpoint has three lines: origin, size, root"));
        };
        check_name(origin).map_err(|e| bad(&format!("origin: {e}")))?;
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(bad("the size is not a decimal number without leading zeros"));
        }
        let size = size.parse().map_err(|_| bad("the size is too large"))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|b| Hash::from_slice(&b))
            .ok_or_else(|| bad("the root is not 32 base64 bytes"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }

    /// The message a timestamped signature covers.
    pub fn signed_message(&self, time: u64) -> Vec<u8> {
        format!("cosignature/v1\ntime {time}\n{}", self.body()).into_bytes()
    }
}

/// A checkpoint with the node's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// When it was signed, in POSIX seconds (signed with it).
    pub time: u64,
    /// The Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: [u8; 64],
}

impl SignedCheckpoint {
    /// The signature line `— <key name> base64(key ID || time || signature)`, newline included.
    pub fn signature_line(&self, key_name: &str, key_id: u32) -> String {
        let mut sig = Vec::with_capacity(76);
        sig.extend_from_slice(&key_id.to_be_bytes());
        sig.extend_from_slice(&self.time.to_be_bytes());
        sig.extend_from_slice(&self.signature);
        format!("\u{2014} {key_name} {}\n", BASE64.encode(sig))
    }

    /// The signed note: the body, a blank line, the signature line of the key named
    /// `key_name` whose ID is `key_id`.
    pub fn to_note(&self, key_name: &str, key_id: u32) -> String {
        format!("{}\n{}", self.checkpoint.body(), self.signature_line(key_name, key_id))
    }
}

/// A key name: non-empty, no spaces, no `+`, no control characters (c2sp.org/signed-note).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(format!("{name:?} holds a space, a plus or a control character"));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || 0x04 || public key)[:4]`, big-endian.
fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', SIGNATURE_TYPE]);
    h.update(public.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The node's checkpoint key. Its name is the log's origin.
pub struct CheckpointSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .finish()
    }
}

impl CheckpointSigner {
    /// A key from its 32-byte Ed25519 seed, named after the log's origin.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        check_name(name).map_err(CheckpointError::BadKey)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Self { name: name.to_owned(), id: key_id(name, &key.verifying_key()), key })
    }

    /// Signs the log's own tree head `(size, root)` at `time` (POSIX seconds): the origin is
    /// the key's name.
    pub fn sign(&self, size: u64, root: Hash, time: u64) -> SignedCheckpoint {
        self.cosign(Checkpoint { origin: self.name.clone(), size, root }, time)
    }

    /// Signs any log's checkpoint at `time`, as a witness does.
    pub fn cosign(&self, checkpoint: Checkpoint, time: u64) -> SignedCheckpoint {
        let signature = self.key.sign(&checkpoint.signed_message(time)).to_bytes();
        SignedCheckpoint { checkpoint, time, signature }
    }

    /// The key partners verify with.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `PRIVATE+KEY+<name>+<key ID hex>+<base64(0x04 || seed)>`, the form Go's `note` package
    /// uses for signer keys. Secret: only for the node's key file.
    pub fn to_private_text(&self) -> String {
        let mut material = vec![SIGNATURE_TYPE];
        material.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, BASE64.encode(material))
    }

    /// The inverse of [`CheckpointSigner::to_private_text`].
    pub fn parse_private_text(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::BadKey(m.to_owned());
        let rest = text.trim_end().strip_prefix("PRIVATE+KEY+").ok_or_else(|| bad("not a PRIVATE+KEY"))?;
        let (name, id, material) = split_key(rest)?;
        let seed: [u8; 32] = match material.split_first() {
            Some((&SIGNATURE_TYPE, seed)) => seed.try_into().map_err(|_| bad("the seed is not 32 bytes"))?,
            _ => return Err(bad("not a timestamped Ed25519 (0x04) key")),
        };
        let signer = Self::from_seed(name, &seed)?;
        if signer.id != id {
            return Err(bad("the key ID does not match the key"));
        }
        Ok(signer)
    }
}

fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), CheckpointError> {
    let bad = |m: &str| CheckpointError::BadKey(m.to_owned());
    // The key material is base64, which may hold `+`: it is the rest after the second one.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyid+key"));
    };
    if id.len() != 8 {
        return Err(bad("the key ID is not 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| bad("the key ID is not 8 hex digits"))?;
    let material = BASE64.decode(material).map_err(|_| bad("the key is not base64"))?;
    Ok((name, id, material))
}

/// The public half, as partners hold it: `<name>+<key ID hex>+<base64(0x04 || public key)>`
/// (a C2SP verifier key, "vkey").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses a vkey.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::BadKey(m.to_owned());
        let (name, id, material) = split_key(text.trim())?;
        check_name(name).map_err(CheckpointError::BadKey)?;
        let bytes: [u8; 32] = match material.split_first() {
            Some((&SIGNATURE_TYPE, key)) => key.try_into().map_err(|_| bad("the public key is not 32 bytes"))?,
            _ => return Err(bad("not a timestamped Ed25519 (0x04) key")),
        };
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an Ed25519 public key"))?;
        if key_id(name, &key) != id {
            return Err(bad("the key ID does not match the key"));
        }
        Ok(Self { name: name.to_owned(), id, key })
    }

    /// The verifier key named `name` of the Ed25519 public key `public` (as another format
    /// carries it: a partner's agency key, which also signs as its witness).
    pub fn from_ed25519(name: &str, public: &[u8; 32]) -> Result<Self, CheckpointError> {
        check_name(name).map_err(CheckpointError::BadKey)?;
        let key = VerifyingKey::from_bytes(public)
            .map_err(|_| CheckpointError::BadKey("not an Ed25519 public key".into()))?;
        Ok(Self { name: name.to_owned(), id: key_id(name, &key), key })
    }

    /// The key's name: the origin of the log it signs.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Checks this key's signature on a checkpoint. (A log's own key is named after its origin;
    /// a witness's is not: comparing the origin is the caller's business.)
    pub fn verify(&self, signed: &SignedCheckpoint) -> Result<(), CheckpointError> {
        let signature = Signature::from_bytes(&signed.signature);
        self.key
            .verify_strict(&signed.checkpoint.signed_message(signed.time), &signature)
            .map_err(|_| CheckpointError::BadSignature)
    }

    /// The note of a checkpoint signed by this key.
    pub fn note(&self, signed: &SignedCheckpoint) -> String {
        signed.to_note(&self.name, self.id)
    }

    /// Parses a signed note and verifies this key's signature on it; signature lines of other
    /// keys (witnesses) are ignored, as the signed-note format requires. The note is parsed by
    /// [`SignedNote::parse`], so a malformed line of any key rejects it.
    pub fn open_note(&self, note: &str) -> Result<SignedCheckpoint, CheckpointError> {
        SignedNote::parse(note)?.signature_by(self)?.ok_or_else(|| CheckpointError::NoSignature(self.to_string()))
    }

    /// Whether a signature line's name and key ID are this key's.
    fn is_named_by(&self, signature: &NoteSignature) -> bool {
        signature.name == self.name && signature.key_id == self.id
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut material = vec![SIGNATURE_TYPE];
        material.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, BASE64.encode(material))
    }
}

/// The most bytes a note may have. A checkpoint body and 32 timestamped Ed25519 lines under key
/// names of a hundred characters take under 8 KiB; anything larger is refused before it is
/// parsed.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The most signature lines a note may have (c2sp.org/signed-note asks verifiers to accept at
/// least 16): the log's and one per witness.
pub const MAX_NOTE_SIGNATURES: usize = 32;

/// One signature line of a note, not verified: `— <name> base64(key ID || signature)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The bytes after the key ID (for a timestamped Ed25519 signature: time and signature).
    pub bytes: Vec<u8>,
}

/// A checkpoint note, parsed but not verified: the checkpoint and its signature lines, in order.
///
/// Parsing is strict, since notes come from other nodes: at most [`MAX_NOTE_BYTES`] and
/// [`MAX_NOTE_SIGNATURES`]; valid UTF-8 with no control character but the newline; a body of
/// exactly three lines ([`Checkpoint::parse_body`]); every signature line well formed
/// (em dash, space, a valid key name, space, canonical base64 of a key ID and at least one
/// byte), whatever its key; and no two lines of the same key (name and key ID). Go's `note`
/// package drops such repeats; limes refuses them, because no limes signer writes two and a
/// second cosignature of one witness with another time would make its time ambiguous. Lines of
/// keys the reader does not know are otherwise kept and ignored by [`SignedNote::signature_by`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    pub checkpoint: Checkpoint,
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a note (see the type's documentation for what is refused).
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        let bad = CheckpointError::BadNote;
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad(format!("the note is {} bytes, over the limit of {MAX_NOTE_BYTES}", note.len())));
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(bad("the note holds a control character".into()));
        }
        let split = note.rfind("\n\n").ok_or_else(|| bad("no blank line before the signatures".into()))?;
        let (body, signatures) = (&note[..=split], &note[split + 2..]);
        let checkpoint = Checkpoint::parse_body(body)?;
        if signatures.is_empty() {
            return Err(bad("the note has no signature lines".into()));
        }
        let lines = signatures.strip_suffix('\n').ok_or_else(|| bad("the note must end in a newline".into()))?;
        let mut parsed: Vec<NoteSignature> = Vec::new();
        for (i, line) in lines.split('\n').enumerate() {
            let n = i + 1;
            if n > MAX_NOTE_SIGNATURES {
                return Err(bad(format!("more than {MAX_NOTE_SIGNATURES} signature lines")));
            }
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad(format!("signature line {n} does not start with an em dash and a space")))?;
            let (name, encoded) = rest
                .split_once(' ')
                .ok_or_else(|| bad(format!("signature line {n} is not a key name and a signature")))?;
            check_name(name).map_err(|e| bad(format!("signature line {n}: bad key name: {e}")))?;
            let bytes =
                BASE64.decode(encoded).map_err(|_| bad(format!("signature line {n}: the signature is not base64")))?;
            if bytes.len() < 5 {
                return Err(bad(format!("signature line {n}: the signature is shorter than a key ID and one byte")));
            }
            let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if parsed.iter().any(|s| s.name == name && s.key_id == key_id) {
                return Err(bad(format!("signature line {n} is a second signature by {name} (key ID {key_id:08x})")));
            }
            parsed.push(NoteSignature { name: name.to_owned(), key_id, bytes: bytes[4..].to_vec() });
        }
        Ok(Self { checkpoint, signatures: parsed })
    }

    /// The signature of `key`, verified: `Ok(None)` when the note has no line of that key,
    /// an error when it has one that does not verify (such a note is malformed: c2sp.org/signed-note
    /// says to reject it whole).
    pub fn signature_by(&self, key: &VerifierKey) -> Result<Option<SignedCheckpoint>, CheckpointError> {
        let Some(line) = self.signatures.iter().find(|s| key.is_named_by(s)) else {
            return Ok(None);
        };
        let bytes: &[u8; 72] = line
            .bytes
            .as_slice()
            .try_into()
            .map_err(|_| CheckpointError::BadNote("a timestamped signature is 76 bytes".into()))?;
        let (time, signature) = bytes.split_at(8);
        let signed = SignedCheckpoint {
            checkpoint: self.checkpoint.clone(),
            time: u64::from_be_bytes(time.try_into().expect("8 bytes")),
            signature: signature.try_into().expect("64 bytes"),
        };
        key.verify(&signed)?;
        Ok(Some(signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn signer() -> CheckpointSigner {
        CheckpointSigner::from_seed("limes.example/node-1/audit", &[7u8; 32]).unwrap()
    }

    #[test]
    fn notes_have_the_c2sp_shape_and_verify() {
        let s = signer();
        let signed = s.sign(20852163, leaf_hash(b"x"), 1_780_000_000);
        let note = s.verifier().note(&signed);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "limes.example/node-1/audit");
        assert_eq!(lines[1], "20852163");
        assert_eq!(BASE64.decode(lines[2]).unwrap(), leaf_hash(b"x").0);
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} limes.example/node-1/audit "));
        assert_eq!(lines.len(), 5);
        assert_eq!(s.verifier().open_note(&note).unwrap(), signed);
    }

    #[test]
    fn a_verifier_key_from_a_bare_public_key_is_the_signers() {
        let s = signer();
        let public = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key().to_bytes();
        assert_eq!(VerifierKey::from_ed25519(s.name(), &public).unwrap(), s.verifier());
        assert!(VerifierKey::from_ed25519("with space", &public).is_err());
    }

    #[test]
    fn the_time_and_every_line_are_signed() {
        let s = signer();
        let v = s.verifier();
        let signed = s.sign(5, leaf_hash(b"x"), 1_780_000_000);
        let mut later = signed.clone();
        later.time += 1;
        assert_eq!(v.verify(&later), Err(CheckpointError::BadSignature));
        let mut bigger = signed.clone();
        bigger.checkpoint.size += 1;
        assert_eq!(v.verify(&bigger), Err(CheckpointError::BadSignature));
        let mut other_root = signed.clone();
        other_root.checkpoint.root.0[0] ^= 1;
        assert_eq!(v.verify(&other_root), Err(CheckpointError::BadSignature));
        let mut flipped = signed.clone();
        flipped.signature[10] ^= 1;
        assert_eq!(v.verify(&flipped), Err(CheckpointError::BadSignature));
        // Every byte of the note matters.
        let note = v.note(&signed);
        for i in 0..note.len() {
            let mut bytes = note.clone().into_bytes();
            bytes[i] ^= 1;
            let Ok(text) = String::from_utf8(bytes) else { continue };
            assert!(v.open_note(&text).is_err(), "byte {i} flipped still verifies");
        }
    }

    #[test]
    fn keys_round_trip_and_check_their_id() {
        let s = signer();
        let vkey = s.verifier().to_string();
        assert_eq!(VerifierKey::parse(&vkey).unwrap(), s.verifier());
        let private = s.to_private_text();
        assert_eq!(CheckpointSigner::parse_private_text(&private).unwrap().verifier(), s.verifier());
        let wrong_id = vkey.replacen(&format!("{:08x}", s.verifier().id()), "00000000", 1);
        assert!(VerifierKey::parse(&wrong_id).is_err());
        assert!(CheckpointSigner::from_seed("has space", &[1; 32]).is_err());
        assert!(CheckpointSigner::from_seed("has+plus", &[1; 32]).is_err());
    }

    #[test]
    fn witness_lines_are_ignored_and_other_keys_refused() {
        let s = signer();
        let signed = s.sign(3, leaf_hash(b"y"), 1_780_000_000);
        let witness = CheckpointSigner::from_seed("witness.example/w1", &[8u8; 32]).unwrap();
        // A witness cosigns the same body with its own key: one more line.
        let cosigned = witness.cosign(signed.checkpoint.clone(), 1_780_000_005);
        let mut note = s.verifier().note(&signed);
        note.push_str(&cosigned.signature_line(witness.name(), witness.verifier().id()));
        assert_eq!(s.verifier().open_note(&note).unwrap(), signed);
        assert_eq!(witness.verifier().open_note(&note).unwrap(), cosigned);
        let other = CheckpointSigner::from_seed("limes.example/node-1/audit", &[9u8; 32]).unwrap();
        assert_eq!(other.verifier().open_note(&note), Err(CheckpointError::NoSignature(other.verifier().to_string())));
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let root = BASE64.encode([0u8; 32]);
        assert!(Checkpoint::parse_body(&format!("o\n12\n{root}\n")).is_ok());
        for bad in [
            format!("o\n012\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n12\n{root}"),
            format!("o\n12\n{root}\next\n"),
            "o\n12\nAAAA\n".to_owned(),
            format!("\n12\n{root}\n"),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
    }
}
