//! `pipeline`, written by mkpipeline (`plan.pipeline` with `--dry-run`, `deleted.pipeline` with
//! `--delete`), with the spec it resolves.
//! `pipeline` also carries what a re-run reads back (stack, repository, branch, buildspec, image,
//! compute type, token_secret, ecr_repository, environment, gitops_repo, gitops_repo_url,
//! gitops_branch, trigger_paths, promotion's environment, branch and token_secret), so
//! `mkpipeline < out.json` converges with no flags.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deleted::Deleted;
use crate::plan::PlannedAction;

/// The `pipeline` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineDoc {
    /// The ekskit stack the resources belong to.
    pub stack: String,
    /// The CodePipeline pipeline's name.
    pub name: String,
    pub arn: String,
    pub region: String,
    /// Always `V2`.
    pub pipeline_type: String,
    /// The repository built, OWNER/NAME.
    pub repository: String,
    /// The branch whose pushes start the pipeline (when they change one of `trigger_paths`).
    pub branch: String,
    /// File path globs: a push to `branch` starts the pipeline when it changes a file matching one.
    pub trigger_paths: Vec<String>,
    pub buildspec: String,
    pub project: ProjectDoc,
    /// The artifact bucket.
    pub bucket: String,
    pub roles: RolesDoc,
    pub connection: ConnectionDoc,
    /// ECR repository the build pushes to.
    pub ecr_repository: String,
    /// ARN of the secret holding the GitOps push token (the ARN only, never the token).
    pub token_secret: String,
    /// The environment whose kustomization the build bumps (buildspec ENVIRONMENT).
    pub environment: String,
    /// The repository the build pushes the GitOps change to, as given: OWNER/NAME or a URL.
    pub gitops_repo: String,
    /// Its https clone URL (buildspec GITOPS_REPO_URL).
    pub gitops_repo_url: String,
    /// The branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH); never `branch`
    /// of the same repository.
    pub gitops_branch: String,
    /// The manual approval and promotion after the build, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionDoc>,
    /// The tools' tarball the builds install (buildspec EKSKIT_TOOLS_URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_url: Option<String>,
    /// What needs doing before the pipeline can run, when anything does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectDoc {
    pub name: String,
    pub arn: String,
    pub image: String,
    pub compute_type: String,
    pub log_group: String,
}

/// The `Approve-<environment>` and `Promote-<environment>` stages and what they use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionDoc {
    /// The environment promoted to (buildspec-promote.yml's ENVIRONMENT).
    pub environment: String,
    /// The GitOps branch the promotion pushes to (its GITOPS_BRANCH).
    pub branch: String,
    /// ARN of the secret holding the promotion's push token (the ARN only, never the token);
    /// not `token_secret`.
    pub token_secret: String,
    pub buildspec: String,
    /// The promotion's CodeBuild project.
    pub project: ProjectDoc,
    /// ARN of the promotion project's IAM role (reads only the promotion's token secret).
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolesDoc {
    pub codebuild: String,
    pub codepipeline: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionDoc {
    pub arn: String,
    pub name: String,
    /// `PENDING` (handshake not done yet), `AVAILABLE` or `ERROR`.
    pub status: String,
    /// `GitHub`, `GitLab`, `Bitbucket`, `GitHubEnterpriseServer`, ...
    pub provider: String,
    /// Whether mkpipeline made it (and --delete removes it); false for --connection-arn.
    pub managed: bool,
}

/// `plan.pipeline`: the fully defaulted spec and what a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub region: String,
    pub account: String,
    pub spec: Spec,
    /// Kinds: `s3-bucket`, `connection` (`use`: given by --connection-arn), `iam-role`,
    /// `codebuild-project`, `pipeline`. Without a promotion, a promotion project and role left
    /// from an earlier run are planned as `delete`.
    pub actions: Vec<PlannedAction>,
}

/// `deleted.pipeline`: what --delete removed, each resource as `kind name`.
pub type DeletedDoc = Deleted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Provider {
    #[cfg_attr(feature = "clap", value(name = "GitHub"))]
    GitHub,
    #[cfg_attr(feature = "clap", value(name = "GitLab"))]
    GitLab,
    #[cfg_attr(feature = "clap", value(name = "Bitbucket"))]
    Bitbucket,
    #[cfg_attr(feature = "clap", value(name = "GitHubEnterpriseServer"))]
    GitHubEnterpriseServer,
}

impl Provider {
    pub fn aws_name(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Bitbucket => "Bitbucket",
            Provider::GitHubEnterpriseServer => "GitHubEnterpriseServer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ComputeType {
    /// 3 GB, 2 vCPUs
    Small,
    /// 7 GB, 4 vCPUs
    Medium,
    /// 15 GB, 8 vCPUs
    Large,
    /// 145 GB, 72 vCPUs
    #[cfg_attr(feature = "clap", value(name = "2xlarge"))]
    #[serde(rename = "2xlarge")]
    X2large,
}

impl ComputeType {
    pub const ALL: [ComputeType; 4] =
        [ComputeType::Small, ComputeType::Medium, ComputeType::Large, ComputeType::X2large];

    pub fn from_aws_name(name: &str) -> Option<ComputeType> {
        ComputeType::ALL.into_iter().find(|c| c.aws_name() == name)
    }

    pub fn aws_name(self) -> &'static str {
        match self {
            ComputeType::Small => "BUILD_GENERAL1_SMALL",
            ComputeType::Medium => "BUILD_GENERAL1_MEDIUM",
            ComputeType::Large => "BUILD_GENERAL1_LARGE",
            ComputeType::X2large => "BUILD_GENERAL1_2XLARGE",
        }
    }
}

/// The connection: one mkpipeline makes (and deletes), or one given by ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionSpec {
    Create { provider: Provider, host_arn: Option<String> },
    Existing { arn: String },
}

/// Everything mkpipeline needs to know, resolved from flags, the document and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Spec {
    pub name: String,
    /// OWNER/NAME; absent only with --delete.
    pub repository: Option<String>,
    pub branch: String,
    pub connection: ConnectionSpec,
    pub buildspec: String,
    pub image: String,
    pub compute_type: ComputeType,
    pub ecr_repository: String,
    /// ARN of the GitOps token's secret; absent only with --delete.
    pub token_secret: Option<String>,
    pub environment: String,
    /// Where the GitOps change goes, as given (OWNER/NAME or an https URL); absent only with --delete.
    pub gitops_repo: Option<String>,
    /// Its https clone URL (GITOPS_REPO_URL of both projects); absent only with --delete.
    pub gitops_repo_url: Option<String>,
    pub gitops_branch: String,
    /// File path globs of the push trigger on `branch` (1 to 8).
    pub trigger_paths: Vec<String>,
    /// The manual approval and promotion stages, when wanted.
    pub promotion: Option<Promotion>,
    /// Where the builds download the tools (EKSKIT_TOOLS_URL); without it they stop at install.
    pub tools_url: Option<String>,
}

/// Promotion of a release to a further environment behind a manual approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Promotion {
    /// The environment promoted to (buildspec-promote.yml's ENVIRONMENT), e.g. prod.
    pub environment: String,
    /// The GitOps branch the promotion pushes to.
    pub branch: String,
    /// ARN of the promotion's token secret; absent only with --delete.
    pub token_secret: Option<String>,
}
