//! Rust source split into its code and the text of its doc comments: two copies as long as the
//! source, the rest of each blanked, so an offset means the same place in both. The scan then
//! never takes a string or an ordinary comment for a path, yet still sees rustdoc's
//! [`crate::x`] links, which break as code does when `x` moves.

/// The source's code (comments and string and char literals blanked) and its doc comments
/// (everything else blanked); newlines kept in both, so lines count the same.
pub struct Split {
    pub code: Vec<u8>,
    pub docs: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Code,
    Doc,
    /// An ordinary comment or a literal: blank in both.
    Neither,
}

pub fn split(src: &[u8]) -> Split {
    let mut out = Split { code: Vec::with_capacity(src.len()), docs: Vec::with_capacity(src.len()) };
    let mut i = 0;
    while i < src.len() {
        let (end, kind) = token(src, i);
        let text = &src[i..end];
        out.code.extend(if kind == Kind::Code { text.to_vec() } else { blank(text) });
        out.docs.extend(if kind == Kind::Doc { text.to_vec() } else { blank(text) });
        i = end;
    }
    out
}

/// A space for every byte but newlines.
fn blank(text: &[u8]) -> Vec<u8> {
    text.iter().map(|&b| if b == b'\n' { b'\n' } else { b' ' }).collect()
}

/// The end of the token at `i`, and what it is.
fn token(src: &[u8], i: usize) -> (usize, Kind) {
    let rest = &src[i..];
    if rest.starts_with(b"//") {
        return line_comment(src, i);
    }
    if rest.starts_with(b"/*") {
        return block_comment(src, i);
    }
    if let Some(end) = raw_string(src, i) {
        return (end, Kind::Neither);
    }
    match src[i] {
        b'"' => (string_end(src, i), Kind::Neither),
        b'\'' => char_literal(src, i).map_or((i + 1, Kind::Code), |end| (end, Kind::Neither)),
        _ => {
            let len = rest[1..].iter().position(|b| b"/\"'rb".contains(b)).map_or(rest.len(), |p| p + 1);
            (i + len, Kind::Code)
        }
    }
}

/// `//…` to the end of the line: a doc comment when `///` (not `////`) or `//!`.
fn line_comment(src: &[u8], i: usize) -> (usize, Kind) {
    let end = src[i..].iter().position(|&b| b == b'\n').map_or(src.len(), |p| i + p);
    let text = &src[i..end];
    let doc = (text.starts_with(b"///") && !text.starts_with(b"////")) || text.starts_with(b"//!");
    (end, if doc { Kind::Doc } else { Kind::Neither })
}

/// `/* … */`, nested: a doc comment when `/**` (not `/***` or `/**/`) or `/*!`.
fn block_comment(src: &[u8], i: usize) -> (usize, Kind) {
    let (mut j, mut depth) = (i + 2, 1);
    while j < src.len() && depth > 0 {
        if src[j..].starts_with(b"/*") {
            (depth, j) = (depth + 1, j + 2);
        } else if src[j..].starts_with(b"*/") {
            (depth, j) = (depth - 1, j + 2);
        } else {
            j += 1;
        }
    }
    let text = &src[i..j];
    let doc = (text.starts_with(b"/**") && !text.starts_with(b"/***") && text != b"/**/") || text.starts_with(b"/*!");
    (j, if doc { Kind::Doc } else { Kind::Neither })
}

/// The end of a raw string (`r"…"`, `r#"…"#`, `br"…"`) starting at `i`, if one does.
fn raw_string(src: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_word(src[i - 1]) {
        return None;
    }
    let r = match src[i] {
        b'r' => i + 1,
        b'b' if src.get(i + 1) == Some(&b'r') => i + 2,
        _ => return None,
    };
    let hashes = src[r..].iter().take_while(|&&b| b == b'#').count();
    if src.get(r + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = r + hashes + 1;
    Some(src[body..].windows(close.len()).position(|w| w == close).map_or(src.len(), |p| body + p + close.len()))
}

/// The end of the `"…"` string starting at `i` (escapes skipped).
fn string_end(src: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < src.len() && src[j] != b'"' {
        j += if src[j] == b'\\' { 2 } else { 1 };
    }
    (j + 1).min(src.len())
}

/// The end of the char literal (`'x'`, `'\n'`, `'\u{1F600}'`) at `i`; None for a lifetime or
/// label (`'a`), which stays code.
fn char_literal(src: &[u8], i: usize) -> Option<usize> {
    let body = i + 1;
    let end = match *src.get(body)? {
        b'\\' if src[body..].starts_with(b"\\u{") => {
            let hex = src[body + 3..].iter().take(6).take_while(|b| b.is_ascii_hexdigit()).count();
            (src.get(body + 3 + hex) == Some(&b'}')).then_some(body + 4 + hex)?
        }
        b'\\' => {
            let escaped = *src.get(body + 1)?;
            (escaped != b'\n').then(|| body + 1 + char_len(escaped))?
        }
        b'\'' => return None,
        first => body + char_len(first),
    };
    (src.get(end) == Some(&b'\'')).then_some(end + 1)
}

/// The length in bytes of the UTF-8 character that `first` starts.
fn char_len(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

/// A byte of an identifier (any non-ASCII byte counts, as Unicode letters would).
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words left in the code, after checking it kept the source's length and lines.
    fn code(src: &str) -> Vec<String> {
        let code = String::from_utf8(split(src.as_bytes()).code).unwrap();
        assert_eq!((code.len(), code.lines().count()), (src.len(), src.lines().count()));
        code.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn comments_and_literals_are_blanked_in_the_code() {
        assert_eq!(code("a // crate::x\nb"), ["a", "b"]);
        assert_eq!(code(r##"f("crate::x", 'c', '\'', r"y", br#"z"#)"##), ["f(", ",", ",", ",", ",", ")"]);
        assert_eq!(code("/* a /* b */ c */d"), ["d"]);
        assert_eq!(code("fn f<'a>(x: &'a str)"), ["fn", "f<'a>(x:", "&'a", "str)"]);
        assert_eq!(code("'é'x"), ["x"]);
    }

    #[test]
    fn only_doc_comments_are_kept_in_the_docs() {
        let docs = String::from_utf8(split(b"/// [`crate::a`]\n//// no\n//! yes\nx").docs).unwrap();
        assert_eq!(docs, "/// [`crate::a`]\n       \n//! yes\n ");
    }
}
