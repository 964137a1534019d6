//! mkeks: create, converge or delete the EKS cluster for a VPC. All logic is in ekskit-eks.

use std::process::ExitCode;

use ekskit_eks::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("mkeks");
    let global = args.global.clone();
    ekskit_core::run::main("mkeks", &global, ekskit_eks::run(args))
}
