//! A tiny, strict XML 1.0 reader for tests: the whole document as a tree of elements, with text
//! and attribute values decoded the way a conforming parser reports them (entities and
//! character references resolved, line ends and attribute whitespace normalized).
//!
//! It is independent of the `rss`/`atom_syndication` crates the product writes with, so it can
//! catch what they would silently accept.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// One element: qualified name as written (`atom:link`), attributes in order, child elements,
/// and the concatenated text directly inside it (text, CDATA and references).
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child element with this name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Every child element with this name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Characters XML 1.0 allows (production `Char`).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses a whole document; any well-formedness problem is an error naming the byte offset.
pub fn parse(xml: &str) -> Result<Node, String> {
    if let Some((i, c)) = xml.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(format!(
            "character U+{:04X} at byte {i} is not allowed in XML 1.0",
            c as u32
        ));
    }
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let err = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        format!("not well-formed at byte {}: {e}", reader.buffer_position())
    };
    let start =
        |reader: &Reader<&[u8]>, e: &quick_xml::events::BytesStart<'_>| -> Result<Node, String> {
            let mut node = Node {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                ..Node::default()
            };
            for a in e.attributes() {
                let a = a.map_err(|x| err(reader, &x))?;
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                if node.attr(&key).is_some() {
                    return Err(err(reader, &format!("duplicate attribute {key}")));
                }
                let value = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|x| err(reader, &x))?
                    .into_owned();
                node.attrs.push((key, value));
            }
            Ok(node)
        };
    loop {
        let event = reader.read_event().map_err(|e| err(&reader, &e))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(err(&reader, &"content after the root element"));
                }
                stack.push(start(&reader, &e)?);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err(err(&reader, &"content after the root element"));
                }
                let node = start(&reader, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| err(&reader, &"end tag without start"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| err(&reader, &e))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(err(&reader, &"text outside the root element")),
                }
            }
            Event::CData(t) => {
                let s = t.xml10_content().map_err(|e| err(&reader, &e))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&s),
                    None => return Err(err(&reader, &"CDATA outside the root element")),
                }
            }
            Event::GeneralRef(r) => {
                let resolved =
                    if let Some(c) = r.resolve_char_ref().map_err(|e| err(&reader, &e))? {
                        if !is_xml_char(c) {
                            return Err(err(
                                &reader,
                                &format!("character reference to U+{:04X}", c as u32),
                            ));
                        }
                        c.to_string()
                    } else {
                        let name = r.decode().map_err(|e| err(&reader, &e))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| err(&reader, &format!("undefined entity &{name};")))?
                            .to_owned()
                    };
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&resolved),
                    None => return Err(err(&reader, &"reference outside the root element")),
                }
            }
            Event::DocType(_) => return Err(err(&reader, &"unexpected DOCTYPE")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "unclosed element <{}>",
            stack[stack.len() - 1].name
        ));
    }
    root.ok_or_else(|| "no root element".to_owned())
}
