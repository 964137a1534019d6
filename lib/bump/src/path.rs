//! Paths into YAML: `image.tag`, `images[name=comments].newTag`, `spec.containers[0].image`.
//!
//! A dot always goes one level down: `image.tag` is never a key literally named "image.tag".
//! Inside `[…]` dots are part of the selector, so `images[name=registry.k8s.io/x].newTag` works
//! as written. Quotes hold what the plain syntax cannot: a key with dots
//! (`metadata.labels."app.kubernetes.io/version"`) or a selector value with `]`
//! (`images[name="a]b"].newTag`); `"…"` takes `\"` and `\\`, `'…'` takes `''`.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// The item of a sequence of mappings whose `key` is `value`.
    Match(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlPath {
    pub segments: Vec<Segment>,
}

/// What a path may look like, for error messages.
pub const SYNTAX: &str = "write it like image.tag, images[name=app].newTag, images[name=registry.k8s.io/app].newTag, \
     spec.containers[0].image, or with a quoted key: labels.\"app.kubernetes.io/version\"";

impl FromStr for YamlPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Scanner { text, at: 0 }.path().map_err(|why| format!("`{text}` is not a path ({why}); {SYNTAX}"))
    }
}

/// A cursor over the path text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn path(mut self) -> Result<YamlPath, String> {
        let mut segments = Vec::new();
        loop {
            // A key, or none when `[` follows directly (`[0].x`, `a[0][1]`).
            if let Some(key) = self.key()? {
                segments.push(Segment::Key(key));
            }
            while self.peek() == Some('[') {
                self.bump();
                segments.push(self.selector()?);
            }
            match self.bump() {
                None => return Ok(YamlPath { segments }),
                Some('.') if self.peek().is_none() => return Err("an empty key at the end".into()),
                Some('.') => {}
                Some(c) => return Err(format!("`{c}` after a key or ]; a dot or [ goes there")),
            }
        }
    }

    /// A key, plain or quoted; None at a `[`.
    fn key(&mut self) -> Result<Option<String>, String> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                self.quoted(q).map(Some)
            }
            Some('[') => Ok(None),
            _ => {
                let start = self.at;
                while let Some(c) = self.peek().filter(|c| !matches!(c, '.' | '[' | ']' | '"' | '\'')) {
                    self.at += c.len_utf8();
                }
                match &self.text[start..self.at] {
                    "" if self.peek() == Some(']') => Err("a ] without its [".into()),
                    "" => Err("an empty key".into()),
                    key => Ok(Some(key.to_owned())),
                }
            }
        }
    }

    /// After `[`: `N]` or `key=value]`, either side possibly quoted.
    fn selector(&mut self) -> Result<Segment, String> {
        let key = self.selector_part(&['=', ']'])?;
        match self.bump() {
            Some(']') => {
                let index = key.parse().map_err(|_| format!("[{key}] is neither an index nor key=value"))?;
                Ok(Segment::Index(index))
            }
            Some('=') => {
                let value = self.selector_part(&[']'])?;
                if self.bump() != Some(']') {
                    return Err("an unclosed [ (a value with ] must be quoted)".into());
                }
                if key.is_empty() || value.is_empty() {
                    return Err("an empty selector".into());
                }
                Ok(Segment::Match(key, value))
            }
            _ => Err("an unclosed [".into()),
        }
    }

    /// Text up to one of `stops` (not consumed), or a quoted string.
    fn selector_part(&mut self, stops: &[char]) -> Result<String, String> {
        if let Some(q @ ('"' | '\'')) = self.peek() {
            self.bump();
            return self.quoted(q);
        }
        let start = self.at;
        while let Some(c) = self.peek().filter(|c| !stops.contains(c)) {
            self.at += c.len_utf8();
        }
        Ok(self.text[start..self.at].to_owned())
    }

    /// The rest of a quoted string whose opening `quote` was read.
    fn quoted(&mut self, quote: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match (self.bump(), quote) {
                (None, _) => return Err(format!("an unclosed {quote}")),
                (Some('\\'), '"') => out.push(self.bump().ok_or("a \\ at the end")?),
                (Some('\''), '\'') if self.peek() == Some('\'') => {
                    self.bump();
                    out.push('\'');
                }
                (Some(c), q) if c == q => return Ok(out),
                (Some(c), _) => out.push(c),
            }
        }
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{}", quote_if(k, &['.', '[', ']', '"', '\'']))?,
                Segment::Key(k) => write!(f, ".{}", quote_if(k, &['.', '[', ']', '"', '\'']))?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Match(k, v) => {
                    write!(f, "[{}={}]", quote_if(k, &['=', ']', '"', '\'']), quote_if(v, &[']', '"', '\'']))?
                }
            }
        }
        Ok(())
    }
}

/// `text` as is, or double-quoted when it holds one of `special` (or is empty), so that the
/// printed path parses back to the same segments.
fn quote_if(text: &str, special: &[char]) -> String {
    if text.is_empty() || text.contains(special) {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Segment> {
        text.parse::<YamlPath>().unwrap_or_else(|e| panic!("{e}")).segments
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn paths_parse_and_print_back() {
        for text in [
            "image.tag",
            "images[name=comments].newTag",
            "spec.containers[0].image",
            "a[1][2].b",
            "images[name=registry.k8s.io/ingress-nginx/controller].newTag",
            "labels.\"app.kubernetes.io/version\"",
            "images[name=\"a]b\"].newTag",
        ] {
            let p: YamlPath = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
            assert_eq!(p.to_string().parse::<YamlPath>().unwrap(), p);
        }
        assert_eq!(parse("images[name=a].newTag")[1], Segment::Match("name".into(), "a".into()));
    }

    #[test]
    fn dots_inside_brackets_and_quotes_do_not_split() {
        assert_eq!(
            parse("images[name=registry.k8s.io/x].newTag"),
            [key("images"), Segment::Match("name".into(), "registry.k8s.io/x".into()), key("newTag")]
        );
        assert_eq!(
            parse("images['name'='public.ecr.aws/it''s'].newTag")[1],
            Segment::Match("name".into(), "public.ecr.aws/it's".into())
        );
        assert_eq!(parse("a.\"b.c\".d"), [key("a"), key("b.c"), key("d")]);
        assert_eq!(parse("\"x\\\"y\""), [key("x\"y")]);
        assert_eq!(parse("[0].tag"), [Segment::Index(0), key("tag")]);
    }

    #[test]
    fn bad_paths_say_what_is_wrong_and_what_the_syntax_is() {
        for (bad, why) in [
            ("", "an empty key"),
            ("a..b", "an empty key"),
            ("a.", "an empty key at the end"),
            ("a[", "an unclosed ["),
            ("a[name=x", "an unclosed ["),
            ("a[x]", "neither an index nor key=value"),
            ("a[=1]", "an empty selector"),
            ("a[0]b", "`b` after a key or ]"),
            ("a\"b\"", "`\"` after a key or ]"),
            ("a]", "`]` after a key or ]"),
            ("a.\"b", "an unclosed \""),
        ] {
            let err = bad.parse::<YamlPath>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("images[name=registry.k8s.io/app].newTag"), "{err}");
        }
    }
}
