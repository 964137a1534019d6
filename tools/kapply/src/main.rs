//! kapply: apply Kubernetes manifests server-side, in order, and wait. The edge is in
//! ekskit-apply, the engine in ekskit-kube.

use std::process::ExitCode;

use ekskit_apply::cli::Args;

fn main() -> ExitCode {
    // `kapply --eks-token CLUSTER --region R`: the kubeconfig exec plugin kapply points itself at.
    if let Some(code) = ekskit_kube::eks_token::as_exec_plugin() {
        return code;
    }
    let args: Args = ekskit_core::run::parse_args("kapply");
    let global = args.global.clone();
    ekskit_core::run::main("kapply", &global, ekskit_apply::run(args))
}
