//! `--dry-run`: the fully defaulted spec and, per resource, whether a run would create, keep,
//! update or delete it. Reads only.

use ekskit_core::Hinted;

use crate::cli::{ConnectionSpec, Spec};
use crate::model::{PlanDoc, PlannedAction};
use crate::roles::RoleKind;
use crate::{Clients, Names, bucket, codepipeline, connection, policies, project, roles};

fn role_arn(names: &Names, stack: &str, kind: RoleKind) -> String {
    format!("arn:{}:iam::{}:role/{}", policies::partition(&names.region), names.account, kind.role_name(stack))
}

pub async fn create_plan(aws: &Clients, spec: &Spec, names: &Names) -> anyhow::Result<PlanDoc> {
    let stack = &spec.name;
    let mut actions = Vec::new();

    let bucket_step = if bucket::find(&aws.s3, &names.bucket, stack).await? {
        let off = bucket::drift(&aws.s3, &names.bucket, stack).await?;
        if off.is_empty() { ("keep", None) } else { ("update", Some(format!("set {}", off.join(", ")))) }
    } else {
        ("create", Some("versioned, SSE-S3 encrypted, public access blocked".to_owned()))
    };
    actions.push(PlannedAction::new(bucket_step.0, "s3-bucket", &names.bucket, bucket_step.1));

    let connection_arn = match &spec.connection {
        ConnectionSpec::Existing { arn } => {
            let found = connection::get(&aws.connections, arn).await?;
            actions.push(PlannedAction::new(
                "use",
                "connection",
                &found.name,
                Some(format!("{arn} ({})", found.status)),
            ));
            found.arn
        }
        ConnectionSpec::Create { .. } => match connection::find(&aws.connections, &names.connection, stack).await? {
            Some(found) => {
                actions.push(PlannedAction::new("keep", "connection", &names.connection, Some(found.status.clone())));
                found.arn
            }
            None => {
                let detail =
                    format!("{}; PENDING until completed in the console", connection::provider_name(&spec.connection));
                actions.push(PlannedAction::new("create", "connection", &names.connection, Some(detail)));
                "(new connection)".to_owned()
            }
        },
    };

    let scope = names.scope(spec, &connection_arn);
    for (kind, policy) in
        [(RoleKind::CodeBuild, scope.codebuild_policy()), (RoleKind::CodePipeline, scope.codepipeline_policy())]
    {
        let name = kind.role_name(stack);
        let (action, detail) = match roles::find(&aws.iam, stack, kind).await? {
            None => ("create", Some(format!("trusts {}", kind.service()))),
            Some(role) => {
                let off = roles::drift(&aws.iam, &role, kind, &policy).await?;
                if off.is_empty() { ("keep", None) } else { ("update", Some(off.join(", "))) }
            }
        };
        actions.push(PlannedAction::new(action, "iam-role", &name, detail));
    }

    let wanted = project::wanted(spec, &names.project, &names.log_group, &role_arn(names, stack, RoleKind::CodeBuild))?;
    let current = project::find(&aws.codebuild, &names.project, stack).await?;
    let (action, off) = project::plan(current.as_ref(), &wanted);
    let detail = if off.is_empty() {
        format!("{} {} running {}", spec.image, spec.compute_type.aws_name(), spec.buildspec)
    } else {
        off.join(", ")
    };
    actions.push(PlannedAction::new(action, "codebuild-project", &names.project, Some(detail)));

    let pipeline_role = role_arn(names, stack, RoleKind::CodePipeline);
    let repository = spec.repository.clone().unwrap_or_default();
    let parts = codepipeline::Parts {
        name: &names.pipeline,
        role_arn: &pipeline_role,
        bucket: &names.bucket,
        connection_arn: &connection_arn,
        repository: &repository,
        branch: &spec.branch,
        project: &names.project,
    };
    let wanted = codepipeline::declaration(&parts)?;
    let current = codepipeline::find(&aws.codepipeline, &names.pipeline, stack).await?;
    let (action, off) = codepipeline::plan(current.as_ref().map(|(d, _)| d), &wanted);
    let detail =
        if off.is_empty() { format!("V2, {repository}@{} -> {}", spec.branch, names.project) } else { off.join(", ") };
    actions.push(PlannedAction::new(action, "pipeline", &names.pipeline, Some(detail)));

    Ok(PlanDoc { region: names.region.clone(), account: names.account.clone(), spec: spec.clone(), actions })
}

/// Someone else's resource of our name is left alone by --delete: not part of the plan.
fn ours<T>(found: anyhow::Result<T>) -> anyhow::Result<Option<T>> {
    match found {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is::<Hinted>() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn delete_plan(aws: &Clients, spec: &Spec, names: &Names) -> anyhow::Result<PlanDoc> {
    let stack = &spec.name;
    let mut actions = Vec::new();
    if ours(codepipeline::find(&aws.codepipeline, &names.pipeline, stack).await)?.flatten().is_some() {
        actions.push(PlannedAction::new("delete", "pipeline", &names.pipeline, None));
    }
    if ours(project::find(&aws.codebuild, &names.project, stack).await)?.flatten().is_some() {
        actions.push(PlannedAction::new("delete", "codebuild-project", &names.project, None));
    }
    for kind in RoleKind::ALL {
        if ours(roles::find(&aws.iam, stack, kind).await)?.flatten().is_some() {
            actions.push(PlannedAction::new("delete", "iam-role", &kind.role_name(stack), None));
        }
    }
    if ours(connection::find(&aws.connections, &names.connection, stack).await)?.flatten().is_some() {
        actions.push(PlannedAction::new("delete", "connection", &names.connection, None));
    }
    if ours(bucket::find(&aws.s3, &names.bucket, stack).await)? == Some(true) {
        actions.push(PlannedAction::new(
            "delete",
            "s3-bucket",
            &names.bucket,
            Some("all object versions first".into()),
        ));
    }
    Ok(PlanDoc { region: names.region.clone(), account: names.account.clone(), spec: spec.clone(), actions })
}
