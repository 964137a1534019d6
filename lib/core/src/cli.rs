//! Flags every tool has, flattened into each tool's clap definition.

use clap::Args;

#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}
