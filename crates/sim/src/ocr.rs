//! How a reader gets a plate's text wrong: the error model, the cosmetic variations, and the
//! classification of what a read's text suffers.

use limes_plate::{CountryCode, PlateText};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Per-character OCR errors, applied independently to each character of the true plate.
///
/// The default is the matching-quality measurement's model: 2 % look-alike substitution, 0.5 %
/// other substitution, 0.3 % dropped or inserted character.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorModel {
    /// Probability that a character with a look-alike is read as it: O↔0, D→0, Q→0, I↔1, B↔8,
    /// S↔5, Z↔2, G↔6. Characters without a look-alike are never affected.
    pub lookalike: f64,
    /// Probability that a character is read as a different one that is not its look-alike.
    pub other: f64,
    /// Probability that a character is dropped or followed by an extra one (half each).
    pub drop_insert: f64,
}

impl Default for ErrorModel {
    fn default() -> Self {
        ErrorModel { lookalike: 0.02, other: 0.005, drop_insert: 0.003 }
    }
}

impl ErrorModel {
    /// A model that makes no character errors.
    pub const NONE: ErrorModel = ErrorModel { lookalike: 0.0, other: 0.0, drop_insert: 0.0 };

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        crate::check_probability("error_model.lookalike", self.lookalike)?;
        crate::check_probability("error_model.other", self.other)?;
        crate::check_probability("error_model.drop_insert", self.drop_insert)?;
        crate::check_probability(
            "error_model.lookalike + other + drop_insert",
            self.lookalike + self.other + self.drop_insert,
        )
    }
}

/// How a read's text differs in form, not in characters, from the canonical plate: what
/// [`limes_plate::clean`] undoes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Variations {
    /// Share of reads without separators (most ANPR cameras report the bare text).
    pub no_separators: f64,
    /// Share of reads whose separators differ from the printed form (another separator, or one
    /// where the plate has none).
    pub other_separators: f64,
    /// Share of reads in which one or two letters carry a diacritic (Š, Ă, Ž, …).
    pub diacritics: f64,
    /// Share of reads in lower case.
    pub lower_case: f64,
}

impl Default for Variations {
    fn default() -> Self {
        Variations { no_separators: 0.6, other_separators: 0.1, diacritics: 0.02, lower_case: 0.01 }
    }
}

impl Variations {
    /// Every read in the bare canonical form.
    pub const NONE: Variations =
        Variations { no_separators: 1.0, other_separators: 0.0, diacritics: 0.0, lower_case: 0.0 };

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        crate::check_probability("variations.no_separators", self.no_separators)?;
        crate::check_probability("variations.other_separators", self.other_separators)?;
        crate::check_probability("variations.diacritics", self.diacritics)?;
        crate::check_probability("variations.lower_case", self.lower_case)?;
        crate::check_probability(
            "variations.no_separators + other_separators",
            self.no_separators + self.other_separators,
        )
    }
}

/// What a read's text suffers, compared with the true plate.
///
/// Character errors are counted; cosmetic differences are found by looking at the text itself, so
/// they are right whatever the plate grammar's printed form contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadErrors {
    /// Characters read as their look-alike (O↔0, D→0, Q→0, I↔1, B↔8, S↔5, Z↔2, G↔6).
    pub lookalike: u8,
    /// Characters read as another character that is not a look-alike.
    pub other: u8,
    /// Characters missing from the read.
    pub dropped: u8,
    /// Extra characters in the read.
    pub inserted: u8,
    /// The text contains separators (spaces, dashes, dots).
    pub separators: bool,
    /// The text contains lower-case letters.
    pub lower_case: bool,
    /// The text contains Latin letters with diacritics.
    pub diacritics: bool,
    /// The text contains Cyrillic letters (look-alikes of Latin ones).
    pub cyrillic: bool,
}

/// The worst thing a read's text suffers, ordered from harmless to worst.
///
/// `class <= ErrorClass::LookAlike` selects the reads "that differ only by look-alikes,
/// separators, diacritics or Cyrillic".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The text is the canonical plate text, character for character.
    Exact,
    /// Only separators, case, diacritics or Cyrillic look-alikes differ: cleaning gives the plate.
    Cosmetic,
    /// At least one look-alike substitution, and nothing worse.
    LookAlike,
    /// At least one substitution by a character that is not a look-alike, no drop or insert.
    Substitution,
    /// At least one character dropped or inserted.
    DropInsert,
}

impl ReadErrors {
    /// The worst thing the read suffers.
    pub fn class(&self) -> ErrorClass {
        if self.dropped > 0 || self.inserted > 0 {
            ErrorClass::DropInsert
        } else if self.other > 0 {
            ErrorClass::Substitution
        } else if self.lookalike > 0 {
            ErrorClass::LookAlike
        } else if self.is_cosmetic() {
            ErrorClass::Cosmetic
        } else {
            ErrorClass::Exact
        }
    }

    /// Whether the text differs in form (separators, case, diacritics, Cyrillic).
    pub fn is_cosmetic(&self) -> bool {
        self.separators || self.lower_case || self.diacritics || self.cyrillic
    }

    /// How many characters are wrong, missing or extra.
    pub fn character_errors(&self) -> u32 {
        u32::from(self.lookalike) + u32::from(self.other) + u32::from(self.dropped) + u32::from(self.inserted)
    }
}

/// The countries whose readers may report plates in Cyrillic.
pub(crate) const CYRILLIC_COUNTRIES: [CountryCode; 3] = [CountryCode::UA, CountryCode::BG, CountryCode::RS];

const ALPHANUMERIC: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SEPARATORS: [char; 4] = [' ', '-', '·', '.'];

/// The character OCR mistakes `c` for, if any.
pub(crate) fn lookalike_of(c: u8) -> Option<u8> {
    limes_plate::lookalike_swap(c)
}

/// The look-alike class of `c`, as [`limes_plate::lookalike_key`] folds it.
fn fold(c: u8) -> u8 {
    limes_plate::lookalike_class(c)
}

/// The Cyrillic letter that looks like Latin `c` (the twelve shared by UA, BG and RS plates).
pub(crate) fn cyrillic_of(c: char) -> Option<char> {
    Some(match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'I' => 'І',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        _ => return None,
    })
}

/// Letters with diacritics that readers with Central European alphabets produce for `c`; every
/// one decomposes (NFD) into `c` and combining marks.
pub(crate) fn diacritics_of(c: char) -> &'static [char] {
    match c {
        'A' => &['Á', 'Ä', 'Ă', 'Â'],
        'C' => &['Č', 'Ć'],
        'D' => &['Ď'],
        'E' => &['É', 'Ě'],
        'I' => &['Í', 'Î'],
        'N' => &['Ň', 'Ń'],
        'O' => &['Ó', 'Ö'],
        'R' => &['Ř'],
        'S' => &['Š', 'Ș', 'Ś'],
        'T' => &['Ț', 'Ť'],
        'U' => &['Ú', 'Ü', 'Ů'],
        'Y' => &['Ý'],
        'Z' => &['Ž', 'Ź', 'Ż'],
        _ => &[],
    }
}

/// One character of a read being built.
#[derive(Debug, Clone, Copy)]
enum Token {
    /// A plate character.
    Char(char),
    /// A separator of the printed form.
    Separator(char),
}

/// What one read of a plate says, and what it suffers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    pub text: String,
    pub errors: ReadErrors,
}

/// The settings [`render`] needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style<'a> {
    pub errors: &'a ErrorModel,
    pub variations: &'a Variations,
    pub cyrillic_rate: f64,
}

/// Reads `plate` (printed as `printed`) once: character errors, then separators, then script.
pub(crate) fn render<R: rand::Rng + ?Sized>(
    rng: &mut R,
    plate: &PlateText,
    printed: &str,
    country: CountryCode,
    style: Style<'_>,
) -> Rendered {
    let mut counts = ReadErrors::default();
    let model = style.errors;
    let mut length = plate.len();
    let mut tokens = Vec::with_capacity(printed.len() + 2);
    for token in align(plate, printed) {
        let Token::Char(shown) = token else {
            tokens.push(token);
            continue;
        };
        // `align` yields only ASCII upper-case letters and digits as plate characters.
        let truth = shown as u8;
        let u: f64 = rng.random();
        if u < model.drop_insert {
            let drop = rng.random_bool(0.5) || length >= PlateText::MAX_LEN;
            if drop && length > 1 {
                counts.dropped += 1;
                length -= 1;
            } else if !drop {
                tokens.push(token);
                let extra = ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())];
                tokens.push(Token::Char(extra as char));
                counts.inserted += 1;
                length += 1;
            } else {
                tokens.push(token);
            }
        } else if u < model.drop_insert + model.other {
            tokens.push(Token::Char(other_than(rng, truth) as char));
            counts.other += 1;
        } else if u < model.drop_insert + model.other + model.lookalike
            && let Some(lookalike) = lookalike_of(truth)
        {
            tokens.push(Token::Char(lookalike as char));
            counts.lookalike += 1;
        } else {
            tokens.push(token);
        }
    }

    let separators = style.variations;
    let u: f64 = rng.random();
    if u < separators.no_separators {
        tokens.retain(|t| matches!(t, Token::Char(_)));
    } else if u < separators.no_separators + separators.other_separators {
        swap_separators(rng, &mut tokens);
    }

    let mut text: String = tokens
        .iter()
        .map(|t| match *t {
            Token::Char(c) | Token::Separator(c) => c,
        })
        .collect();
    if CYRILLIC_COUNTRIES.contains(&country) && rng.random_bool(style.cyrillic_rate) {
        text = text.chars().map(|c| cyrillic_of(c).unwrap_or(c)).collect();
    } else if rng.random_bool(separators.diacritics) {
        text = add_diacritics(rng, &text);
    } else if rng.random_bool(separators.lower_case) {
        text.make_ascii_lowercase();
    }

    counts.separators = text.chars().any(|c| !c.is_alphanumeric());
    counts.lower_case = text.chars().any(char::is_lowercase);
    counts.cyrillic = text.chars().any(is_cyrillic);
    counts.diacritics = text.chars().any(|c| c.is_alphabetic() && !c.is_ascii() && !is_cyrillic(c));
    Rendered { text, errors: counts }
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// The printed form split into plate characters and separators; the canonical text itself when
/// the printed form does not spell the plate's characters in order.
fn align(plate: &PlateText, printed: &str) -> Vec<Token> {
    let canonical = plate.as_bytes();
    let mut tokens = Vec::with_capacity(printed.len());
    let mut next = 0;
    for c in printed.chars() {
        if c.is_ascii_alphanumeric() {
            if canonical.get(next) != Some(&(c.to_ascii_uppercase() as u8)) {
                break;
            }
            tokens.push(Token::Char(c.to_ascii_uppercase()));
            next += 1;
        } else if c.is_alphanumeric() {
            // Not something the simulator can corrupt faithfully: fall back below.
            break;
        } else {
            tokens.push(Token::Separator(c));
        }
    }
    if next == canonical.len() && tokens.len() == printed.chars().count() {
        tokens
    } else {
        canonical.iter().map(|&b| Token::Char(b as char)).collect()
    }
}

/// A character that is neither `c` nor one of its look-alikes.
fn other_than<R: rand::Rng + ?Sized>(rng: &mut R, c: u8) -> u8 {
    loop {
        let x = ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())];
        if fold(x) != fold(c) {
            return x;
        }
    }
}

/// Replaces each separator with a different one; puts one in the middle when there is none.
fn swap_separators<R: rand::Rng + ?Sized>(rng: &mut R, tokens: &mut Vec<Token>) {
    let mut any = false;
    for t in tokens.iter_mut() {
        if let Token::Separator(c) = *t {
            any = true;
            let choices: Vec<char> = SEPARATORS.iter().copied().filter(|&s| s != c).collect();
            *t = Token::Separator(choices[rng.random_range(0..choices.len())]);
        }
    }
    if !any && tokens.len() >= 2 {
        let at = rng.random_range(1..tokens.len());
        tokens.insert(at, Token::Separator(SEPARATORS[rng.random_range(0..2)]));
    }
}

/// Puts a diacritic on one or two letters that can carry one.
fn add_diacritics<R: rand::Rng + ?Sized>(rng: &mut R, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let candidates: Vec<usize> = (0..chars.len()).filter(|&i| !diacritics_of(chars[i]).is_empty()).collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let count = if candidates.len() > 1 && rng.random_bool(0.3) { 2 } else { 1 };
    for _ in 0..count {
        let i = candidates[rng.random_range(0..candidates.len())];
        let forms = diacritics_of(chars[i]);
        if !forms.is_empty() {
            chars[i] = forms[rng.random_range(0..forms.len())];
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn plate(s: &str) -> PlateText {
        PlateText::new(s).unwrap()
    }

    fn check(printed: &str, canonical: &str, expected: &str) {
        let tokens = align(&plate(canonical), printed);
        let got: String = tokens
            .iter()
            .map(|t| match t {
                Token::Char(c) => *c,
                Token::Separator(_) => '_',
            })
            .collect();
        assert_eq!(got, expected, "align({printed:?}, {canonical:?})");
    }

    #[test]
    fn align_follows_the_printed_form_or_falls_back() {
        check("B 12 ABC", "B12ABC", "B_12_ABC");
        check("AA 1234-BB", "AA1234BB", "AA_1234_BB");
        check("B12ABC", "B12ABC", "B12ABC");
        // A printed form that does not spell the plate: the canonical text.
        check("B 13 ABC", "B12ABC", "B12ABC");
        check("ČA 123-AB", "CA123AB", "CA123AB");
        check("B 12", "B12ABC", "B12ABC");
    }

    #[test]
    fn lookalikes_pair_up_as_the_plate_crate_folds_them() {
        for &c in ALPHANUMERIC {
            if let Some(l) = lookalike_of(c) {
                assert_eq!(fold(c), fold(l), "{} and {}", c as char, l as char);
                let a = limes_plate::lookalike_key(&plate(&(c as char).to_string()));
                let b = limes_plate::lookalike_key(&plate(&(l as char).to_string()));
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn other_substitutions_are_never_lookalikes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &c in ALPHANUMERIC {
            for _ in 0..50 {
                let x = other_than(&mut rng, c);
                assert_ne!(fold(x), fold(c));
            }
        }
    }

    #[test]
    fn no_errors_and_no_variations_give_the_canonical_text() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let style = Style { errors: &ErrorModel::NONE, variations: &Variations::NONE, cyrillic_rate: 0.0 };
        for _ in 0..100 {
            let r = render(&mut rng, &plate("SV12XYZ"), "SV 12 XYZ", CountryCode::RO, style);
            assert_eq!(r.text, "SV12XYZ");
            assert_eq!(r.errors.class(), ErrorClass::Exact);
        }
    }

    #[test]
    fn cyrillic_reads_map_only_lookalike_letters() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let style = Style { errors: &ErrorModel::NONE, variations: &Variations::NONE, cyrillic_rate: 1.0 };
        let r = render(&mut rng, &plate("AX1234BY"), "AX 1234 BY", CountryCode::UA, style);
        assert_eq!(r.text, "АХ1234ВY");
        assert!(r.errors.cyrillic);
        assert_eq!(r.errors.class(), ErrorClass::Cosmetic);
        // Not for a Romanian plate.
        let r = render(&mut rng, &plate("AX1234BY"), "AX 1234 BY", CountryCode::RO, style);
        assert_eq!(r.text, "AX1234BY");
    }

    #[test]
    fn printed_separators_survive_unless_varied() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let keep = Variations { no_separators: 0.0, ..Variations::NONE };
        let style = Style { errors: &ErrorModel::NONE, variations: &keep, cyrillic_rate: 0.0 };
        let r = render(&mut rng, &plate("B12ABC"), "B 12 ABC", CountryCode::RO, style);
        assert_eq!(r.text, "B 12 ABC");
        assert_eq!(r.errors.class(), ErrorClass::Cosmetic);
        let swap = Variations { no_separators: 0.0, other_separators: 1.0, ..Variations::NONE };
        let style = Style { errors: &ErrorModel::NONE, variations: &swap, cyrillic_rate: 0.0 };
        for _ in 0..20 {
            let r = render(&mut rng, &plate("B12ABC"), "B 12 ABC", CountryCode::RO, style);
            assert_eq!(r.text.len() - r.text.chars().filter(|c| !c.is_ascii()).count(), 8, "{:?}", r.text);
            assert!(!r.text.contains(' '), "{:?}", r.text);
            let r = render(&mut rng, &plate("B12ABC"), "B12ABC", CountryCode::RO, style);
            assert_eq!(r.text.chars().count(), 7, "{:?}", r.text);
            assert!(r.errors.separators);
        }
    }
}
