//! Logs and progress go to stderr through `tracing`; stdout is kept for the document.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

/// Installs the stderr logger. `RUST_LOG` overrides `-v`/`-q`; colour only on a terminal
/// and never with `NO_COLOR` set.
pub fn init(tool: &str, args: &GlobalArgs) {
    let level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Our crates at the chosen level; the SDKs' chatter only when asked for with RUST_LOG.
    let default = format!("warn,ekskit={level},{tool}={level}");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .try_init();
}
