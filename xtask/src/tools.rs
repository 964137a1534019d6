//! The tools whose clap definitions the completions, man pages and docs/tools/ come from.

use clap::CommandFactory;

/// A tool's command line, and the file that defines it (named in its generated page).
pub struct Tool {
    pub command: clap::Command,
    pub source: &'static str,
}

/// Every tool, in the order a stack is built.
pub fn all() -> Vec<Tool> {
    vec![
        tool::<ekskit_vpc::cli::Args>("lib/vpc/src/cli.rs"),
        tool::<ekskit_eks::cli::Args>("lib/eks/src/cli.rs"),
        tool::<ekskit_apply::cli::Args>("lib/apply/src/cli.rs"),
        tool::<ekskit_image::cli::Args>("lib/image/src/cli.rs"),
        tool::<ekskit_registry::cli::Args>("lib/registry/src/cli.rs"),
        tool::<ekskit_bump::cli::Args>("lib/bump/src/cli.rs"),
        tool::<ekskit_mon::cli::Args>("lib/mon/src/cli.rs"),
        tool::<ekskit_pipeline::cli::Args>("lib/pipeline/src/cli.rs"),
    ]
}

fn tool<T: CommandFactory>(source: &'static str) -> Tool {
    Tool { command: T::command(), source }
}
