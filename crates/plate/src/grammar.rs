//! Per-country plate grammars. (Stub: to be filled in.)

use crate::{CountryCode, PlateText};

/// The countries with a grammar of their own; others use the generic fallback.
pub const KNOWN: [CountryCode; 10] = [
    CountryCode::RO,
    CountryCode::UA,
    CountryCode::RS,
    CountryCode::CZ,
    CountryCode::PL,
    CountryCode::HU,
    CountryCode::MD,
    CountryCode::SK,
    CountryCode::BG,
    CountryCode::DE,
];

/// One format of a country's plates.
#[derive(Debug)]
pub struct Format {
    /// `L` a letter, `N` a digit; other characters are separators in the display form.
    pub pattern: &'static str,
}

impl Format {
    /// Generates a valid plate of this format; `pick(n)` must return a number in `0..n`.
    pub fn generate(&self, pick: &mut dyn FnMut(usize) -> usize) -> PlateText {
        let s: String = self
            .pattern
            .chars()
            .filter_map(|c| match c {
                'L' => Some((b'A' + pick(26) as u8) as char),
                'N' => Some((b'0' + pick(10) as u8) as char),
                _ => None,
            })
            .collect();
        PlateText::new(&s).expect("pattern yields canonical text")
    }

    /// The plate as it is printed, with this format's separators.
    pub fn display(&self, text: &PlateText) -> String {
        text.as_str().to_owned()
    }
}

static GENERIC: [Format; 1] = [Format { pattern: "LLNNNLL" }];

/// The formats of a country's current plates (generic ones for unknown countries).
pub fn formats(_country: CountryCode) -> &'static [Format] {
    &GENERIC
}
