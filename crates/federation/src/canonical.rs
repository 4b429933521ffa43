//! The bytes a signature covers.
//!
//! Written by hand because it is ten lines and must never change: a domain string, then each
//! field as a 4-byte big-endian length and its bytes. Length prefixes make the encoding
//! unambiguous (no field can bleed into the next), and the domain string keeps a signature
//! over one kind of thing from being valid for another. A JSON canonicalisation (RFC 8785)
//! would also do, at the price of tying signatures to a serialiser's number formatting.

pub(crate) fn signed_bytes(domain: &str, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domain.len() + 1 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    out.extend_from_slice(domain.as_bytes());
    out.push(0);
    for f in fields {
        let len = u32::try_from(f.len()).expect("signed fields are far below 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::signed_bytes;

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        assert_ne!(signed_bytes("d", &[b"ab", b"c"]), signed_bytes("d", &[b"a", b"bc"]));
        assert_ne!(signed_bytes("d", &[b"a"]), signed_bytes("e", &[b"a"]));
        assert_eq!(signed_bytes("d", &[b"xy"]), b"d\0\0\0\0\x02xy");
    }
}
