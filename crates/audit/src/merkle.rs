//! The RFC 6962 Merkle tree (domain: no I/O): hashing, roots, inclusion and consistency proofs
//! and their verification.
//!
//! Written here rather than taken from a crate, after looking at what crates.io has:
//! - `ct-merkle` 0.3 keeps the whole tree in memory and proves and verifies *leaf values*, not
//!   leaf hashes; an erased record leaves only its hash, so its leaf could not be proven.
//! - `tlog_tiles` 0.2 with `signed_note` 0.2 (Cloudflare's port of Go's `sumdb/tlog`) has the right
//!   model (proofs over a hash reader), but pins `sha2` 0.10, `ed25519-dalek` 2, `rand_core` 0.6,
//!   `base64` 0.21 and `thiserror` 1: a second hashing and signing stack beside the workspace's
//!   `sha2` 0.11 and `ed25519-dalek` 3, for about 300 lines of arithmetic.
//! - `merkle-log`, `rs_merkle` and the like are not RFC 6962 (no 0x00/0x01 domain separation, or
//!   a different tree shape).
//!
//! The algorithms are RFC 6962 §2.1 for the tree and the proofs, and RFC 9162 §2.1.3.2 and
//! §2.1.4.2 for verifying them. The tests check them against a naive recursive implementation of
//! the RFC's definitions and against the certificate-transparency test vectors.
//!
//! Notation: a *complete subtree* `(level, index)` is the perfect subtree over leaves
//! `index·2^level .. (index+1)·2^level`; level 0 is a leaf. Storage keeps complete subtrees
//! ([`NodeReader`]); any subtree the RFC's recursion needs is a few of them folded together.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }

    /// Takes a stored value that should be 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// `SHA-256(0x00 || data)`: the hash of a leaf whose input is `data` (RFC 6962 §2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Where the hashes of complete subtrees come from (a database, memory).
pub trait NodeReader {
    type Error;
    /// The hash of the complete subtree `(level, index)`; level 0 is a leaf hash. Callers only
    /// ask for subtrees inside the tree size they work on.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// What a proof request can get wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The leaf index is not below the tree size, or the old size is above the new one.
    #[error("{0}")]
    OutOfRange(String),
    /// Reading a node failed.
    #[error("reading the tree: {0}")]
    Read(E),
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:hi]) for a range the RFC 6962 recursion produces (`lo` is a multiple of the
/// smallest power of two at least `hi - lo`): the complete subtrees that tile the range, from
/// the largest, folded from the right.
pub fn subtree_hash<R: NodeReader>(reader: &R, lo: u64, hi: u64) -> Result<Hash, R::Error> {
    debug_assert!(lo < hi);
    let mut blocks = Vec::with_capacity(8);
    let mut start = lo;
    while start < hi {
        // The largest aligned block that starts at `start` and fits.
        let fits = 63 - (hi - start).leading_zeros();
        let aligned = if start == 0 { 63 } else { start.trailing_zeros() };
        let level = fits.min(aligned);
        blocks.push(reader.node(level, start >> level)?);
        start += 1 << level;
    }
    let mut hash = blocks.pop().expect("the range is not empty");
    while let Some(left) = blocks.pop() {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The root of the tree of the first `size` leaves.
pub fn root<R: NodeReader>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    if size == 0 { Ok(empty_root()) } else { subtree_hash(reader, 0, size) }
}

/// The inclusion proof (audit path, RFC 6962 §2.1.1) of leaf `index` in the tree of `size`
/// leaves, from the leaf's sibling up.
pub fn inclusion_proof<R: NodeReader>(reader: &R, index: u64, size: u64) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("leaf {index} is not in a tree of {size} leaves")));
    }
    let mut proof = Vec::with_capacity(64);
    // PATH(m, D[lo:hi]) appends its deeper elements first: walk down, collect, reverse.
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            proof.push(subtree_hash(reader, lo + k, hi).map_err(ProofError::Read)?);
            hi = lo + k;
        } else {
            proof.push(subtree_hash(reader, lo, lo + k).map_err(ProofError::Read)?);
            lo += k;
            m -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 6962 §2.1.2) between the trees of `old` and `new` leaves; empty
/// when `old` is 0 or equals `new`.
pub fn consistency_proof<R: NodeReader>(reader: &R, old: u64, new: u64) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if old > new {
        return Err(ProofError::OutOfRange(format!("old size {old} is above new size {new}")));
    }
    let mut proof = Vec::with_capacity(64);
    if old == 0 || old == new {
        return Ok(proof);
    }
    // SUBPROOF(m, D[lo:hi], b), walked down; elements collected deepest last, then reversed.
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            proof.push(subtree_hash(reader, lo + k, hi).map_err(ProofError::Read)?);
            hi = lo + k;
        } else {
            proof.push(subtree_hash(reader, lo, lo + k).map_err(ProofError::Read)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        proof.push(subtree_hash(reader, lo, hi).map_err(ProofError::Read)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFailure {
    /// The sizes or the index cannot form a proof.
    #[error("{0}")]
    BadRange(String),
    /// The proof has too many or too few hashes for the sizes.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof leads to another root than the one expected.
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch { computed: Hash, expected: Hash },
}

/// Verifies that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofFailure> {
    if index >= size {
        return Err(ProofFailure::BadRange(format!("leaf {index} is not in a tree of {size} leaves")));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofFailure::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofFailure::WrongLength);
    }
    if r != *root {
        return Err(ProofFailure::RootMismatch { computed: r, expected: *root });
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root` (RFC 9162 §2.1.4.2). An empty old tree is a prefix of every tree.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofFailure> {
    if old > new {
        return Err(ProofFailure::BadRange(format!("old size {old} is above new size {new}")));
    }
    if old == 0 {
        return if proof.is_empty() { Ok(()) } else { Err(ProofFailure::WrongLength) };
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofFailure::WrongLength);
        }
        if old_root != new_root {
            return Err(ProofFailure::RootMismatch { computed: *old_root, expected: *new_root });
        }
        return Ok(());
    }
    // When the old tree is a complete subtree its root is the proof's implicit first element.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofFailure::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofFailure::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofFailure::WrongLength);
    }
    if fr != *old_root {
        return Err(ProofFailure::RootMismatch { computed: fr, expected: *old_root });
    }
    if sr != *new_root {
        return Err(ProofFailure::RootMismatch { computed: sr, expected: *new_root });
    }
    Ok(())
}

/// A complete subtree created by an append, for storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewNode {
    pub level: u32,
    pub index: u64,
    pub hash: Hash,
}

/// The right edge of the tree: the roots of the complete subtrees that tile it, one per bit set
/// in its size, largest first. Enough to append in O(log n) and to compute the root, without
/// reading anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)`, largest subtree first.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The empty tree's frontier.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the tree of `size` leaves, read from storage (one node per set bit).
    pub fn load<R: NodeReader>(reader: &R, size: u64) -> Result<Self, R::Error> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                nodes.push((level, reader.node(level, start >> level)?));
                start += 1 << level;
            }
        }
        Ok(Self { size, nodes })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; `created` receives every complete subtree of level ≥ 1 this completes,
    /// lowest first.
    pub fn push(&mut self, leaf: Hash, mut created: impl FnMut(NewNode)) {
        let mut hash = leaf;
        let mut level = 0u32;
        while let Some(&(top_level, top)) = self.nodes.last() {
            if top_level != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&top, &hash);
            level += 1;
            created(NewNode { level, index: ((self.size + 1) >> level) - 1, hash });
        }
        self.nodes.push((level, hash));
        self.size += 1;
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut hash)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            hash = node_hash(left, &hash);
        }
        hash
    }
}

/// A tree held in memory, every complete subtree kept: for tests, and for callers that prove
/// over a few leaves.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[l]` holds the complete subtrees of level `l`, in order.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of these leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let row = &self.levels[level];
            if row.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Hash {
        match root(self, size) {
            Ok(h) => h,
            Err(never) => match never {},
        }
    }
}

impl NodeReader for MemoryTree {
    type Error = std::convert::Infallible;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.levels[level as usize][index as usize])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    // The naive oracle: RFC 6962 §2.1's definitions, recursively, over leaf hashes.

    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { vec![] } else { vec![mth(leaves)] };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], whole);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn hd(s: &str) -> Hash {
        Hash::from_hex(s).unwrap()
    }

    /// The certificate-transparency test leaves (`testonly` in the Go implementation).
    fn ct_leaves() -> Vec<Hash> {
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        inputs.iter().map(|d| leaf_hash(d)).collect()
    }

    #[test]
    fn known_answers_for_roots() {
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let tree = MemoryTree::from_leaves(ct_leaves());
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), hd(roots[0]));
        for (size, want) in roots.iter().enumerate() {
            assert_eq!(tree.root_at(size as u64), hd(want), "root of size {size}");
            assert_eq!(mth(&ct_leaves()[..size]), hd(want), "oracle root of size {size}");
            if size > 0 {
                frontier.push(ct_leaves()[size - 1], |_| {});
                assert_eq!(frontier.root(), hd(want), "frontier root of size {size}");
            }
        }
        assert_eq!(empty_root(), hd(roots[0]));
    }

    #[test]
    fn known_answers_for_inclusion_proofs() {
        let tree = MemoryTree::from_leaves(ct_leaves());
        // (leaf index, tree size, proof) from the certificate-transparency test vectors.
        let cases: [(u64, u64, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| hd(s)).collect();
            let got = inclusion_proof(&tree, index, size).unwrap();
            assert_eq!(got, want, "inclusion of {index} in {size}");
            let leaf = ct_leaves()[index as usize];
            verify_inclusion(index, size, &leaf, &got, &tree.root_at(size)).unwrap();
        }
    }

    #[test]
    fn known_answers_for_consistency_proofs() {
        let tree = MemoryTree::from_leaves(ct_leaves());
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| hd(s)).collect();
            let got = consistency_proof(&tree, old, new).unwrap();
            assert_eq!(got, want, "consistency {old} → {new}");
            verify_consistency(old, new, &tree.root_at(old), &tree.root_at(new), &got).unwrap();
        }
    }

    #[test]
    fn frontier_reports_every_complete_subtree_once() {
        let all = leaves(37);
        let tree = MemoryTree::from_leaves(all.clone());
        let mut frontier = Frontier::new();
        let mut created = Vec::new();
        for leaf in &all {
            frontier.push(*leaf, |n| created.push(n));
        }
        let mut want = Vec::new();
        for level in 1..=5u32 {
            for index in 0..(37u64 >> level) {
                want.push((level, index, tree.node(level, index).unwrap()));
            }
        }
        let mut got: Vec<_> = created.iter().map(|n| (n.level, n.index, n.hash)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(Frontier::load(&tree, 37).unwrap(), frontier);
    }

    #[test]
    fn out_of_range_requests_are_refused() {
        let tree = MemoryTree::from_leaves(leaves(4));
        assert!(matches!(inclusion_proof(&tree, 4, 4), Err(ProofError::OutOfRange(_))));
        assert!(matches!(consistency_proof(&tree, 5, 4), Err(ProofError::OutOfRange(_))));
        let root = tree.root_at(4);
        assert!(verify_inclusion(4, 4, &leaves(5)[4], &[], &root).is_err());
        assert!(verify_consistency(5, 4, &root, &root, &[]).is_err());
        // The empty tree is a prefix of every tree, with an empty proof only.
        verify_consistency(0, 4, &empty_root(), &root, &[]).unwrap();
        assert!(verify_consistency(0, 4, &empty_root(), &root, &[root]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn roots_and_inclusion_proofs_match_the_rfc_definitions(size in 1usize..300, pick in any::<u64>()) {
            let all = leaves(size);
            let tree = MemoryTree::from_leaves(all.clone());
            let index = pick % size as u64;
            let root = mth(&all);
            prop_assert_eq!(tree.root_at(size as u64), root);
            let proof = inclusion_proof(&tree, index, size as u64).unwrap();
            prop_assert_eq!(&proof, &path(index as usize, &all));
            prop_assert!(verify_inclusion(index, size as u64, &all[index as usize], &proof, &root).is_ok());
        }

        #[test]
        fn consistency_proofs_match_the_rfc_definitions(new in 1usize..300, pick in any::<u64>()) {
            let all = leaves(new);
            let tree = MemoryTree::from_leaves(all.clone());
            let old = 1 + pick % new as u64;
            let proof = consistency_proof(&tree, old, new as u64).unwrap();
            prop_assert_eq!(&proof, &subproof(old as usize, &all, true));
            let (old_root, new_root) = (mth(&all[..old as usize]), mth(&all));
            prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &proof).is_ok());
        }

        #[test]
        fn tampered_inclusion_proofs_fail(size in 2usize..200, pick in any::<u64>(), which in any::<usize>(),
                                          bit in 0usize..256) {
            let all = leaves(size);
            let tree = MemoryTree::from_leaves(all.clone());
            let index = pick % size as u64;
            let root = tree.root_at(size as u64);
            let leaf = all[index as usize];
            let mut proof = inclusion_proof(&tree, index, size as u64).unwrap();
            // A flipped bit anywhere in the proof.
            let at = which % proof.len();
            proof[at].0[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(index, size as u64, &leaf, &proof, &root).is_err());
            proof[at].0[bit / 8] ^= 1 << (bit % 8);
            // A hash too many or too few.
            let mut longer = proof.clone();
            longer.push(leaf);
            prop_assert!(verify_inclusion(index, size as u64, &leaf, &longer, &root).is_err());
            prop_assert!(verify_inclusion(index, size as u64, &leaf, &proof[1..], &root).is_err());
            // Another leaf, another index, another size.
            let other = leaf_hash(b"not a leaf");
            prop_assert!(verify_inclusion(index, size as u64, &other, &proof, &root).is_err());
            let moved = (index + 1) % size as u64;
            if all[moved as usize] != leaf {
                prop_assert!(verify_inclusion(moved, size as u64, &leaf, &proof, &root).is_err());
            }
        }

        #[test]
        fn tampered_consistency_proofs_fail(new in 2usize..200, pick in any::<u64>(), which in any::<usize>(),
                                            bit in 0usize..256) {
            let all = leaves(new);
            let tree = MemoryTree::from_leaves(all.clone());
            let old = 1 + pick % (new as u64 - 1);
            let (old_root, new_root) = (tree.root_at(old), tree.root_at(new as u64));
            let mut proof = consistency_proof(&tree, old, new as u64).unwrap();
            let at = which % proof.len();
            proof[at].0[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &proof).is_err());
            proof[at].0[bit / 8] ^= 1 << (bit % 8);
            let mut longer = proof.clone();
            longer.push(old_root);
            prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &longer).is_err());
            prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &proof[1..]).is_err());
            // A rewritten history: one old leaf changed gives another old root.
            let mut rewritten = all.clone();
            rewritten[(pick as usize) % old as usize] = leaf_hash(b"rewritten");
            let forged = MemoryTree::from_leaves(rewritten.clone());
            prop_assert!(verify_consistency(old, new as u64, &old_root, &forged.root_at(new as u64),
                &consistency_proof(&forged, old, new as u64).unwrap()).is_err());
        }
    }
}
