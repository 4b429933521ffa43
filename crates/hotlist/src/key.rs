//! Canonical plate text packed into a `u64`, look-alike folding and symbol sets.
//!
//! The crate keeps its own base-37 codec instead of relying on the layout of
//! [`limes_plate::PlateKey`], because it also needs to unpack keys and to order
//! them; nothing outside this crate ever sees a packed key.

use std::sync::LazyLock;

use limes_plate::{PlateText, lookalike_key};

/// The longest canonical text, in bytes.
pub(crate) const MAX_LEN: usize = PlateText::MAX_LEN;

/// `POW37[n]` is `37^n`; a packed text of `n` characters is below it.
pub(crate) const POW37: [u64; MAX_LEN + 1] = {
    let mut p = [1u64; MAX_LEN + 1];
    let mut i = 1;
    while i <= MAX_LEN {
        p[i] = p[i - 1] * 37;
        i += 1;
    }
    p
};

/// The base-37 digit of a canonical byte: `0-9` are 1..=10 and `A-Z` 11..=36.
///
/// Digit 0 never occurs, so texts of different lengths never share a key, and
/// keys order texts by length first, then byte-wise (digits before letters, as
/// in ASCII).
#[inline]
fn digit(byte: u8) -> u64 {
    debug_assert!(byte.is_ascii_digit() || byte.is_ascii_uppercase(), "not canonical: {byte}");
    match byte {
        b'0'..=b'9' => u64::from(byte - b'0') + 1,
        _ => u64::from(byte.wrapping_sub(b'A')) + 11,
    }
}

/// The canonical byte of a base-37 digit (1..=36).
const BYTE_OF_DIGIT: [u8; 37] = *b"?0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Packs canonical bytes (`A-Z0-9`, at most [`MAX_LEN`]); the empty text packs to 0.
#[inline]
pub(crate) fn pack(bytes: &[u8]) -> u64 {
    debug_assert!(bytes.len() <= MAX_LEN);
    bytes.iter().fold(0u64, |k, &b| k * 37 + digit(b))
}

/// A canonical text unpacked onto the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    buf: [u8; MAX_LEN],
    len: u8,
}

impl Unpacked {
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub(crate) fn to_plate(self) -> PlateText {
        // Every byte came from `BYTE_OF_DIGIT[1..]`, and there are at most 12.
        let text = std::str::from_utf8(self.as_bytes()).unwrap_or_default();
        PlateText::new(text).expect("an unpacked key is canonical text")
    }
}

/// Unpacks a key made by [`pack`].
#[inline]
pub(crate) fn unpack(mut key: u64) -> Unpacked {
    let mut rev = [0u8; MAX_LEN];
    let mut len = 0;
    while key != 0 && len < MAX_LEN {
        rev[len] = BYTE_OF_DIGIT[(key % 37) as usize];
        key /= 37;
        len += 1;
    }
    let mut buf = [0u8; MAX_LEN];
    for i in 0..len {
        buf[i] = rev[len - 1 - i];
    }
    Unpacked { buf, len: len as u8 }
}

/// The bytes of a packed text from the last to the first, without unpacking it whole.
#[inline]
pub(crate) fn bytes_reversed(mut key: u64) -> impl Iterator<Item = u8> {
    std::iter::from_fn(move || {
        if key == 0 {
            return None;
        }
        let b = BYTE_OF_DIGIT[(key % 37) as usize];
        key /= 37;
        Some(b)
    })
}

/// The number of characters of a packed text.
#[inline]
pub(crate) fn len_of(key: u64) -> usize {
    POW37.iter().position(|&p| key < p).unwrap_or(MAX_LEN + 1)
}

/// The look-alike fold of each byte, taken from [`lookalike_key`] one character at a
/// time so that this crate folds exactly as `limes-plate` does.
static FOLD: LazyLock<[u8; 256]> = LazyLock::new(|| {
    let mut table = [0u8; 256];
    for (b, slot) in table.iter_mut().enumerate() {
        *slot = b as u8;
    }
    for &b in BYTE_OF_DIGIT[1..].iter() {
        let single = PlateText::new(std::str::from_utf8(&[b]).unwrap_or("0")).expect("one canonical character");
        let folded = lookalike_key(&single);
        // A fold that is not one character for one would break per-character
        // folding; the `fold_matches_lookalike_key` test guards against it.
        if let [f] = folded.as_bytes() {
            table[usize::from(b)] = *f;
        }
    }
    table
});

/// The look-alike fold of one canonical byte.
#[inline]
pub(crate) fn fold_byte(byte: u8) -> u8 {
    FOLD[usize::from(byte)]
}

/// The packed look-alike fold of canonical bytes: `pack(lookalike_key(text))`.
#[inline]
pub(crate) fn fold_key(bytes: &[u8]) -> u64 {
    let fold = &*FOLD;
    bytes.iter().fold(0u64, |k, &b| k * 37 + digit(fold[usize::from(b)]))
}

/// The set of symbols in canonical bytes, one bit per base-37 digit.
#[inline]
pub(crate) fn symbols(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |m, &b| m | 1 << digit(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canonical() -> impl Strategy<Value = String> {
        "[A-Z0-9]{1,12}"
    }

    proptest! {
        #[test]
        fn pack_round_trips(text in canonical()) {
            let key = pack(text.as_bytes());
            let unpacked = unpack(key);
            prop_assert_eq!(unpacked.as_bytes(), text.as_bytes());
            prop_assert_eq!(len_of(key), text.len());
            let rev: Vec<u8> = bytes_reversed(key).collect();
            let mut expected = text.as_bytes().to_vec();
            expected.reverse();
            prop_assert_eq!(rev, expected);
        }

        #[test]
        fn keys_order_by_length_then_bytes(a in canonical(), b in canonical()) {
            let by_key = pack(a.as_bytes()).cmp(&pack(b.as_bytes()));
            let by_text = (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes()));
            prop_assert_eq!(by_key, by_text);
        }

        #[test]
        fn fold_matches_lookalike_key(text in canonical()) {
            let plate = PlateText::new(&text).unwrap();
            prop_assert_eq!(fold_key(text.as_bytes()), pack(lookalike_key(&plate).as_bytes()));
        }
    }

    #[test]
    fn empty_text_packs_to_zero() {
        assert_eq!(pack(b""), 0);
        assert_eq!(unpack(0).as_bytes(), b"");
        assert_eq!(len_of(0), 0);
    }

    #[test]
    fn longest_text_fits() {
        let key = pack(b"ZZZZZZZZZZZZ");
        assert_eq!(key, POW37[12] - 1);
        assert_eq!(unpack(key).as_bytes(), b"ZZZZZZZZZZZZ");
    }
}
