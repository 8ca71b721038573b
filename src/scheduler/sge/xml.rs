//! A small element tree over `quick-xml`, enough for `qstat -xml`'s documents.
//!
//! Grid Engine's XML is plain: elements, text, a few attributes, the five predefined entities
//! and character references, no namespaces in use (the `xmlns:xsd` attribute is decoration).
//! Building a tree first keeps the qstat parsers declarative (find children by name) instead of
//! state machines over events. Documents are a few MB at most; nesting is capped so a hostile
//! reply cannot exhaust the stack of a later recursive walk.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;

use crate::scheduler::ParseError;
use crate::scheduler::sge::parse_error;

/// Deeper nesting than this is refused (`qstat -j -xml` nests about 8 levels).
const MAX_DEPTH: usize = 64;

/// One XML element: its name, attributes, direct text and child elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The element name as written (`job_list`, `JB_job_number`).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attributes: Vec<(String, String)>,
    /// The element's own text (all its text pieces joined, entities resolved), not trimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of the first child named `name`, `None` when absent or empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Every descendant named `name` (depth first, document order), not looking inside a match.
    pub fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for child in &self.children {
            if child.name == name {
                out.push(child);
            } else {
                child.descendants(name, out);
            }
        }
    }
}

/// Parses a whole document into its root element. `what` names the reply in errors.
pub fn parse_document(text: &str, what: &'static str) -> Result<Element, ParseError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let fail = |reader: &Reader<&[u8]>, message: String| {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        parse_error(what, message, Some(snippet_at(text, at)))
    };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(fail(&reader, format!("invalid xml: {e}"))),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                if root.is_some() {
                    return Err(fail(&reader, "content after the root element".to_owned()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(&reader, format!("nesting deeper than {MAX_DEPTH}")));
                }
                let mut element = Element {
                    name: start.name().as_ref().to_owned(),
                    ..Element::default()
                };
                for attribute in start.attributes() {
                    let attribute =
                        attribute.map_err(|e| fail(&reader, format!("bad attribute: {e}")))?;
                    let value = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| fail(&reader, format!("bad attribute value: {e}")))?;
                    element
                        .attributes
                        .push((attribute.key.as_ref().to_owned(), value.into_owned()));
                }
                if is_empty {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                // quick-xml checks that the end tag matches the open one.
                let element = stack
                    .pop()
                    .ok_or_else(|| fail(&reader, "end tag without start".to_owned()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text_event) => {
                let piece = text_event.xml10_content();
                push_text(&mut stack, &piece, || {
                    fail(&reader, "text outside the root".into())
                })?;
            }
            Event::CData(cdata) => {
                let piece = cdata.xml10_content();
                push_text(&mut stack, &piece, || {
                    fail(&reader, "text outside the root".into())
                })?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&reference)
                        .ok_or_else(|| fail(&reader, format!("unknown entity &{};", &*reference)))?
                        .to_owned(),
                    Err(e) => return Err(fail(&reader, format!("bad character reference: {e}"))),
                };
                push_text(&mut stack, &resolved, || {
                    fail(&reader, "entity outside the root".into())
                })?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(parse_error(
            what,
            format!("document ends inside <{}> (truncated output?)", open.name),
            Some(snippet_at(text, text.len())),
        ));
    }
    root.ok_or_else(|| {
        parse_error(
            what,
            "no xml document".to_owned(),
            Some(snippet_at(text, 0)),
        )
    })
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Appends text to the open element; whitespace outside the root is fine, anything else is not.
fn push_text(
    stack: &mut [Element],
    piece: &str,
    outside: impl FnOnce() -> ParseError,
) -> Result<(), ParseError> {
    match stack.last_mut() {
        Some(open) => {
            open.text.push_str(piece);
            Ok(())
        }
        None if piece.trim().is_empty() => Ok(()),
        None => Err(outside()),
    }
}

/// Up to 80 characters of `text` around byte `at`, for error messages.
fn snippet_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let mut start = at.saturating_sub(40);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 40).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_nesting() {
        let root = parse_document(
            "<?xml version='1.0'?>\n<a x=\"1&amp;2\"><b>t&lt;1&#x41;</b><c/></a>",
            "test",
        )
        .unwrap();
        assert_eq!(root.attributes, [("x".to_owned(), "1&2".to_owned())]);
        assert_eq!(root.child_text("b"), Some("t<1A"));
        assert!(root.child("c").is_some());
    }

    #[test]
    fn truncated_and_empty_documents_fail() {
        assert!(parse_document("<a><b>1</b>", "test").is_err());
        assert!(parse_document("", "test").is_err());
        assert!(parse_document("<a/><b/>", "test").is_err());
        assert!(parse_document("<a>&bogus;</a>", "test").is_err());
    }
}
