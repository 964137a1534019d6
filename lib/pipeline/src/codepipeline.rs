//! The CodePipeline (V2): Source (CodeStarSourceConnection on the branch) then Build (the
//! CodeBuild project), artifacts in the bucket, and a push trigger on the branch. Converged by
//! comparing what mkpipeline sets with what CodePipeline has.

use std::time::Duration;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, ExecutionMode,
    GitBranchFilterCriteria, GitConfiguration, GitPushFilter, InputArtifact, OutputArtifact, PipelineDeclaration,
    PipelineTriggerDeclaration, PipelineTriggerProviderType, PipelineType, StageDeclaration, Tag,
};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use ekskit_core::wait::{Backoff, Check, until};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::TOOL;

/// What the pipeline is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts<'a> {
    pub name: &'a str,
    pub role_arn: &'a str,
    pub bucket: &'a str,
    pub connection_arn: &'a str,
    pub repository: &'a str,
    pub branch: &'a str,
    pub project: &'a str,
}

pub const SOURCE_ACTION: &str = "Source";

pub fn declaration(p: &Parts<'_>) -> anyhow::Result<PipelineDeclaration> {
    let source = ActionDeclaration::builder()
        .name(SOURCE_ACTION)
        .action_type_id(
            ActionTypeId::builder()
                .category(ActionCategory::Source)
                .owner(ActionOwner::Aws)
                .provider("CodeStarSourceConnection")
                .version("1")
                .build()?,
        )
        .run_order(1)
        .configuration("ConnectionArn", p.connection_arn)
        .configuration("FullRepositoryId", p.repository)
        .configuration("BranchName", p.branch)
        .configuration("DetectChanges", "true")
        .configuration("OutputArtifactFormat", "CODE_ZIP")
        .output_artifacts(OutputArtifact::builder().name("SourceOutput").build()?)
        .build()?;
    let build = ActionDeclaration::builder()
        .name("Build")
        .action_type_id(
            ActionTypeId::builder()
                .category(ActionCategory::Build)
                .owner(ActionOwner::Aws)
                .provider("CodeBuild")
                .version("1")
                .build()?,
        )
        .run_order(1)
        .configuration("ProjectName", p.project)
        .input_artifacts(InputArtifact::builder().name("SourceOutput").build()?)
        .output_artifacts(OutputArtifact::builder().name("BuildOutput").build()?)
        .build()?;
    let push = GitPushFilter::builder().branches(GitBranchFilterCriteria::builder().includes(p.branch).build()).build();
    let trigger = PipelineTriggerDeclaration::builder()
        .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
        .git_configuration(GitConfiguration::builder().source_action_name(SOURCE_ACTION).push(push).build()?)
        .build()?;
    Ok(PipelineDeclaration::builder()
        .name(p.name)
        .role_arn(p.role_arn)
        .artifact_store(ArtifactStore::builder().r#type(ArtifactStoreType::S3).location(p.bucket).build()?)
        .stages(StageDeclaration::builder().name("Source").actions(source).build()?)
        .stages(StageDeclaration::builder().name("Build").actions(build).build()?)
        .pipeline_type(PipelineType::V2)
        .execution_mode(ExecutionMode::Queued)
        .triggers(trigger)
        .build()?)
}

/// The parts of a declaration mkpipeline sets, as JSON, to compare wanted and current
/// (CodePipeline adds defaults and a version that are not ours to compare).
pub fn essence(d: &PipelineDeclaration) -> Value {
    let stages: Vec<Value> = d
        .stages()
        .iter()
        .map(|s| {
            let actions: Vec<Value> = s
                .actions()
                .iter()
                .map(|a| {
                    let t = a.action_type_id();
                    let config: std::collections::BTreeMap<_, _> =
                        a.configuration().map(|c| c.iter().collect()).unwrap_or_default();
                    json!({
                        "name": a.name(),
                        "type": t.map(|t| [t.category().as_str(), t.owner().as_str(), t.provider(), t.version()]),
                        "run_order": a.run_order().unwrap_or(1),
                        "configuration": config,
                        "inputs": a.input_artifacts().iter().map(|i| i.name()).collect::<Vec<_>>(),
                        "outputs": a.output_artifacts().iter().map(|o| o.name()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"name": s.name(), "actions": actions})
        })
        .collect();
    let triggers: Vec<Value> = d
        .triggers()
        .iter()
        .map(|t| {
            let git = t.git_configuration();
            let push: Vec<Value> = git
                .map(|g| g.push())
                .unwrap_or_default()
                .iter()
                .map(|p| json!(p.branches().map(|b| b.includes()).unwrap_or_default()))
                .collect();
            json!({"provider": t.provider_type().as_str(), "action": git.map(|g| g.source_action_name()), "push": push})
        })
        .collect();
    json!({
        "role_arn": d.role_arn(),
        "artifact_store": d.artifact_store().map(|a| [a.r#type().as_str(), a.location()]),
        "pipeline_type": d.pipeline_type().map(|t| t.as_str()),
        "execution_mode": d.execution_mode().map(|m| m.as_str()).unwrap_or("SUPERSEDED"),
        "stages": stages,
        "triggers": triggers,
    })
}

/// The top-level keys of the essences that differ.
pub fn differences(current: &PipelineDeclaration, wanted: &PipelineDeclaration) -> Vec<String> {
    let (c, w) = (essence(current), essence(wanted));
    let keys = w.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    keys.into_iter().filter(|k| c.get(k) != w.get(k)).collect()
}

/// The pipeline's declaration and ARN when it exists and is ours; an error when it is not ours.
pub async fn find(cp: &Client, name: &str, stack: &str) -> anyhow::Result<Option<(PipelineDeclaration, String)>> {
    let out = match cp.get_pipeline().name(name).send().await.aws(format!("reading pipeline {name}")) {
        Ok(out) => out,
        Err(e) if aws_code(&e) == Some("PipelineNotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let arn = out.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default().to_owned();
    let Some(declaration) = out.pipeline else { return Ok(None) };
    let tags = cp
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .aws(format!("reading the tags of pipeline {name}"))?;
    if !tags.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack) {
        return Err(Hinted::new(
            format!("pipeline {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that pipeline",
        )
        .into());
    }
    Ok(Some((declaration, arn)))
}

/// `create`, `update` (with what differs) or `keep`.
pub fn plan(current: Option<&PipelineDeclaration>, wanted: &PipelineDeclaration) -> (&'static str, Vec<String>) {
    match current {
        None => ("create", Vec::new()),
        Some(c) => {
            let off = differences(c, wanted);
            (if off.is_empty() { "keep" } else { "update" }, off)
        }
    }
}

/// A role IAM has not yet made assumable answers InvalidStructureException for a few seconds.
fn role_not_ready(e: &anyhow::Error) -> bool {
    aws_code(e) == Some("InvalidStructureException")
        && format!("{e:#}").contains("not authorized to perform AssumeRole")
}

/// Creates or updates the pipeline; returns its ARN and `create`, `update` or `keep`.
pub async fn ensure(cp: &Client, stack: &str, wanted: &PipelineDeclaration) -> anyhow::Result<(String, &'static str)> {
    let name = wanted.name();
    let current = find(cp, name, stack).await?;
    let (action, off) = plan(current.as_ref().map(|(d, _)| d), wanted);
    let arn = current.map(|(_, arn)| arn).unwrap_or_default();
    match action {
        "keep" => return Ok((arn, "keep")),
        "create" => info!("creating pipeline {name} (V2)"),
        _ => info!("updating pipeline {name}: {}", off.join(", ")),
    }
    let tags: Vec<Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()?;
    let what = format!("pipeline {name}");
    until(&what, "accepted with its new IAM role", Duration::from_secs(120), Backoff::default(), || async {
        let result = if action == "create" {
            cp.create_pipeline()
                .pipeline(wanted.clone())
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map(|_| ())
                .aws(format!("creating pipeline {name}"))
        } else {
            cp.update_pipeline()
                .pipeline(wanted.clone())
                .send()
                .await
                .map(|_| ())
                .aws(format!("updating pipeline {name}"))
        };
        match result {
            Ok(()) => Ok(Check::Ready(())),
            Err(e) if role_not_ready(&e) => Ok(Check::Pending("waiting for IAM to propagate its role".into())),
            Err(e) => Err(e),
        }
    })
    .await?;
    let arn = match find(cp, name, stack).await? {
        Some((_, arn)) => arn,
        None => {
            warn!("pipeline {name} is not readable right after {action}");
            arn
        }
    };
    Ok((arn, action))
}

/// Deletes the pipeline; returns whether there was one. Someone else's is left alone.
pub async fn delete(cp: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    match find(cp, name, stack).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving pipeline {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    info!("deleting pipeline {name}");
    cp.delete_pipeline().name(name).send().await.aws(format!("deleting pipeline {name}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts<'static> {
        Parts {
            name: "ekskit-demo-release",
            role_arn: "arn:aws:iam::123456789012:role/ekskit-demo-codepipeline",
            bucket: "ekskit-demo-artifacts-123456789012-us-east-1",
            connection_arn: "arn:aws:codeconnections:us-east-1:123456789012:connection/abc",
            repository: "acme/comments",
            branch: "main",
            project: "ekskit-demo-build",
        }
    }

    #[test]
    fn a_v2_pipeline_from_the_branch_to_the_project() {
        let d = declaration(&parts()).unwrap();
        assert_eq!(d.pipeline_type(), Some(&PipelineType::V2));
        let e = essence(&d);
        assert_eq!(e["stages"][0]["actions"][0]["configuration"]["FullRepositoryId"], "acme/comments");
        assert_eq!(e["stages"][0]["actions"][0]["configuration"]["BranchName"], "main");
        assert_eq!(e["stages"][0]["actions"][0]["configuration"]["DetectChanges"], "true");
        assert_eq!(e["stages"][1]["actions"][0]["configuration"]["ProjectName"], "ekskit-demo-build");
        assert_eq!(e["stages"][1]["actions"][0]["inputs"], json!(["SourceOutput"]));
        assert_eq!(
            e["triggers"],
            json!([{"provider": "CodeStarSourceConnection", "action": "Source", "push": [["main"]]}])
        );
        assert_eq!(plan(Some(&d), &d).0, "keep");
        assert_eq!(plan(None, &d).0, "create");
    }

    #[test]
    fn a_changed_branch_or_role_is_an_update_and_defaults_are_not() {
        let wanted = declaration(&parts()).unwrap();
        let other = declaration(&Parts { branch: "release", ..parts() }).unwrap();
        assert_eq!(plan(Some(&other), &wanted), ("update", vec!["stages".to_owned(), "triggers".to_owned()]));
        let role = declaration(&Parts { role_arn: "arn:aws:iam::123456789012:role/x", ..parts() }).unwrap();
        assert_eq!(plan(Some(&role), &wanted).1, vec!["role_arn".to_owned()]);
        // CodePipeline returns a version; that is not a difference.
        let mut read_back = wanted.clone();
        read_back.version = Some(3);
        assert_eq!(plan(Some(&read_back), &wanted).0, "keep");
    }
}
