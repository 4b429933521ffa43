//! Plate text, country codes and the packed key.

use std::fmt;

/// Why a plate text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    /// Nothing of the text was a letter or a digit.
    #[error("plate text is empty after removing separators")]
    Empty,
    /// More characters than any plate has.
    #[error("plate text has {0} characters, more than the {max} a plate may have", max = PlateText::MAX_LEN)]
    TooLong(usize),
    /// A character that is neither a letter, a digit nor a separator.
    #[error("plate text contains {0:?}, which is not a letter, digit or separator")]
    BadChar(char),
    /// A country code that is not two ASCII letters.
    #[error("country code {0:?} is not two letters (ISO 3166-1 alpha-2)")]
    BadCountry(String),
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub const RO: Self = Self(*b"RO");
    pub const UA: Self = Self(*b"UA");
    pub const RS: Self = Self(*b"RS");
    pub const CZ: Self = Self(*b"CZ");
    pub const PL: Self = Self(*b"PL");
    pub const HU: Self = Self(*b"HU");
    pub const MD: Self = Self(*b"MD");
    pub const SK: Self = Self(*b"SK");
    pub const BG: Self = Self(*b"BG");
    pub const DE: Self = Self(*b"DE");

    /// Parses a two-letter code, any case.
    pub fn parse(s: &str) -> Result<Self, PlateError> {
        let b = s.trim().as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
        } else {
            Err(PlateError::BadCountry(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CountryCode {
    type Err = PlateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Canonical plate text: 1 to [`PlateText::MAX_LEN`] characters of `A-Z0-9`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlateText(String);

impl TryFrom<String> for PlateText {
    type Error = PlateError;
    fn try_from(s: String) -> Result<Self, PlateError> {
        PlateText::new(&s)
    }
}

impl From<PlateText> for String {
    fn from(t: PlateText) -> String {
        t.0
    }
}

impl PlateText {
    /// No plate of any country is longer (base-37 packing of 12 fits a `u64`).
    pub const MAX_LEN: usize = 12;

    /// Accepts text that is already canonical.
    pub fn new(s: &str) -> Result<Self, PlateError> {
        if s.is_empty() {
            return Err(PlateError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(PlateError::TooLong(s.chars().count()));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit())) {
            return Err(PlateError::BadChar(c));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn key(&self) -> PlateKey {
        PlateKey::of(self)
    }
}

impl fmt::Debug for PlateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for PlateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canonical plate text packed base-37 into a `u64` (0 never occurs in a digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlateKey(pub u64);

impl PlateKey {
    pub fn of(text: &PlateText) -> Self {
        Self::from_canonical_bytes(text.as_bytes())
    }

    /// Packs bytes already known to be canonical (`A-Z0-9`, at most 12).
    pub fn from_canonical_bytes(bytes: &[u8]) -> Self {
        let mut k = 0u64;
        for &b in bytes {
            let d = match b {
                b'0'..=b'9' => (b - b'0') as u64 + 1,
                _ => (b - b'A') as u64 + 11,
            };
            k = k * 37 + d;
        }
        Self(k)
    }
}

/// Upper-cases, strips separators, folds diacritics and maps Cyrillic look-alikes to Latin.
pub fn clean(raw: &str) -> Result<PlateText, PlateError> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if c.is_whitespace() || matches!(c, '-' | '.' | '·' | '_' | '/' | '|' | '•') {
            continue;
        } else {
            return Err(PlateError::BadChar(c));
        }
    }
    PlateText::new(&out)
}

/// Folds the characters OCR confuses: O/D/Q→0, I→1, B→8, S→5, Z→2, G→6.
pub fn lookalike_key(text: &PlateText) -> PlateText {
    let folded: String = text
        .as_str()
        .chars()
        .map(|c| match c {
            'O' | 'D' | 'Q' => '0',
            'I' => '1',
            'B' => '8',
            'S' => '5',
            'Z' => '2',
            'G' => '6',
            c => c,
        })
        .collect();
    PlateText(folded)
}
