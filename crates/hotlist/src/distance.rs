//! Bounded Levenshtein distance.
//!
//! Plates are short (at most 12 characters), so the distance of two texts is
//! computed with Myers' bit-parallel algorithm in the form Hyyrö gives for the
//! global edit distance: one 64-bit word holds a whole DP column, and each text
//! character costs a dozen word operations. Patterns longer than 64 bytes fall
//! back to a DP restricted to the diagonal band of width `2k + 1` (Ukkonen).

/// The Levenshtein distance of `a` and `b` (insertions, deletions and substitutions
/// of single bytes) if it is at most `k`, else `None`.
///
/// ```
/// use limes_hotlist::levenshtein_within;
/// assert_eq!(levenshtein_within(b"B123ABC", b"B12ABC", 2), Some(1));
/// assert_eq!(levenshtein_within(b"B123ABC", b"CJ07XYZ", 2), None);
/// ```
pub fn levenshtein_within(a: &[u8], b: &[u8], k: u8) -> Option<u8> {
    if a.len().abs_diff(b.len()) > usize::from(k) {
        return None;
    }
    // A common prefix and suffix never change the distance.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        // The length check above already bounds this by `k`.
        return Some(long.len() as u8);
    }
    if short.len() > 64 {
        return banded(short, long, usize::from(k));
    }
    let mut peq = [0u64; 256];
    for (i, &b) in short.iter().enumerate() {
        peq[usize::from(b)] |= 1 << i;
    }
    myers(&peq, short.len(), long.len(), long.iter().copied(), k)
}

/// A pattern prepared for many bounded Levenshtein comparisons against it.
///
/// Preparing costs a 2 KiB table; each comparison then costs a few word
/// operations per byte of the text when the pattern has at most 64 bytes.
#[derive(Clone)]
pub struct EditMatcher {
    pattern: Vec<u8>,
    k: u8,
    /// For each byte value, the bit set of the pattern positions holding it.
    peq: Box<[u64; 256]>,
}

impl std::fmt::Debug for EditMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EditMatcher").field("pattern", &self.pattern).field("k", &self.k).finish()
    }
}

impl EditMatcher {
    /// Prepares `pattern` for comparisons bounded by `k` edits.
    pub fn new(pattern: &[u8], k: u8) -> Self {
        let mut peq = Box::new([0u64; 256]);
        if pattern.len() <= 64 {
            for (i, &b) in pattern.iter().enumerate() {
                peq[usize::from(b)] |= 1 << i;
            }
        }
        Self { pattern: pattern.to_vec(), k, peq }
    }

    /// The distance of the pattern and `text` if it is at most `k`.
    pub fn within(&self, text: &[u8]) -> Option<u8> {
        self.within_iter(text.len(), text.iter().copied())
    }

    /// As [`within`](Self::within) for a text given as `len` bytes from an iterator.
    pub(crate) fn within_iter(&self, len: usize, text: impl Iterator<Item = u8>) -> Option<u8> {
        if self.pattern.len() > 64 {
            let text: Vec<u8> = text.collect();
            return banded(&self.pattern, &text, usize::from(self.k));
        }
        myers(&self.peq, self.pattern.len(), len, text, self.k)
    }
}

/// The global edit distance of a pattern of `m` ≤ 64 bytes, given by its `peq`
/// table, and a text of `len` bytes, if at most `k`.
#[inline]
fn myers(peq: &[u64; 256], m: usize, len: usize, text: impl Iterator<Item = u8>, k: u8) -> Option<u8> {
    let k = usize::from(k);
    if m.abs_diff(len) > k {
        return None;
    }
    if m == 0 {
        return Some(len as u8);
    }
    debug_assert!(m <= 64);
    // Hyyrö's formulation of Myers' algorithm for the global distance: `pv` and
    // `mv` hold the +1 and -1 vertical deltas of the current DP column, `score` is
    // its last cell D[m][j]. Shifting a 1 into `ph` makes the top row D[0][j] = j
    // (global, not substring, matching).
    let high = 1u64 << (m - 1);
    let (mut pv, mut mv) = (u64::MAX, 0u64);
    let mut score = m;
    for (j, byte) in text.enumerate() {
        let eq = peq[usize::from(byte)];
        let xv = eq | mv;
        let xh = (((eq & pv).wrapping_add(pv)) ^ pv) | eq;
        let mut ph = mv | !(xh | pv);
        let mut mh = pv & xh;
        if ph & high != 0 {
            score += 1;
        } else if mh & high != 0 {
            score -= 1;
        }
        ph = (ph << 1) | 1;
        mh <<= 1;
        pv = mh | !(xv | ph);
        mv = ph & xv;
        // Each remaining text byte lowers the last cell by at most one.
        if score > k + (len - (j + 1)) {
            return None;
        }
    }
    (score <= k).then_some(score as u8)
}

/// The DP restricted to cells within `k` of the diagonal: a path leaving the band
/// already costs more than `k`.
fn banded(a: &[u8], b: &[u8], k: usize) -> Option<u8> {
    let (m, n) = (a.len(), b.len());
    if m.abs_diff(n) > k {
        return None;
    }
    let inf = k + 1;
    let mut prev: Vec<usize> = (0..=n).map(|j| if j <= k { j } else { inf }).collect();
    let mut cur = vec![inf; n + 1];
    for i in 1..=m {
        let lo = i.saturating_sub(k);
        let hi = (i + k).min(n);
        if lo > 0 {
            cur[lo - 1] = inf;
        } else {
            cur[0] = i.min(inf);
        }
        let mut best = if lo == 0 { cur[0] } else { inf };
        for j in lo.max(1)..=hi {
            let substitute = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let cell = substitute.min(prev[j] + 1).min(cur[j - 1] + 1).min(inf);
            cur[j] = cell;
            best = best.min(cell);
        }
        if best > k {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[n] <= k).then_some(prev[n] as u8)
}

#[cfg(test)]
pub(crate) fn plain_levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(a: &str, b: &str, k: u8, expected: Option<u8>) {
        assert_eq!(levenshtein_within(a.as_bytes(), b.as_bytes(), k), expected, "{a:?} {b:?} k={k}");
        assert_eq!(levenshtein_within(b.as_bytes(), a.as_bytes(), k), expected, "{b:?} {a:?} k={k}");
    }

    #[test]
    fn examples() {
        check("", "", 0, Some(0));
        check("A", "", 1, Some(1));
        check("A", "", 0, None);
        check("B12ABC", "B12ABC", 0, Some(0));
        check("B12ABC", "B12A8C", 0, None);
        check("B12ABC", "B12A8C", 1, Some(1));
        check("B12ABC", "812A8C", 2, Some(2));
        check("B12ABC", "B123ABC", 1, Some(1));
        check("B12ABC", "12ABC", 1, Some(1));
        check("B12ABC", "B21ABC", 1, None);
        check("B12ABC", "B21ABC", 2, Some(2));
        check("KITTEN", "SITTING", 3, Some(3));
        check("KITTEN", "SITTING", 2, None);
        check("ABCDEFGHIJKL", "BCDEFGHIJKLM", 2, Some(2));
    }

    #[test]
    fn long_patterns_use_the_band() {
        let a = "AB".repeat(50);
        let mut b = a.clone();
        b.insert(10, 'Z');
        b.remove(70);
        check(&a, &b, 2, Some(2));
        check(&a, &b, 1, None);
        let matcher = EditMatcher::new(a.as_bytes(), 3);
        assert_eq!(matcher.within(b.as_bytes()), Some(2));
    }

    proptest! {
        #[test]
        fn agrees_with_plain_dp(a in "[ABO0]{0,14}", b in "[ABO0]{0,14}", k in 0u8..5) {
            let d = plain_levenshtein(a.as_bytes(), b.as_bytes());
            let expected = (d <= usize::from(k)).then_some(d as u8);
            prop_assert_eq!(levenshtein_within(a.as_bytes(), b.as_bytes(), k), expected);
            prop_assert_eq!(EditMatcher::new(a.as_bytes(), k).within(b.as_bytes()), expected);
        }

        #[test]
        fn agrees_with_plain_dp_on_long_texts(a in "[AB]{60,80}", b in "[AB]{60,80}", k in 0u8..4) {
            let d = plain_levenshtein(a.as_bytes(), b.as_bytes());
            let expected = (d <= usize::from(k)).then_some(d as u8);
            prop_assert_eq!(levenshtein_within(a.as_bytes(), b.as_bytes(), k), expected);
            prop_assert_eq!(EditMatcher::new(a.as_bytes(), k).within(b.as_bytes()), expected);
            prop_assert_eq!(banded(a.as_bytes(), b.as_bytes(), usize::from(k)), expected);
        }
    }
}
