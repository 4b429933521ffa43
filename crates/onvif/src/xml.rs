//! A small, bounded, namespace-aware element tree over quick-xml.
//!
//! The same approach as `limes-camera-formats`' reader — a whole (small) document read into a
//! tree, then values picked by name — with the same distrust of the input: the size, depth and
//! element count are bounded, `<!DOCTYPE>` is refused (so no entity is ever defined, let alone
//! expanded), and only the five predefined entities and character references are resolved.
//! Unlike camera events, SOAP answers are namespace-well-formed, so each element keeps its
//! namespace and the SOAP layer checks it (a `Body` of another envelope is not ours).

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::{Error, Limits};

/// One element: its namespace (when bound), local name, attributes (local names), children and
/// own text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: Option<String>,
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

    /// The trimmed text at `path`, or [`Error::Missing`] naming `what` and the path.
    pub fn required(&self, path: &[&str], what: &'static str) -> Result<&str, Error> {
        self.text_at(path).ok_or_else(|| Error::Missing { what, path: show(self.name.as_str(), path) })
    }

    /// Whether the element is `name` in namespace `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }
}

/// `<a>/<b>/<c>` for a path below `root`.
pub(crate) fn show(root: &str, path: &[&str]) -> String {
    std::iter::once(root).chain(path.iter().copied()).map(|n| format!("<{n}>")).collect::<Vec<_>>().join("/")
}

/// Shows the open elements as `<a>/<b>/<c>`, shortened in the middle when long.
fn show_stack(stack: &[Element]) -> String {
    let n = stack.len();
    let parts: Vec<String> = stack
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match i {
            _ if n <= 6 || i < 3 || i >= n - 2 => Some(format!("<{}>", e.name)),
            3 => Some("…".to_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Reads a whole document into its root element.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, Error> {
    if bytes.len() > limits.max_document_bytes {
        return Err(Error::TooLarge { size: bytes.len(), limit: limits.max_document_bytes });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 { offset: e.valid_up_to() })?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut root: Option<Element> = None;
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map(|(ns, e)| (namespace(&ns), e))
            .map_err(|e| Error::Xml { offset: position, message: e.to_string() })?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                if stack.len() >= limits.max_depth {
                    return Err(Error::TooDeep { limit: limits.max_depth, path: show_stack(&stack) });
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(Error::TooManyElements { limit: limits.max_elements });
                }
                if stack.is_empty() && root.is_some() {
                    return Err(Error::Xml { offset: position, message: "a second root element".into() });
                }
                let element = start_element(ns, start, position)?;
                if is_empty {
                    attach(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                // quick-xml has checked that the end tag matches the open one.
                if let Some(element) = stack.pop() {
                    attach(element, &mut stack, &mut root);
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(Error::Xml { offset: position, message: "text outside the root element".into() });
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
                    Ok(None) => predefined_entity(&r)
                        .ok_or_else(|| Error::Xml { offset: position, message: format!("unknown entity &{};", &*r) })?,
                    Err(e) => return Err(Error::Xml { offset: position, message: e.to_string() }),
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push(resolved);
                }
            }
            Event::DocType(_) => return Err(Error::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::Truncated { path: show_stack(&stack) });
    }
    root.ok_or(Error::Empty)
}

fn namespace(ns: &ResolveResult<'_>) -> Option<String> {
    match ns {
        ResolveResult::Bound(n) => Some(AsRef::<str>::as_ref(n).to_owned()),
        ResolveResult::Unbound | ResolveResult::Unknown(_) => None,
    }
}

fn attach(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn start_element(ns: Option<String>, start: &BytesStart<'_>, offset: u64) -> Result<Element, Error> {
    let name = AsRef::<str>::as_ref(&start.local_name()).to_owned();
    let mut element = Element { ns, name, ..Element::default() };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| Error::Xml { offset, message: e.to_string() })?;
        let key = attr.key;
        if key.as_ref() == "xmlns" || key.prefix().is_some_and(|p| p.as_ref() == "xmlns") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| Error::Xml { offset, message: e.to_string() })?;
        element.attrs.push((AsRef::<str>::as_ref(&key.local_name()).to_owned(), value.into_owned()));
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

/// Text escaped for an XML element or attribute value.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(xml: &str) -> Result<Element, Error> {
        parse(xml.as_bytes(), &Limits::default())
    }

    #[test]
    fn namespaces_text_attributes_and_entities() {
        let a = tree(r#"<?xml version="1.0"?><!-- c --><s:A xmlns:s="urn:x" s:k="v &amp; w"><B xmlns="urn:y">x &lt; y &#65;<![CDATA[<z>]]></B><C/></s:A>"#).unwrap();
        assert!(a.is("urn:x", "A"));
        assert_eq!(a.attr("k"), Some("v & w"));
        assert!(a.child("B").unwrap().is("urn:y", "B"));
        assert_eq!(a.child("B").unwrap().text(), "x < y A<z>");
        assert_eq!(a.child("C").unwrap().ns, None);
        assert_eq!(a.attrs.len(), 1, "namespace declarations are not attributes");
    }

    #[test]
    fn hostile_documents_are_refused_by_name() {
        assert_eq!(tree(r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#).unwrap_err(), Error::Doctype);
        let err = tree("<a>&x;</a>").unwrap_err();
        assert!(err.to_string().contains("unknown entity &x;"), "{err}");
        assert!(matches!(tree("<a><b></a>").unwrap_err(), Error::Xml { .. }));
        assert_eq!(tree("<a><b>").unwrap_err().to_string(), "the document ends inside <a>/<b>");
        assert!(tree("<a/>junk").unwrap_err().to_string().contains("text outside the root element"));
        assert!(tree("<a/><b/>").unwrap_err().to_string().contains("a second root element"));
        assert_eq!(tree("  ").unwrap_err(), Error::Empty);
        assert_eq!(tree("not xml at all").unwrap_err().to_string(), "xml at byte 0: text outside the root element");
    }

    #[test]
    fn limits_hold() {
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        assert_eq!(tree(&deep).unwrap_err().to_string(), "nested deeper than 64 levels at <a>/<a>/<a>/…/<a>/<a>");
        assert!(tree(&("<a>".repeat(64) + &"</a>".repeat(64))).is_ok());
        let limits = Limits { max_elements: 3, ..Limits::default() };
        assert_eq!(parse(b"<a><b/><b/><b/></a>", &limits).unwrap_err(), Error::TooManyElements { limit: 3 });
        let limits = Limits { max_document_bytes: 10, ..Limits::default() };
        assert_eq!(
            parse(b"<a>0123456789</a>", &limits).unwrap_err().to_string(),
            "the document is 17 bytes, more than the limit of 10"
        );
        assert_eq!(parse(b"<a>\xff</a>", &Limits::default()).unwrap_err(), Error::InvalidUtf8 { offset: 3 });
    }
}
