//! The partner's published set: the tags of the plates it saw in one window, each with an opaque
//! reference, and the set's file format.
//!
//! # Format (version 1)
//!
//! One line of JSON, the header, at most [`MAX_HEADER_BYTES`] bytes before its `\n` (written
//! compact in this field order; read with any order and spacing, but no other field):
//!
//! ```text
//! {"format":"limes-hitquery-set","version":1,"key":"ristretto255:<base64>","window":{"from":<unix s>,"until":<unix s>},"plates":<N>}
//! ```
//!
//! then `2 × N` entries of [`ENTRY_BYTES`] bytes, a [`Tag`] (16 bytes) followed by a
//! [`Reference`] (16 bytes), and nothing after them:
//!
//! 1. `N` exact entries, tags strictly ascending (so no tag twice);
//! 2. `N` folded entries, (tag, reference) strictly ascending: look-alike plates share a folded
//!    tag, so a folded tag may repeat, each time with another reference.
//!
//! Every reference in the file is distinct. Sorted entries give lookups by binary search with no
//! index to build, and a file that is the same bytes for everyone who receives it, so askers can
//! compare [`PublishedSet::digest`]s. A parser refuses any other version, any unknown header
//! field, and any body whose length is not exactly `64 × N` bytes, before it allocates for the
//! entries.

use std::collections::{HashMap, HashSet};
use std::fmt;

use limes_plate::PlateText;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::key::{PlateTags, PublicKey, ServerKey, Tag};

/// The `format` field of a set's header.
pub const SET_FORMAT: &str = "limes-hitquery-set";
/// The set format version this crate writes and reads.
pub const SET_VERSION: u32 = 1;
/// The longest header line accepted, without its `\n`.
pub const MAX_HEADER_BYTES: usize = 1024;
/// The most distinct plates one set may hold (a 512 MiB body).
pub const MAX_PLATES: u64 = 1 << 23;
/// Bytes of one entry: a tag and a reference.
pub const ENTRY_BYTES: usize = Tag::LEN + Reference::LEN;

/// Why a published set could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// No `\n` ends a header line within the first [`MAX_HEADER_BYTES`] bytes.
    #[error("no header line of at most {MAX_HEADER_BYTES} bytes")]
    NoHeader,
    /// The header line is not the JSON object of this format (missing or unknown fields, bad
    /// key, bad window).
    #[error("bad header: {0}")]
    BadHeader(String),
    /// The header's `format` is not [`SET_FORMAT`].
    #[error("not a published set (format {0:?})")]
    NotASet(String),
    /// The header's `version` is not [`SET_VERSION`].
    #[error("set version {0} is not supported (this reader knows version {SET_VERSION})")]
    UnsupportedVersion(u64),
    /// A window that ends before or when it starts.
    #[error("window from {from} until {until} is empty")]
    EmptyWindow { from: i64, until: i64 },
    /// More plates than [`MAX_PLATES`], in a header or in a builder.
    #[error("{count} plates, more than the {MAX_PLATES} a set may hold")]
    TooManyPlates { count: u64 },
    /// Fewer entry bytes than the header announces.
    #[error("truncated: the header announces {expected} bytes of entries, {actual} follow")]
    Truncated { expected: u64, actual: u64 },
    /// More bytes than the header announces.
    #[error("{extra} bytes after the last entry")]
    TrailingBytes { extra: u64 },
    /// An entry that is not after the one before it.
    #[error("{table} entry {index} is out of order")]
    Unsorted { table: Table, index: usize },
    /// An entry equal to the one before it (the same exact tag, or the same folded tag and
    /// reference).
    #[error("{table} entry {index} repeats the one before it")]
    Duplicate { table: Table, index: usize },
    /// One reference in two entries.
    #[error("reference {0} appears in two entries")]
    DuplicateReference(Reference),
}

/// The two tables of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// One entry per distinct plate, by the tag of its exact text.
    Exact,
    /// One entry per distinct plate, by the tag of its look-alike key.
    Folded,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::Exact => "exact",
            Table::Folded => "folded",
        })
    }
}

/// An opaque reference to one plate's sightings in one window: 16 random bytes, text form 32
/// lowercase hex digits.
///
/// The partner keeps the map from reference to plate and window; the reference itself is random,
/// so it says nothing about the plate, and each plate gets two unrelated ones (exact and folded),
/// so nobody holding the set can pair its exact and folded entries. An asker with a hit names the
/// reference in a full-data request, which the partner decides under its agreement.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference([u8; Reference::LEN]);

impl Reference {
    /// Bytes of a reference.
    pub const LEN: usize = 16;

    /// A fresh random reference.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

/// Why a reference text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a reference is 32 lowercase hex digits")]
pub struct ReferenceError;

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(ReferenceError),
        };
        let s = s.as_bytes();
        if s.len() != 2 * Self::LEN {
            return Err(ReferenceError);
        }
        let mut bytes = [0u8; Self::LEN];
        for (b, pair) in bytes.iter_mut().zip(s.chunks_exact(2)) {
            *b = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

impl Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The time window a set covers, in Unix seconds: sightings from `from` (inclusive) until
/// `until` (exclusive). Informative for the asker; the partner chooses it and uses one key per
/// window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub struct Window {
    from: i64,
    until: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: i64,
    until: i64,
}

impl Window {
    /// A window that does not end before it starts.
    pub fn new(from: i64, until: i64) -> Result<Self, SetError> {
        if from < until { Ok(Self { from, until }) } else { Err(SetError::EmptyWindow { from, until }) }
    }

    pub fn from(&self) -> i64 {
        self.from
    }

    pub fn until(&self) -> i64 {
        self.until
    }
}

impl TryFrom<RawWindow> for Window {
    type Error = SetError;
    fn try_from(raw: RawWindow) -> Result<Self, SetError> {
        Self::new(raw.from, raw.until)
    }
}

impl From<Window> for RawWindow {
    fn from(w: Window) -> Self {
        Self { from: w.from, until: w.until }
    }
}

/// What an asker learns about one plate: the reference of the exact plate if the partner saw it,
/// and the references of every plate it saw that folds to the same look-alike key (the exact
/// plate's own folded entry included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The plate as written was seen.
    pub exact: Option<Reference>,
    /// Plates that read alike were seen (O/0, B/8, I/1, … and Cyrillic look-alikes), one
    /// reference per distinct plate, in the set's order.
    pub folded: Vec<Reference>,
}

impl Answer {
    /// Whether the plate or a look-alike of it was seen.
    pub fn is_hit(&self) -> bool {
        self.exact.is_some() || !self.folded.is_empty()
    }
}

/// The two references a plate got in a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entered {
    /// The reference of the plate's exact entry.
    pub exact: Reference,
    /// The reference of the plate's folded entry.
    pub folded: Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    tag: Tag,
    reference: Reference,
}

/// Builds a set from the plates the partner saw in a window (see [`PublishedSet`]).
///
/// A plate seen many times is entered once: the set says whether a plate was seen, not how
/// often, and the partner resolves a reference to all of the plate's sightings in the window.
pub struct SetBuilder<'k> {
    key: &'k ServerKey,
    window: Window,
    plates: HashMap<PlateText, Entered>,
    references: HashSet<Reference>,
    exact: Vec<Entry>,
    folded: Vec<Entry>,
}

impl fmt::Debug for SetBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetBuilder")
            .field("key", &self.key.public_key())
            .field("window", &self.window)
            .field("entries", &self.exact.len())
            .finish()
    }
}

impl<'k> SetBuilder<'k> {
    pub fn new(key: &'k ServerKey, window: Window) -> Self {
        Self { key, window, plates: HashMap::new(), references: HashSet::new(), exact: Vec::new(), folded: Vec::new() }
    }

    /// Enters a sighting of `plate` (its exact and folded tags, two PRF evaluations) and returns
    /// the plate's references, the same for every sighting of the plate. The caller keeps the
    /// map from references to the plate to resolve full-data requests later.
    pub fn insert<R: RngCore + CryptoRng>(&mut self, rng: &mut R, plate: &PlateText) -> Result<Entered, SetError> {
        if let Some(entered) = self.plates.get(plate) {
            return Ok(*entered);
        }
        let tags = self.key.tags(plate);
        let entered = self.push(rng, tags)?;
        self.plates.insert(plate.clone(), entered);
        Ok(entered)
    }

    /// Enters a plate with the tags and references an earlier build of this window's set gave
    /// it. The edge rebuilds a window's set as sightings come and go: entering each plate with
    /// the references it already has keeps them valid (full-data requests name them, and the
    /// edge resolves them from its map), and with its stored tags costs no PRF evaluation.
    ///
    /// `tags` must be [`ServerKey::tags`] of `plate` under this builder's key (checked in debug
    /// builds). Returns the plate's references: `entered`, or those the plate already has in
    /// this builder. A reference already in the builder is refused, so that every reference in
    /// the set stays distinct.
    pub fn insert_known(&mut self, plate: &PlateText, tags: PlateTags, entered: Entered) -> Result<Entered, SetError> {
        if let Some(existing) = self.plates.get(plate) {
            return Ok(*existing);
        }
        debug_assert_eq!(self.key.tags(plate), tags, "tags of another key or plate");
        if self.exact.len() as u64 >= MAX_PLATES {
            return Err(SetError::TooManyPlates { count: MAX_PLATES + 1 });
        }
        if entered.exact == entered.folded || self.references.contains(&entered.exact) {
            return Err(SetError::DuplicateReference(entered.exact));
        }
        if self.references.contains(&entered.folded) {
            return Err(SetError::DuplicateReference(entered.folded));
        }
        self.references.extend([entered.exact, entered.folded]);
        self.exact.push(Entry { tag: tags.exact, reference: entered.exact });
        self.folded.push(Entry { tag: tags.folded, reference: entered.folded });
        self.plates.insert(plate.clone(), entered);
        Ok(entered)
    }

    /// Adds entries with random tags and references until the set holds `plates` entries per
    /// table, so that its size says only which bucket the true count falls in (see
    /// `design/hit-no-hit.md`). Random tags are indistinguishable from PRF outputs to anyone
    /// without the key; their references resolve to nothing.
    pub fn pad_to<R: RngCore + CryptoRng>(&mut self, rng: &mut R, plates: u64) -> Result<(), SetError> {
        if plates > MAX_PLATES {
            return Err(SetError::TooManyPlates { count: plates });
        }
        while (self.exact.len() as u64) < plates {
            let mut tags = [[0u8; Tag::LEN]; 2];
            tags.iter_mut().for_each(|t| rng.fill_bytes(t));
            self.push(rng, PlateTags { exact: Tag(tags[0]), folded: Tag(tags[1]) })?;
        }
        Ok(())
    }

    /// Distinct plates (and padding entries) entered so far.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// The set, entries sorted.
    pub fn build(self) -> PublishedSet {
        let (mut exact, mut folded) = (self.exact, self.folded);
        exact.sort_unstable();
        folded.sort_unstable();
        PublishedSet { key: self.key.public_key(), window: self.window, exact, folded }
    }

    fn push<R: RngCore + CryptoRng>(&mut self, rng: &mut R, tags: PlateTags) -> Result<Entered, SetError> {
        if self.exact.len() as u64 >= MAX_PLATES {
            return Err(SetError::TooManyPlates { count: MAX_PLATES + 1 });
        }
        let entered = Entered { exact: self.fresh_reference(rng), folded: self.fresh_reference(rng) };
        self.exact.push(Entry { tag: tags.exact, reference: entered.exact });
        self.folded.push(Entry { tag: tags.folded, reference: entered.folded });
        Ok(entered)
    }

    fn fresh_reference<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> Reference {
        loop {
            // A repeat needs ~2^64 references from a working generator; the loop only guards the
            // file's rule that references are distinct.
            let reference = Reference::random(rng);
            if self.references.insert(reference) {
                return reference;
            }
        }
    }
}

/// The tags of the plates a partner saw in one window, under the key in its header, each with
/// its reference. Sent to askers as bytes ([`PublishedSet::to_bytes`], format in the
/// [module docs](self)); askers look their plates up locally after an oblivious evaluation.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishedSet {
    key: PublicKey,
    window: Window,
    exact: Vec<Entry>,
    folded: Vec<Entry>,
}

impl fmt::Debug for PublishedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedSet")
            .field("key", &self.key)
            .field("window", &self.window)
            .field("plates", &self.exact.len())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u64,
    key: PublicKey,
    window: Window,
    plates: u64,
}

/// The fields read first, so that another format or version is named as such even when the rest
/// of its header differs.
#[derive(Deserialize)]
struct Preamble {
    format: String,
    version: u64,
}

impl PublishedSet {
    /// The partner's public key for this window: every evaluation for this set must prove it
    /// used this key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// Entries per table: the distinct plates seen, plus any padding.
    pub fn plates(&self) -> usize {
        self.exact.len()
    }

    /// What the set says about a plate with these tags.
    pub fn answer(&self, tags: &PlateTags) -> Answer {
        let exact = self.exact.binary_search_by(|e| e.tag.cmp(&tags.exact)).ok().map(|i| self.exact[i].reference);
        let start = self.folded.partition_point(|e| e.tag < tags.folded);
        let folded = self.folded[start..].iter().take_while(|e| e.tag == tags.folded).map(|e| e.reference).collect();
        Answer { exact, folded }
    }

    /// The set in its file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            format: SET_FORMAT.to_owned(),
            version: SET_VERSION.into(),
            key: self.key,
            window: self.window,
            plates: self.exact.len() as u64,
        };
        let mut out = serde_json::to_vec(&header).expect("the header serializes");
        out.reserve(1 + ENTRY_BYTES * (self.exact.len() + self.folded.len()));
        out.push(b'\n');
        for e in self.exact.iter().chain(&self.folded) {
            out.extend_from_slice(e.tag.as_bytes());
            out.extend_from_slice(e.reference.as_bytes());
        }
        out
    }

    /// SHA-256 of [`PublishedSet::to_bytes`]. Askers that compare digests of the set a partner
    /// gave each of them detect a partner that hands out per-asker keys.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Reads a set, refusing anything that is not exactly a well-formed version-1 file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SetError> {
        let end = bytes.iter().take(MAX_HEADER_BYTES + 1).position(|&b| b == b'\n').ok_or(SetError::NoHeader)?;
        let (line, body) = (&bytes[..end], &bytes[end + 1..]);
        let preamble: Preamble = serde_json::from_slice(line).map_err(|e| SetError::BadHeader(e.to_string()))?;
        if preamble.format != SET_FORMAT {
            return Err(SetError::NotASet(preamble.format));
        }
        if preamble.version != u64::from(SET_VERSION) {
            return Err(SetError::UnsupportedVersion(preamble.version));
        }
        let header: Header = serde_json::from_slice(line).map_err(|e| SetError::BadHeader(e.to_string()))?;
        if header.plates > MAX_PLATES {
            return Err(SetError::TooManyPlates { count: header.plates });
        }
        // At most 2^23 × 64 bytes: no overflow.
        let expected = header.plates * 2 * ENTRY_BYTES as u64;
        let actual = body.len() as u64;
        if actual < expected {
            return Err(SetError::Truncated { expected, actual });
        }
        if actual > expected {
            return Err(SetError::TrailingBytes { extra: actual - expected });
        }
        let n = header.plates as usize;
        let mut entries = body.chunks_exact(ENTRY_BYTES).map(|chunk| {
            let (tag, reference) = chunk.split_at(Tag::LEN);
            Entry {
                tag: Tag(tag.try_into().expect("16 bytes")),
                reference: Reference(reference.try_into().expect("16 bytes")),
            }
        });
        let exact: Vec<Entry> = entries.by_ref().take(n).collect();
        let folded: Vec<Entry> = entries.collect();
        check_order(&exact, Table::Exact, |e| e.tag)?;
        check_order(&folded, Table::Folded, |e| *e)?;
        let mut references: Vec<Reference> = exact.iter().chain(&folded).map(|e| e.reference).collect();
        references.sort_unstable();
        if let Some(pair) = references.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(SetError::DuplicateReference(pair[0]));
        }
        Ok(Self { key: header.key, window: header.window, exact, folded })
    }
}

/// Checks that each entry's sort key is strictly after the previous one's.
fn check_order<K: Ord>(entries: &[Entry], table: Table, key: impl Fn(&Entry) -> K) -> Result<(), SetError> {
    for (i, pair) in entries.windows(2).enumerate() {
        match key(&pair[0]).cmp(&key(&pair[1])) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Err(SetError::Duplicate { table, index: i + 1 }),
            std::cmp::Ordering::Greater => return Err(SetError::Unsorted { table, index: i + 1 }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
