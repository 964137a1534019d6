//! The tag edited in place: the file is parsed only to find where the target scalar's bytes are
//! (saphyr's event spans), and exactly those bytes are replaced. Comments, blank lines, key order,
//! anchors, flow style and line endings are untouched because nothing else is written. The new
//! value keeps the old quoting style and stays a string: a plain scalar that YAML would read as
//! a number, boolean or null (`1.20`, `true`, `~`) is written double-quoted.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::path::{Segment, YamlPath};

/// A node with where it is, enough to walk a path.
#[derive(Debug)]
enum Node {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar { value: String, style: ScalarStyle, start: usize, end: usize },
    Alias,
}

/// The target scalar: its value, byte range and style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub value: String,
    pub start: usize,
    pub end: usize,
    pub document: usize,
    style: ScalarStyle,
}

/// Why a file cannot be edited; all are bad input (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("not YAML: {0}")]
    NotYaml(String),
    #[error("{0} does not exist in the file")]
    Missing(String),
    #[error("{0} is not a scalar (it is a {1})")]
    NotScalar(String, &'static str),
    #[error("{0} is an alias (*); edit the anchored value it points to instead")]
    Alias(String),
    #[error("{0} is a block scalar (| or >); a tag belongs in a plain or quoted scalar")]
    Block(String),
    #[error("{0} exists in {1} documents of the file; pass --document N")]
    Ambiguous(String, usize),
}

/// Finds the scalar at `path` (in document `document`, or the only document that has it).
pub fn locate(text: &str, path: &YamlPath, document: Option<usize>) -> Result<Target, EditError> {
    let docs = parse(text)?;
    let byte_of = char_to_byte(text);
    let mut found = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        if document.is_some_and(|d| d != i) {
            continue;
        }
        match walk(doc, &path.segments) {
            Ok(node) => found.push((i, node)),
            Err(Walk::Missing) => {}
            Err(Walk::Alias) => return Err(EditError::Alias(path.to_string())),
        }
    }
    let (index, node) = match found.len() {
        0 => return Err(EditError::Missing(path.to_string())),
        1 => found.remove(0),
        n => return Err(EditError::Ambiguous(path.to_string(), n)),
    };
    match node {
        Node::Scalar { style: ScalarStyle::Literal | ScalarStyle::Folded, .. } => {
            Err(EditError::Block(path.to_string()))
        }
        Node::Scalar { value, style, start, end } => {
            let (start, end) = (byte_of(*start), byte_of(*end));
            let end = scalar_end(text, start, end, *style);
            Ok(Target { value: value.clone(), start, end, document: index, style: *style })
        }
        Node::Map(_) => Err(EditError::NotScalar(path.to_string(), "mapping")),
        Node::Seq(_) => Err(EditError::NotScalar(path.to_string(), "sequence")),
        Node::Alias => Err(EditError::Alias(path.to_string())),
    }
}

/// `text` with the target's bytes replaced by `value`, written in the target's style.
pub fn replace(text: &str, target: &Target, value: &str) -> String {
    let written = match target.style {
        ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => double_quoted(value),
        _ if plain_is_string(value) => value.to_owned(),
        _ => double_quoted(value),
    };
    format!("{}{written}{}", &text[..target.start], &text[target.end..])
}

fn double_quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether `value` written plain reads back as the same string (YAML 1.1 and 1.2 core schemas:
/// Helm's parser and most tools still follow 1.1, where `yes`, `on`, `1_000` are not strings).
pub fn plain_is_string(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let special_word = matches!(
        lower.as_str(),
        "" | "~"
            | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    );
    let numeric = {
        let v = lower.trim_start_matches(['+', '-']).replace('_', "");
        !v.is_empty()
            && (v.parse::<f64>().is_ok()
                || v.starts_with("0x") && v.len() > 2 && v[2..].chars().all(|c| c.is_ascii_hexdigit())
                || v.starts_with("0o") && v.len() > 2 && v[2..].chars().all(|c| c.is_digit(8))
                || v.split(':').count() > 1
                    && v.split(':').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.')))
    };
    let indicator = value.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ',
    ]) || value.ends_with([' ', ':'])
        || value.contains(": ")
        || value.contains(" #")
        || value.contains(['\n', '\r', '\t']);
    !(special_word || numeric || indicator)
}

enum Walk {
    Missing,
    Alias,
}

fn walk<'a>(node: &'a Node, segments: &[Segment]) -> Result<&'a Node, Walk> {
    let Some((first, rest)) = segments.split_first() else { return Ok(node) };
    let next = match (node, first) {
        (Node::Alias, _) => return Err(Walk::Alias),
        (Node::Map(entries), Segment::Key(key)) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        (Node::Seq(items), Segment::Index(i)) => items.get(*i),
        (Node::Seq(items), Segment::Match(key, value)) => items.iter().find(|item| match item {
            Node::Map(entries) => {
                entries.iter().any(|(k, v)| k == key && matches!(v, Node::Scalar { value: s, .. } if s == value))
            }
            _ => false,
        }),
        _ => None,
    };
    walk(next.ok_or(Walk::Missing)?, rest)
}

/// All documents of `text` as trees.
fn parse(text: &str) -> Result<Vec<Node>, EditError> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| EditError::NotYaml(e.to_string()))?;
        events.push((event, span));
    }
    let mut docs = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if matches!(events[i].0, Event::DocumentStart(_)) {
            let (node, next) = build(&events, i + 1)?;
            docs.push(node);
            i = next;
        } else {
            i += 1;
        }
    }
    Ok(docs)
}

/// The node starting at `events[i]`, and the index after it.
fn build(events: &[(Event<'_>, Span)], i: usize) -> Result<(Node, usize), EditError> {
    let bad = || EditError::NotYaml("unexpected end of the event stream".into());
    let (event, span) = events.get(i).ok_or_else(bad)?;
    match event {
        Event::Scalar(value, style, _, _) => Ok((
            Node::Scalar { value: value.to_string(), style: *style, start: span.start.index(), end: span.end.index() },
            i + 1,
        )),
        Event::Alias(_) => Ok((Node::Alias, i + 1)),
        Event::SequenceStart(..) => {
            let (mut items, mut j) = (Vec::new(), i + 1);
            while !matches!(events.get(j).ok_or_else(bad)?.0, Event::SequenceEnd) {
                let (node, next) = build(events, j)?;
                items.push(node);
                j = next;
            }
            Ok((Node::Seq(items), j + 1))
        }
        Event::MappingStart(..) => {
            let (mut entries, mut j) = (Vec::new(), i + 1);
            while !matches!(events.get(j).ok_or_else(bad)?.0, Event::MappingEnd) {
                let (key, next) = build(events, j)?;
                let (value, after) = build(events, next)?;
                let key = match key {
                    Node::Scalar { value, .. } => value,
                    _ => String::new(), // complex keys are never on a tag's path
                };
                entries.push((key, value));
                j = after;
            }
            Ok((Node::Map(entries), j + 1))
        }
        Event::DocumentEnd => Ok((
            Node::Scalar {
                value: String::new(),
                style: ScalarStyle::Plain,
                start: span.start.index(),
                end: span.start.index(),
            },
            i,
        )),
        _ => Err(EditError::NotYaml(format!("unexpected {event:?}"))),
    }
}

/// Where the scalar's own text ends. saphyr 0.0.6 stretches a quoted scalar's span over a
/// comment after it on the same line, so quoted scalars are measured here: up to the closing
/// quote (`''` and `\"` are escapes); a plain scalar's span stops before ` #` and blanks.
fn scalar_end(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
    let quote = match style {
        ScalarStyle::SingleQuoted => '\'',
        ScalarStyle::DoubleQuoted => '"',
        _ => {
            let own = &text[start..end];
            let own = own.find(" #").map_or(own, |i| &own[..i]);
            return start + own.trim_end().len();
        }
    };
    let mut chars = text[start..].char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                return start + i + 1;
            }
        }
    }
    end
}

/// Char index → byte offset (saphyr's markers count chars).
fn char_to_byte(text: &str) -> impl Fn(usize) -> usize + '_ {
    let offsets: Vec<usize> = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect();
    move |i| offsets.get(i).copied().unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bump(text: &str, path: &str, value: &str) -> Result<String, EditError> {
        let target = locate(text, &path.parse().unwrap(), None)?;
        Ok(replace(text, &target, value))
    }

    /// Only the target scalar's bytes differ: the text before and after it is identical.
    fn assert_only_target_changed(before: &str, after: &str, old: &str, new: &str) {
        let start = before.find(old).unwrap();
        assert_eq!(&after[..start], &before[..start]);
        let tail = &before[start + old.len()..];
        assert!(after.ends_with(tail), "bytes after the target changed:\n{after}");
        assert_eq!(&after[start..after.len() - tail.len()], new);
    }

    #[test]
    fn helm_values_keep_every_other_byte() {
        let before = "# Default values for comments.\nreplicaCount: 2\n\nimage:\n  repository: 1234.dkr.ecr.us-east-1.amazonaws.com/comments   # ECR\n  # the tag tagbump writes\n  tag: \"abcdef12\"\n  pullPolicy: IfNotPresent\n\nresources: {}\n";
        let after = bump(before, "image.tag", "0123abcd").unwrap();
        assert_only_target_changed(before, &after, "\"abcdef12\"", "\"0123abcd\"");
    }

    #[test]
    fn styles_are_kept_and_the_tag_stays_a_string() {
        assert_eq!(bump("image:\n  tag: v1\n", "image.tag", "v2").unwrap(), "image:\n  tag: v2\n");
        assert_eq!(bump("image:\n  tag: v1\n", "image.tag", "1.20").unwrap(), "image:\n  tag: \"1.20\"\n");
        assert_eq!(bump("image:\n  tag: v1\n", "image.tag", "true").unwrap(), "image:\n  tag: \"true\"\n");
        assert_eq!(bump("image:\n  tag: 1.19\n", "image.tag", "12345678").unwrap(), "image:\n  tag: \"12345678\"\n");
        assert_eq!(bump("image: {tag: 'v1', x: 1}\n", "image.tag", "v2").unwrap(), "image: {tag: 'v2', x: 1}\n");
        assert_eq!(
            bump("image:\n  tag: 'v1' # pinned\n", "image.tag", "1.0").unwrap(),
            "image:\n  tag: '1.0' # pinned\n"
        );
        assert_eq!(
            bump("image:\n  tag: \"v\\\"1\"  # c\n", "image.tag", "v2").unwrap(),
            "image:\n  tag: \"v2\"  # c\n"
        );
        assert_eq!(bump("a: {tag: 'it''s', b: 1}\n", "a.tag", "v2").unwrap(), "a: {tag: 'v2', b: 1}\n");
    }

    #[test]
    fn crlf_anchors_flow_unicode_and_documents() {
        let crlf = "a: 1\r\nimage:\r\n  tag: v1\r\n  x: y\r\n";
        assert_eq!(bump(crlf, "image.tag", "v2").unwrap(), "a: 1\r\nimage:\r\n  tag: v2\r\n  x: y\r\n");
        let anchors = "base: &img\n  tag: &t v1\nother: *t\nname: \"é\"\n";
        assert_eq!(bump(anchors, "base.tag", "v2").unwrap(), "base: &img\n  tag: &t v2\nother: *t\nname: \"é\"\n");
        let unicode = "note: \"héllo wörld\"\nimage: {repository: r, tag: v1}\n";
        assert_eq!(
            bump(unicode, "image.tag", "v2").unwrap(),
            "note: \"héllo wörld\"\nimage: {repository: r, tag: v2}\n"
        );
        let docs = "kind: A\n---\nimage:\n  tag: v1\n---\nkind: B\n";
        assert_eq!(bump(docs, "image.tag", "v2").unwrap(), "kind: A\n---\nimage:\n  tag: v2\n---\nkind: B\n");
    }

    #[test]
    fn kustomization_images_are_matched_by_name() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: other\n    newTag: \"1\"\n  - name: comments\n    newName: 1234.dkr.ecr.us-east-1.amazonaws.com/comments\n    newTag: abcdef12 # bumped\n";
        let after = bump(k, "images[name=comments].newTag", "0123abcd").unwrap();
        assert_only_target_changed(k, &after, "abcdef12", "0123abcd");
    }

    #[test]
    fn bad_targets_are_refused() {
        let text = "image:\n  tag: &a v1\n  list: [a]\n  block: |\n    x\nalias: *a\n";
        assert_eq!(bump(text, "image.missing", "v"), Err(EditError::Missing("image.missing".into())));
        assert_eq!(bump(text, "image", "v"), Err(EditError::NotScalar("image".into(), "mapping")));
        assert_eq!(bump(text, "image.list", "v"), Err(EditError::NotScalar("image.list".into(), "sequence")));
        assert_eq!(bump(text, "image.block", "v"), Err(EditError::Block("image.block".into())));
        assert_eq!(bump(text, "alias", "v"), Err(EditError::Alias("alias".into())));
        assert!(matches!(bump("a: [1,\n", "a", "v"), Err(EditError::NotYaml(_))));
        assert!(matches!(
            bump("image:\n  tag: 1\n---\nimage:\n  tag: 2\n", "image.tag", "v"),
            Err(EditError::Ambiguous(_, 2))
        ));
        assert_eq!(
            bump("image.tag: v1\n", "image.tag", "v2"),
            Err(EditError::Missing("image.tag".into())),
            "never a dotted key"
        );
    }

    #[test]
    fn plain_strings() {
        for s in ["abcdef12", "v1.2.3", "1.2.3-rc1", "latest", "abcdef12-dirty", "sha-1"] {
            assert!(plain_is_string(s), "{s}");
        }
        for s in ["1.20", "123", "1e3", "true", "Yes", "off", "~", "null", "", "0x1f", "1_000", "12:30", ".inf", "-x"] {
            assert!(!plain_is_string(s), "{s}");
        }
    }
}
