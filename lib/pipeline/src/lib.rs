//! mkpipeline: the release pipeline of a repository, as the seed made it with Terraform: an S3
//! artifact bucket, a CodeConnections connection, IAM roles for CodeBuild and CodePipeline, a
//! CodeBuild project running the repository's buildspec.yml, and a CodePipeline (V2) from a
//! branch to that project; optionally a manual approval and a promotion to a further
//! environment by a second CodeBuild project with its own role and token. Created, converged and
//! deleted by name and ownership tag.
//!
//! The build pushes its GitOps change to another branch (or repository) than the one watched, and
//! the trigger only fires for the files a release is built from: a release never starts the next.
//!
//! - [`cli`]: flags, resolved with the stdin document ([`input`]) by the steps in [`resolve`]
//!   and the checks in [`validate`] into one [`spec::Spec`]; [`names`]: every resource's name
//! - [`bucket`], [`connection`], [`roles`] with [`policies`], [`project`], [`codepipeline`]
//! - [`trigger`]: whether a push starts a declared pipeline
//! - [`plan`]: `--dry-run`; [`model`]: the JSON keys and schemas

pub mod bucket;
pub mod cli;
pub mod codepipeline;
pub mod connection;
pub mod input;
pub mod model;
pub mod names;
pub mod plan;
pub mod policies;
pub mod project;
pub mod resolve;
pub mod roles;
pub mod spec;
pub mod trigger;
pub mod validate;

use ekskit_aws::AwsResultExt;
use ekskit_core::Document;
use ekskit_core::output::emit;
use tracing::{info, warn};

use crate::cli::{Args, ResolveSpec};
use crate::model::{DeletedDoc, PipelineDoc, ProjectDoc, PromotionDoc, RolesDoc};
use crate::policies::{PromoteScope, Scope};
use crate::roles::RoleKind;
use crate::spec::Spec;

/// Written into the `ekskit.io/managed-by` tag.
pub const TOOL: &str = "mkpipeline";

/// The AWS clients mkpipeline uses, made once from one configuration.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub connections: aws_sdk_codeconnections::Client,
}

/// The names of everything, once the account and region are known.
#[derive(Debug, Clone)]
pub struct Names {
    pub region: String,
    pub account: String,
    pub bucket: String,
    pub project: String,
    pub pipeline: String,
    pub connection: String,
    pub log_group: String,
    pub promote_project: String,
    pub promote_log_group: String,
}

impl Names {
    pub fn new(stack: &str, account: &str, region: &str) -> Names {
        Names {
            region: region.to_owned(),
            account: account.to_owned(),
            bucket: names::bucket(stack, account, region),
            project: names::project(stack),
            pipeline: names::pipeline(stack),
            connection: names::connection(stack),
            log_group: names::log_group(stack),
            promote_project: names::promote_project(stack),
            promote_log_group: names::promote_log_group(stack),
        }
    }

    pub fn scope(&self, spec: &Spec, connection_arn: &str) -> Scope {
        Scope {
            partition: policies::partition(&self.region).to_owned(),
            region: self.region.clone(),
            account: self.account.clone(),
            bucket: self.bucket.clone(),
            project: self.project.clone(),
            pipeline: self.pipeline.clone(),
            log_group: self.log_group.clone(),
            ecr_repository: spec.ecr_repository.clone(),
            token_secret: spec.token_secret.clone().unwrap_or_default(),
            connection: connection_arn.to_owned(),
            promotion: spec.promotion.as_ref().map(|p| PromoteScope {
                project: self.promote_project.clone(),
                log_group: self.promote_log_group.clone(),
                token_secret: p.token_secret.clone().unwrap_or_default(),
            }),
        }
    }

    /// The pipeline's declaration parts; `repository` and `connection_arn` may be placeholders
    /// (a plan before anything exists).
    pub fn parts<'a>(
        &'a self,
        spec: &'a Spec,
        role_arn: &'a str,
        connection_arn: &'a str,
        repository: &'a str,
    ) -> codepipeline::Parts<'a> {
        codepipeline::Parts {
            name: &self.pipeline,
            role_arn,
            bucket: &self.bucket,
            connection_arn,
            repository,
            branch: &spec.branch,
            project: &self.project,
            trigger_paths: &spec.trigger_paths,
            promotion: spec.promotion.as_ref().map(|p| codepipeline::PromoteParts {
                environment: &p.environment,
                project: &self.promote_project,
                image: &spec.ecr_repository,
            }),
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let doc = Document::from_stdin(args.stdin.mode())?;
    let region_hint = match doc.get::<serde_json::Value>("pipeline")? {
        Some(p) => p.get("region").and_then(|r| r.as_str()).map(str::to_owned),
        None => ekskit_aws::document_region(&doc)?,
    };
    let spec = Spec::resolve(&args, &doc)?;
    let config = ekskit_aws::load(&args.aws, region_hint.as_deref()).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let sts = aws_sdk_sts::Client::new(&config);
    let who = sts.get_caller_identity().send().await.aws("finding the AWS account (sts:GetCallerIdentity)")?;
    let account = who.account().unwrap_or_default().to_owned();
    let aws = Clients {
        s3: aws_sdk_s3::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        codebuild: aws_sdk_codebuild::Client::new(&config),
        codepipeline: aws_sdk_codepipeline::Client::new(&config),
        connections: aws_sdk_codeconnections::Client::new(&config),
    };
    let names = Names::new(&spec.name, &account, &region);
    // Another mkpipeline on this stack (on this machine, or with --lease on any) waits instead
    // of racing.
    let name = spec.name.clone();
    let run = apply(&args, &aws, doc, spec, names);
    ekskit_aws::lease::exclusive(&config, &args.lease, args.dry_run.on, (TOOL, &region, &name), run).await
}

/// Deletes, plans or converges, as `args` says.
async fn apply(args: &Args, aws: &Clients, mut doc: Document, spec: Spec, names: Names) -> anyhow::Result<()> {
    let region = names.region.clone();
    if args.delete.on {
        if args.dry_run.on {
            doc.set_nested("plan", "pipeline", &plan::delete_plan(aws, &spec, &names).await?)?;
            return emit(&doc);
        }
        let resources = delete_all(aws, &spec, &names).await?;
        info!("deleted {} resources of pipeline stack {}", resources.len(), spec.name);
        let left = plan::delete_plan(aws, &spec, &names).await?.actions;
        if !left.is_empty() {
            let what: Vec<String> = left.iter().map(|a| format!("{} {}", a.kind, a.name)).collect();
            return Err(ekskit_core::Hinted::new(
                format!("pipeline stack {} still has: {}", spec.name, what.join(", ")),
                "run mkpipeline --delete again; if they stay, their AWS console page says what holds them",
            )
            .into());
        }
        doc.remove("pipeline");
        doc.set_nested("deleted", "pipeline", &DeletedDoc { stack: spec.name.clone(), region, resources })?;
        return emit(&doc);
    }

    if args.dry_run.on {
        doc.set_nested("plan", "pipeline", &plan::create_plan(aws, &spec, &names).await?)?;
        return emit(&doc);
    }

    let out = converge(aws, &spec, &names).await?;
    doc.set("pipeline", &out)?;
    emit(&doc)
}

/// Creates what is missing and updates what differs, in dependency order.
async fn converge(aws: &Clients, spec: &Spec, names: &Names) -> anyhow::Result<PipelineDoc> {
    let stack = &spec.name;
    // Spec::resolve refuses a run without them unless deleting.
    let repository = spec.repository.clone().unwrap_or_default();
    let token_secret = spec.token_secret.clone().unwrap_or_default();
    bucket::ensure(&aws.s3, &names.bucket, stack, &names.region).await?;
    let (connection, _) = connection::ensure(&aws.connections, &spec.connection, &names.connection, stack).await?;
    let scope = names.scope(spec, &connection.arn);
    let (codebuild_role, _) =
        roles::ensure(&aws.iam, stack, RoleKind::CodeBuild, &scope, &scope.codebuild_policy()).await?;
    let (codepipeline_role, _) =
        roles::ensure(&aws.iam, stack, RoleKind::CodePipeline, &scope, &scope.codepipeline_policy()).await?;
    let wanted_project = project::wanted(spec, &names.project, &names.log_group, &codebuild_role)?;
    let (project_arn, _) = project::ensure(&aws.codebuild, stack, &wanted_project).await?;
    let promotion = match (&spec.promotion, &scope.promotion) {
        (Some(p), Some(promote_scope)) => {
            let (role, _) =
                roles::ensure(&aws.iam, stack, RoleKind::Promote, &scope, &scope.promote_policy(promote_scope)).await?;
            let wanted = project::wanted_promote(spec, p, &names.promote_project, &names.promote_log_group, &role)?;
            let (arn, _) = project::ensure(&aws.codebuild, stack, &wanted).await?;
            Some(PromotionDoc {
                environment: p.environment.clone(),
                branch: p.branch.clone(),
                token_secret: p.token_secret.clone().unwrap_or_default(),
                buildspec: project::PROMOTE_BUILDSPEC.into(),
                project: ProjectDoc {
                    name: names.promote_project.clone(),
                    arn,
                    image: spec.image.clone(),
                    compute_type: spec.compute_type.aws_name().into(),
                    log_group: names.promote_log_group.clone(),
                },
                role,
            })
        }
        _ => None,
    };
    let parts = names.parts(spec, &codepipeline_role, &connection.arn, &repository);
    let declaration = codepipeline::declaration(&parts)?;
    let (arn, _) = codepipeline::ensure(&aws.codepipeline, stack, &declaration).await?;
    if spec.promotion.is_none() {
        // A promotion dropped since an earlier run: the pipeline no longer runs its project.
        for gone in delete_promotion(aws, stack, names).await? {
            info!("deleted {gone}: no promotion any more");
        }
    }
    if spec.tools_url.is_none() {
        warn!(
            "no --tools-url: the builds stop at install until the projects get EKSKIT_TOOLS_URL (the tools' tarball)"
        );
    }
    let next_step = connection::next_step(&connection, &names.region);
    match &next_step {
        Some(step) => warn!("{step}"),
        None => info!(
            "pipeline {} runs on pushes to {} of {repository} that change {}",
            names.pipeline,
            spec.branch,
            spec.trigger_paths.join(", ")
        ),
    }
    Ok(PipelineDoc {
        stack: stack.clone(),
        name: names.pipeline.clone(),
        arn,
        region: names.region.clone(),
        pipeline_type: "V2".into(),
        repository,
        branch: spec.branch.clone(),
        buildspec: spec.buildspec.clone(),
        project: ProjectDoc {
            name: names.project.clone(),
            arn: project_arn,
            image: spec.image.clone(),
            compute_type: spec.compute_type.aws_name().into(),
            log_group: names.log_group.clone(),
        },
        bucket: names.bucket.clone(),
        roles: RolesDoc { codebuild: codebuild_role, codepipeline: codepipeline_role },
        connection,
        ecr_repository: spec.ecr_repository.clone(),
        token_secret,
        environment: spec.environment.clone(),
        gitops_repo: spec.gitops_repo.clone().unwrap_or_default(),
        gitops_repo_url: spec.gitops_repo_url.clone().unwrap_or_default(),
        gitops_branch: spec.gitops_branch.clone(),
        trigger_paths: spec.trigger_paths.clone(),
        promotion,
        tools_url: spec.tools_url.clone(),
        next_step,
    })
}

/// Deletes the promotion's project, then its role; returns `kind name` of each deleted.
async fn delete_promotion(aws: &Clients, stack: &str, names: &Names) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    if project::delete(&aws.codebuild, &names.promote_project, stack).await? {
        gone.push(format!("codebuild-project {}", names.promote_project));
    }
    if roles::delete(&aws.iam, stack, RoleKind::Promote).await? {
        gone.push(format!("iam-role {}", RoleKind::Promote.role_name(stack)));
    }
    Ok(gone)
}

/// Deletes in reverse dependency order; returns `kind name` of each resource deleted.
async fn delete_all(aws: &Clients, spec: &Spec, names: &Names) -> anyhow::Result<Vec<String>> {
    let stack = &spec.name;
    let mut gone = Vec::new();
    if codepipeline::delete(&aws.codepipeline, &names.pipeline, stack).await? {
        gone.push(format!("pipeline {}", names.pipeline));
    }
    if project::delete(&aws.codebuild, &names.project, stack).await? {
        gone.push(format!("codebuild-project {}", names.project));
    }
    if project::delete(&aws.codebuild, &names.promote_project, stack).await? {
        gone.push(format!("codebuild-project {}", names.promote_project));
    }
    for kind in RoleKind::ALL {
        if roles::delete(&aws.iam, stack, kind).await? {
            gone.push(format!("iam-role {}", kind.role_name(stack)));
        }
    }
    if connection::delete(&aws.connections, &names.connection, stack).await? {
        gone.push(format!("connection {}", names.connection));
    }
    if bucket::delete(&aws.s3, &names.bucket, stack).await? {
        gone.push(format!("s3-bucket {}", names.bucket));
    }
    Ok(gone)
}
