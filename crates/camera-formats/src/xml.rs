//! A small, bounded element tree over quick-xml, matched by local names.
//!
//! Camera XML is small and shallow, so the parsers read a whole document into a tree of
//! [`Element`]s and then pick values by name. Building the tree is where the input is
//! distrusted: the size, depth and element count are bounded, `<!DOCTYPE>` is refused (so no
//! entity is defined, let alone expanded), and only the five predefined entities and
//! character references are resolved. Names are local (`tt:Frame` and `Frame` are the same):
//! the ONVIF specification's own examples use the `tt:` prefix without declaring it.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;

use crate::{FormatError, Limits, SourceFormat};

/// One element: its local name, attributes (local names), children and own text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The element's own text, trimmed.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    /// The trimmed text of the child at `path`, when it exists and is not empty.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).map(Element::text).filter(|t| !t.is_empty())
    }
}

/// Shows a path of element names as `<a>/<b>/<c>`, shortened in the middle when long.
pub(crate) fn show_path<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let n = names.len();
    let parts: Vec<String> = names
        .enumerate()
        .filter_map(|(i, name)| match i {
            _ if n <= 6 || i < 3 || i >= n - 2 => Some(format!("<{name}>")),
            3 => Some("…".to_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Checks the size and the encoding: every supported format is UTF-8. A UTF-8 byte order
/// mark is dropped.
pub(crate) fn utf8_document<'a>(
    bytes: &'a [u8],
    format: SourceFormat,
    limits: &Limits,
) -> Result<&'a str, FormatError> {
    if bytes.len() > limits.max_document_bytes {
        return Err(FormatError::TooLarge {
            format,
            what: "the document",
            size: bytes.len(),
            limit: limits.max_document_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| FormatError::InvalidUtf8 { format, offset: e.valid_up_to() })?;
    if text.trim().is_empty() {
        return Err(FormatError::Empty { format });
    }
    Ok(text)
}

/// Reads a whole document into its top-level elements (a fragment may have several).
pub(crate) fn parse(bytes: &[u8], format: SourceFormat, limits: &Limits) -> Result<Vec<Element>, FormatError> {
    let text = utf8_document(bytes, format, limits)?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut roots: Vec<Element> = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let xml_error = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| FormatError::Xml {
        format,
        offset: reader.error_position(),
        message: e.to_string(),
    };
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, &e))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                if stack.len() >= limits.max_depth {
                    let path = show_path(stack.iter().map(|e| e.name.as_str()));
                    return Err(FormatError::TooDeep { format, limit: limits.max_depth, path });
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(FormatError::TooMany { format, what: "elements", limit: limits.max_elements });
                }
                let element = start_element(start, format, &reader)?;
                if is_empty {
                    attach(element, &mut stack, &mut roots);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                // quick-xml has checked that the end tag matches the open one.
                if let Some(element) = stack.pop() {
                    attach(element, &mut stack, &mut roots);
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(FormatError::Xml {
                            format,
                            offset: reader.buffer_position(),
                            message: "text outside the root element".into(),
                        });
                    }
                }
            }
            Event::CData(c) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match predefined_entity(&r) {
                        Some(c) => c,
                        None => {
                            return Err(FormatError::UnknownEntity {
                                format,
                                name: truncate(&r, 64),
                                offset: reader.buffer_position(),
                            });
                        }
                    },
                    Err(e) => return Err(xml_error(&reader, &e)),
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push(resolved);
                }
            }
            Event::DocType(_) => return Err(FormatError::Doctype { format }),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        let path = show_path(stack.iter().map(|e| e.name.as_str()));
        return Err(FormatError::Truncated { format, path });
    }
    if roots.is_empty() {
        return Err(FormatError::Empty { format });
    }
    Ok(roots)
}

fn attach(element: Element, stack: &mut [Element], roots: &mut Vec<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => roots.push(element),
    }
}

fn local(name: QName<'_>) -> String {
    name.local_name().as_ref().to_owned()
}

fn start_element(start: &BytesStart<'_>, format: SourceFormat, reader: &Reader<&[u8]>) -> Result<Element, FormatError> {
    let mut element = Element { name: local(start.name()), ..Element::default() };
    for attr in start.attributes() {
        let attr =
            attr.map_err(|e| FormatError::Xml { format, offset: reader.buffer_position(), message: e.to_string() })?;
        let key = attr.key;
        if key.as_ref() == "xmlns" || key.prefix().is_some_and(|p| p.as_ref() == "xmlns") {
            continue;
        }
        let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
                FormatError::UnknownEntity { format, name: truncate(&name, 64), offset: reader.buffer_position() }
            }
            e => FormatError::Xml { format, offset: reader.buffer_position(), message: e.to_string() },
        })?;
        element.attrs.push((local(key), value.into_owned()));
    }
    Ok(element)
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(xml: &str) -> Result<Vec<Element>, FormatError> {
        parse(xml.as_bytes(), SourceFormat::OnvifXml, &Limits::default())
    }

    #[test]
    fn local_names_text_attributes_and_entities() {
        let roots = tree(
            r#"<?xml version="1.0"?><!-- c --><tt:A xmlns:tt="urn:x" tt:k="v &amp; w"><tt:B>x &lt; y &#65;<![CDATA[<z>]]></tt:B><C/></tt:A>"#,
        )
        .unwrap();
        assert_eq!(roots.len(), 1);
        let a = &roots[0];
        assert_eq!((a.name.as_str(), a.attr("k")), ("A", Some("v & w")));
        assert_eq!(a.child("B").unwrap().text(), "x < y A<z>");
        assert!(a.child("C").is_some());
        assert_eq!(a.attrs.len(), 1, "namespace declarations are not attributes");
    }

    #[test]
    fn hostile_documents_are_refused_by_name() {
        let err = tree(r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#).unwrap_err();
        assert_eq!(err, FormatError::Doctype { format: SourceFormat::OnvifXml });
        let err = tree("<a>&x;</a>").unwrap_err();
        assert!(matches!(err, FormatError::UnknownEntity { ref name, .. } if name == "x"), "{err:?}");
        let err = tree(r#"<a b="&x;"/>"#).unwrap_err();
        assert!(matches!(err, FormatError::UnknownEntity { ref name, .. } if name == "x"), "{err:?}");
        let err = tree("<a><b></a>").unwrap_err();
        assert!(matches!(err, FormatError::Xml { .. }), "{err:?}");
        let err = tree("<a><b>").unwrap_err();
        assert_eq!(err.to_string(), "onvif-xml: the document ends inside <a>/<b>");
        let err = tree("<a/>junk").unwrap_err();
        assert!(err.to_string().contains("text outside the root element"), "{err}");
        assert_eq!(tree("  ").unwrap_err(), FormatError::Empty { format: SourceFormat::OnvifXml });
        assert_eq!(tree("<!-- only -->").unwrap_err(), FormatError::Empty { format: SourceFormat::OnvifXml });
        let err = tree(r#"<a b="1" b="2"/>"#).unwrap_err();
        assert!(matches!(err, FormatError::Xml { .. }), "{err:?}");
    }

    #[test]
    fn limits_hold() {
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        let err = tree(&deep).unwrap_err();
        assert_eq!(err.to_string(), "onvif-xml: nested deeper than 64 levels at <a>/<a>/<a>/…/<a>/<a>");
        assert!(tree(&("<a>".repeat(64) + &"</a>".repeat(64))).is_ok());
        let limits = Limits { max_elements: 3, ..Limits::default() };
        let err = parse(b"<a><b/><b/><b/></a>", SourceFormat::OnvifXml, &limits).unwrap_err();
        assert_eq!(err, FormatError::TooMany { format: SourceFormat::OnvifXml, what: "elements", limit: 3 });
        let limits = Limits { max_document_bytes: 10, ..Limits::default() };
        let err = parse(b"<a>0123456789</a>", SourceFormat::OnvifXml, &limits).unwrap_err();
        assert_eq!(err.to_string(), "onvif-xml: the document is 17 bytes, more than the limit of 10");
        let err = tree_bytes(b"<a>\xff</a>").unwrap_err();
        assert_eq!(err, FormatError::InvalidUtf8 { format: SourceFormat::OnvifXml, offset: 3 });
        assert!(tree_bytes(b"\xEF\xBB\xBF<a/>").is_ok());
    }

    fn tree_bytes(b: &[u8]) -> Result<Vec<Element>, FormatError> {
        parse(b, SourceFormat::OnvifXml, &Limits::default())
    }
}
