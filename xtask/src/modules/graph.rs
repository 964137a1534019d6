//! One crate's module graph: its files as modules, and an edge from a module to each other
//! module it names by path (with where, as evidence).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::lex;
use super::scan::{self, inline_modules, references, test_modules};

/// A module by its path from the crate root (`[]` is the root, `["a", "b"]` is `a::b`).
pub type Module = scan::Path;

/// The first reference that makes an edge, in code when there is one.
pub struct Evidence {
    pub file: PathBuf,
    pub line: usize,
    /// Only doc comments name the module (rustdoc links, which break as code does).
    pub doc_only: bool,
}

/// Each module's edges, to the modules it names, with the first place it does.
pub type Edges = BTreeMap<Module, BTreeMap<Module, Evidence>>;

/// A file's blanked code and docs, and the ranges of its inline test modules.
struct Parsed {
    file: PathBuf,
    text: lex::Split,
    tests: Vec<(usize, usize)>,
}

/// The crate's edges. Test modules (`#[cfg(test)]`, inline or files) are left out: tests may
/// use anything. An edge to the module itself or one under it is nesting (a parent declares
/// and re-exports its children), not a dependency, so it is dropped.
pub fn edges(krate: &Path) -> std::io::Result<Edges> {
    let (parsed, modules) = parse(krate)?;
    let mut edges = Edges::new();
    for module in &modules {
        let found = edges.entry(module.clone()).or_default();
        let file = &parsed[module];
        let inline = inline_modules(&file.text.code);
        for (text, doc_only) in [(&file.text.code, false), (&file.text.docs, true)] {
            for (at, path) in references(text, &file.tests, &inline, module) {
                let Some(target) = deepest(&modules, path) else { continue };
                if !target.starts_with(module) {
                    let line = file.text.code[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                    found.entry(target).or_insert_with(|| Evidence { file: file.file.clone(), line, doc_only });
                }
            }
        }
    }
    Ok(edges)
}

/// Every file parsed, and the modules outside test modules.
fn parse(krate: &Path) -> std::io::Result<(BTreeMap<Module, Parsed>, BTreeSet<Module>)> {
    let mut parsed = BTreeMap::new();
    let mut test_only = Vec::new();
    for (module, file) in files(krate)? {
        let text = lex::split(&std::fs::read(&file)?);
        let (tests, test_files) = test_modules(&text.code);
        test_only.extend(test_files.into_iter().map(|name| [module.clone(), vec![name]].concat()));
        parsed.insert(module, Parsed { file, text, tests });
    }
    let modules = parsed.keys().filter(|m| !test_only.iter().any(|t| m.starts_with(t))).cloned().collect();
    Ok((parsed, modules))
}

/// The longest module that `path` starts with.
fn deepest(modules: &BTreeSet<Module>, mut path: Module) -> Option<Module> {
    loop {
        if modules.contains(&path) {
            return Some(path);
        }
        path.pop()?;
    }
}

/// The crate's modules and their files: src/lib.rs (or src/main.rs without one) is the root,
/// src/a.rs and src/a/mod.rs are `a`, src/a/b.rs is `a::b`; src/bin/ holds other crates.
fn files(krate: &Path) -> std::io::Result<BTreeMap<Module, PathBuf>> {
    let src = krate.join("src");
    let mut found = Vec::new();
    walk(&src, &mut found)?;
    let has_lib = src.join("lib.rs").exists();
    let mut files = BTreeMap::new();
    for file in found {
        let rel = file.strip_prefix(&src).expect("walked under src/");
        let Some(module) = module_of(rel) else { continue };
        if !(module.is_empty() && has_lib && rel == Path::new("main.rs")) {
            files.insert(module, file);
        }
    }
    Ok(files)
}

/// The .rs files under `dir`: its own first, then each subdirectory's, all by name.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            dirs.push(path);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    dirs.iter().try_for_each(|d| walk(d, found))
}

/// The module a file under src/ is, or None under src/bin/.
fn module_of(rel: &Path) -> Option<Module> {
    let mut parts: Vec<String> = rel.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts[0] == "bin" {
        return None;
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return Some(Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}
