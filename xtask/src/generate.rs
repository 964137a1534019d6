//! `cargo xtask generate [--check]`: every generated file, built in memory, then written or
//! compared with the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{docs, manual, tools};

/// Generated files by their path relative to the root, with their bytes.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

/// The directories holding only generated files: a file there that nothing generates is left
/// over (a renamed tool or schema) and goes.
const OWNED: [&str; 6] = ["schemas", "completions/bash", "completions/zsh", "completions/fish", "man", "docs/tools"];

/// Writes (or with `check`, compares) every generated file under `root`; false when `check`
/// found drift.
pub fn run(root: &Path, check: bool) -> anyhow::Result<bool> {
    let files = all()?;
    if !check {
        write(root, &files)?;
        return Ok(true);
    }
    let drift = drift(root, &files)?;
    for line in &drift {
        eprintln!("{line}");
    }
    if !drift.is_empty() {
        eprintln!("generated files drifted: run cargo xtask generate and commit");
    }
    Ok(drift.is_empty())
}

fn all() -> anyhow::Result<Files> {
    let mut files = Files::new();
    schemas(&mut files);
    for tool in tools::all() {
        files.extend(manual::files(&tool)?);
        let (path, page) = docs::file(&tool);
        files.insert(path, page.into_bytes());
    }
    Ok(files)
}

/// schemas/<file>: each document key's JSON Schema, as ekskit_model commits it.
fn schemas(files: &mut Files) {
    for (file, schema) in ekskit_model::schemas() {
        files.insert(Path::new("schemas").join(file), ekskit_model::schema_text(&schema).into_bytes());
    }
}

/// Writes the files that differ and removes the owned directories' other files.
fn write(root: &Path, files: &Files) -> anyhow::Result<()> {
    for extra in extra(root, files)? {
        std::fs::remove_file(root.join(&extra)).with_context(|| format!("removing {}", extra.display()))?;
    }
    for (path, bytes) in files {
        let path = root.join(path);
        if std::fs::read(&path).ok().as_ref() == Some(bytes) {
            continue;
        }
        std::fs::create_dir_all(path.parent().expect("a file has a directory"))?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One line per file that differs, is missing or is extra.
fn drift(root: &Path, files: &Files) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for (path, bytes) in files {
        match std::fs::read(root.join(path)) {
            Ok(kept) if kept == *bytes => {}
            Ok(_) => lines.push(format!("{}: differs", path.display())),
            Err(_) => lines.push(format!("{}: missing", path.display())),
        }
    }
    for path in extra(root, files)? {
        lines.push(format!("{}: extra (nothing generates it)", path.display()));
    }
    Ok(lines)
}

/// The files in the owned directories that are not generated.
fn extra(root: &Path, files: &Files) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut extra = BTreeSet::new();
    for dir in OWNED {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let entry = entry?;
            let path = Path::new(dir).join(entry.file_name());
            if entry.file_type()?.is_file() && !files.contains_key(&path) {
                extra.insert(path);
            }
        }
    }
    Ok(extra)
}
