//! The flags every tool that talks to a cluster shares (kapply, monstack), as a clap group
//! beside the options it makes: the engine itself takes only [`ClusterOptions`].

use std::path::PathBuf;

use crate::options::ClusterOptions;

/// How to reach the cluster; these override the `cluster` key of the stdin document.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Kubeconfig file [default: KUBECONFIG, else ~/.kube/config; the stdin `cluster` key wins over both]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl From<&ClusterArgs> for ClusterOptions {
    fn from(args: &ClusterArgs) -> Self {
        ClusterOptions { kubeconfig: args.kubeconfig.clone(), context: args.context.clone() }
    }
}
