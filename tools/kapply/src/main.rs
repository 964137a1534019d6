//! kapply: apply Kubernetes manifests server-side, in order, and wait. The edge is in
//! ekskit-apply, the engine in ekskit-kube.

use std::process::ExitCode;

use ekskit_apply::cli::Args;
use ekskit_kube::cluster::EKS_TOKEN_FLAG;

fn main() -> ExitCode {
    // `kapply --eks-token CLUSTER --region R`: the kubeconfig exec plugin kapply points itself at.
    if std::env::args().nth(1).as_deref() == Some(EKS_TOKEN_FLAG) {
        return ekskit_kube::eks_token::exec_plugin_main(std::env::args().skip(2).collect());
    }
    let args: Args = ekskit_core::run::parse_args("kapply");
    let global = args.global.clone();
    ekskit_core::run::main("kapply", &global, ekskit_apply::run(args))
}
