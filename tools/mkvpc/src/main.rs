//! mkvpc: create, converge or delete the VPC for an EKS cluster. All logic is in ekskit-vpc.

use std::process::ExitCode;

use clap::Parser;
use ekskit_vpc::cli::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    let global = args.global.clone();
    ekskit_core::run::main("mkvpc", &global, ekskit_vpc::run(args))
}
