//! PDQ, Meta's perceptual hash of a picture (ThreatExchange's `pdq`), computed bit for bit as
//! the C++ reference computes it: the same luma, the same Jarosz (repeated box) filter and
//! decimation to 64×64, the same 16×16 DCT, median and bit order, in the same single-precision
//! arithmetic, so that identical pixels give the identical hash and quality.
//!
//! Written by hand because no crate does this exactly: `pdqhash` (0.1) downsamples the picture
//! with the `image` crate's own filter before hashing (and pins `image` 0.23), which changes
//! the hash; `yume-pdq` hashes a fixed 512×512 input. The algorithm is small; exactness is
//! what matters, and the reference's golden hashes test it (`tests/golden.rs`).
//!
//! ```
//! use limes_triage::pdq::{Hash256, hash_rgb8};
//! // A 64×48 gradient: left dark, right bright.
//! let (w, h) = (64, 48);
//! let pixels: Vec<u8> = (0..w * h).flat_map(|i| { let v = (i % w * 4) as u8; [v, v, v] }).collect();
//! let (hash, quality) = hash_rgb8(&pixels, w, h).unwrap();
//! let hex = hash.to_string();
//! assert_eq!(hex.len(), 64);
//! assert_eq!(hex.parse::<Hash256>().unwrap(), hash);
//! assert_eq!(hash.distance(&hash), 0);
//! assert!(quality <= 100);
//! ```

use std::fmt;
use std::str::FromStr;

/// The side of the picture the hash is taken from.
const SIDE: usize = 64;
/// Box-filter passes along rows then columns (the reference's `PDQ_NUM_JAROSZ_XY_PASSES`).
const JAROSZ_PASSES: usize = 2;
/// The reference's luma weights, as single-precision constants.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];
/// A picture with a shorter side hashes to all zeros, of quality 0, as in the reference.
pub const MIN_SIDE: usize = 5;
/// A picture with a longer side is first resampled to this side squared, nearest neighbour, as
/// the reference's file hasher does (CImg's `resize(512, 512)`: its Jarosz filter would be too
/// slow on large pictures).
pub const DOWNSAMPLE_SIDE: usize = 512;
/// The largest side accepted: a decoded picture's side, not a file's.
pub const MAX_SIDE: usize = 1 << 16;

/// Why pixels could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdqError {
    #[error("a picture of {width}×{height} pixels has nothing to hash")]
    Empty { width: usize, height: usize },
    #[error("a picture of {width}×{height} pixels is larger than {MAX_SIDE} on a side")]
    TooLarge { width: usize, height: usize },
    #[error("{got} bytes for {width}×{height} RGB pixels (need {need})")]
    Size { width: usize, height: usize, got: usize, need: usize },
}

/// A PDQ hash: 256 bits, as the reference holds them — sixteen 16-bit words, bit `k` being bit
/// `k % 16` of word `k / 16`, where `k = 16 i + j` is the DCT coefficient in row `i`, column `j`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash256 {
    pub words: [u16; 16],
}

impl Hash256 {
    /// The number of bits that differ.
    pub fn distance(&self, other: &Hash256) -> u32 {
        self.words.iter().zip(&other.words).map(|(a, b)| (a ^ b).count_ones()).sum()
    }

    /// Whether bit `k` (0..256) is set.
    pub fn bit(&self, k: usize) -> bool {
        self.words[k / 16] >> (k % 16) & 1 == 1
    }

    /// The 32 bytes in the order of the hex form (word 15 first, big-endian words).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, w) in self.words.iter().rev().enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The hash of the 32 bytes of [`Hash256::to_bytes`].
    pub fn from_bytes(bytes: [u8; 32]) -> Hash256 {
        let mut words = [0u16; 16];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            words[15 - i] = u16::from_be_bytes([pair[0], pair[1]]);
        }
        Hash256 { words }
    }
}

/// The reference's hex form: 64 lower-case digits, word 15 first (`%04hx` each).
impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in self.words.iter().rev() {
            write!(f, "{w:04x}")?;
        }
        Ok(())
    }
}

/// Why text is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a PDQ hash (64 hexadecimal digits)")]
pub struct BadHash(pub String);

impl FromStr for Hash256 {
    type Err = BadHash;

    /// 64 hexadecimal digits, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadHash(s.chars().take(80).collect());
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut words = [0u16; 16];
        for (i, w) in words.iter_mut().rev().enumerate() {
            *w = u16::from_str_radix(&s[4 * i..4 * i + 4], 16).map_err(|_| bad())?;
        }
        Ok(Hash256 { words })
    }
}

/// The hashes of a picture and of its seven rotations and mirror images, from one DCT, named
/// as the reference names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dihedral {
    pub original: Hash256,
    /// Turned a quarter anticlockwise.
    pub rotate90: Hash256,
    pub rotate180: Hash256,
    /// Turned a quarter clockwise.
    pub rotate270: Hash256,
    /// Top and bottom swapped (mirrored about the horizontal axis).
    pub flip_x: Hash256,
    /// Left and right swapped (the mirror image).
    pub flip_y: Hash256,
    /// Mirrored about the diagonal from top left to bottom right (transposed).
    pub flip_plus1: Hash256,
    /// Mirrored about the other diagonal.
    pub flip_minus1: Hash256,
}

impl Dihedral {
    /// All eight, the original first.
    pub fn all(&self) -> [Hash256; 8] {
        [
            self.original,
            self.rotate90,
            self.rotate180,
            self.rotate270,
            self.flip_x,
            self.flip_y,
            self.flip_plus1,
            self.flip_minus1,
        ]
    }
}

/// The PDQ hash and quality (0–100; the reference ignores hashes of quality below 50 when
/// matching) of `width`×`height` RGB pixels, row by row, 3 bytes each, as the reference's file
/// hasher gives them (a picture over [`DOWNSAMPLE_SIDE`] on a side resampled first).
pub fn hash_rgb8(rgb: &[u8], width: usize, height: usize) -> Result<(Hash256, u8), PdqError> {
    Ok(dct_of_rgb8(rgb, width, height)?.map_or((Hash256::default(), 0), |(dct, q)| (bits(&dct), q)))
}

/// [`hash_rgb8`] with the seven other dihedral variants, from the same DCT.
pub fn dihedral_rgb8(rgb: &[u8], width: usize, height: usize) -> Result<(Dihedral, u8), PdqError> {
    Ok(match dct_of_rgb8(rgb, width, height)? {
        Some((dct, quality)) => (dihedral(&dct), quality),
        None => {
            let zero = Hash256::default();
            let all = Dihedral {
                original: zero,
                rotate90: zero,
                rotate180: zero,
                rotate270: zero,
                flip_x: zero,
                flip_y: zero,
                flip_plus1: zero,
                flip_minus1: zero,
            };
            (all, 0)
        }
    })
}

/// The hash and quality of single-channel luma (0–255 as `f32`), row by row, at its own size
/// (the reference's `pdqHash256FromFloatLuma`: no resampling first).
pub fn hash_luma(luma: &[f32], width: usize, height: usize) -> Result<(Hash256, u8), PdqError> {
    check(width, height, luma.len(), 1)?;
    let mut buffer = luma.to_vec();
    Ok(dct_of_luma(&mut buffer, width, height).map_or((Hash256::default(), 0), |(dct, q)| (bits(&dct), q)))
}

fn check(width: usize, height: usize, got: usize, channels: usize) -> Result<(), PdqError> {
    if width == 0 || height == 0 {
        return Err(PdqError::Empty { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PdqError::TooLarge { width, height });
    }
    let need = width * height * channels;
    if got != need {
        return Err(PdqError::Size { width, height, got, need });
    }
    Ok(())
}

type Dct = [[f32; 16]; 16];

fn dct_of_rgb8(rgb: &[u8], width: usize, height: usize) -> Result<Option<(Dct, u8)>, PdqError> {
    check(width, height, rgb.len(), 3)?;
    if width > DOWNSAMPLE_SIDE || height > DOWNSAMPLE_SIDE {
        let small = nearest(rgb, width, height);
        return dct_of_rgb8(&small, DOWNSAMPLE_SIDE, DOWNSAMPLE_SIDE);
    }
    // The reference's `fillFloatLumaFromBufferImage`: single precision, left to right.
    let mut luma: Vec<f32> = rgb
        .chunks_exact(3)
        .map(|p| LUMA[0] * f32::from(p[0]) + LUMA[1] * f32::from(p[1]) + LUMA[2] * f32::from(p[2]))
        .collect();
    Ok(dct_of_luma(&mut luma, width, height))
}

/// `rgb` resampled to [`DOWNSAMPLE_SIDE`] squared as CImg's nearest-neighbour resize does:
/// target column `x` takes source column `x · width / 512` (integer division), rows likewise.
fn nearest(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    let side = DOWNSAMPLE_SIDE;
    let mut out = Vec::with_capacity(side * side * 3);
    let columns: Vec<usize> = (0..side).map(|x| x * width / side).collect();
    for y in 0..side {
        let row = &rgb[(y * height / side) * width * 3..][..width * 3];
        for &x in &columns {
            out.extend_from_slice(&row[x * 3..x * 3 + 3]);
        }
    }
    out
}

/// Blurs `luma` in place (it is the reference's first buffer), decimates it to 64×64, and
/// gives the 16×16 DCT and the quality. A 64×64 picture is taken as it is (the reference's path
/// for video frames already scaled); one with a side under [`MIN_SIDE`] has no DCT.
fn dct_of_luma(luma: &mut [f32], width: usize, height: usize) -> Option<(Dct, u8)> {
    if width < MIN_SIDE || height < MIN_SIDE {
        return None;
    }
    let mut small = [[0f32; SIDE]; SIDE];
    if (width, height) == (SIDE, SIDE) {
        for (row, values) in small.iter_mut().zip(luma.chunks_exact(SIDE)) {
            row.copy_from_slice(values);
        }
        return Some((dct(&small), quality(&small)));
    }
    let mut scratch = vec![0f32; luma.len()];
    let along_rows = window(width);
    let along_cols = window(height);
    for _ in 0..JAROSZ_PASSES {
        for r in 0..height {
            let row = r * width..(r + 1) * width;
            box_1d(&luma[row.clone()], &mut scratch[row], 1, along_rows);
        }
        for c in 0..width {
            box_1d(&scratch[c..], &mut luma[c..], width, along_cols);
        }
    }
    for (i, row) in small.iter_mut().enumerate() {
        // The reference computes the index in double precision.
        let ini = (((i as f64 + 0.5) * height as f64) / SIDE as f64) as usize;
        for (j, v) in row.iter_mut().enumerate() {
            let inj = (((j as f64 + 0.5) * width as f64) / SIDE as f64) as usize;
            *v = luma[ini * width + inj];
        }
    }
    Some((dct(&small), quality(&small)))
}

/// The reference's `computeJaroszFilterWindowSize(old, 64)`.
fn window(old: usize) -> usize {
    old.div_ceil(2 * SIDE)
}

/// The reference's `box1DFloat`: a moving average of `full` samples along a vector of
/// `input.len() / stride` (rounded up) samples, `stride` apart, with shrinking windows at both
/// ends; running sums in single precision, as there.
fn box_1d(input: &[f32], output: &mut [f32], stride: usize, full: usize) {
    let length = input.len().div_ceil(stride);
    let half = (full + 2) / 2;
    let phase1 = half - 1;
    let phase2 = full - half + 1;
    let phase3 = length.saturating_sub(full);
    let phase4 = half - 1;
    let (mut li, mut ri, mut oi) = (0, 0, 0);
    let mut sum = 0f32;
    let mut size = 0usize;
    for _ in 0..phase1 {
        sum += input[ri];
        size += 1;
        ri += stride;
    }
    for _ in 0..phase2 {
        sum += input[ri];
        size += 1;
        output[oi] = sum / size as f32;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / size as f32;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase4 {
        sum -= input[li];
        size -= 1;
        output[oi] = sum / size as f32;
        li += stride;
        oi += stride;
    }
}

/// The reference's image-domain quality: the sum of the 64×64 picture's vertical and
/// horizontal steps (each truncated to an integer percentage of 255), over 90, at most 100.
fn quality(p: &[[f32; SIDE]; SIDE]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    let mut sum: i64 = 0;
    for pair in p.windows(2) {
        for (u, v) in pair[0].iter().zip(&pair[1]) {
            sum += i64::from(step(*u, *v).abs());
        }
    }
    for row in p {
        for j in 0..SIDE - 1 {
            sum += i64::from(step(row[j], row[j + 1]).abs());
        }
    }
    (sum / 90).min(100) as u8
}

/// The reference's DCT matrix: rows 1 to 16 of the 64-point DCT-II (the DC row left out): its
/// scale rounded to single precision first, each cosine in double, the product stored in single.
fn dct_matrix() -> &'static [[f32; SIDE]; 16] {
    static MATRIX: std::sync::OnceLock<[[f32; SIDE]; 16]> = std::sync::OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; SIDE]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        m
    })
}

/// `D A Dᵀ` with `D` the 16×64 matrix, summed in the reference's order.
fn dct(a: &[[f32; SIDE]; SIDE]) -> Dct {
    let d = dct_matrix();
    let mut t = [[0f32; SIDE]; 16];
    for i in 0..16 {
        for j in 0..SIDE {
            let mut sum = 0f32;
            for k in 0..SIDE {
                sum += d[i][k] * a[k][j];
            }
            t[i][j] = sum;
        }
    }
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let mut sum = 0f32;
            for k in 0..SIDE {
                sum += t[i][k] * d[j][k];
            }
            b[i][j] = sum;
        }
    }
    b
}

/// Torben's median as the reference computes it (for 256 values: the 128th smallest).
fn torben(m: &[f32]) -> f32 {
    let n = m.len();
    let (mut min, mut max) = (m[0], m[0]);
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let half = n.div_ceil(2);
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0, 0, 0);
        let (mut max_lt, mut min_gt) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > max_lt {
                    max_lt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < min_gt {
                    min_gt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_lt
            } else if less + equal >= half {
                guess
            } else {
                min_gt
            };
        } else if less > greater {
            max = max_lt;
        } else {
            min = min_gt;
        }
    }
}

/// A bit for each coefficient above the median.
fn bits(dct: &Dct) -> Hash256 {
    let flat: Vec<f32> = dct.iter().flatten().copied().collect();
    let median = torben(&flat);
    let mut words = [0u16; 16];
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            words[k / 16] |= 1 << (k % 16);
        }
    }
    Hash256 { words }
}

/// The eight dihedral variants. Mirroring the picture left to right multiplies the coefficient
/// of horizontal frequency `j + 1` by `(-1)^(j+1)`, top to bottom likewise for `i`; transposing
/// it transposes the coefficients. Each variant is a sign pattern (in the output's row `i` and
/// column `j`), transposed or not.
fn dihedral(b: &Dct) -> Dihedral {
    let variant = |transpose: bool, negate: &dyn Fn(usize, usize) -> bool| {
        let mut out = [[0f32; 16]; 16];
        for (i, row) in out.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let x = if transpose { b[j][i] } else { b[i][j] };
                *v = if negate(i, j) { -x } else { x };
            }
        }
        bits(&out)
    };
    let even = |n: usize| n.is_multiple_of(2);
    Dihedral {
        original: bits(b),
        rotate90: variant(true, &|i, _| even(i)),
        rotate180: variant(false, &|i, j| !even(i + j)),
        rotate270: variant(true, &|_, j| even(j)),
        flip_x: variant(false, &|i, _| even(i)),
        flip_y: variant(false, &|_, j| even(j)),
        flip_plus1: variant(true, &|_, _| false),
        flip_minus1: variant(true, &|i, j| !even(i + j)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_box_filter_is_a_moving_average_with_shrinking_ends() {
        let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [0.0; 6];
        box_1d(&input, &mut out, 1, 3);
        // Window 3: half 2; the first output averages 2 samples, the last 2.
        assert_eq!(out, [1.5, 2.0, 3.0, 4.0, 5.0, 5.5]);
        let mut one = [0.0; 6];
        box_1d(&input, &mut one, 1, 1);
        assert_eq!(one, input, "a window of one changes nothing");
        // Strided: a column of a 2-wide picture.
        let column = [1.0, 9.0, 3.0, 9.0, 5.0];
        let mut out = [0.0; 5];
        box_1d(&column, &mut out, 2, 3);
        assert_eq!((out[0], out[2], out[4]), (2.0, 3.0, 4.0));
    }

    #[test]
    fn the_median_is_the_128th_smallest_of_256() {
        let mut values: Vec<f32> = (0..256).map(|i| ((i * 97) % 256) as f32 - 100.0).collect();
        assert_eq!(torben(&values), 27.0);
        values[3] = 27.0;
        values[5] = 27.0;
        let mut sorted = values.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(torben(&values), sorted[127]);
    }

    #[test]
    fn hex_is_word_fifteen_first_and_reads_back() {
        let mut words = [0u16; 16];
        words[15] = 0xd8f8;
        words[0] = 0x9b22;
        let h = Hash256 { words };
        let hex = h.to_string();
        assert!(hex.starts_with("d8f8") && hex.ends_with("9b22"), "{hex}");
        assert_eq!(hex.parse::<Hash256>(), Ok(h));
        assert_eq!(hex.to_uppercase().parse::<Hash256>(), Ok(h));
        assert_eq!(Hash256::from_bytes(h.to_bytes()), h);
        assert_eq!(h.to_bytes()[..2], [0xd8, 0xf8]);
        for bad in ["", "d8f8", &"g".repeat(64), &"0".repeat(65), &"é".repeat(32)] {
            assert!(bad.parse::<Hash256>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pictures_that_cannot_be_hashed_say_why() {
        assert_eq!(hash_rgb8(&[], 0, 0), Err(PdqError::Empty { width: 0, height: 0 }));
        assert!(matches!(hash_rgb8(&[0; 5], 1, 2), Err(PdqError::Size { need: 6, .. })));
        assert!(matches!(hash_luma(&[0.0], MAX_SIDE + 1, 1), Err(PdqError::TooLarge { .. })));
        // Under five pixels on a side: all zeros, of no quality, as the reference gives.
        assert_eq!(hash_rgb8(&[200, 10, 30], 1, 1), Ok((Hash256::default(), 0)));
        assert_eq!(hash_rgb8(&[9; 4 * 90 * 3], 4, 90), Ok((Hash256::default(), 0)));
        let (_, q) = hash_rgb8(&[77; 5 * 5 * 3], 5, 5).unwrap();
        assert_eq!(q, 0, "a flat picture has no quality");
    }

    #[test]
    fn a_picture_over_512_on_a_side_is_resampled_to_512_squared_nearest_first() {
        // 1024 × 8: every other column, every row (8 · y / 512 = y / 64).
        let (w, h) = (1024usize, 8usize);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % w % 251) as u8, (i / w * 30) as u8, 7]).collect();
        let small = nearest(&rgb, w, h);
        assert_eq!(small.len(), 512 * 512 * 3);
        let at = |x: usize, y: usize| &small[(y * 512 + x) * 3..][..3];
        assert_eq!(at(10, 0), &rgb[(20) * 3..][..3]);
        assert_eq!(at(511, 511), &rgb[((7 * w) + 1022) * 3..][..3]);
        assert_eq!(hash_rgb8(&rgb, w, h), hash_rgb8(&small, 512, 512));
    }

    proptest! {
        #[test]
        fn any_picture_hashes_with_at_most_half_its_bits_set(
            w in 1usize..90, h in 1usize..90, seed in any::<u64>()
        ) {
            let mut s = seed | 1;
            let rgb: Vec<u8> = (0..w * h * 3).map(|_| { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s as u8 }).collect();
            let (hash, quality) = hash_rgb8(&rgb, w, h).unwrap();
            prop_assert!(quality <= 100);
            let set: u32 = hash.words.iter().map(|w| w.count_ones()).sum();
            prop_assert!(set <= 128, "{set} bits above the median");
            let (d, q2) = dihedral_rgb8(&rgb, w, h).unwrap();
            prop_assert_eq!((d.original, q2), (hash, quality));
        }
    }
}
