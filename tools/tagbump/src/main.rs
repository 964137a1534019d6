//! tagbump: set an image tag in a YAML file in place, commit and push it. All logic is in
//! ekskit-bump.

use std::process::ExitCode;

use ekskit_bump::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("tagbump");
    let global = args.global.clone();
    ekskit_core::run::main("tagbump", &global, ekskit_bump::run(args))
}
