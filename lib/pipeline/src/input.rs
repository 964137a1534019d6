//! What mkpipeline reads from the stdin document: an earlier run's `pipeline` key (so a re-run
//! fed its own output needs no flags), and the stack's name and image repository from the keys
//! mkvpc, mkeks and imgpush write.

use ekskit_core::{Document, InputError};
use serde::Deserialize;

/// The parts of the stdin document mkpipeline uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Input {
    /// The `pipeline` key of an earlier run.
    pub earlier: PipelineInput,
    /// `cluster.name`, else `vpc.stack`: the stack the document is about.
    pub stack: Option<String>,
    /// `push.ecr.name`: the repository imgpush pushed to.
    pub ecr_name: Option<String>,
}

impl Input {
    pub fn read(doc: &Document) -> Result<Input, InputError> {
        let earlier: PipelineInput = doc.get("pipeline")?.unwrap_or_default();
        let cluster: Option<Named> = doc.get("cluster")?;
        let vpc: Option<Named> = doc.get("vpc")?;
        let push: Option<PushInput> = doc.get("push")?;
        Ok(Input {
            earlier,
            stack: cluster.and_then(|c| c.name).or_else(|| vpc.and_then(|v| v.stack)),
            ecr_name: push.and_then(|p| p.ecr).and_then(|e| e.name),
        })
    }
}

/// What the stdin document may say about the pipeline from an earlier run.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PipelineInput {
    pub stack: Option<String>,
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub token_secret: Option<String>,
    pub ecr_repository: Option<String>,
    pub buildspec: Option<String>,
    pub environment: Option<String>,
    pub gitops_repo: Option<String>,
    pub gitops_repo_url: Option<String>,
    pub gitops_branch: Option<String>,
    pub trigger_paths: Option<Vec<String>>,
    pub tools_url: Option<String>,
    pub project: Option<ProjectInput>,
    pub promotion: Option<PromotionInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PromotionInput {
    pub environment: Option<String>,
    pub branch: Option<String>,
    pub token_secret: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProjectInput {
    pub image: Option<String>,
    pub compute_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Named {
    name: Option<String>,
    stack: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct PushInput {
    ecr: Option<Named>,
}
