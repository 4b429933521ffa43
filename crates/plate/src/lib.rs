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
//! * [`grammar`] holds the per-country [`Format`](grammar::Format)s as data; a format
//!   generates valid plates and prints a text with its country's separators ([`display`]).
//! * [`lookalike_key`] folds the characters OCR confuses (O/0/D/Q, I/1, B/8, S/5,
//!   Z/2, G/6) so that two readings of the same plate share a key.
//! * [`PlateKey`] packs a canonical text into a `u64` for fast hashing.
//!
//! ```
//! use limes_plate::{display, normalize, CountryCode};
//! let n = normalize("b 12 abc", Some(CountryCode::RO)).unwrap();
//! assert_eq!(n.text.as_str(), "B12ABC");
//! assert!(n.valid);
//! assert_eq!(display(&n.text, CountryCode::RO), "B 12 ABC");
//!
//! // An O where Romania allows only digits is a 0.
//! let n = normalize("CJ O7 ABC", Some(CountryCode::RO)).unwrap();
//! assert_eq!((n.text.as_str(), n.repaired), ("CJ07ABC", true));
//!
//! // Without a country, the countries whose grammar accepts the text, best first.
//! let n = normalize("АА 1234 ВХ", None).unwrap(); // Cyrillic
//! assert_eq!(n.candidates[0].country, CountryCode::UA);
//! ```

mod text;

pub mod grammar;

pub use text::{
    CountryCode, PlateError, PlateKey, PlateText, clean, digit_to_letter, letter_to_digit, lookalike_class,
    lookalike_key, lookalike_swap,
};

use grammar::{KNOWN, Reading};

/// The result of normalising one plate reading.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Normalized {
    /// The canonical text: for a given country, repaired by that country's grammar when it is
    /// valid; otherwise the [`clean`]ed text.
    pub text: PlateText,
    /// The country the text was normalised for: the given one, or `None` (see `candidates`).
    pub country: Option<CountryCode>,
    /// With a country: whether `text` is a valid plate of it. Without: whether any country's
    /// grammar accepts the text (`candidates` is not empty).
    pub valid: bool,
    /// Whether grammar repair changed any character of `text`.
    pub repaired: bool,
    /// With a country: formats fit with equally few repairs but read differently, so nothing was
    /// repaired and the text is not valid.
    pub ambiguous: bool,
    /// Without a given country: the [`grammar::KNOWN`] countries whose grammar accepts the text,
    /// best first. Empty when a country was given.
    pub candidates: Vec<Candidate>,
}

/// A country whose grammar accepts a plate text, with a score in `0.0..=1.0`.
///
/// The score is `w × 0.5^r` for `r` repaired characters, where `w` is 1.0 when the plate's
/// region code is in a complete list (Romanian counties, Ukrainian regions, Czech regions,
/// Slovak districts, Bulgarian provinces), 0.9 when it is in a partial list (Serbian cities,
/// Moldovan and German districts), and 0.8 when no region code list backs the reading (Hungary,
/// Poland, Moldova's national series, Slovakia's 2023 series, an unlisted code).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// The country whose grammar accepts the text.
    pub country: CountryCode,
    /// The text as repaired by this country's grammar.
    pub text: PlateText,
    /// How strongly the text reads as a plate of `country`, in `0.0..=1.0`.
    pub score: f32,
}

/// Normalises a raw plate reading, for `country` when it is known.
///
/// With a country, the text is [`clean`]ed and read with that country's formats (the generic
/// ones for a country not in [`grammar::KNOWN`]): the format needing the fewest repairs wins, and
/// its repaired text is the result. When two formats fit equally well but read differently the
/// text is left as it is and marked `ambiguous`; when none fits it is left as it is and not
/// `valid`.
///
/// A repair replaces a character by its look-alike where the format allows only the other kind:
/// O, D, Q→0, I→1, B→8, S→5, Z→2, G→6 in digit positions, and 0→O, 1→I, 8→B, 5→S, 2→Z, 6→G in
/// letter positions. Positions that allow both are never repaired, a reading may repair at most
/// [`grammar::MAX_REPAIRS`] characters, and a repaired reading needs a listed region code where
/// the format's list is partial. A repair never changes the text's [`lookalike_key`].
///
/// Without a country, `text` is the cleaned text and `candidates` lists every known country
/// whose grammar reads it unambiguously, with that country's repaired text, best score first
/// (ties in [`grammar::KNOWN`] order).
///
/// Errors are those of [`clean`].
pub fn normalize(raw: &str, country: Option<CountryCode>) -> Result<Normalized, PlateError> {
    let mut text = clean(raw)?;
    let (mut valid, mut repaired, mut ambiguous, mut candidates) = (false, false, false, Vec::new());
    match country {
        Some(country) => match grammar::read(country, text.as_bytes()) {
            Reading::Valid { text: read, fit, .. } => {
                valid = true;
                repaired = fit.repairs > 0;
                if repaired {
                    text.overwrite(&read[..text.len()]);
                }
            }
            Reading::Ambiguous => ambiguous = true,
            Reading::Invalid => {}
        },
        None => {
            let kinds = grammar::Kinds::of(text.as_bytes());
            for country in KNOWN {
                if let Reading::Valid { text: read, fit, .. } = grammar::read_kinds(country, text.as_bytes(), kinds) {
                    candidates.push(Candidate {
                        country,
                        text: PlateText::from_canonical(&read[..text.len()]),
                        score: fit.evidence.weight() * 0.5f32.powi(fit.repairs.into()),
                    });
                }
            }
            // A stable sort keeps KNOWN order among equal scores.
            candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
            valid = !candidates.is_empty();
        }
    }
    Ok(Normalized { text, country, valid, repaired, ambiguous, candidates })
}

/// Prints a canonical text as `country` writes it ("B 12 ABC", "AA 1234 BB", "M-AB 123"), with
/// the separators of the best format that accepts it unrepaired; a text no format accepts is
/// returned as it is.
pub fn display(text: &PlateText, country: CountryCode) -> String {
    match grammar::read(country, text.as_bytes()) {
        Reading::Valid { fit, format, .. } if fit.repairs == 0 => format.display(text),
        _ => text.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests;
