//! Media triage at the edge (issue #12): what reads seized media and keeps what was found.
//! The decisions themselves (PDQ, categories, verdicts, series, the VICS export) are
//! `limes-triage`'s plain functions; this crate feeds them files and stores their answers.
//!
//! - [`scan`]: walks folders and archives (zip, tar, tar.gz, nested), hashes every file on all
//!   cores, PDQ for pictures and for one video frame a second, resumable, with progress.
//! - [`store`]: the hash-set store and each case's store (SQLite, in the triage folder).
//! - [`matching`]: each recorded file's verdict against the hash sets, and its series.
//! - [`deconflict`]: this folder's cases compared, and notices to the owners of those that overlap.
//! - [`faces`]: unknown pictures' faces counted (by the caller's detector), to rank them first.
//! - [`report`]: a case's HTML summary and its VICS 2.0 export.
//! - [`picture`]: what a file is from its first bytes, and picture decoding within limits.

pub mod deconflict;
pub mod faces;
pub mod matching;
pub mod picture;
pub mod report;
pub mod scan;
pub mod store;
