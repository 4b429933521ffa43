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
    /// Romania.
    pub const RO: Self = Self(*b"RO");
    /// Ukraine.
    pub const UA: Self = Self(*b"UA");
    /// Serbia.
    pub const RS: Self = Self(*b"RS");
    /// Czech Republic.
    pub const CZ: Self = Self(*b"CZ");
    /// Poland.
    pub const PL: Self = Self(*b"PL");
    /// Hungary.
    pub const HU: Self = Self(*b"HU");
    /// Moldova.
    pub const MD: Self = Self(*b"MD");
    /// Slovakia.
    pub const SK: Self = Self(*b"SK");
    /// Bulgaria.
    pub const BG: Self = Self(*b"BG");
    /// Germany.
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

    /// The code as two upper-case ASCII letters.
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

    /// The canonical text, `A-Z0-9` only.
    /// Wraps bytes the caller has produced as canonical (`A-Z0-9`, 1 to `MAX_LEN`).
    pub(crate) fn from_canonical(bytes: &[u8]) -> Self {
        debug_assert!(Self::is_canonical(bytes));
        let mut s = String::with_capacity(bytes.len());
        s.extend(bytes.iter().map(|&b| b as char));
        Self(s)
    }

    /// Replaces the text with `bytes` of the same length, reusing the allocation.
    pub(crate) fn overwrite(&mut self, bytes: &[u8]) {
        debug_assert!(Self::is_canonical(bytes));
        self.0.clear();
        self.0.extend(bytes.iter().map(|&b| b as char));
    }

    fn is_canonical(bytes: &[u8]) -> bool {
        !bytes.is_empty()
            && bytes.len() <= Self::MAX_LEN
            && bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical text as ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The number of characters (each is one byte).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a plate text has at least one character.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The packed key of this text.
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
    /// Packs a canonical text.
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

/// The plate characters collected by [`clean`]: at most [`PlateText::MAX_LEN`] are kept, all are counted.
struct Collected {
    bytes: [u8; PlateText::MAX_LEN],
    count: usize,
}

impl Collected {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.count) {
            *slot = b;
        }
        self.count += 1;
    }

    fn finish(self) -> Result<PlateText, PlateError> {
        match self.count {
            0 => Err(PlateError::Empty),
            n if n > PlateText::MAX_LEN => Err(PlateError::TooLong(n)),
            n => Ok(PlateText::from_canonical(&self.bytes[..n])),
        }
    }
}

/// Separators in ASCII input: whitespace and the punctuation printed or typed between groups.
fn is_ascii_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C' | b'-' | b'.' | b'_' | b'/' | b'|')
}

/// Separators outside ASCII: Unicode spaces, middle dots and bullets, hyphens and dashes, and the
/// invisible characters that change nothing a reader sees (zero-width space and joiners, word
/// joiner, byte-order mark, soft hyphen, left-to-right and right-to-left marks).
///
/// The bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) are *not*
/// separators: they make the order a person saw differ from the stored order, so [`clean`]
/// refuses them.
fn is_unicode_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' // soft hyphen
                | '\u{00B7}' // middle dot ·
                | '\u{061C}' // Arabic letter mark
                | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner, LRM, RLM
                | '\u{2010}'..='\u{2015}' // hyphens and dashes
                | '\u{2022}' // bullet •
                | '\u{2027}' // hyphenation point ‧
                | '\u{2043}' // hyphen bullet ⁃
                | '\u{2060}' // word joiner
                | '\u{2212}' // minus sign −
                | '\u{2219}' // bullet operator ∙
                | '\u{22C5}' // dot operator ⋅
                | '\u{30FB}' // katakana middle dot ・
                | '\u{FEFF}' // byte-order mark, zero-width no-break space
                | '\u{FF0D}' // fullwidth hyphen-minus －
                | '\u{FF0E}' // fullwidth full stop ．
                | '\u{FF0F}' // fullwidth solidus ／
                | '\u{FF3F}' // fullwidth low line ＿
                | '\u{FF5C}' // fullwidth vertical line ｜
        )
}

/// Letters of other scripts that look like a Latin letter, and letters without a canonical
/// decomposition that fold to Latin ones; `None` for anything else.
///
/// * Cyrillic А В Е І К М Н О Р С Т Х, the twelve letters Ukrainian, Bulgarian and Russian plates
///   share with Latin, in both cases; У→Y, which Bulgarian plates use; Ј→J and Ѕ→S (Serbian and
///   Macedonian Cyrillic). Ї, Ё and Ў are І, Е and У with a diaeresis or breve and so fold to I, E
///   and Y through their decomposition, like any accented Latin letter; a reader who typed Ї for
///   the І on a plate meant I.
/// * Greek capitals Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ, the letters Greek plates use (only capitals:
///   Greek small letters do not look Latin).
/// * Latin letters with a stroke or ligatures, which Unicode does not decompose: Đ Ð Ł Ø Ħ Ŧ Ŀ ı
///   fold to their base letter, ß and ẞ to SS, Æ to AE, Œ to OE.
fn fold_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'А' | 'а' | 'Α' => "A",
        'В' | 'в' | 'Β' => "B",
        'Е' | 'е' | 'Ε' => "E",
        'І' | 'і' | 'Ι' | 'ı' => "I",
        'К' | 'к' | 'Κ' => "K",
        'М' | 'м' | 'Μ' => "M",
        'Н' | 'н' | 'Η' | 'Ħ' | 'ħ' => "H",
        'О' | 'о' | 'Ο' | 'Ø' | 'ø' => "O",
        'Р' | 'р' | 'Ρ' => "P",
        'С' | 'с' => "C",
        'Т' | 'т' | 'Τ' | 'Ŧ' | 'ŧ' => "T",
        'Х' | 'х' | 'Χ' => "X",
        'У' | 'у' | 'Υ' => "Y",
        'Ј' | 'ј' => "J",
        'Ѕ' | 'ѕ' => "S",
        'Ζ' => "Z",
        'Ν' => "N",
        'Đ' | 'đ' | 'Ð' | 'ð' => "D",
        'Ł' | 'ł' | 'Ŀ' | 'ŀ' => "L",
        'ß' | 'ẞ' => "SS",
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' => "OE",
        _ => return None,
    })
}

/// The plate characters a non-ASCII `c` stands for, after folding fullwidth forms, look-alikes
/// and diacritics (canonical decomposition, then dropping the combining marks).
fn fold_char(c: char) -> Option<&'static str> {
    const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let ascii = |b: u8| -> Option<&'static str> {
        let i = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 10,
            _ => return None,
        } as usize;
        ALNUM.get(i..i + 1)
    };
    // Fullwidth forms (U+FF10–U+FF19, U+FF21–U+FF3A, U+FF41–U+FF5A) mirror ASCII at an offset.
    if let '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' = c {
        return ascii((c as u32 - 0xFF00 + 0x20) as u8);
    }
    if let Some(s) = fold_letter(c) {
        return Some(s);
    }
    let mut base = None;
    unicode_normalization::char::decompose_canonical(c, |d| {
        base.get_or_insert(d);
    });
    match base {
        Some(b) if b != c => {
            if b.is_ascii() {
                ascii(b as u8)
            } else {
                fold_letter(b)
            }
        }
        _ => None,
    }
}

/// Upper-cases, strips separators, folds diacritics and maps look-alikes of other scripts to Latin.
///
/// * ASCII letters are upper-cased; separators (spaces of any kind, tab, line breaks, `-` `.` `_`
///   `/` `|`, middle dots, bullets, dashes, zero-width and direction marks) are dropped.
/// * Diacritics are folded: a precomposed letter is decomposed (NFD) and its combining marks are
///   dropped (Č→C, Ő→O, Ä→A), and so are combining marks that follow a letter in the input.
///   Letters that do not decompose fold too: Đ→D, Ł→L, Ø→O, ß→SS, Æ→AE.
/// * Cyrillic look-alikes А В Е І К М Н О Р С Т Х (and У→Y, Ј→J, Ѕ→S) map to Latin in both
///   cases, as do the Greek capitals that look Latin; fullwidth letters and digits map to ASCII.
///
/// Anything else is [`PlateError::BadChar`]: control characters, NUL, emoji and variation
/// selectors, bidirectional overrides, a combining mark that follows no letter, and letters such
/// as Ж or Й that look like no Latin letter. Without any letter or digit the text is
/// [`PlateError::Empty`]; with more than [`PlateText::MAX_LEN`] it is [`PlateError::TooLong`].
/// A bad character is reported even when the text is also too long.
///
/// Input of any length is handled in one pass without allocating more than the result.
///
/// ```
/// use limes_plate::clean;
/// assert_eq!(clean("ča 123-ab").unwrap().as_str(), "CA123AB");
/// assert_eq!(clean("АА 1234 ВВ").unwrap().as_str(), "AA1234BB"); // Cyrillic
/// assert!(clean("AB 1Ж3").is_err());
/// ```
pub fn clean(raw: &str) -> Result<PlateText, PlateError> {
    let mut out = Collected { bytes: [0; PlateText::MAX_LEN], count: 0 };
    if raw.is_ascii() {
        for &b in raw.as_bytes() {
            if b.is_ascii_alphanumeric() {
                out.push(b.to_ascii_uppercase());
            } else if !is_ascii_separator(b) {
                return Err(PlateError::BadChar(b as char));
            }
        }
        return out.finish();
    }
    // Whether the last plate character came from a letter, so that a combining mark may follow.
    let mut after_letter = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase() as u8);
            after_letter = c.is_ascii_alphabetic();
        } else if c.is_ascii() {
            if !is_ascii_separator(c as u8) {
                return Err(PlateError::BadChar(c));
            }
            after_letter = false;
        } else if let Some(s) = fold_char(c) {
            s.bytes().for_each(|b| out.push(b));
            after_letter = s.as_bytes()[0].is_ascii_alphabetic();
        } else if unicode_normalization::char::is_combining_mark(c) {
            if !after_letter {
                return Err(PlateError::BadChar(c));
            }
        } else if is_unicode_separator(c) {
            after_letter = false;
        } else {
            return Err(PlateError::BadChar(c));
        }
    }
    out.finish()
}

/// The look-alike class of a canonical character: O, D and Q read as 0, I as 1, B as 8, S as 5,
/// Z as 2 and G as 6; every other character is its own class. The one table of the OCR
/// confusions that the rest of limes uses.
pub fn lookalike_class(b: u8) -> u8 {
    match b {
        b'O' | b'D' | b'Q' => b'0',
        b'I' => b'1',
        b'B' => b'8',
        b'S' => b'5',
        b'Z' => b'2',
        b'G' => b'6',
        b => b,
    }
}

/// The digit a letter is read as where only a digit may stand: its [`lookalike_class`].
///
/// A→4 and T→7 are deliberately absent: A and T are frequent plate letters, OCR rarely confuses
/// them with 4 and 7 on the plate fonts of the region, and keeping exactly the look-alike classes
/// means a repair never changes a plate's look-alike key.
pub fn letter_to_digit(c: u8) -> Option<u8> {
    let d = lookalike_class(c);
    (c.is_ascii_uppercase() && d.is_ascii_digit()).then_some(d)
}

/// The letter a digit is read as where only a letter may stand (the usual letter of its class).
pub fn digit_to_letter(c: u8) -> Option<u8> {
    Some(match c {
        b'0' => b'O',
        b'1' => b'I',
        b'8' => b'B',
        b'5' => b'S',
        b'2' => b'Z',
        b'6' => b'G',
        _ => return None,
    })
}

/// The character OCR most often reads instead of `c`: a letter's digit or a digit's letter.
pub fn lookalike_swap(c: u8) -> Option<u8> {
    letter_to_digit(c).or_else(|| digit_to_letter(c))
}

/// Folds the characters OCR confuses: O/D/Q→0, I→1, B→8, S→5, Z→2, G→6.
///
/// Two readings of one plate that differ only in these characters share a key, and so does every
/// grammar repair of a reading: [`normalize`](crate::normalize) only ever replaces a character by
/// another of its class.
///
/// ```
/// use limes_plate::{clean, lookalike_key};
/// let a = clean("B 12 ABO").unwrap();
/// let b = clean("8 I2 AB0").unwrap();
/// assert_eq!(lookalike_key(&a), lookalike_key(&b));
/// ```
pub fn lookalike_key(text: &PlateText) -> PlateText {
    let mut bytes = [0u8; PlateText::MAX_LEN];
    let n = text.len().min(PlateText::MAX_LEN);
    for (slot, &b) in bytes.iter_mut().zip(&text.as_bytes()[..n]) {
        *slot = lookalike_class(b);
    }
    PlateText::from_canonical(&bytes[..n])
}
