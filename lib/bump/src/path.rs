//! Paths into YAML: `image.tag`, `images[name=comments].newTag`, `spec.containers[0].image`. A
//! dot always goes one level down: `image.tag` is never a key literally named "image.tag".

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

impl FromStr for YamlPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("`{text}` is not a path ({why}); write it like image.tag or images[name=app].newTag");
        let mut segments = Vec::new();
        for part in text.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            } else if rest.is_empty() {
                return Err(bad("an empty key"));
            }
            while let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or_else(|| bad("an unclosed ["))?;
                let selector = &inner[..close];
                segments.push(match selector.split_once('=') {
                    Some((k, v)) if !k.is_empty() && !v.is_empty() => Segment::Match(k.to_owned(), v.to_owned()),
                    Some(_) => return Err(bad("an empty selector")),
                    None => Segment::Index(selector.parse().map_err(|_| bad("an index that is not a number"))?),
                });
                rest = &inner[close + 1..];
            }
            if !rest.is_empty() {
                return Err(bad("text after ]"));
            }
        }
        Ok(Self { segments })
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Match(k, v) => write!(f, "[{k}={v}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_print_back() {
        for text in ["image.tag", "images[name=comments].newTag", "spec.containers[0].image", "a[1][2].b"] {
            let p: YamlPath = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        let p: YamlPath = "images[name=a].newTag".parse().unwrap();
        assert_eq!(p.segments[1], Segment::Match("name".into(), "a".into()));
        for bad in ["", "a..b", "a[", "a[x]", "a[=1]", "a[0]b"] {
            assert!(bad.parse::<YamlPath>().is_err(), "{bad}");
        }
    }
}
