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
            let (reason, details) = usage_error(&text);
            eprintln!("{tool}: error: {reason}");
            for line in details {
                eprintln!("  {line}");
            }
            eprintln!("  hint: see `{tool} --help`");
            std::process::exit(exit::USAGE.into());
        }
    }
}

/// The first line of a clap error and the indented lines under it: the arguments missing, the
/// possible values, a similar flag (without them "required arguments were not provided" names
/// none).
fn usage_error(text: &str) -> (&str, Vec<&str>) {
    let mut lines = text.lines();
    let reason = lines.next().unwrap_or_default().trim_start_matches("error: ");
    let details = lines.take_while(|l| l.starts_with(char::is_whitespace) && !l.trim().is_empty()).map(str::trim);
    (reason, details.collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_keep_what_clap_says_under_the_first_line() {
        let missing = "error: the following required arguments were not provided:\n  --upgrade\n\nUsage: mkeks --upgrade --to <X.Y>\n\nFor more information, try '--help'.\n";
        assert_eq!(usage_error(missing), ("the following required arguments were not provided:", vec!["--upgrade"]));
        let value = "error: invalid value 'x' for '--nat <MODE>'\n  [possible values: none, single]\n\n  tip: a similar value exists: 'single'\n";
        assert_eq!(
            usage_error(value),
            ("invalid value 'x' for '--nat <MODE>'", vec!["[possible values: none, single]"])
        );
        assert_eq!(
            usage_error("error: unexpected argument '--x' found\n"),
            ("unexpected argument '--x' found", vec![])
        );
    }
}
