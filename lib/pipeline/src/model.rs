//! The JSON mkpipeline writes (`pipeline`, `plan.pipeline`, `deleted.pipeline`) and their schemas.
//! `pipeline` also carries what a re-run reads back (stack, repository, branch, buildspec, image,
//! compute type, token_secret, ecr_repository, environment, gitops_branch), so `mkpipeline < out.json` converges with no flags.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cli::Spec;

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
    /// The branch whose pushes start the pipeline.
    pub branch: String,
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
    /// The branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH).
    pub gitops_branch: String,
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

/// One step of a plan; its kinds: `s3-bucket`, `connection` (`use`: given by --connection-arn),
/// `iam-role`, `codebuild-project`, `pipeline`.
pub use ekskit_core::plan::PlannedAction;

/// `plan.pipeline`: the fully defaulted spec and what a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub region: String,
    pub account: String,
    pub spec: Spec,
    pub actions: Vec<PlannedAction>,
}

/// `deleted.pipeline`: what --delete removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedDoc {
    pub stack: String,
    pub region: String,
    /// `kind name` of each resource deleted.
    pub resources: Vec<String>,
}

pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("pipeline.schema.json", schemars::schema_for!(PipelineDoc)),
        ("plan.pipeline.schema.json", schemars::schema_for!(PlanDoc)),
        ("deleted.pipeline.schema.json", schemars::schema_for!(DeletedDoc)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas match the types. `UPDATE_SCHEMAS=1 cargo test` rewrites them.
    #[test]
    fn committed_schemas_match_the_types() {
        ekskit_core::schemas::assert_committed(env!("CARGO_MANIFEST_DIR"), schemas());
    }
}
