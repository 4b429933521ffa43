//! Splitting a `multipart/form-data` or `multipart/mixed` body held in memory.
//!
//! Hand-written rather than `multer`: multer is a streaming parser driven by an async
//! `Stream`, so using it here would mean an executor inside a crate that does no async, and
//! its `http`/`encoding_rs` dependencies, to split a body that the edge has already
//! buffered (with its size bounded). On a complete buffer the RFC 2046 grammar is a search for
//! `CRLF--boundary`, which `memchr::memmem` does; the parts borrow from the body.

use memchr::memmem;

use crate::{FormatError, Limits, MultipartProblem, SourceFormat};

/// One part of a multipart body; `data` borrows from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's position in the body, from 0.
    pub index: usize,
    /// `Content-Disposition` `name`.
    pub name: Option<String>,
    /// `Content-Disposition` `filename`.
    pub filename: Option<String>,
    /// The declared `Content-Type`, lower case, without parameters.
    pub content_type: Option<String>,
    /// The part's bytes, borrowed from the body.
    pub data: &'a [u8],
    /// The data starts with the JPEG magic bytes (`FF D8 FF`).
    pub is_jpeg: bool,
    /// The part claims to be a JPEG (`image/jpeg`, or a `.jpg`/`.jpeg` name) but its bytes
    /// are not one: do not store or show it as a picture.
    pub mislabelled: bool,
}

impl Part<'_> {
    /// Whether the part is the one a payload refers to by `name` (its name or file name).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name) || self.filename.as_deref() == Some(name)
    }

    fn is_xml(&self) -> bool {
        let named_xml =
            [&self.name, &self.filename].into_iter().flatten().any(|n| n.to_ascii_lowercase().ends_with(".xml"));
        matches!(self.content_type.as_deref(), Some("application/xml" | "text/xml")) || named_xml
    }
}

/// A multipart body split into its XML part and the others (the pictures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartBody<'a> {
    /// The first XML part.
    pub xml: Part<'a>,
    /// Every other part, in order, each flagged when its bytes contradict its type.
    pub images: Vec<Part<'a>>,
}

/// The most header bytes a part may have.
const MAX_HEADER_BYTES: usize = 8 << 10;

/// Splits a `multipart/form-data` or `multipart/mixed` body, given the request's
/// `Content-Type` header value, into its first XML part and the other parts.
///
/// Refused: another content type, a missing or over-long boundary, a body over
/// [`Limits::max_body_bytes`], more than [`Limits::max_parts`] parts, a part over
/// [`Limits::max_part_bytes`], malformed part headers, a body that ends before its closing
/// boundary, and a body without an XML part. A part that claims to be a JPEG but is not is
/// kept and flagged ([`Part::mislabelled`]).
pub fn split_multipart<'a>(
    content_type: &str,
    body: &'a [u8],
    limits: &Limits,
) -> Result<MultipartBody<'a>, FormatError> {
    split(SourceFormat::HikvisionIsapi, content_type, body, limits)
}

pub(crate) fn split<'a>(
    format: SourceFormat,
    content_type: &str,
    body: &'a [u8],
    limits: &Limits,
) -> Result<MultipartBody<'a>, FormatError> {
    let problem = |problem| FormatError::Multipart { format, problem };
    let boundary = boundary(content_type).map_err(problem)?;
    if body.len() > limits.max_body_bytes {
        return Err(FormatError::TooLarge {
            format,
            what: "the multipart body",
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let dash_boundary = [b"--", boundary.as_bytes()].concat();
    let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    let finder = memmem::Finder::new(&delimiter);
    // The first boundary line may open the body or follow a preamble.
    let mut pos = if body.starts_with(&dash_boundary) {
        dash_boundary.len()
    } else {
        finder.find(body).ok_or(problem(MultipartProblem::NoDelimiter))? + delimiter.len()
    };
    let mut parts: Vec<Part<'a>> = Vec::new();
    loop {
        let index = parts.len();
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            break; // the close delimiter; an epilogue may follow and is ignored
        }
        // Transport padding, then the line break that ends the boundary line.
        let padding = rest.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        let after = &rest[padding..];
        let line_end = if after.starts_with(b"\r\n") {
            2
        } else if after.is_empty() {
            return Err(problem(MultipartProblem::Truncated { index }));
        } else {
            return Err(problem(MultipartProblem::BadPart { index, message: "the boundary line does not end" }));
        };
        if index >= limits.max_parts {
            return Err(FormatError::TooMany { format, what: "multipart parts", limit: limits.max_parts });
        }
        let start = pos + padding + line_end;
        let Some(length) = finder.find(&body[start..]) else {
            return Err(problem(MultipartProblem::Truncated { index }));
        };
        let raw = &body[start..start + length];
        pos = start + length + delimiter.len();
        parts.push(part(index, raw, format, limits)?);
    }
    let count = parts.len();
    let xml_at =
        parts.iter().position(Part::is_xml).ok_or(problem(MultipartProblem::MissingXmlPart { parts: count }))?;
    let xml = parts.remove(xml_at);
    Ok(MultipartBody { xml, images: parts })
}

/// The boundary parameter of a multipart content type.
fn boundary(content_type: &str) -> Result<String, MultipartProblem> {
    let mut params = content_type.split(';');
    let essence = params.next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "multipart/form-data" && essence != "multipart/mixed" {
        return Err(MultipartProblem::NotMultipart(content_type.to_owned()));
    }
    let boundary = params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned());
    match boundary {
        Some(b) if (1..=70).contains(&b.len()) && !b.contains(['\r', '\n']) => Ok(b),
        _ => Err(MultipartProblem::NoBoundary(content_type.to_owned())),
    }
}

fn part<'a>(index: usize, raw: &'a [u8], format: SourceFormat, limits: &Limits) -> Result<Part<'a>, FormatError> {
    let bad = |message| FormatError::Multipart { format, problem: MultipartProblem::BadPart { index, message } };
    // Headers end at the first empty line; a part without headers starts with it.
    let (headers, data) = if let Some(data) = raw.strip_prefix(b"\r\n") {
        (&raw[..0], data)
    } else {
        let end = memmem::find(raw, b"\r\n\r\n").ok_or(bad("its headers do not end with an empty line"))?;
        (&raw[..end], &raw[end + 4..])
    };
    if headers.len() > MAX_HEADER_BYTES {
        return Err(bad("its headers are longer than 8 KiB"));
    }
    if data.len() > limits.max_part_bytes {
        return Err(FormatError::TooLarge {
            format,
            what: "a multipart part",
            size: data.len(),
            limit: limits.max_part_bytes,
        });
    }
    let headers = std::str::from_utf8(headers).map_err(|_| bad("its headers are not UTF-8"))?;
    let mut part = Part {
        index,
        name: None,
        filename: None,
        content_type: None,
        data,
        is_jpeg: data.starts_with(&[0xFF, 0xD8, 0xFF]),
        mislabelled: false,
    };
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(':').ok_or(bad("a header line has no colon"))?;
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        } else if key.eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                let Some((k, v)) = param.split_once('=') else { continue };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => part.name = Some(v),
                    "filename" => part.filename = Some(v),
                    _ => {}
                }
            }
        }
    }
    let named_jpeg = [&part.name, &part.filename].into_iter().flatten().any(|n| {
        let n = n.to_ascii_lowercase();
        n.ends_with(".jpg") || n.ends_with(".jpeg")
    });
    let claims_jpeg = matches!(part.content_type.as_deref(), Some("image/jpeg" | "image/jpg" | "image/pjpeg"))
        || (part.content_type.is_none() && named_jpeg);
    part.mislabelled = claims_jpeg && !part.is_jpeg;
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=BOUND";

    #[test]
    fn content_types_and_boundaries() {
        assert_eq!(boundary(r#"multipart/mixed; charset=utf-8; boundary="a b""#).unwrap(), "a b");
        assert!(matches!(boundary("application/xml"), Err(MultipartProblem::NotMultipart(_))));
        assert!(matches!(boundary("multipart/form-data"), Err(MultipartProblem::NoBoundary(_))));
        assert!(matches!(boundary("multipart/form-data; boundary="), Err(MultipartProblem::NoBoundary(_))));
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        assert!(matches!(boundary(&long), Err(MultipartProblem::NoBoundary(_))));
    }

    #[test]
    fn a_part_without_headers_and_a_preamble() {
        let body = b"preamble\r\n--BOUND\r\n\r\n<a/>\r\n--BOUND\r\nContent-Type: text/xml\r\n\r\n<b/>\r\n--BOUND--\r\n";
        let split = split_multipart(CT, body, &Limits::default()).unwrap();
        assert_eq!(split.xml.data, b"<b/>");
        assert_eq!(split.images.len(), 1);
        assert_eq!(split.images[0].data, b"<a/>");
        assert!(!split.images[0].mislabelled);
    }
}
