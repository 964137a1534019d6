//! The scan of one file's blanked code (or docs, see lex): its `#[cfg(test)]` modules, its
//! inline modules and the `crate::`/`super::`/`self::` paths it names, `use` groups expanded.

use super::lex::is_word;

/// A path from the crate root, without `crate`: `["a", "b", "f"]`.
pub type Path = Vec<String>;

/// Byte ranges of the inline `#[cfg(test)] mod x { … }` bodies (from the attribute on), and the
/// names of the `#[cfg(test)] mod x;` files.
pub fn test_modules(code: &[u8]) -> (Vec<(usize, usize)>, Vec<String>) {
    let (mut ranges, mut files) = (Vec::new(), Vec::new());
    for at in 0..code.len() {
        let Some(end) = tokens(code, at, &[b"#", b"[", b"cfg", b"(", b"test", b")", b"]"]) else { continue };
        let Some((name, next)) = mod_item(code, skip_attrs_and_vis(code, end)) else { continue };
        match code[next] {
            b';' => files.push(name),
            _ => ranges.push((at, matching_brace(code, next))),
        }
    }
    (ranges, files)
}

/// Inline `mod name { … }` bodies: (offset of `{`, offset past `}`, name), outer ones first.
pub fn inline_modules(code: &[u8]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < code.len() {
        if (at == 0 || !is_word(code[at - 1]))
            && let Some((name, brace)) = mod_item(code, at).filter(|&(_, b)| code[b] == b'{')
        {
            out.push((brace, matching_brace(code, brace), name));
            at = brace + 1;
            continue;
        }
        at += 1;
    }
    out
}

/// `mod name` then `{` or `;` at `at` (after spaces): the name and the offset of that `{`/`;`.
fn mod_item(code: &[u8], at: usize) -> Option<(String, usize)> {
    let after = literal(code, spaces(code, at), b"mod")?;
    let start = spaces(code, after);
    if start == after {
        return None;
    }
    let end = ident(code, start)?;
    let next = spaces(code, end);
    matches!(code.get(next), Some(b'{' | b';')).then(|| (text(&code[start..end]), next))
}

/// Past the spaces, further `#[…]` attributes and a `pub`/`pub(…)` at `at`.
fn skip_attrs_and_vis(code: &[u8], mut at: usize) -> usize {
    while let Some(open) = tokens(code, spaces(code, at), &[b"#", b"["]) {
        let mut depth = 1;
        at = open;
        while at < code.len() && depth > 0 {
            depth += match code[at] {
                b'[' => 1,
                b']' => -1,
                _ => 0,
            };
            at += 1;
        }
    }
    let Some(after) = literal(code, spaces(code, at), b"pub") else { return at };
    let after = spaces(code, after);
    if code.get(after) == Some(&b'(')
        && let Some(close) = code[after..].iter().position(|&b| b == b')')
    {
        return after + close + 1;
    }
    after
}

/// The offset past the `}` that closes the `{` at `open`.
fn matching_brace(code: &[u8], open: usize) -> usize {
    let mut depth = 0;
    for (j, &b) in code.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Each `crate::`/`super::`/`self::` path in `text` outside the `skip` ranges, as (offset,
/// path from the crate root). `here` is the file's module; `inline` its inline modules.
pub fn references(
    text: &[u8],
    skip: &[(usize, usize)],
    inline: &[(usize, usize, String)],
    here: &Path,
) -> Vec<(usize, Path)> {
    let mut out = Vec::new();
    for k in 0..text.len() {
        let Some((keyword, after)) = path_start(text, k) else { continue };
        let at = if k > 0 && text[k - 1] == b'$' && free(text, k - 1) { k - 1 } else { k };
        if skip.iter().any(|&(a, b)| a <= at && at < b) {
            continue;
        }
        let mut scope = here.clone();
        scope.extend(inline.iter().filter(|(a, b, _)| *a <= at && at < *b).map(|(_, _, name)| name.clone()));
        for path in tail(text, after, vec![keyword.to_owned()]) {
            out.push((at, absolute(&scope, path)));
        }
    }
    out
}

/// `crate`, `super` or `self` then `::` at `k`, not inside a longer path or name: the keyword
/// and the offset past it.
fn path_start(text: &[u8], k: usize) -> Option<(&'static str, usize)> {
    if !free(text, k) {
        return None;
    }
    let keyword = ["crate", "super", "self"].into_iter().find(|w| text[k..].starts_with(w.as_bytes()))?;
    let after = k + keyword.len();
    literal(text, spaces(text, after), b"::")?;
    Some((keyword, after))
}

/// No identifier character or `:` just before `k`.
fn free(text: &[u8], k: usize) -> bool {
    k == 0 || !(is_word(text[k - 1]) || text[k - 1] == b':')
}

/// A path as written (`crate::a`, `super::super::b`, `self::c`) from the crate root.
fn absolute(scope: &Path, path: Path) -> Path {
    if path[0] == "crate" {
        return path[1..].to_vec();
    }
    let mut base = scope.clone();
    let mut rest = path.as_slice();
    while let Some((first, more)) = rest.split_first().filter(|(f, _)| *f == "super" || *f == "self") {
        if first == "super" {
            base.pop();
        }
        rest = more;
    }
    base.extend(rest.iter().cloned());
    base
}

/// The paths continuing `prefix` at `at`: `::ident…`, `::{group}`, or none (`::*`, `::<T>`).
fn tail(text: &[u8], at: usize, prefix: Path) -> Vec<Path> {
    let Some(after) = literal(text, spaces(text, at), b"::") else { return vec![prefix] };
    let start = spaces(text, after);
    if text.get(start) == Some(&b'{') {
        return group(text, start + 1, &prefix);
    }
    let Some(end) = ident(text, start) else { return vec![prefix] };
    let mut path = prefix;
    path.push(self::text(&text[start..end]));
    tail(text, end, path)
}

/// The paths of the `{a, b::c, self, d as e}` group whose `{` is just before `at`.
fn group(text: &[u8], mut at: usize, prefix: &Path) -> Vec<Path> {
    let mut paths = Vec::new();
    let mut depth = 0;
    while at < text.len() {
        at = spaces(text, at);
        if at >= text.len() || text[at] == b'}' {
            break;
        }
        if let Some(end) = ident(text, at) {
            match &text[at..end] {
                b"self" => paths.push(prefix.clone()),
                name => {
                    let mut path = prefix.clone();
                    path.push(self::text(name));
                    paths.extend(tail(text, end, path));
                }
            }
        }
        // On to the `,` or `}` that ends this item at this depth.
        while at < text.len() {
            match text[at] {
                b'{' => depth += 1,
                b'}' if depth == 0 => break,
                b'}' => depth -= 1,
                b',' if depth == 0 => {
                    at += 1;
                    break;
                }
                _ => {}
            }
            at += 1;
        }
    }
    paths
}

/// Each of `words` at `at`, spaces allowed between them: the offset past the last.
fn tokens(text: &[u8], at: usize, words: &[&[u8]]) -> Option<usize> {
    let mut at = literal(text, at, words[0])?;
    for word in &words[1..] {
        at = literal(text, spaces(text, at), word)?;
    }
    Some(at)
}

fn literal(text: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    text[at.min(text.len())..].starts_with(word).then_some(at + word.len())
}

fn spaces(text: &[u8], mut at: usize) -> usize {
    while at < text.len() && text[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// The end of the ASCII identifier at `at`, if one starts there.
fn ident(text: &[u8], at: usize) -> Option<usize> {
    let first = *text.get(at)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    Some(at + text[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(src: &str, here: &[&str]) -> Vec<String> {
        let here: Path = here.iter().map(|s| (*s).to_owned()).collect();
        let code = src.as_bytes();
        references(code, &[], &inline_modules(code), &here).into_iter().map(|(_, p)| p.join("::")).collect()
    }

    #[test]
    fn use_groups_expand_and_super_resolves() {
        assert_eq!(paths("use crate::{a, b::{c, d as e}, self};", &[]), ["a", "b::c", "b::d", ""]);
        assert_eq!(paths("super::x::f(); self::y", &["m", "n"]), ["m::x::f", "m::n::y"]);
        assert_eq!(paths("mod t { use super::z; }", &["m"]), ["m::z"]);
        assert_eq!(paths("$crate::q; a::crate::no; Self::no", &[]), ["q"]);
    }

    #[test]
    fn cfg_test_modules_are_found() {
        let code = b"#[cfg(test)]\n#[allow(x)]\npub(crate) mod t { crate::a }\n#[cfg(test)] mod u;";
        let (ranges, files) = test_modules(code);
        assert_eq!(ranges, [(0, 54)]);
        assert_eq!(files, ["u"]);
    }
}
