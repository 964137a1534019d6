//! monstack: the monitoring stack for a cluster. All logic is in ekskit-mon.

use std::process::ExitCode;

use ekskit_mon::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("monstack");
    let global = args.global.clone();
    ekskit_core::run::main("monstack", &global, ekskit_mon::run(args))
}
