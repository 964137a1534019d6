//! The tag edited in place: the file is parsed only to find where the target scalar's bytes are
//! (granit-parser's event spans), and exactly those bytes are replaced. Comments, blank lines,
//! key order, anchors, flow style and line endings are untouched because nothing else is written.
//! The new value keeps the old quoting style and stays a string: a plain scalar that some YAML
//! reader would read as another type (`1.20`, `yes`, `2024-01-15`) is written double-quoted.
//!
//! An empty value (`tag:`, `{tag: }`, a bare `-`) has no bytes: the value is inserted after its
//! indicator (`:` or `-`) or after its anchor or tag. Every edit is checked before it is kept:
//! the edited text, parsed again, must hold the same events with only the target's value
//! changed, so a case this module gets wrong is refused instead of written.
//!
//! The parser accepts what PyYAML, ruamel.yaml and kustomize accept (e.g. a quoted scalar
//! continued on a less-indented line); nothing else is touched, so the edit stays byte-exact.

use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle, Tag};

use crate::path::{Segment, YamlPath};
use crate::resolve::plain_is_string;

/// A node with where it is, enough to walk a path.
#[derive(Debug)]
enum Node {
    Map {
        entries: Vec<(String, Node)>,
        flow: bool,
    },
    Seq(Vec<Node>),
    Scalar(Scalar),
    Alias,
    /// An empty document.
    Empty,
}

#[derive(Debug)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    bytes: Range<usize>,
    /// The explicit tag (`!!str`, `!`, …), if any.
    tag: Option<Tag>,
    /// Where its anchor and tag end, when it has any.
    properties_end: Option<usize>,
    /// Its index among the node events of the file (for the check after the edit).
    event: usize,
}

/// The target scalar: its value, where its bytes are, and how to write a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scalar's text as a reader gets it (`""` for an empty value).
    pub value: String,
    pub document: usize,
    /// The bytes to replace; an empty range is an insertion point.
    pub bytes: Range<usize>,
    /// Written before the value: " " after an indicator, ": " after a flow key without one.
    prefix: &'static str,
    style: ScalarStyle,
    event: usize,
    /// The path, for errors.
    path: String,
}

impl Target {
    /// Whether the file already holds `tag`, as a string (a plain `1.20` is a number to readers).
    pub fn holds(&self, tag: &str) -> bool {
        self.value == tag && (self.style != ScalarStyle::Plain || plain_is_string(tag))
    }
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
    #[error("{0} carries the YAML tag {1}; a tag written there would not be read as a string")]
    Typed(String, String),
    #[error("{0} exists in {1} documents of the file; pass --document N")]
    Ambiguous(String, usize),
    #[error("{0}: the edit would change more than the tag ({1}); the file was left as it is")]
    Unsafe(String, String),
}

/// Whether an explicit tag leaves the scalar a string: `!!str`, or `!` (non-specific).
fn is_string_tag(tag: &Tag) -> bool {
    tag.is_yaml_core_schema_tag("str") || (tag.handle() == "!" && tag.suffix().is_empty())
}

/// Finds the scalar at `path` (in document `document`, or the only document that has it).
pub fn locate(text: &str, path: &YamlPath, document: Option<usize>) -> Result<Target, EditError> {
    let events = parse(text)?;
    let docs = documents(&events)?;
    let mut found = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        if document.is_some_and(|d| d != i) {
            continue;
        }
        match walk(doc, &path.segments, Parent::Document) {
            Ok(node) => found.push((i, node)),
            Err(Walk::Missing) => {}
            Err(Walk::Alias) => return Err(EditError::Alias(path.to_string())),
        }
    }
    let (index, (node, parent)) = match found.len() {
        0 => return Err(EditError::Missing(path.to_string())),
        1 => found.remove(0),
        n => return Err(EditError::Ambiguous(path.to_string(), n)),
    };
    let scalar = match node {
        Node::Scalar(s) => s,
        Node::Map { .. } => return Err(EditError::NotScalar(path.to_string(), "mapping")),
        Node::Seq(_) => return Err(EditError::NotScalar(path.to_string(), "sequence")),
        Node::Alias => return Err(EditError::Alias(path.to_string())),
        Node::Empty => return Err(EditError::Missing(path.to_string())),
    };
    if matches!(scalar.style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return Err(EditError::Block(path.to_string()));
    }
    if let Some(tag) = scalar.tag.as_ref().filter(|t| !is_string_tag(t)) {
        return Err(EditError::Typed(path.to_string(), tag.to_string()));
    }
    let empty = scalar.bytes.is_empty() && scalar.style == ScalarStyle::Plain;
    let (bytes, prefix) =
        if empty { insertion(text, &events, scalar, parent, path)? } else { (scalar.bytes.clone(), "") };
    Ok(Target {
        value: if empty { String::new() } else { scalar.value.clone() },
        document: index,
        bytes,
        prefix,
        style: scalar.style,
        event: scalar.event,
        path: path.to_string(),
    })
}

/// `text` with the target's value replaced by `value`, written in the target's style, after
/// checking that the edited text differs from `text` in that value only.
pub fn edit(text: &str, target: &Target, value: &str) -> Result<String, EditError> {
    let written = match target.style {
        ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => double_quoted(value),
        _ if plain_is_string(value) => value.to_owned(),
        _ => double_quoted(value),
    };
    let edited = format!("{}{}{written}{}", &text[..target.bytes.start], target.prefix, &text[target.bytes.end..]);
    check(text, &edited, target, value)?;
    Ok(edited)
}

fn double_quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The edited text parses to the same events as `text` but for the target scalar, whose value
/// is now `value` and which readers take as a string.
fn check(text: &str, edited: &str, target: &Target, value: &str) -> Result<(), EditError> {
    let unsafe_edit = |why: String| EditError::Unsafe(target.path.clone(), why);
    let before = parse(text)?;
    let after = parse(edited).map_err(|e| unsafe_edit(format!("the result is {e}")))?;
    if before.len() != after.len() {
        return Err(unsafe_edit("the structure changed".into()));
    }
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if i != target.event && b.event != a.event {
            return Err(unsafe_edit(format!("{:?} became {:?}", b.event, a.event)));
        }
    }
    match (&before[target.event].event, &after[target.event].event) {
        (Event::Scalar(_, _, anchor, tag), Event::Scalar(v, style, anchor2, tag2))
            if v == value && anchor == anchor2 && tag == tag2 =>
        {
            if *style == ScalarStyle::Plain && tag.is_none() && !plain_is_string(value) {
                return Err(unsafe_edit(format!("{value} would not be read as a string")));
            }
            Ok(())
        }
        (_, other) => Err(unsafe_edit(format!("the value reads as {other:?}"))),
    }
}

/// A node event with its byte range, and where its anchor and tag end (if it has any).
#[derive(Debug)]
struct Located<'t> {
    event: Event<'t>,
    bytes: Range<usize>,
    properties_end: Option<usize>,
}

/// The node events of `text`, without comments, each anchor folded into its node.
fn parse(text: &str) -> Result<Vec<Located<'_>>, EditError> {
    let options = granit_parser::options! { emit_anchor_events: true, emit_comments: false };
    let mut events: Vec<Located<'_>> = Vec::new();
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = item.map_err(|e| EditError::NotYaml(e.to_string()))?;
        let bytes = byte_range(&span)?;
        match event {
            Event::Anchor(..) => {
                if let Some(last) = events.last_mut() {
                    last.properties_end = last.properties_end.max(Some(bytes.end));
                }
            }
            Event::Comment(..) => {}
            Event::Scalar(..) => {
                let tag_end = span.tag_span().map(|t| byte_range(&t)).transpose()?.map(|r| r.end);
                events.push(Located { event, bytes, properties_end: tag_end });
            }
            event => events.push(Located { event, bytes, properties_end: None }),
        }
    }
    Ok(events)
}

fn byte_range(span: &Span) -> Result<Range<usize>, EditError> {
    span.byte_range().ok_or_else(|| EditError::NotYaml("the parser gave no byte offsets".into()))
}

/// Every document of the event stream as a tree.
fn documents(events: &[Located<'_>]) -> Result<Vec<Node>, EditError> {
    let mut docs = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if matches!(events[i].event, Event::DocumentStart(..)) {
            let (node, next) = build(events, i + 1)?;
            docs.push(node);
            i = next;
        } else {
            i += 1;
        }
    }
    Ok(docs)
}

/// The node starting at `events[i]`, and the index after it.
fn build(events: &[Located<'_>], i: usize) -> Result<(Node, usize), EditError> {
    let bad = || EditError::NotYaml("unexpected end of the event stream".into());
    let located = events.get(i).ok_or_else(bad)?;
    match &located.event {
        Event::Scalar(value, style, _, tag) => {
            let scalar = Scalar {
                value: value.to_string(),
                style: *style,
                bytes: located.bytes.clone(),
                tag: tag.as_ref().map(|t| t.as_ref().clone()),
                properties_end: located.properties_end,
                event: i,
            };
            Ok((Node::Scalar(scalar), i + 1))
        }
        Event::Alias(_) => Ok((Node::Alias, i + 1)),
        Event::SequenceStart(..) => {
            let (mut items, mut j) = (Vec::new(), i + 1);
            while !matches!(events.get(j).ok_or_else(bad)?.event, Event::SequenceEnd) {
                let (node, next) = build(events, j)?;
                items.push(node);
                j = next;
            }
            Ok((Node::Seq(items), j + 1))
        }
        Event::MappingStart(style, ..) => {
            let (mut entries, mut j) = (Vec::new(), i + 1);
            while !matches!(events.get(j).ok_or_else(bad)?.event, Event::MappingEnd) {
                let (key, next) = build(events, j)?;
                let (value, after) = build(events, next)?;
                let key = match key {
                    Node::Scalar(s) => s.value,
                    _ => String::new(), // complex keys are never on a tag's path
                };
                entries.push((key, value));
                j = after;
            }
            Ok((Node::Map { entries, flow: *style == StructureStyle::Flow }, j + 1))
        }
        Event::DocumentEnd => Ok((Node::Empty, i)),
        event => Err(EditError::NotYaml(format!("unexpected {event:?}"))),
    }
}

enum Walk {
    Missing,
    Alias,
}

/// What holds a node: where an empty value's indicator is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Document,
    BlockMap,
    FlowMap,
    Seq,
}

/// The node at `segments` under `node`, and what holds it.
fn walk<'a>(node: &'a Node, segments: &[Segment], parent: Parent) -> Result<(&'a Node, Parent), Walk> {
    let Some((first, rest)) = segments.split_first() else { return Ok((node, parent)) };
    let next = match (node, first) {
        (Node::Alias, _) => return Err(Walk::Alias),
        (Node::Map { entries, flow }, Segment::Key(key)) => {
            let parent = if *flow { Parent::FlowMap } else { Parent::BlockMap };
            entries.iter().find(|(k, _)| k == key).map(|(_, v)| (v, parent))
        }
        (Node::Seq(items), Segment::Index(i)) => items.get(*i).map(|n| (n, Parent::Seq)),
        (Node::Seq(items), Segment::Match(key, value)) => items
            .iter()
            .find(|item| match item {
                Node::Map { entries, .. } => {
                    entries.iter().any(|(k, v)| k == key && matches!(v, Node::Scalar(s) if s.value == *value))
                }
                _ => false,
            })
            .map(|n| (n, Parent::Seq)),
        _ => None,
    };
    let (next, parent) = next.ok_or(Walk::Missing)?;
    walk(next, rest, parent)
}

/// Where an empty scalar's value goes: after its anchor or tag, else after the `:` of its key
/// or the `-` of its sequence entry, found by reading on from the event before it over blanks
/// and comments; in a flow mapping, a key without `:` (`{tag, x: 1}`) gets one.
fn insertion(
    text: &str,
    events: &[Located<'_>],
    scalar: &Scalar,
    parent: Parent,
    path: &YamlPath,
) -> Result<(Range<usize>, &'static str), EditError> {
    if let Some(end) = scalar.properties_end {
        return Ok((end..end, " "));
    }
    let from = events[scalar.event - 1].bytes.end;
    let mut in_comment = false;
    for (i, c) in text[from..].char_indices() {
        let at = from + i;
        match (c, parent) {
            ('\n', _) => in_comment = false,
            (_, _) if in_comment => {}
            (' ' | '\t' | '\r', _) => {}
            ('#', _) => in_comment = true,
            (':', Parent::BlockMap | Parent::FlowMap) | ('-', Parent::Seq) => return Ok((at + 1..at + 1, " ")),
            (',' | '}', Parent::FlowMap) => return Ok((from..from, ": ")),
            _ => break,
        }
    }
    Err(EditError::Unsafe(path.to_string(), "an empty value tagbump cannot place; write any value there first".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bump(text: &str, path: &str, value: &str) -> Result<String, EditError> {
        let target = locate(text, &path.parse().unwrap(), None)?;
        edit(text, &target, value)
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
        assert_eq!(bump("a:\n  tag: !!str v1\n", "a.tag", "1.1").unwrap(), "a:\n  tag: !!str \"1.1\"\n");
    }

    #[test]
    fn yaml_1_1_dates_binaries_and_booleans_are_quoted() {
        for tag in ["0b1010", "2024-01-15", "2024-1-5", "yes", "off", "y", "0o17", "017", "1_000", "1e3", "0x1F"] {
            assert_eq!(bump("tag: v1\n", "tag", tag).unwrap(), format!("tag: \"{tag}\"\n"), "{tag}");
        }
    }

    #[test]
    fn empty_values_get_the_tag_after_their_indicator() {
        let cases = [
            ("image:\n  tag:\n  x: 1\n", "image:\n  tag: v1.2.3\n  x: 1\n"),
            ("image:\n  tag:   # chart default\n", "image:\n  tag: v1.2.3   # chart default\n"),
            ("image:\n  tag: # c\n", "image:\n  tag: v1.2.3 # c\n"),
            ("image:\n  tag:", "image:\n  tag: v1.2.3"),
            ("image:\r\n  tag:\r\n", "image:\r\n  tag: v1.2.3\r\n"),
            ("image: {repository: r, tag: }\n", "image: {repository: r, tag: v1.2.3 }\n"),
            ("image: {repository: r, tag:}\n", "image: {repository: r, tag: v1.2.3}\n"),
            ("image: {tag, repository: r}\n", "image: {tag: v1.2.3, repository: r}\n"),
            ("image: {repository: r, tag}\n", "image: {repository: r, tag: v1.2.3}\n"),
            ("image:\n  tag: !!str # c\n", "image:\n  tag: !!str v1.2.3 # c\n"),
            ("image:\n  tag: &t\nother: *t\n", "image:\n  tag: &t v1.2.3\nother: *t\n"),
            ("image:\n  tag: ~\n", "image:\n  tag: v1.2.3\n"),
            ("image:\n  tag: null # unset\n", "image:\n  tag: v1.2.3 # unset\n"),
        ];
        for (before, after) in cases {
            assert_eq!(bump(before, "image.tag", "v1.2.3").unwrap(), after, "{before:?}");
        }
        assert_eq!(bump("tags:\n  - a\n  -\n  - c\n", "tags[1]", "v2").unwrap(), "tags:\n  - a\n  - v2\n  - c\n");
        assert_eq!(bump("- a: 1\n-   # c\n", "[1]", "v2").unwrap(), "- a: 1\n- v2   # c\n");
        assert_eq!(bump("tag:\n", "tag", "1.20").unwrap(), "tag: \"1.20\"\n");
    }

    #[test]
    fn an_empty_value_is_not_the_tag_and_a_plain_number_is_not_a_string() {
        let empty = locate("tag:\n", &"tag".parse().unwrap(), None).unwrap();
        assert_eq!(empty.value, "");
        let number = locate("tag: 1.20\n", &"tag".parse().unwrap(), None).unwrap();
        assert!(!number.holds("1.20"), "a plain 1.20 is the float 1.2: it must be rewritten quoted");
        assert!(locate("tag: '1.20'\n", &"tag".parse().unwrap(), None).unwrap().holds("1.20"));
        assert!(locate("tag: v1\n", &"tag".parse().unwrap(), None).unwrap().holds("v1"));
    }

    #[test]
    fn quoted_scalars_continued_on_a_less_indented_line_are_read_as_pyyaml_reads_them() {
        let before = "image:\n  description: \"a long\ntext that goes on\"\n  tag: v1\n";
        assert_eq!(bump(before, "image.tag", "v2").unwrap(), before.replace("tag: v1", "tag: v2"));
        let flow = "image: {note: 'spans\nlines', tag: v1}\n";
        assert_eq!(bump(flow, "image.tag", "v2").unwrap(), flow.replace("tag: v1", "tag: v2"));
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
    fn kustomization_images_are_matched_by_name_dots_and_all() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: other\n    newTag: \"1\"\n  - name: comments\n    newName: 1234.dkr.ecr.us-east-1.amazonaws.com/comments\n    newTag: abcdef12 # bumped\n  - name: registry.k8s.io/ingress-nginx/controller\n    newTag: v1.2.0\n";
        let after = bump(k, "images[name=comments].newTag", "0123abcd").unwrap();
        assert_only_target_changed(k, &after, "abcdef12", "0123abcd");
        let after = bump(k, "images[name=registry.k8s.io/ingress-nginx/controller].newTag", "v1.3.0").unwrap();
        assert_only_target_changed(k, &after, "v1.2.0", "v1.3.0");
    }

    #[test]
    fn bad_targets_are_refused() {
        let text = "image:\n  tag: &a v1\n  list: [a]\n  block: |\n    x\n  typed: !!int 5\nalias: *a\n";
        assert_eq!(bump(text, "image.missing", "v"), Err(EditError::Missing("image.missing".into())));
        assert_eq!(bump(text, "image", "v"), Err(EditError::NotScalar("image".into(), "mapping")));
        assert_eq!(bump(text, "image.list", "v"), Err(EditError::NotScalar("image.list".into(), "sequence")));
        assert_eq!(bump(text, "image.block", "v"), Err(EditError::Block("image.block".into())));
        assert_eq!(bump(text, "alias", "v"), Err(EditError::Alias("alias".into())));
        assert!(matches!(bump(text, "image.typed", "v"), Err(EditError::Typed(_, t)) if t.ends_with("int")));
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
        assert_eq!(bump("image.tag: v1\n", "\"image.tag\"", "v2").unwrap(), "image.tag: v2\n", "unless quoted");
    }

    #[test]
    fn the_check_refuses_an_edit_that_changes_anything_else() {
        let text = "tag: v1\nx: 1\n";
        let target = locate(text, &"tag".parse().unwrap(), None).unwrap();
        let wrong = Target { bytes: 0..3, ..target.clone() };
        assert!(matches!(edit(text, &wrong, "v2"), Err(EditError::Unsafe(..))), "the key renamed");
        let wrong = Target { prefix: "", bytes: 5..5, ..target };
        assert!(matches!(edit(text, &wrong, "v2"), Err(EditError::Unsafe(..))), "v2v1");
    }

    /// For random tags and random files of the shapes values files and kustomizations have
    /// (block and flow mappings, sequences of named entries; plain, quoted and empty values;
    /// comments, CRLF), the edit changes only the target's bytes, and a YAML reader (serde_yaml,
    /// on libyaml) reads back exactly the tag, as a string.
    mod properties {
        use proptest::prelude::*;
        use serde_yaml::Value;

        use super::*;

        fn tags() -> impl Strategy<Value = String> {
            prop_oneof![
                "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
                "[0-9+][0-9_.eExXoObB-]{0,10}",
                "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",
                prop::sample::select(vec![
                    "yes",
                    "No",
                    "ON",
                    "off",
                    "y",
                    "N",
                    "true",
                    "False",
                    "null",
                    "NULL",
                    "0b1010",
                    "0o17",
                    "017",
                    "1_000",
                    "1e3",
                    "1.20",
                    "08",
                    "0x1F",
                    "2024-01-15",
                    "latest",
                ])
                .prop_map(str::to_owned),
            ]
            .prop_filter("a valid image tag", |t| ekskit_core::image_ref::check_tag(t).is_ok())
        }

        /// How the old value is written.
        fn olds() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["v1", "'v1'", "\"v1\"", "", "~", "null", "1.19", "'it''s'", "\"a\\\"b\""])
        }

        /// A file holding `old` at `images[name=app].newTag` or `image.tag`, and that path.
        fn file(shape: u8, old: &str, comment: bool, crlf: bool, indent: usize) -> (String, &'static str) {
            let pad = " ".repeat(indent);
            let c = if comment { "  # pinned" } else { "" };
            let (text, path) = match shape % 4 {
                0 => (
                    format!(
                        "# values\nreplicaCount: 2\nimage:\n{pad}repository: r.io/app\n{pad}tag: {old}{c}\n{pad}pullPolicy: Always\n\nother: x\n"
                    ),
                    "image.tag",
                ),
                1 => (
                    format!(
                        "images:\n{pad}- name: other\n{pad}  newTag: \"1\"\n{pad}- name: app{c}\n{pad}  newTag: {old}{c}\n{pad}- name: last\n"
                    ),
                    "images[name=app].newTag",
                ),
                2 => (format!("image: {{repository: r.io/app, tag: {old}}}{c}\nports: [80, 443]\n"), "image.tag"),
                _ => (format!("image: {{tag: {old}, repository: r.io/app}}{c}\n"), "image.tag"),
            };
            (if crlf { text.replace('\n', "\r\n") } else { text }, path)
        }

        fn read_back(text: &str, path: &str) -> Value {
            let doc: Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
            match path {
                "image.tag" => doc["image"]["tag"].clone(),
                _ => {
                    doc["images"].as_sequence().unwrap().iter().find(|i| i["name"] == "app").unwrap()["newTag"].clone()
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
            #[test]
            fn only_the_scalar_changes_and_a_reader_gets_the_exact_string(
                tag in tags(),
                old in olds(),
                shape in 0u8..4,
                comment in any::<bool>(),
                crlf in any::<bool>(),
                indent in 1usize..5,
            ) {
                let (before, path) = file(shape, old, comment, crlf, indent);
                let target = locate(&before, &path.parse().unwrap(), None).unwrap();
                let after = edit(&before, &target, &tag).unwrap();
                prop_assert_eq!(&after[..target.bytes.start], &before[..target.bytes.start]);
                prop_assert!(after.ends_with(&before[target.bytes.end..]));
                prop_assert_eq!(read_back(&after, path), Value::String(tag.clone()), "{}", after);
                let again = locate(&after, &path.parse().unwrap(), None).unwrap();
                prop_assert!(again.holds(&tag), "a re-run finds the tag set:\n{}", after);
            }
        }
    }
}
