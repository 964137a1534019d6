//! The CodeBuild projects: source and artifacts from CodePipeline, the repository's buildspec, a
//! Linux container with the variables the buildspec reads, logs in its own CloudWatch Logs group.
//! The release project runs buildspec.yml privileged (Docker builds); the promotion project runs
//! buildspec-promote.yml unprivileged, with its own role and token. Converged by comparing what
//! mkpipeline sets with what CodeBuild has.

use std::time::Duration;

use aws_sdk_codebuild::Client;
use aws_sdk_codebuild::types::{
    ArtifactsType, CloudWatchLogsConfig, ComputeType, EnvironmentType, EnvironmentVariable, EnvironmentVariableType,
    ImagePullCredentialsType, LogsConfig, LogsConfigStatusType, Project, ProjectArtifacts, ProjectEnvironment,
    ProjectSource, SourceType, Tag,
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
use crate::spec::{Promotion, Spec};

/// The buildspec of the promotion project, in the repository (written by the repository, not here).
pub const PROMOTE_BUILDSPEC: &str = "buildspec-promote.yml";

/// The project as mkpipeline wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub name: String,
    /// Set when the project is created.
    pub description: String,
    pub service_role: String,
    pub source: ProjectSource,
    pub artifacts: ProjectArtifacts,
    pub environment: ProjectEnvironment,
    pub logs: LogsConfig,
}

/// The variables buildspec.yml's header asks the release project to set.
pub fn variables(spec: &Spec) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("ENVIRONMENT", spec.environment.clone()),
        ("REPOSITORY", format!("ecr:{}", spec.ecr_repository)),
        ("GITOPS_REPO_URL", spec.gitops_repo_url.clone().unwrap_or_default()),
        ("GITOPS_BRANCH", spec.gitops_branch.clone()),
        ("GITOPS_TOKEN_SECRET", spec.token_secret.clone().unwrap_or_default()),
    ];
    vars.extend(spec.tools_url.clone().map(|u| ("EKSKIT_TOOLS_URL", u)));
    vars
}

/// The variables of the promotion project: the promoted environment, its branch and its own
/// token; no image repository (it pushes no image).
pub fn promote_variables(spec: &Spec, promotion: &Promotion) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("ENVIRONMENT", promotion.environment.clone()),
        ("GITOPS_REPO_URL", spec.gitops_repo_url.clone().unwrap_or_default()),
        ("GITOPS_BRANCH", promotion.branch.clone()),
        ("GITOPS_TOKEN_SECRET", promotion.token_secret.clone().unwrap_or_default()),
    ];
    vars.extend(spec.tools_url.clone().map(|u| ("EKSKIT_TOOLS_URL", u)));
    vars
}

/// What tells the two projects apart.
struct Kind<'a> {
    description: String,
    buildspec: &'a str,
    privileged: bool,
    variables: Vec<(&'static str, String)>,
}

/// The release project.
pub fn wanted(spec: &Spec, name: &str, log_group: &str, service_role: &str) -> anyhow::Result<Wanted> {
    let kind = Kind {
        description: "runs the repository's buildspec for CodePipeline".into(),
        buildspec: &spec.buildspec,
        privileged: true,
        variables: variables(spec),
    };
    build(spec, name, log_group, service_role, kind)
}

/// The promotion project.
pub fn wanted_promote(
    spec: &Spec,
    promotion: &Promotion,
    name: &str,
    log_group: &str,
    service_role: &str,
) -> anyhow::Result<Wanted> {
    let kind = Kind {
        description: format!(
            "runs {PROMOTE_BUILDSPEC} for CodePipeline: promotes a release to {}",
            promotion.environment
        ),
        buildspec: PROMOTE_BUILDSPEC,
        privileged: false,
        variables: promote_variables(spec, promotion),
    };
    build(spec, name, log_group, service_role, kind)
}

fn build(spec: &Spec, name: &str, log_group: &str, service_role: &str, kind: Kind<'_>) -> anyhow::Result<Wanted> {
    let vars: Vec<EnvironmentVariable> = kind
        .variables
        .into_iter()
        // An ARN, not the secret: CodeBuild's own SECRETS_MANAGER type would resolve the token
        // into the build's environment, where every command could print it.
        .map(|(k, v)| {
            EnvironmentVariable::builder().name(k).value(v).r#type(EnvironmentVariableType::Plaintext).build()
        })
        .collect::<Result<_, _>>()?;
    Ok(Wanted {
        name: name.to_owned(),
        description: kind.description,
        service_role: service_role.to_owned(),
        source: ProjectSource::builder().r#type(SourceType::Codepipeline).buildspec(kind.buildspec).build()?,
        artifacts: ProjectArtifacts::builder().r#type(ArtifactsType::Codepipeline).build()?,
        environment: ProjectEnvironment::builder()
            .r#type(EnvironmentType::LinuxContainer)
            .image(&spec.image)
            .compute_type(ComputeType::from(spec.compute_type.aws_name()))
            .privileged_mode(kind.privileged)
            .image_pull_credentials_type(ImagePullCredentialsType::Codebuild)
            .set_environment_variables(Some(vars))
            .build()?,
        logs: LogsConfig::builder()
            .cloud_watch_logs(
                CloudWatchLogsConfig::builder().status(LogsConfigStatusType::Enabled).group_name(log_group).build()?,
            )
            .build(),
    })
}

/// The parts of a project mkpipeline sets, as JSON, to compare wanted and current.
pub fn essence(
    source: Option<&ProjectSource>,
    artifacts: Option<&ProjectArtifacts>,
    environment: Option<&ProjectEnvironment>,
    service_role: Option<&str>,
    logs: Option<&LogsConfig>,
) -> Value {
    let mut vars: Vec<(String, String)> = environment
        .map(|e| e.environment_variables().iter().map(|v| (v.name().to_owned(), v.value().to_owned())).collect())
        .unwrap_or_default();
    vars.sort();
    let cw = logs.and_then(|l| l.cloud_watch_logs());
    json!({
        "source": {"type": source.map(|s| s.r#type().as_str()), "buildspec": source.and_then(|s| s.buildspec())},
        "artifacts": artifacts.map(|a| a.r#type().as_str()),
        "environment": environment.map(|e| json!({
            "type": e.r#type().as_str(),
            "image": e.image(),
            "compute_type": e.compute_type().as_str(),
            "privileged_mode": e.privileged_mode().unwrap_or(false),
            "variables": vars,
        })),
        "service_role": service_role,
        "logs": cw.map(|c| json!({"status": c.status().as_str(), "group": c.group_name()})),
    })
}

impl Wanted {
    pub fn essence(&self) -> Value {
        essence(
            Some(&self.source),
            Some(&self.artifacts),
            Some(&self.environment),
            Some(&self.service_role),
            Some(&self.logs),
        )
    }
}

fn essence_of(p: &Project) -> Value {
    essence(p.source(), p.artifacts(), p.environment(), p.service_role(), p.logs_config())
}

/// The top-level keys of the essence that differ, e.g. `environment, service_role`.
pub fn differences(current: &Value, wanted: &Value) -> Vec<String> {
    let keys = wanted.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    keys.into_iter().filter(|k| current.get(k) != wanted.get(k)).collect()
}

/// The project when it exists and is ours; an error when it exists and is not.
pub async fn find(cb: &Client, name: &str, stack: &str) -> anyhow::Result<Option<Project>> {
    let out = cb.batch_get_projects().names(name).send().await.aws(format!("reading CodeBuild project {name}"))?;
    let Some(project) = out.projects().iter().find(|p| p.name() == Some(name)).cloned() else {
        return Ok(None);
    };
    if !project.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack)) {
        return Err(Hinted::new(
            format!("CodeBuild project {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that project",
        )
        .into());
    }
    Ok(Some(project))
}

/// `create`, `update` (with what differs) or `keep`, for the plan.
pub fn plan(current: Option<&Project>, wanted: &Wanted) -> (Action, Vec<String>) {
    match current {
        None => (Action::Create, Vec::new()),
        Some(p) => {
            let off = differences(&essence_of(p), &wanted.essence());
            (if off.is_empty() { Action::Keep } else { Action::Update }, off)
        }
    }
}

/// Creates or updates the project; returns its ARN and `create`, `update` or `keep`.
pub async fn ensure(cb: &Client, stack: &str, wanted: &Wanted) -> anyhow::Result<(String, Action)> {
    let name = &wanted.name;
    let current = find(cb, name, stack).await?;
    let (action, off) = plan(current.as_ref(), wanted);
    if action == Action::Keep {
        return Ok((current.and_then(|p| p.arn).unwrap_or_default(), Action::Keep));
    }
    let tags: Vec<Tag> =
        ownership_tags(stack, TOOL).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    if action == Action::Create {
        info!("creating CodeBuild project {name}");
    } else {
        info!("updating CodeBuild project {name}: {}", off.join(", "));
    }
    let what = format!("CodeBuild project {name}");
    let project =
        until(&what, "created with its new IAM role", Duration::from_secs(120), Backoff::default(), || async {
            let result = if action == Action::Create {
                cb.create_project()
                    .name(name)
                    .description(format!("ekskit stack {stack}: {}", wanted.description))
                    .source(wanted.source.clone())
                    .artifacts(wanted.artifacts.clone())
                    .environment(wanted.environment.clone())
                    .service_role(&wanted.service_role)
                    .logs_config(wanted.logs.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map(|o| o.project)
                    .aws(format!("creating CodeBuild project {name}"))
            } else {
                cb.update_project()
                    .name(name)
                    .source(wanted.source.clone())
                    .artifacts(wanted.artifacts.clone())
                    .environment(wanted.environment.clone())
                    .service_role(&wanted.service_role)
                    .logs_config(wanted.logs.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map(|o| o.project)
                    .aws(format!("updating CodeBuild project {name}"))
            };
            match result {
                Ok(p) => Ok(Check::Ready(p)),
                Err(e) if role_not_ready(&e) => Ok(Check::Pending("waiting for IAM to propagate its role".into())),
                Err(e) if aws_code(&e) == Some("ResourceAlreadyExistsException") => {
                    // A concurrent or killed run created it: converge on the next run.
                    warn!("{e:#}");
                    Ok(Check::Ready(find(cb, name, stack).await?))
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok((project.and_then(|p| p.arn).unwrap_or_default(), action))
}

/// Deletes the project; returns whether there was one. Someone else's is left alone.
pub async fn delete(cb: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    match find(cb, name, stack).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving CodeBuild project {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    info!("deleting CodeBuild project {name}");
    cb.delete_project().name(name).send().await.aws(format!("deleting CodeBuild project {name}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ComputeType, ConnectionSpec, Provider};

    fn spec() -> Spec {
        Spec {
            name: "demo".into(),
            repository: Some("acme/comments".into()),
            branch: "main".into(),
            connection: ConnectionSpec::Create { provider: Provider::GitHub, host_arn: None },
            buildspec: "buildspec.yml".into(),
            image: crate::spec::DEFAULT_IMAGE.into(),
            compute_type: ComputeType::Medium,
            ecr_repository: "comments".into(),
            token_secret: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf".into()),
            environment: "dev".into(),
            gitops_repo: Some("acme/comments".into()),
            gitops_repo_url: Some("https://github.com/acme/comments.git".into()),
            gitops_branch: "gitops".into(),
            trigger_paths: crate::spec::default_trigger_paths("buildspec.yml"),
            promotion: None,
            tools_url: None,
        }
    }

    #[test]
    fn both_projects_get_the_tools_url_when_there_is_one() {
        let url = "https://example.org/ekskit-0.1.0-x86_64-unknown-linux-musl.tar.gz";
        assert!(!variables(&spec()).iter().any(|(k, _)| *k == "EKSKIT_TOOLS_URL"));
        let spec = Spec { tools_url: Some(url.into()), ..spec() };
        assert!(variables(&spec).contains(&("EKSKIT_TOOLS_URL", url.into())));
        assert!(promote_variables(&spec, &promotion()).contains(&("EKSKIT_TOOLS_URL", url.into())));
    }

    const PROMOTE_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod-XyZ123";

    fn promotion() -> Promotion {
        Promotion {
            environment: "prod".into(),
            branch: "gitops-prod".into(),
            token_secret: Some(PROMOTE_SECRET.into()),
        }
    }

    fn project(spec: &Spec) -> Wanted {
        wanted(spec, "ekskit-demo-build", "/aws/codebuild/ekskit-demo-build", "arn:aws:iam::1:role/r").unwrap()
    }

    #[test]
    fn the_buildspec_variables_are_set_and_the_build_is_privileged() {
        let w = project(&spec());
        let e = w.essence();
        assert_eq!(e["environment"]["privileged_mode"], true);
        assert_eq!(e["environment"]["compute_type"], "BUILD_GENERAL1_MEDIUM");
        assert_eq!(e["source"], json!({"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}));
        assert_eq!(e["logs"]["group"], "/aws/codebuild/ekskit-demo-build");
        let vars = &e["environment"]["variables"];
        assert_eq!(
            vars,
            &json!([
                ["ENVIRONMENT", "dev"],
                ["GITOPS_BRANCH", "gitops"],
                ["GITOPS_REPO_URL", "https://github.com/acme/comments.git"],
                ["GITOPS_TOKEN_SECRET", "arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf"],
                ["REPOSITORY", "ecr:comments"]
            ])
        );
    }

    #[test]
    fn the_promotion_project_has_its_own_buildspec_branch_and_token_and_no_image_push() {
        let spec = Spec { promotion: Some(promotion()), ..spec() };
        let w = wanted_promote(
            &spec,
            &promotion(),
            "ekskit-demo-promote",
            "/aws/codebuild/ekskit-demo-promote",
            "arn:aws:iam::1:role/p",
        )
        .unwrap();
        let e = w.essence();
        assert_eq!(e["source"], json!({"type": "CODEPIPELINE", "buildspec": "buildspec-promote.yml"}));
        assert_eq!(e["environment"]["privileged_mode"], false);
        assert_eq!(e["service_role"], "arn:aws:iam::1:role/p");
        assert_eq!(e["logs"]["group"], "/aws/codebuild/ekskit-demo-promote");
        assert_eq!(
            e["environment"]["variables"],
            json!([
                ["ENVIRONMENT", "prod"],
                ["GITOPS_BRANCH", "gitops-prod"],
                ["GITOPS_REPO_URL", "https://github.com/acme/comments.git"],
                ["GITOPS_TOKEN_SECRET", PROMOTE_SECRET]
            ])
        );
        // The release project does not see the promotion's token.
        assert!(!project(&spec).essence().to_string().contains(PROMOTE_SECRET));
    }

    #[test]
    fn differences_name_what_changed_only() {
        let w = project(&spec());
        assert!(differences(&w.essence(), &w.essence()).is_empty());
        let bigger = project(&Spec { compute_type: ComputeType::Large, ..spec() });
        assert_eq!(differences(&bigger.essence(), &w.essence()), ["environment"]);
        let other_file = project(&Spec { buildspec: "ci/buildspec.yml".into(), ..spec() });
        assert_eq!(differences(&other_file.essence(), &w.essence()), ["source"]);
    }
}
