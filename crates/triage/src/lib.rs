//! Media triage for child-abuse investigations (issue #12): the pure part — no files, no
//! clock, no threads.
//!
//! - [`pdq`]: Meta's PDQ perceptual hash of a picture's pixels, bit for bit as the C++
//!   reference computes it, with its quality and the eight dihedral variants from one DCT;
//!   [`pdq::Hash256`] with its hex form (the reference's word order) and Hamming distance.
//! - [`mih`]: multi-index hashing — every PDQ hash within a Hamming radius of a query, exactly
//!   as comparing it with every hash finds them, probing a few thousand of millions.
//! - [`known`]: hash sets — categories per scheme (VICS US, CAID, ICSE, NSRL) mapped explicitly
//!   onto the classes triage decides by, and the readers of VICS 2.0 JSON, ICSE CSV, NSRL's
//!   `NSRLFile.txt` and plain lists.
//! - [`verdict`]: a file's verdict (known, known-good, near-match, unknown) from its exact and
//!   PDQ hits, the [`verdict::PdqCatalog`] that finds the latter, and series of near-duplicates.
//! - [`vics`]: a case written as a VICS 2.0 export.
//! - [`deconflict`]: what two cases share (files, camera serials, near pictures), as counts.
//! - [`leads`]: what a picture's EXIF metadata says of its camera, time, place and thumbnail,
//!   and pictures grouped by camera.
//!
//! Tests and benchmarks use benign pictures only (a bridge, generated images): never any abusive
//! material, nor links to any.

pub mod deconflict;
pub mod known;
pub mod leads;
pub mod mih;
pub mod pdq;
pub mod verdict;
pub mod vics;
