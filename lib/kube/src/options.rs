//! What an apply (or delete) is asked to do, apart from how it was asked: kapply's flags
//! (ekskit-apply's cli.rs) and monstack's settings both become these, so nothing below the edge sees
//! clap.

use std::path::PathBuf;
use std::time::Duration;

use crate::apply::PatchOptions;

/// How [`crate::execute`] applies or deletes a batch of manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Namespace of namespaced objects that name none; `None`: the kubeconfig context's. Given,
    /// objects that name another are refused (as kubectl's `-n`), unless `other_namespaces`.
    pub namespace: Option<String>,
    /// Objects may name namespaces other than `namespace`, which then only holds the ApplySet's
    /// parent and the objects that name none (a tool applying its own manifests, e.g. monstack).
    pub other_namespaces: bool,
    /// The app whose ApplySet (`kapply-<app>`) labels every object, for pruning and deleting.
    pub app: Option<String>,
    /// Delete members of `app` that are no longer in the input.
    pub prune: bool,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
    /// Server-side dry run: nothing is stored.
    pub dry_run: bool,
    /// Report a unified diff of each change (and store nothing, like `dry_run`).
    pub diff: bool,
    /// Delete the objects (and every member of `app`) instead of applying them.
    pub delete: bool,
    /// Longest wait for readiness (or, deleting, for the objects to be gone).
    pub timeout: Duration,
    /// Wait for readiness after applying (or, deleting, until everything is gone).
    pub wait: bool,
    /// Apply nothing: only wait until the live objects hold what the manifests set.
    pub wait_only: bool,
    /// Objects applied at the same time within a phase.
    pub concurrency: u16,
}

impl Default for ApplyOptions {
    /// kapply's defaults when no flag is given (a test in ekskit-apply's cli.rs holds them together).
    fn default() -> Self {
        Self {
            namespace: None,
            other_namespaces: false,
            app: None,
            prune: false,
            force_conflicts: false,
            dry_run: false,
            diff: false,
            delete: false,
            timeout: Duration::from_secs(5 * 60),
            wait: true,
            wait_only: false,
            concurrency: 16,
        }
    }
}

impl ApplyOptions {
    /// Whether the server is only asked what would change (`--dry-run` or `--diff`).
    pub fn server_dry_run(&self) -> bool {
        self.dry_run || self.diff
    }

    /// How each object's server-side apply is sent.
    pub fn patch(&self) -> PatchOptions {
        PatchOptions { force_conflicts: self.force_conflicts, dry_run: self.server_dry_run(), diff: self.diff }
    }
}

/// Which kubeconfig to read; both unset: the `cluster` key of the stdin document, else the
/// usual kubeconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}
