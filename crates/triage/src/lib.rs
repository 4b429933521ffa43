//! Media triage for child-abuse investigations (issue #12): the pure part — no files, no
//! clock, no threads.
//!
//! - [`pdq`]: Meta's PDQ perceptual hash of a picture's pixels, bit for bit as the C++
//!   reference computes it, with its quality and the eight dihedral variants from one DCT;
//!   [`pdq::Hash256`] with its hex form (the reference's word order) and Hamming distance.
//! - [`mih`]: multi-index hashing — every PDQ hash within a Hamming radius of a query, exactly
//!   as comparing it with every hash finds them, probing a few thousand of millions.
//!
//! Tests and benchmarks use benign pictures only (a bridge, generated images): never any abusive
//! material, nor links to any.

pub mod mih;
pub mod pdq;
