//! Plate patterns with `*` (any run of characters) and `?` (exactly one).

use std::fmt;

use limes_plate::{PlateError, PlateText, clean};

/// Why a wildcard pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WildcardError {
    /// Nothing of the pattern was a letter, a digit, `*` or `?`.
    #[error("wildcard pattern is empty")]
    Empty,
    /// The pattern has no letter or digit, so it would match every plate of some length.
    #[error("wildcard pattern {0:?} has no letter or digit and would match every plate")]
    NoLiteral(String),
    /// The pattern needs more characters than any plate has.
    #[error("wildcard pattern needs at least {0} characters, more than the {max} a plate may have", max = PlateText::MAX_LEN)]
    TooLong(usize),
    /// The pattern as typed is longer than any sensible pattern.
    #[error("wildcard pattern has {0} characters, more than the {max} allowed", max = Wildcard::MAX_INPUT_CHARS)]
    InputTooLong(usize),
    /// A character that is neither a letter, a digit, a separator, `*` nor `?`.
    #[error("wildcard pattern contains {0:?}, which is not a letter, digit, separator, * or ?")]
    BadChar(char),
    /// A literal run that plate cleaning refused for another reason.
    #[error("wildcard pattern: {0}")]
    Literal(PlateError),
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// This canonical byte.
    Literal(u8),
    /// Any one character.
    One,
    /// Any run of characters, possibly empty.
    Any,
}

/// A plate pattern: letters and digits match themselves, `?` any one character and
/// `*` any run of characters.
///
/// Literal runs are cleaned as plate text is (lower case, separators, Cyrillic
/// look-alikes), so `b-12*abc` and `B12*ABC` are the same pattern.
///
/// ```
/// use limes_hotlist::Wildcard;
/// let w = Wildcard::parse("B*12?ABC").unwrap();
/// assert!(w.matches(b"B0712XABC"));
/// assert!(w.matches(b"B12XABC"));
/// assert!(!w.matches(b"B12ABC"));
/// assert!(Wildcard::parse("**").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Wildcard {
    tokens: Vec<Token>,
    /// The fewest characters a matching text has.
    min_len: usize,
    /// Whether the pattern holds a `*`.
    open: bool,
}

impl Wildcard {
    /// The longest pattern accepted as typed, separators included.
    pub const MAX_INPUT_CHARS: usize = 64;

    /// Parses a pattern as an investigator types it.
    pub fn parse(pattern: &str) -> Result<Self, WildcardError> {
        let chars = pattern.chars().count();
        if chars > Self::MAX_INPUT_CHARS {
            return Err(WildcardError::InputTooLong(chars));
        }
        let mut tokens = Vec::new();
        let push_run = |run: &str, tokens: &mut Vec<Token>| -> Result<(), WildcardError> {
            match clean(run) {
                Ok(text) => tokens.extend(text.as_bytes().iter().map(|&b| Token::Literal(b))),
                Err(PlateError::Empty) => {}
                Err(PlateError::BadChar(c)) => return Err(WildcardError::BadChar(c)),
                // A literal run longer than a plate: count what it needs.
                Err(PlateError::TooLong(n)) => return Err(WildcardError::TooLong(n)),
                Err(other) => return Err(WildcardError::Literal(other)),
            }
            Ok(())
        };
        let mut run_start = 0;
        for (i, c) in pattern.char_indices() {
            if c == '*' || c == '?' {
                push_run(&pattern[run_start..i], &mut tokens)?;
                run_start = i + c.len_utf8();
                match c {
                    // Consecutive stars mean what one star means.
                    '*' if tokens.last() == Some(&Token::Any) => {}
                    '*' => tokens.push(Token::Any),
                    _ => tokens.push(Token::One),
                }
            }
        }
        push_run(&pattern[run_start..], &mut tokens)?;
        if tokens.is_empty() {
            return Err(WildcardError::Empty);
        }
        if !tokens.iter().any(|t| matches!(t, Token::Literal(_))) {
            return Err(WildcardError::NoLiteral(pattern.to_owned()));
        }
        let min_len = tokens.iter().filter(|t| !matches!(t, Token::Any)).count();
        if min_len > PlateText::MAX_LEN {
            return Err(WildcardError::TooLong(min_len));
        }
        let open = tokens.contains(&Token::Any);
        Ok(Self { tokens, min_len, open })
    }

    /// Whether `text` (canonical plate bytes) matches the whole pattern.
    ///
    /// Runs in `O(len(text) × len(pattern))` at worst: on a mismatch the last `*`
    /// absorbs one more character, and earlier stars are never revisited.
    pub fn matches(&self, text: &[u8]) -> bool {
        if text.len() < self.min_len || (!self.open && text.len() != self.min_len) {
            return false;
        }
        let tokens = &self.tokens;
        let (mut t, mut p) = (0, 0);
        // After the last `*` seen: the token after it and the text position it resumes from.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match tokens.get(p) {
                Some(Token::One) => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Literal(b)) if *b == text[t] => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Any) => {
                    p += 1;
                    star = Some((p, t));
                }
                _ => match star {
                    Some((after, from)) => {
                        p = after;
                        t = from + 1;
                        star = Some((after, from + 1));
                    }
                    None => return false,
                },
            }
        }
        tokens[p..].iter().all(|t| *t == Token::Any)
    }

    /// The characters the pattern fixes by their distance from the start of the
    /// text (or from its end, `from_end`, nearest first): its tokens up to the
    /// first (last) `*`, `None` for a `?`.
    pub(crate) fn anchored(&self, from_end: bool) -> Vec<Option<u8>> {
        let fixed = |t: &Token| match t {
            Token::Literal(b) => Some(Some(*b)),
            Token::One => Some(None),
            Token::Any => None,
        };
        if from_end {
            self.tokens.iter().rev().map_while(fixed).collect()
        } else {
            self.tokens.iter().map_while(fixed).collect()
        }
    }

    /// The most characters a matching text has.
    pub(crate) fn max_len(&self) -> usize {
        if self.open { PlateText::MAX_LEN } else { self.min_len }
    }

    /// The fewest characters a matching text has.
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// The literal characters of the pattern, in order.
    pub(crate) fn literal_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.tokens.iter().filter_map(|t| match t {
            Token::Literal(b) => Some(*b),
            _ => None,
        })
    }
}

impl fmt::Display for Wildcard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for token in &self.tokens {
            match token {
                Token::Literal(b) => write!(f, "{}", char::from(*b))?,
                Token::One => f.write_str("?")?,
                Token::Any => f.write_str("*")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Wildcard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wildcard({self})")
    }
}

impl std::str::FromStr for Wildcard {
    type Err = WildcardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_parse(input: &str, expected: Result<&str, WildcardError>) {
        assert_eq!(Wildcard::parse(input).map(|w| w.to_string()), expected.map(str::to_owned), "{input:?}");
    }

    #[test]
    fn parsing() {
        check_parse("B*12?ABC", Ok("B*12?ABC"));
        check_parse("b-12 * abc", Ok("B12*ABC"));
        check_parse("B***12", Ok("B*12"));
        check_parse("?*B", Ok("?*B"));
        check_parse("", Err(WildcardError::Empty));
        check_parse(" - ", Err(WildcardError::Empty));
        check_parse("***", Err(WildcardError::NoLiteral("***".into())));
        check_parse("?*?", Err(WildcardError::NoLiteral("?*?".into())));
        check_parse("B12#ABC", Err(WildcardError::BadChar('#')));
        check_parse("B*(", Err(WildcardError::BadChar('(')));
        check_parse("ABCDEFGHIJKLM", Err(WildcardError::TooLong(13)));
        check_parse("ABCDEF?GHIJKL", Err(WildcardError::TooLong(13)));
        check_parse("ABCDEF*GHIJKL", Ok("ABCDEF*GHIJKL"));
        check_parse(&"*A".repeat(40), Err(WildcardError::InputTooLong(80)));
        check_parse(&"A".repeat(1 << 20), Err(WildcardError::InputTooLong(1 << 20)));
        check_parse("A\0B", Err(WildcardError::BadChar('\0')));
        check_parse("A*\u{202e}B", Err(WildcardError::BadChar('\u{202e}')));
        check_parse("*A*A*A*A*A*A*A*A*A*A*A*A*", Ok("*A*A*A*A*A*A*A*A*A*A*A*A*"));
        check_parse("*A*A*A*A*A*A*A*A*A*A*A*A*A*", Err(WildcardError::TooLong(13)));
    }

    fn check_match(pattern: &str, text: &str, expected: bool) {
        let w = Wildcard::parse(pattern).unwrap();
        assert_eq!(w.matches(text.as_bytes()), expected, "{pattern:?} on {text:?}");
    }

    #[test]
    fn matching() {
        check_match("B*12?ABC", "B12XABC", true);
        check_match("B*12?ABC", "BB12XABC", true);
        check_match("B*12?ABC", "B12ABC", false);
        check_match("B*12?ABC", "B12XABCD", false);
        check_match("*ABC", "ABC", true);
        check_match("*ABC", "ABABC", true);
        check_match("A*", "A", true);
        check_match("A*", "BA", false);
        check_match("A?C", "ABC", true);
        check_match("A?C", "AC", false);
        check_match("*A*A*A*", "AAA", true);
        check_match("*A*A*A*", "AA", false);
    }

    /// The definition, by recursion: slow but obviously right.
    fn reference(tokens: &[Token], text: &[u8]) -> bool {
        match tokens.split_first() {
            None => text.is_empty(),
            Some((Token::Any, rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..])),
            Some((Token::One, rest)) => !text.is_empty() && reference(rest, &text[1..]),
            Some((Token::Literal(b), rest)) => text.first() == Some(b) && reference(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in "\\PC{0,80}") {
            let _ = Wildcard::parse(&input);
        }

        #[test]
        fn matches_agrees_with_reference(pattern in "[AB0?*]{1,16}", text in "[AB0]{0,12}") {
            if let Ok(w) = Wildcard::parse(&pattern) {
                prop_assert_eq!(w.matches(text.as_bytes()), reference(&w.tokens, text.as_bytes()));
            }
        }

        #[test]
        fn anchored_characters_hold_in_every_match(pattern in "[AB0?*]{1,10}", text in "[AB0]{1,10}") {
            if let Ok(w) = Wildcard::parse(&pattern)
                && w.matches(text.as_bytes())
            {
                let fits = |anchored: Vec<Option<u8>>, bytes: &mut dyn Iterator<Item = &u8>| {
                    anchored.iter().zip(bytes).all(|(c, b)| c.is_none_or(|c| c == *b))
                };
                prop_assert!(fits(w.anchored(false), &mut text.as_bytes().iter()));
                prop_assert!(fits(w.anchored(true), &mut text.as_bytes().iter().rev()));
                prop_assert!((w.min_len()..=w.max_len()).contains(&text.len()));
            }
        }

        #[test]
        fn hostile_patterns_match_correctly(stars in 1usize..30, tail in "[AB]{0,4}") {
            let pattern = format!("{}{tail}C", "*A".repeat(stars));
            if let Ok(w) = Wildcard::parse(&pattern) {
                prop_assert!(!w.matches(b"AAAAAAAAAAAB"));
                prop_assert_eq!(w.matches(b"AAAAAAAAAAAC"), reference(&w.tokens, b"AAAAAAAAAAAC"));
            }
        }
    }
}
