//! kapply's flags, and the ApplyOptions they make: the engine in ekskit-kube never sees them.

use std::path::PathBuf;

use clap::Parser;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, Timeout, after_help, for_arg};

use ekskit_kube::ApplyOptions;
use ekskit_kube::args::ClusterArgs;

const EXAMPLES: &str = "\
Examples:
  kapply -f deploy/addons/common                   # a directory, recursively
  kapply -f app.yaml -f https://example.com/crds.yaml --timeout 10m
  kustomize build overlays/prod | kapply -f -      # a stream on stdin
  kapply -k deploy/overlays/prod --app web --prune # kustomize, and remove what left the input
  mkeks | kapply -f deploy/argocd                  # the cluster from mkeks' `cluster` key
  kapply -f deploy --diff                          # exit 3 when the cluster differs
  kapply -f deploy --delete                        # delete what the manifests name

Placeholders: `${cluster.name}`, `${vpc.id}` … are filled from the stdin document; an unknown
one is an error. `${WORD}` without a dot is left alone; `$${` writes a literal `${`.

Output: the stdin document (kept whole) plus the `apply` key; see schemas/apply.schema.json.";

const EXIT_CODES: ExitCodes = ExitCodes {
    done: "done (and, with --diff, no changes)",
    failure: "failure",
    usage: "bad usage or input (nothing applied)",
    changes: Some("--diff found changes"),
    ..ExitCodes::DEFAULT
};

/// Apply Kubernetes manifests server-side, in order, and wait until they are ready.
///
/// Namespaces and CRDs go first (kapply waits for CRDs to be Established), then RBAC, then
/// ConfigMaps, Secrets and ServiceAccounts, then workloads and custom resources; objects of one
/// phase are applied concurrently with the field manager `ekskit-kapply`. Then kapply waits for
/// every object to be ready by the rules of its kind, and fails at once on a state that cannot
/// heal (a failed Job, a Deployment past its progress deadline).
#[derive(Debug, Parser)]
#[command(name = "kapply", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
#[command(mut_args(for_arg("dry_run", |a| a
    .help("Server-side dry run: the server validates and defaults everything, nothing is stored")
    .conflicts_with("diff"))))]
#[command(mut_args(for_arg("delete", |a| a
    .help("Delete the objects the manifests name (and, with --app, every member of the app)")
    .conflicts_with_all(["prune", "diff", "force_conflicts"]))))]
#[command(mut_args(for_arg("timeout", |a| a
    .help("Longest wait for everything to be ready (or gone, with --delete), e.g. 90s, 10m")
    .default_value("5m"))))]
pub struct Args {
    /// Manifest file, directory (recursive), URL (https://; `#sha256=HEX` pins its content), or
    /// - for a YAML/JSON stream on stdin; repeatable
    #[arg(short = 'f', long = "filename", value_name = "PATH|URL|-")]
    pub files: Vec<String>,

    /// Kustomize directory, rendered by `kustomize build` or `kubectl kustomize`; repeatable
    #[arg(short = 'k', long = "kustomize", value_name = "DIR")]
    pub kustomize: Vec<PathBuf>,

    /// Namespace for namespaced objects that name none [default: the kubeconfig context's, else `default`]
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,

    /// App name: labels every object as a member of the ApplySet `kapply-<APP>`, for --prune
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,

    /// Delete members of the --app that are no longer in the input (never anything else)
    #[arg(long, requires = "app")]
    pub prune: bool,

    /// Take over fields another field manager owns, instead of failing on the conflict
    #[arg(long)]
    pub force_conflicts: bool,

    #[command(flatten)]
    pub dry_run: DryRun,

    /// Print what would change (unified diff on stderr and in the document); exit 3 if anything would
    #[arg(long)]
    pub diff: bool,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub timeout: Timeout,

    /// Do not wait for readiness after applying
    #[arg(long)]
    pub no_wait: bool,

    /// Apply nothing: wait until the live objects hold every field the manifests set and are
    /// ready (a rollout made by someone else, e.g. Argo CD syncing a commit)
    #[arg(long, conflicts_with_all = ["delete", "prune", "dry_run", "diff", "no_wait", "app", "force_conflicts"])]
    pub wait_only: bool,

    /// Objects applied at the same time within a phase
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Args {
    /// Whether stdin carries the manifests (so it cannot also carry the JSON document).
    pub fn manifests_on_stdin(&self) -> bool {
        self.files.iter().any(|f| f == "-")
    }
}

impl From<&Args> for ApplyOptions {
    fn from(args: &Args) -> Self {
        ApplyOptions {
            namespace: args.namespace.clone(),
            // -n holds every object, as kubectl's.
            other_namespaces: false,
            app: args.app.clone(),
            prune: args.prune,
            force_conflicts: args.force_conflicts,
            dry_run: args.dry_run.on,
            diff: args.diff,
            delete: args.delete.on,
            timeout: args.timeout.limit,
            wait: !args.no_wait,
            wait_only: args.wait_only,
            concurrency: args.concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("kapply").chain(line.split_whitespace()))
    }

    #[test]
    fn flags_and_their_rules() {
        let a = parse("-f a.yaml -f - -k overlay --app web --prune --timeout 90s").unwrap();
        assert_eq!(a.files, ["a.yaml", "-"]);
        assert!(a.manifests_on_stdin());
        assert_eq!(a.timeout.limit, Duration::from_secs(90));
        assert!(parse("-f a --prune").is_err(), "--prune needs --app");
        assert!(parse("-f a --dry-run --diff").is_err());
        assert!(parse("-f a --delete --prune --app x").is_err());
        assert!(parse("-f a --concurrency 0").is_err());
    }

    #[test]
    fn no_flags_are_the_default_options() {
        assert_eq!(ApplyOptions::from(&parse("-f a").unwrap()), ApplyOptions::default());
        let a = ApplyOptions::from(&parse("-f a --no-wait --diff -n web").unwrap());
        assert!(!a.wait && a.server_dry_run() && a.namespace.as_deref() == Some("web"));
    }
}
