//! The PRF inputs of a plate: the only place that decides what is hashed.
//!
//! `limes-hitquery/v1\0exact\0<plate>` and `limes-hitquery/v1\0folded\0<look-alike key>`, where
//! the plate is a canonical [`PlateText`] (`A-Z0-9`, never a NUL) and the look-alike key is
//! [`limes_plate::lookalike_key`] of it. The form names differ before any plate byte, so an exact
//! input never equals a folded one, even for a plate that is its own look-alike key.
//!
//! The country is deliberately not part of either input: the partner's cameras often read no
//! country or guess it, so a country in the input would turn sightings into misses, while it adds
//! nothing to what an asker has to guess (a handful of plausible countries). A plate text that
//! exists in two countries gives a hit that the full-data request then resolves.

use limes_plate::{PlateText, lookalike_key};

const EXACT: &[u8] = b"limes-hitquery/v1\0exact\0";
const FOLDED: &[u8] = b"limes-hitquery/v1\0folded\0";

/// The input of the exact form.
pub fn exact(plate: &PlateText) -> Vec<u8> {
    [EXACT, plate.as_bytes()].concat()
}

/// The input of the look-alike-folded form.
pub fn folded(plate: &PlateText) -> Vec<u8> {
    [FOLDED, lookalike_key(plate).as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_pinned() {
        let plate = PlateText::new("B0123").unwrap();
        assert_eq!(exact(&plate), b"limes-hitquery/v1\0exact\0B0123");
        assert_eq!(folded(&plate), b"limes-hitquery/v1\0folded\080123");
        assert_eq!(folded(&PlateText::new("8O123").unwrap()), folded(&plate));
        assert_ne!(exact(&PlateText::new("8O123").unwrap()), exact(&plate));
    }
}
