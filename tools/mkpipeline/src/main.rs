//! mkpipeline: create, converge or delete the release pipeline of a repository. All logic is in
//! ekskit-pipeline.

use std::process::ExitCode;

use ekskit_pipeline::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("mkpipeline");
    let global = args.global.clone();
    ekskit_core::run::main("mkpipeline", &global, ekskit_pipeline::run(args))
}
