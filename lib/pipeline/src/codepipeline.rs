//! The CodePipeline (V2): Source (CodeStarSourceConnection on the branch) then Build (the
//! CodeBuild project), and with a promotion `Approve-<env>` (a manual approval) then
//! `Promote-<env>` (the promotion's CodeBuild project); artifacts in the bucket, and a push trigger
//! on the branch filtered on the files the release is built from, so that the GitOps commits a
//! release pushes never start the pipeline (see [`crate::trigger`] for how CodePipeline reads
//! it). Converged by comparing what mkpipeline sets with what CodePipeline has.

use std::time::Duration;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, ExecutionMode,
    GitBranchFilterCriteria, GitConfiguration, GitFilePathFilterCriteria, GitPushFilter, InputArtifact, OutputArtifact,
    PipelineDeclaration, PipelineTriggerDeclaration, PipelineTriggerProviderType, PipelineType, StageDeclaration, Tag,
};
use ekskit_aws::iam::role_not_ready;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use ekskit_core::wait::{Backoff, Check, until};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::TOOL;
use crate::model::Action;

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
    /// File path globs of the push trigger.
    pub trigger_paths: &'a [String],
    pub promotion: Option<PromoteParts<'a>>,
}

/// The approval and promotion stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteParts<'a> {
    pub environment: &'a str,
    /// The promotion's CodeBuild project.
    pub project: &'a str,
    /// The ECR repository of the image promoted, for the approver.
    pub image: &'a str,
}

pub const SOURCE_ACTION: &str = "Source";
/// The Source action's variables (CommitId, BranchName, ...), `#{SourceVariables.CommitId}`.
pub const SOURCE_NAMESPACE: &str = "SourceVariables";
pub const SOURCE_OUTPUT: &str = "SourceOutput";
pub const BUILD_OUTPUT: &str = "BuildOutput";

pub fn approve_stage(environment: &str) -> String {
    format!("Approve-{environment}")
}

pub fn promote_stage(environment: &str) -> String {
    format!("Promote-{environment}")
}

/// What the approver reads: which image, from which commit, to where.
pub fn approval_text(image: &str, environment: &str) -> String {
    format!("Promote {image} (built from commit #{{{SOURCE_NAMESPACE}.CommitId}}) to {environment}")
}

fn action_type(category: ActionCategory, provider: &str) -> anyhow::Result<ActionTypeId> {
    Ok(ActionTypeId::builder().category(category).owner(ActionOwner::Aws).provider(provider).version("1").build()?)
}

pub fn declaration(p: &Parts<'_>) -> anyhow::Result<PipelineDeclaration> {
    let source = ActionDeclaration::builder()
        .name(SOURCE_ACTION)
        .action_type_id(action_type(ActionCategory::Source, "CodeStarSourceConnection")?)
        .run_order(1)
        .namespace(SOURCE_NAMESPACE)
        .configuration("ConnectionArn", p.connection_arn)
        .configuration("FullRepositoryId", p.repository)
        .configuration("BranchName", p.branch)
        // With a trigger, CodePipeline's own change detection is off whatever this says (API
        // reference, PipelineTriggerDeclaration): the trigger below decides.
        .configuration("DetectChanges", "true")
        .configuration("OutputArtifactFormat", "CODE_ZIP")
        .output_artifacts(OutputArtifact::builder().name(SOURCE_OUTPUT).build()?)
        .build()?;
    let build = ActionDeclaration::builder()
        .name("Build")
        .action_type_id(action_type(ActionCategory::Build, "CodeBuild")?)
        .run_order(1)
        .configuration("ProjectName", p.project)
        .input_artifacts(InputArtifact::builder().name(SOURCE_OUTPUT).build()?)
        .output_artifacts(OutputArtifact::builder().name(BUILD_OUTPUT).build()?)
        .build()?;
    // Pushes to the branch that change what a release is built from; the GitOps commits (on
    // another branch, or under deploy/) match neither.
    let push = GitPushFilter::builder()
        .branches(GitBranchFilterCriteria::builder().includes(p.branch).build())
        .file_paths(GitFilePathFilterCriteria::builder().set_includes(Some(p.trigger_paths.to_vec())).build())
        .build();
    let trigger = PipelineTriggerDeclaration::builder()
        .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
        .git_configuration(GitConfiguration::builder().source_action_name(SOURCE_ACTION).push(push).build()?)
        .build()?;
    let mut stages = vec![
        StageDeclaration::builder().name("Source").actions(source).build()?,
        StageDeclaration::builder().name("Build").actions(build).build()?,
    ];
    if let Some(promote) = &p.promotion {
        let approve = ActionDeclaration::builder()
            .name("Approve")
            .action_type_id(action_type(ActionCategory::Approval, "Manual")?)
            .run_order(1)
            .configuration("CustomData", approval_text(promote.image, promote.environment))
            .build()?;
        // Two inputs: the source is the primary one (buildspec-promote.yml and the GitOps tree's
        // layout), the build's release.json is at $CODEBUILD_SRC_DIR_BuildOutput/release.json.
        let run = ActionDeclaration::builder()
            .name("Promote")
            .action_type_id(action_type(ActionCategory::Build, "CodeBuild")?)
            .run_order(1)
            .configuration("ProjectName", promote.project)
            .configuration("PrimarySource", SOURCE_OUTPUT)
            .input_artifacts(InputArtifact::builder().name(SOURCE_OUTPUT).build()?)
            .input_artifacts(InputArtifact::builder().name(BUILD_OUTPUT).build()?)
            .build()?;
        stages.push(StageDeclaration::builder().name(approve_stage(promote.environment)).actions(approve).build()?);
        stages.push(StageDeclaration::builder().name(promote_stage(promote.environment)).actions(run).build()?);
    }
    Ok(PipelineDeclaration::builder()
        .name(p.name)
        .role_arn(p.role_arn)
        .artifact_store(ArtifactStore::builder().r#type(ArtifactStoreType::S3).location(p.bucket).build()?)
        .set_stages(Some(stages))
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
                        "namespace": a.namespace(),
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
    let lists = |includes: &[String], excludes: &[String]| json!({"includes": includes, "excludes": excludes});
    let triggers: Vec<Value> = d
        .triggers()
        .iter()
        .map(|t| {
            let git = t.git_configuration();
            let push: Vec<Value> = git
                .map(|g| g.push())
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    json!({
                        "branches": p.branches().map(|b| lists(b.includes(), b.excludes())),
                        "file_paths": p.file_paths().map(|f| lists(f.includes(), f.excludes())),
                        "tags": p.tags().map(|t| lists(t.includes(), t.excludes())),
                    })
                })
                .collect();
            let pull_requests: Vec<Value> = git
                .map(|g| g.pull_request())
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    json!({
                        "events": p.events().iter().map(|e| e.as_str()).collect::<Vec<_>>(),
                        "branches": p.branches().map(|b| lists(b.includes(), b.excludes())),
                        "file_paths": p.file_paths().map(|f| lists(f.includes(), f.excludes())),
                    })
                })
                .collect();
            json!({
                "provider": t.provider_type().as_str(),
                "action": git.map(|g| g.source_action_name()),
                "push": push,
                "pull_requests": pull_requests,
            })
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
pub fn plan(current: Option<&PipelineDeclaration>, wanted: &PipelineDeclaration) -> (Action, Vec<String>) {
    match current {
        None => (Action::Create, Vec::new()),
        Some(c) => {
            let off = differences(c, wanted);
            (if off.is_empty() { Action::Keep } else { Action::Update }, off)
        }
    }
}

/// Creates or updates the pipeline; returns its ARN and `create`, `update` or `keep`.
pub async fn ensure(cp: &Client, stack: &str, wanted: &PipelineDeclaration) -> anyhow::Result<(String, Action)> {
    let name = wanted.name();
    let current = find(cp, name, stack).await?;
    let (action, off) = plan(current.as_ref().map(|(d, _)| d), wanted);
    let arn = current.map(|(_, arn)| arn).unwrap_or_default();
    match action {
        Action::Keep => return Ok((arn, Action::Keep)),
        Action::Create => info!("creating pipeline {name} (V2)"),
        _ => info!("updating pipeline {name}: {}", off.join(", ")),
    }
    let tags: Vec<Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()?;
    let what = format!("pipeline {name}");
    until(&what, "accepted with its new IAM role", Duration::from_secs(120), Backoff::default(), || async {
        let result = if action == Action::Create {
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
            // An attempt whose answer was lost made it (the SDK retried), or a run beside this
            // one did: ours when it carries the stack's tag, and a re-run converges its settings.
            Err(e) if aws_code(&e) == Some("PipelineNameInUseException") => match find(cp, name, stack).await? {
                Some(_) => Ok(Check::Ready(())),
                None => Err(e),
            },
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

    fn paths() -> &'static [String] {
        static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        PATHS.get_or_init(|| crate::spec::default_trigger_paths("buildspec.yml"))
    }

    fn parts() -> Parts<'static> {
        Parts {
            name: "ekskit-demo-release",
            role_arn: "arn:aws:iam::123456789012:role/ekskit-demo-codepipeline",
            bucket: "ekskit-demo-artifacts-123456789012-us-east-1",
            connection_arn: "arn:aws:codeconnections:us-east-1:123456789012:connection/abc",
            repository: "acme/comments",
            branch: "main",
            project: "ekskit-demo-build",
            trigger_paths: paths(),
            promotion: None,
        }
    }

    fn promoting() -> Parts<'static> {
        Parts {
            promotion: Some(PromoteParts { environment: "prod", project: "ekskit-demo-promote", image: "comments" }),
            ..parts()
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
        assert_eq!(e["stages"][0]["actions"][0]["namespace"], "SourceVariables");
        assert_eq!(
            e["triggers"],
            json!([{"provider": "CodeStarSourceConnection", "action": "Source", "pull_requests": [], "push": [{
                "branches": {"includes": ["main"], "excludes": []},
                "file_paths": {"includes": ["app/**", "buildspec.yml", "scripts/install-tools"], "excludes": []},
                "tags": null,
            }]}])
        );
        assert_eq!(d.stages().len(), 2, "no promotion, no approval");
        assert_eq!(plan(Some(&d), &d).0, Action::Keep);
        assert_eq!(plan(None, &d).0, Action::Create);
    }

    #[test]
    fn gitops_pushes_and_unrelated_files_start_nothing() {
        let d = declaration(&parts()).unwrap();
        let starts = |branch, files: &[&str]| crate::trigger::starts(&d, SOURCE_ACTION, branch, files);
        assert!(starts("main", &["app/comments/api.py"]));
        assert!(starts("main", &["buildspec.yml"]));
        assert!(starts("main", &["scripts/install-tools"]));
        assert!(!starts("main", &["README.md"]));
        assert!(!starts("main", &["deploy/environments/dev/kustomization.yaml"]));
        assert!(!starts("gitops", &["deploy/environments/dev/kustomization.yaml"]));
        assert!(!starts("gitops", &["app/comments/api.py"]));
    }

    #[test]
    fn a_promotion_is_an_approval_then_the_promotion_project() {
        let d = declaration(&promoting()).unwrap();
        let names: Vec<&str> = d.stages().iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Source", "Build", "Approve-prod", "Promote-prod"]);
        let e = essence(&d);
        let approve = &e["stages"][2]["actions"][0];
        assert_eq!(approve["type"], json!(["Approval", "AWS", "Manual", "1"]));
        assert_eq!(
            approve["configuration"]["CustomData"],
            "Promote comments (built from commit #{SourceVariables.CommitId}) to prod"
        );
        let promote = &e["stages"][3]["actions"][0];
        assert_eq!(promote["type"], json!(["Build", "AWS", "CodeBuild", "1"]));
        assert_eq!(promote["configuration"]["ProjectName"], "ekskit-demo-promote");
        assert_eq!(promote["configuration"]["PrimarySource"], "SourceOutput");
        assert_eq!(promote["inputs"], json!(["SourceOutput", "BuildOutput"]));
        // Adding or removing the promotion is an update of the stages only.
        let plain = declaration(&parts()).unwrap();
        assert_eq!(plan(Some(&plain), &d), (Action::Update, vec!["stages".to_owned()]));
        assert_eq!(plan(Some(&d), &plain), (Action::Update, vec!["stages".to_owned()]));
    }

    #[test]
    fn a_changed_branch_or_role_is_an_update_and_defaults_are_not() {
        let wanted = declaration(&parts()).unwrap();
        let other = declaration(&Parts { branch: "release", ..parts() }).unwrap();
        assert_eq!(plan(Some(&other), &wanted), (Action::Update, vec!["stages".to_owned(), "triggers".to_owned()]));
        let fewer = ["app/**".to_owned()];
        let narrower = declaration(&Parts { trigger_paths: &fewer, ..parts() }).unwrap();
        assert_eq!(plan(Some(&narrower), &wanted), (Action::Update, vec!["triggers".to_owned()]));
        let role = declaration(&Parts { role_arn: "arn:aws:iam::123456789012:role/x", ..parts() }).unwrap();
        assert_eq!(plan(Some(&role), &wanted).1, vec!["role_arn".to_owned()]);
        // CodePipeline returns a version; that is not a difference.
        let mut read_back = wanted.clone();
        read_back.version = Some(3);
        assert_eq!(plan(Some(&read_back), &wanted).0, Action::Keep);
    }
}
