//! imgpush: push an image through the Docker engine to Amazon ECR or any registry. All logic is
//! in ekskit-registry.

use std::process::ExitCode;

use ekskit_registry::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("imgpush");
    let global = args.global.clone();
    ekskit_core::run::main("imgpush", &global, ekskit_registry::run(args))
}
