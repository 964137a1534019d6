//! The frame around every tool's `run`: runtime, logging, signals, error rendering, exit code.

use std::future::Future;
use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::errors::{Interrupted, exit, exit_code, render};

/// Parses the flags. Help and version go to stdout as usual; a usage error is rendered like
/// every other error (`mkvpc: error: ...` and a hint) and exits 2 before anything happens.
#[allow(clippy::print_stderr)]
pub fn parse_args<A: clap::Parser>(tool: &str) -> A {
    match A::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = e.to_string();
            let reason = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            let values = text.lines().find(|l| l.trim_start().starts_with("[possible values"));
            eprintln!("{tool}: error: {reason}");
            if let Some(values) = values {
                eprintln!("  {}", values.trim());
            }
            eprintln!("  hint: see `{tool} --help`");
            std::process::exit(exit::USAGE.into());
        }
    }
}

/// Runs a tool's async body and turns its outcome into an exit code. SIGINT and SIGTERM stop
/// the body at its next await point (exit 130); everything the tools do is safe to re-run.
#[allow(clippy::print_stderr)]
pub fn main<F>(tool: &str, global: &GlobalArgs, body: F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    crate::logging::init(tool, global);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{tool}: error: starting the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = body => result,
            () = interrupted() => Err(anyhow::Error::new(Interrupted)),
        }
    });
    // Do not wait for in-flight requests of an interrupted run.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit_code(&err);
            if code == exit::INTERRUPTED {
                eprintln!("{tool}: interrupted; run the same command again to resume");
            } else if code == exit::CHANGES {
                tracing::info!("changes found (exit code {code})");
            } else {
                eprintln!("{}", render(tool, &err));
            }
            ExitCode::from(code)
        }
    }
}

async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
