//! The build context: the directory tarred by imgbuild with `.dockerignore` applied, because the
//! engine API does not apply it to a tar it is sent (moby #48637).
//!
//! `.dockerignore` follows Docker's rules: one pattern a line, `#` comments, paths relative to
//! the context root (a leading `/` is dropped), `*`, `?` and `**` (any number of directories),
//! `!` re-includes; the last pattern that matches a path (or one of its parent directories)
//! decides. The Dockerfile and `.dockerignore` are always sent, as `docker build` does.

use std::path::Path;

use ekskit_core::InputError;

/// The compiled `.dockerignore` of a context.
#[derive(Debug, Default, Clone)]
pub struct Ignore {
    rules: Vec<(bool, Vec<String>)>, // (exclude?, pattern segments)
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (exclude, pattern) = match l.strip_prefix('!') {
                    Some(p) => (false, p.trim()),
                    None => (true, l),
                };
                let segments = pattern
                    .trim_start_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_owned)
                    .collect();
                (exclude, segments)
            })
            .collect();
        Ignore { rules }
    }

    /// Whether `path` (relative, `/`-separated) is left out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (exclude, pattern) in &self.rules {
            // A pattern matching a parent directory covers everything below it.
            let hit = (1..=parts.len()).any(|n| matches(pattern, &parts[..n]));
            if hit {
                excluded = *exclude;
            }
        }
        excluded
    }
}

fn matches(pattern: &[String], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(p), _) if p == "**" => (0..=path.len()).any(|skip| matches(&pattern[1..], &path[skip..])),
        (Some(p), Some(s)) => glob(p.as_bytes(), s.as_bytes()) && matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// `*` and `?` within one path segment, `[...]` classes, `\` escapes (Go's filepath.Match).
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(b'['), Some(c)) => match p.iter().position(|b| *b == b']') {
            Some(end) if end > 1 => {
                let (negate, class) = match p[1] {
                    b'^' | b'!' => (true, &p[2..end]),
                    _ => (false, &p[1..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= class[i] <= *c && *c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && glob(&p[end + 1..], &s[1..])
            }
            _ => false,
        },
        (Some(b'\\'), Some(c)) if p.len() > 1 => p[1] == *c && glob(&p[2..], &s[1..]),
        (Some(a), Some(b)) => a == b && glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Tars the context directory (with the ignore rules) into memory, paths in sorted order;
/// returns the tar and the paths it holds.
pub fn tar_context(dir: &Path, dockerfile: &str) -> anyhow::Result<(Vec<u8>, Vec<String>)> {
    if !dir.is_dir() {
        return Err(InputError::new(format!("build context {} is not a directory", dir.display()))
            .hint("pass the directory that holds the Dockerfile, e.g. imgbuild app/")
            .into());
    }
    if !dir.join(dockerfile).is_file() {
        return Err(InputError::new(format!("no {dockerfile} in {}", dir.display()))
            .hint("pass --file PATH (relative to the context)")
            .into());
    }
    let ignore = std::fs::read_to_string(dir.join(".dockerignore")).map(|t| Ignore::parse(&t)).unwrap_or_default();
    let mut files = Vec::new();
    collect(dir, "", &ignore, dockerfile, &mut files)?;
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for rel in &files {
        builder.append_path_with_name(dir.join(rel), rel)?;
    }
    Ok((builder.into_inner()?, files))
}

fn collect(root: &Path, rel: &str, ignore: &Ignore, dockerfile: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let always = path == dockerfile || path == ".dockerignore";
        if !always && ignore.excludes(&path) {
            // A later `!` rule may re-include something below an excluded directory.
            if !(entry.file_type()?.is_dir() && ignore.rules.iter().any(|(exclude, _)| !exclude)) {
                continue;
            }
        }
        if entry.file_type()?.is_dir() {
            collect(root, &path, ignore, dockerfile, out)?;
        } else if always || !ignore.excludes(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules_as_docker_applies_them() {
        let ig = Ignore::parse(
            "# comment\n.git\n*.pyc\n**/__pycache__\n/tests\nsecrets/*\n!secrets/public.pem\nnode_modules\n",
        );
        for excluded in [
            ".git",
            ".git/config",
            "x.pyc",
            "tests/test_api.py",
            "a/b/__pycache__/m.pyc",
            "secrets/key",
            "node_modules/a/b",
        ] {
            assert!(ig.excludes(excluded), "{excluded} should be excluded");
        }
        for kept in ["app.py", "comments/x.py", "a/b.pyc", "secrets/public.pem", "src/tests/x", "gitx"] {
            assert!(!ig.excludes(kept), "{kept} should be kept");
        }
        assert!(Ignore::parse("[a-c]?.txt").excludes("b1.txt"));
        assert!(!Ignore::parse("[!a-c]?.txt").excludes("b1.txt"));
    }

    #[test]
    fn the_tar_holds_what_is_not_ignored_plus_dockerfile_and_dockerignore() {
        let dir = std::env::temp_dir().join(format!("imgbuild-ctx-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg/__pycache__")).unwrap();
        for f in ["Dockerfile", ".dockerignore", "pkg/a.py", "pkg/__pycache__/a.pyc", "notes.md"] {
            std::fs::write(dir.join(f), f).unwrap();
        }
        std::fs::write(dir.join(".dockerignore"), "Dockerfile\n.dockerignore\n**/__pycache__\n*.md\n").unwrap();
        let (bytes, files) = tar_context(&dir, "Dockerfile").unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "pkg/a.py"]);
        assert_eq!(files, names);
        assert!(tar_context(&dir.join("nope"), "Dockerfile").is_err());
        assert!(tar_context(&dir, "Other.dockerfile").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
