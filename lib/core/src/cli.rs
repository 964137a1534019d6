//! Flags every tool has, flattened into each tool's clap definition.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Arg, Args};

use crate::document::Stdin;
use crate::errors::exit;

#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The `-` positional: read the stdin document even from a terminal, as `kubectl apply -f -` and
/// `crane` read stdin when told to. Without it a tool reads stdin only when it is piped, so it
/// never hangs on a terminal. Flatten it last, after a tool's own positionals (`tagbump FILE -`).
#[derive(Debug, Clone, Default, Args)]
pub struct StdinDash {
    /// Read the document from stdin even when it is a terminal
    #[arg(id = "stdin", value_name = "-", value_parser = PossibleValuesParser::new(["-"]))]
    pub dash: Option<String>,
}

impl StdinDash {
    /// How the tool reads its stdin document.
    pub fn mode(&self) -> Stdin {
        if self.dash.is_some() { Stdin::Always } else { Stdin::WhenPiped }
    }
}

/// Value parser of a tool's own path positional before [`StdinDash`]: a lone `-` there would be
/// taken for the path, and the user meant the stdin document (`imgbuild . -`, `tagbump FILE -`).
pub fn path_not_dash(text: &str) -> Result<PathBuf, String> {
    if text == "-" {
        return Err("`-` is not a path here: give the path first, then `-` to read the document from stdin".into());
    }
    Ok(PathBuf::from(text))
}

/// For `#[command(mut_args(for_arg("delete", |a| a.help("..."))))]`: one tool's help, default or
/// conflicts for an arg of a shared group. Not clap's `mut_arg`, which moves the arg to the end
/// of the command: the help keeps its order either way, but the generated completions would not.
/// Like `mut_arg`, it panics on an id no shared group has (when the command is built, so every
/// tool's parse test catches a typo that would otherwise drop the change silently).
pub fn for_arg(id: &'static str, change: impl Fn(Arg) -> Arg) -> impl FnMut(Arg) -> Arg {
    assert!(SHARED_IDS.contains(&id), "for_arg: `{id}` is not an arg of a shared group ({SHARED_IDS:?})");
    move |arg| if arg.get_id() == id { change(arg) } else { arg }
}

/// The ids of the shared groups' args, the only ones [`for_arg`] may change.
const SHARED_IDS: [&str; 4] = ["stdin", "dry_run", "delete", "timeout"];

/// `--dry-run`. Each tool says what it prints instead, with
/// `#[command(mut_args(for_arg("dry_run", |a| a.help("..."))))]`.
#[derive(Debug, Clone, Default, Args)]
pub struct DryRun {
    /// Print what would change; change nothing
    #[arg(id = "dry_run", long = "dry-run")]
    pub on: bool,
}

/// `--delete`. Each tool says what it deletes, with [`for_arg`]`("delete", |a| a.help("..."))`,
/// and adds the flags it excludes there too (`.conflicts_with_all([...])`).
#[derive(Debug, Clone, Default, Args)]
pub struct Delete {
    /// Delete what the tool made
    #[arg(id = "delete", long = "delete")]
    pub on: bool,
}

/// `--timeout`. There is no default here because each tool waits on different things: set it
/// with [`for_arg`]`("timeout", |a| a.default_value("25m"))` (a missing default fails the parse).
#[derive(Debug, Clone, Args)]
pub struct Timeout {
    /// Longest wait (e.g. 10m, 90s)
    #[arg(id = "timeout", long = "timeout", value_name = "DURATION", value_parser = parse_duration, required = false)]
    pub limit: Duration,
}

/// What each exit code means for one tool, listed under its `--help`. The codes come from
/// [`exit`]; the texts are the tool's, so the defaults can be overridden one by one:
/// `ExitCodes { done: "built", ..ExitCodes::DEFAULT }`.
#[derive(Debug, Clone, Copy)]
pub struct ExitCodes {
    pub done: &'static str,
    pub failure: &'static str,
    pub usage: &'static str,
    /// Only tools that report found changes with exit 3 (`kapply --diff`).
    pub changes: Option<&'static str>,
    pub interrupted: &'static str,
}

impl ExitCodes {
    pub const DEFAULT: Self = Self {
        done: "done",
        failure: "failure (re-run to finish)",
        usage: "bad usage or input (nothing changed)",
        changes: None,
        interrupted: "interrupted (re-run to resume)",
    };

    /// `Exit codes: 0 done, 1 failure ...`, wrapped between codes at 100 columns like the rest of
    /// the help.
    pub fn render(&self) -> String {
        let mut items = vec![
            format!("{} {},", exit::OK, self.done),
            format!("{} {},", exit::FAILURE, self.failure),
            format!("{} {},", exit::USAGE, self.usage),
        ];
        if let Some(changes) = self.changes {
            items.push(format!("{} {changes},", exit::CHANGES));
        }
        items.push(format!("{} {}.", exit::INTERRUPTED, self.interrupted));
        wrap("Exit codes:", &items, 100)
    }
}

/// `head` then `items` separated by spaces, a new line instead of the space where the next item
/// would pass `width`.
fn wrap(head: &str, items: &[String], width: usize) -> String {
    let mut out = String::from(head);
    let mut line = head.len();
    for item in items {
        if line + 1 + item.len() > width {
            out.push('\n');
            line = 0;
        } else {
            out.push(' ');
            line += 1;
        }
        out.push_str(item);
        line += item.len();
    }
    out
}

/// A tool's `after_help`: its examples and notes, then what its exit codes mean.
pub fn after_help(examples: &str, codes: ExitCodes) -> String {
    format!("{examples}\n{}", codes.render())
}

/// `15m`, `90s`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 15m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}` is not a duration like 90s, 15m or 1h")),
    };
    if secs == 0 {
        return Err("the timeout must be more than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[derive(Debug, clap::Parser)]
    #[command(mut_args(for_arg("timeout", |a| a.default_value("25m"))))]
    #[command(mut_args(for_arg("delete", |a| a.help("Delete it all"))))]
    struct Tool {
        #[arg(value_name = "FILE", value_parser = path_not_dash)]
        file: Option<PathBuf>,
        #[command(flatten)]
        dry_run: DryRun,
        #[command(flatten)]
        delete: Delete,
        #[command(flatten)]
        timeout: Timeout,
        #[command(flatten)]
        stdin: StdinDash,
    }

    #[test]
    fn groups_parse_with_the_tools_defaults() {
        use clap::{CommandFactory, Parser};
        Tool::command().debug_assert();
        let t = Tool::try_parse_from(["tool"]).unwrap();
        assert_eq!((t.dry_run.on, t.delete.on, t.timeout.limit), (false, false, Duration::from_secs(1500)));
        assert_eq!(t.stdin.mode(), Stdin::WhenPiped);
        let t = Tool::try_parse_from(["tool", "f.yaml", "-", "--dry-run", "--delete", "--timeout", "90s"]).unwrap();
        assert_eq!((t.dry_run.on, t.delete.on, t.timeout.limit), (true, true, Duration::from_secs(90)));
        assert_eq!((t.file.unwrap(), t.stdin.mode()), (PathBuf::from("f.yaml"), Stdin::Always));
        assert!(Tool::try_parse_from(["tool", "-"]).is_err(), "a lone `-` is not taken for the path");
        assert!(Tool::try_parse_from(["tool", "f", "x"]).is_err(), "only `-` after the path");
        let help = Tool::command().render_help().to_string();
        assert!(help.contains("Delete it all") && help.contains("[default: 25m]"), "{help}");
        let order: Vec<_> = Tool::command().get_arguments().map(|a| a.get_id().to_string()).collect();
        assert_eq!(order, ["file", "dry_run", "delete", "timeout", "stdin"], "for_arg keeps the order");
    }

    #[test]
    #[should_panic(expected = "`dryrun` is not an arg of a shared group")]
    fn for_arg_refuses_an_id_no_group_has() {
        let _ = for_arg("dryrun", |a| a);
    }

    #[test]
    fn exit_codes_wrap_between_codes() {
        assert_eq!(
            ExitCodes::DEFAULT.render(),
            "Exit codes: 0 done, 1 failure (re-run to finish), 2 bad usage or input (nothing changed),\n\
             130 interrupted (re-run to resume)."
        );
        let diff = ExitCodes { changes: Some("--diff found changes"), failure: "failure", ..ExitCodes::DEFAULT };
        assert_eq!(
            diff.render(),
            "Exit codes: 0 done, 1 failure, 2 bad usage or input (nothing changed), 3 --diff found changes,\n\
             130 interrupted (re-run to resume)."
        );
        assert_eq!(
            after_help("Examples:\n  x\n", ExitCodes::DEFAULT).lines().nth(3),
            Some("Exit codes: 0 done, 1 failure (re-run to finish), 2 bad usage or input (nothing changed),")
        );
    }
}
