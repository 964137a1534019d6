//! mkvpc: create, converge or delete the VPC for an EKS cluster. All logic is in ekskit-vpc.

use std::process::ExitCode;

use ekskit_vpc::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("mkvpc");
    let global = args.global.clone();
    ekskit_core::run::main("mkvpc", &global, ekskit_vpc::run(args))
}
