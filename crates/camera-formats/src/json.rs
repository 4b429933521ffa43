//! Bounds checked on JSON before serde_json sees it.

use crate::{FormatError, Limits, SourceFormat, xml};

/// Checks size, encoding and nesting depth of a JSON document, and returns it as text.
///
/// The depth is measured by a scan of the bytes (strings skipped) so that a document of
/// 10,000 nested arrays is refused with its place before any parser recurses into it.
pub(crate) fn checked<'a>(bytes: &'a [u8], format: SourceFormat, limits: &Limits) -> Result<&'a str, FormatError> {
    let text = xml::utf8_document(bytes, format, limits)?;
    let (mut depth, mut in_string, mut escaped, mut values) = (0usize, false, false, 0usize);
    for (offset, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                values += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                values += 1;
                if depth > limits.max_depth {
                    return Err(FormatError::TooDeep {
                        format,
                        limit: limits.max_depth,
                        path: format!("byte {offset}"),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => {}
        }
        if values > limits.max_elements {
            return Err(FormatError::TooMany { format, what: "JSON values", limit: limits.max_elements });
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_measured_outside_strings() {
        let limits = Limits { max_depth: 3, ..Limits::default() };
        assert!(checked(br#"{"a": [{"b": "[[[[[[{{{{"}]}"#, SourceFormat::Frigate, &limits).is_ok());
        assert!(checked(br#"{"a": "\"[[[["}"#, SourceFormat::Frigate, &limits).is_ok());
        let err = checked(b"[[[[1]]]]", SourceFormat::Frigate, &limits).unwrap_err();
        assert_eq!(err.to_string(), "frigate: nested deeper than 3 levels at byte 3");
    }
}
