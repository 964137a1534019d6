//! monstack's flags.

use std::path::PathBuf;

use clap::Parser;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, Timeout, after_help, for_arg};
use ekskit_kube::args::ClusterArgs;

use crate::stack::Component;

const EXAMPLES: &str = "\
Examples:
  mkvpc --name demo | mkeks | monstack                 # onto the cluster mkeks made
  monstack --kubeconfig ~/.kube/config --context dev   # onto any cluster
  monstack --render gitops/monitoring                  # the manifests, for kapply or a GitOps repo
  monstack --without grafana < demo.json               # all but Grafana (removed if it was there)
  monstack --dry-run | jq .monitoring                  # what it would apply; changes nothing
  monstack --delete < demo.json                        # everything it made

Output: the stdin document (kept whole) plus the `monitoring` key, with a state per component
(`monitoring.components`); see schemas/monitoring.schema.json. The Grafana admin password is
generated into the Secret grafana-admin and never printed; the output says how to read it.";

const EXIT_CODES: ExitCodes = ExitCodes {
    done: "done (every component asked for ready)",
    failure: "failure (e.g. a component that cannot become ready, named with why)",
    usage: "bad usage or input (nothing applied)",
    ..ExitCodes::DEFAULT
};

/// Prometheus, Alertmanager, kube-state-metrics, node exporter and Grafana for a cluster.
///
/// Applies the stack server-side in order and waits until it is ready (kapply's code), as one
/// ApplySet so a re-run prunes what it no longer makes and --delete removes all of it.
#[derive(Debug, Parser)]
#[command(name = "monstack", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print what would be applied; change nothing"))))]
#[command(mut_args(for_arg("delete", |a| a.help("Delete everything monstack made (the namespace included)"))))]
#[command(mut_args(for_arg("timeout", |a| a.help("Longest wait for the stack to become ready").default_value("10m"))))]
pub struct Args {
    /// Namespace of the stack
    #[arg(short = 'n', long, value_name = "NAME", default_value = "monitoring")]
    pub namespace: String,

    /// Write the manifests into DIR instead of applying them (no Secret: create grafana-admin yourself)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["delete", "dry_run"])]
    pub render: Option<PathBuf>,

    /// StorageClass for the Prometheus, Alertmanager and Grafana volumes [default: the cluster's
    /// default class; none: emptyDir]
    #[arg(long, value_name = "NAME", conflicts_with = "no_persistence")]
    pub storage_class: Option<String>,

    /// Keep data in emptyDir volumes even when a StorageClass exists
    #[arg(long)]
    pub no_persistence: bool,

    /// How long Prometheus keeps samples
    #[arg(long, value_name = "DURATION", default_value = "15d")]
    pub retention: String,

    /// Base URL of the runbooks the alerts link to
    #[arg(long, value_name = "URL", default_value = "https://example.invalid/ekskit/blob/main/docs/runbooks")]
    pub runbooks: String,

    /// The cluster label on every series [default: `cluster.name` from stdin, else the kube context's cluster]
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,

    /// Leave a component out: its objects are not applied, and are deleted if an earlier run
    /// applied them (repeatable; prometheus, which the others hang off, cannot be left out)
    #[arg(long, value_enum, value_name = "COMPONENT", conflicts_with = "delete")]
    pub without: Vec<Component>,

    #[command(flatten)]
    pub timeout: Timeout,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["monstack", "--render", "d", "--delete"]).is_err());
        assert!(Args::try_parse_from(["monstack", "--storage-class", "gp3", "--no-persistence"]).is_err());
        let a = Args::try_parse_from(["monstack", "--without", "grafana", "--without", "kube-state-metrics"]).unwrap();
        assert_eq!(a.without, [Component::Grafana, Component::KubeStateMetrics]);
        let unknown = Args::try_parse_from(["monstack", "--without", "loki"]).unwrap_err().to_string();
        assert!(unknown.contains("alertmanager, kube-state-metrics, node-exporter, grafana"), "{unknown}");
        assert!(Args::try_parse_from(["monstack", "--delete", "--without", "grafana"]).is_err());
    }
}
