//! The one error type of the parsers.

use crate::SourceFormat;

/// Why a document was refused. Every message names the format and, where there is one,
/// the place: an element path such as `<ANPR>/<licensePlate>`, a JSON field such as
/// `after.recognized_license_plate_score`, or a byte offset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// The input is larger than the caller's [`Limits`](crate::Limits) allow.
    #[error("{format}: {what} is {size} bytes, more than the limit of {limit}")]
    TooLarge { format: SourceFormat, what: &'static str, size: usize, limit: usize },
    /// The input is empty or only whitespace.
    #[error("{format}: the document is empty")]
    Empty { format: SourceFormat },
    /// The input is not UTF-8 (every supported format is).
    #[error("{format}: not UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 { format: SourceFormat, offset: usize },
    /// The XML has a `<!DOCTYPE>`. No camera format uses one, and its entity definitions
    /// could expand exponentially or point outside (XXE), so it is refused whole.
    #[error(
        "{format}: a <!DOCTYPE> is refused (no camera format uses one; its entities could expand or reach outside)"
    )]
    Doctype { format: SourceFormat },
    /// An entity reference other than the five XML ones and character references.
    #[error("{format}: unknown entity reference &{name}; at byte {offset}")]
    UnknownEntity { format: SourceFormat, name: String, offset: u64 },
    /// Elements or JSON values nested deeper than the limit.
    #[error("{format}: nested deeper than {limit} levels at {path}")]
    TooDeep { format: SourceFormat, limit: usize, path: String },
    /// More elements, objects or parts than the limit.
    #[error("{format}: more than {limit} {what}")]
    TooMany { format: SourceFormat, what: &'static str, limit: usize },
    /// The XML is not well-formed.
    #[error("{format}: malformed XML at byte {offset}: {message}")]
    Xml { format: SourceFormat, offset: u64, message: String },
    /// The document ends before its elements are closed.
    #[error("{format}: the document ends inside {path}")]
    Truncated { format: SourceFormat, path: String },
    /// The JSON is malformed, or a field has the wrong type.
    #[error("{format}: malformed JSON at line {line} column {column}: {message}")]
    Json { format: SourceFormat, line: usize, column: usize, message: String },
    /// The document is well-formed but is not this format.
    #[error("{format}: the root is {found}, expected {expected}")]
    WrongRoot { format: SourceFormat, expected: &'static str, found: String },
    /// A value the format requires is absent.
    #[error("{format}: {path} missing")]
    Missing { format: SourceFormat, path: String },
    /// A value is present but impossible: out of range, not a number, empty.
    #[error("{format}: {path} is {value:?}: {reason}")]
    BadValue { format: SourceFormat, path: String, value: String, reason: &'static str },
    /// A `multipart/*` body could not be split.
    #[error("{format}: multipart: {problem}")]
    Multipart { format: SourceFormat, problem: MultipartProblem },
}

/// What was wrong with a `multipart/*` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MultipartProblem {
    /// The `Content-Type` is not `multipart/form-data` or `multipart/mixed`.
    #[error("Content-Type {0:?} is not multipart/form-data or multipart/mixed")]
    NotMultipart(String),
    /// The `Content-Type` has no usable `boundary` parameter (1 to 70 characters).
    #[error("Content-Type {0:?} has no boundary parameter of 1 to 70 characters")]
    NoBoundary(String),
    /// The body never contains the boundary line.
    #[error("the body has no --boundary line")]
    NoDelimiter,
    /// The body ends before the closing `--boundary--`.
    #[error("the body ends inside part {index}, before the closing boundary")]
    Truncated { index: usize },
    /// A part's headers are malformed.
    #[error("part {index}: {message}")]
    BadPart { index: usize, message: &'static str },
    /// No part is XML (by `Content-Type` `application/xml`/`text/xml` or a `.xml` name).
    #[error("no XML part among {parts} parts")]
    MissingXmlPart { parts: usize },
}

impl FormatError {
    pub(crate) fn missing(format: SourceFormat, path: impl Into<String>) -> Self {
        Self::Missing { format, path: path.into() }
    }

    pub(crate) fn bad(
        format: SourceFormat,
        path: impl Into<String>,
        value: impl Into<String>,
        reason: &'static str,
    ) -> Self {
        let mut value = value.into();
        if value.len() > 64 {
            let cut = (0..=64).rev().find(|i| value.is_char_boundary(*i)).unwrap_or(0);
            value.truncate(cut);
            value.push('…');
        }
        Self::BadValue { format, path: path.into(), value, reason }
    }

    pub(crate) fn json(format: SourceFormat, e: &serde_json::Error) -> Self {
        let mut message = e.to_string();
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        Self::Json { format, line: e.line(), column: e.column(), message }
    }
}
