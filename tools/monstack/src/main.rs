//! monstack: the monitoring stack for a cluster. All logic is in ekskit-mon.

use std::process::ExitCode;

use ekskit_mon::cli::Args;

fn main() -> ExitCode {
    // `monstack --eks-token CLUSTER --region R`: the exec plugin of the kubeconfig monstack builds
    // for an mkeks `cluster` document (as kapply does).
    if let Some(code) = ekskit_mon::eks_token::as_exec_plugin() {
        return code;
    }
    let args: Args = ekskit_core::run::parse_args("monstack");
    let global = args.global.clone();
    ekskit_core::run::main("monstack", &global, ekskit_mon::run(args))
}
