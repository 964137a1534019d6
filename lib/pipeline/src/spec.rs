//! The resolved spec: everything mkpipeline needs to know, from flags, the stdin document and
//! defaults (cli.rs resolves it), and the AWS choices it names (provider, compute type).

pub const DEFAULT_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";

/// The branch the build pushes the GitOps change to unless told otherwise: not the watched one.
pub const DEFAULT_GITOPS_BRANCH: &str = "gitops";

/// CodePipeline's limit on the patterns of one include or exclude list of a trigger filter.
pub const MAX_TRIGGER_PATHS: usize = 8;

/// The trigger's file paths unless told otherwise: what the release is built from.
pub fn default_trigger_paths(buildspec: &str) -> Vec<String> {
    vec!["app/**".into(), buildspec.into(), "scripts/install-tools".into()]
}

pub use ekskit_model::pipeline::{ComputeType, ConnectionSpec, Promotion, Provider, Spec};
