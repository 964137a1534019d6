//! xtask: the repository's chores, run from anywhere in the checkout as `cargo xtask <task>`
//! (the alias in .cargo/config.toml), so they need nothing but cargo.
//!
//! - `generate` writes every generated file from the code: the JSON Schemas (schemas/), shell
//!   completions (completions/), man pages (man/) and one Markdown page per tool (docs/tools/).
//! - `generate --check` writes nothing and exits 1 naming each file that drifted (make test).
//! - `check-modules` exits 1 naming each cycle between the modules of a crate under lib/.

// A developer's tool: what it finds is for the terminal, not the JSON pipeline that
// ekskit_core's output and logging serve, so it writes to stderr itself.
#![allow(clippy::print_stderr)]

mod docs;
mod generate;
mod manual;
mod modules;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// The repository's chores: generated files and checks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
enum Task {
    /// Write schemas/, completions/, man/ and docs/tools/ from the types and clap definitions
    Generate {
        /// Write nothing; exit 1 naming each file that differs, is missing or is extra
        #[arg(long)]
        check: bool,
        /// The tree to write (or check) instead of the workspace's
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Exit 1 naming each cycle between the modules of a crate under lib/
    CheckModules {
        /// Crates (a directory with a src/), or directories of crates, instead of lib/
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    let clean = match Task::parse() {
        Task::Generate { check, out } => generate::run(&out.unwrap_or_else(workspace_root), check)?,
        Task::CheckModules { dirs } => modules::run(&workspace_root(), &dirs)?,
    };
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The workspace root: xtask/ is one level below it. The path is compiled in, which is safe
/// because each checkout has its own target directory (scripts/target-dir).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}
