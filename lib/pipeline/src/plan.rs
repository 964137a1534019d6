//! `--dry-run`: the fully defaulted spec and, per resource, whether a run would create, keep,
//! update or delete it (a promotion project and role no longer wanted are deleted). Reads only.

use ekskit_core::Hinted;

use crate::model::{Action, PlanDoc, PlannedAction};
use crate::roles::RoleKind;
use crate::spec::{ConnectionSpec, Spec};
use crate::{Clients, Names, bucket, codepipeline, connection, policies, project, roles};

fn role_arn(names: &Names, stack: &str, kind: RoleKind) -> String {
    format!("arn:{}:iam::{}:role/{}", policies::partition(&names.region), names.account, kind.role_name(stack))
}

pub async fn create_plan(aws: &Clients, spec: &Spec, names: &Names) -> anyhow::Result<PlanDoc> {
    let stack = &spec.name;
    let mut actions = Vec::new();

    let bucket_step = if bucket::find(&aws.s3, &names.bucket, stack).await? {
        let off = bucket::drift(&aws.s3, &names.bucket, stack).await?;
        if off.is_empty() { (Action::Keep, None) } else { (Action::Update, Some(format!("set {}", off.join(", ")))) }
    } else {
        (Action::Create, Some("versioned, SSE-S3 encrypted, public access blocked".to_owned()))
    };
    actions.push(PlannedAction::new(bucket_step.0, "s3-bucket", &names.bucket, bucket_step.1));

    let connection_arn = match &spec.connection {
        ConnectionSpec::Existing { arn } => {
            let found = connection::get(&aws.connections, arn).await?;
            actions.push(PlannedAction::new(
                Action::Use,
                "connection",
                &found.name,
                Some(format!("{arn} ({})", found.status)),
            ));
            found.arn
        }
        ConnectionSpec::Create { .. } => match connection::find(&aws.connections, &names.connection, stack).await? {
            Some(found) => {
                actions.push(PlannedAction::new(
                    Action::Keep,
                    "connection",
                    &names.connection,
                    Some(found.status.clone()),
                ));
                found.arn
            }
            None => {
                let detail =
                    format!("{}; PENDING until completed in the console", connection::provider_name(&spec.connection));
                actions.push(PlannedAction::new(Action::Create, "connection", &names.connection, Some(detail)));
                "(new connection)".to_owned()
            }
        },
    };

    let scope = names.scope(spec, &connection_arn);
    let mut roles_wanted =
        vec![(RoleKind::CodeBuild, scope.codebuild_policy()), (RoleKind::CodePipeline, scope.codepipeline_policy())];
    if let Some(promote) = &scope.promotion {
        roles_wanted.push((RoleKind::Promote, scope.promote_policy(promote)));
    }
    for (kind, policy) in roles_wanted {
        let name = kind.role_name(stack);
        let (action, detail) = match roles::find(&aws.iam, stack, kind).await? {
            None => (Action::Create, Some(format!("trusts {}", kind.service()))),
            Some(role) => {
                let off = roles::drift(&aws.iam, &role, &kind.trust(&scope), &policy).await?;
                if off.is_empty() { (Action::Keep, None) } else { (Action::Update, Some(off.join(", "))) }
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

    if let Some(promotion) = &spec.promotion {
        let role = role_arn(names, stack, RoleKind::Promote);
        let wanted = project::wanted_promote(spec, promotion, &names.promote_project, &names.promote_log_group, &role)?;
        let current = project::find(&aws.codebuild, &names.promote_project, stack).await?;
        let (action, off) = project::plan(current.as_ref(), &wanted);
        let detail = if off.is_empty() {
            format!("{} to {} (branch {})", project::PROMOTE_BUILDSPEC, promotion.environment, promotion.branch)
        } else {
            off.join(", ")
        };
        actions.push(PlannedAction::new(action, "codebuild-project", &names.promote_project, Some(detail)));
    }

    let pipeline_role = role_arn(names, stack, RoleKind::CodePipeline);
    let repository = spec.repository.clone().unwrap_or_default();
    let wanted = codepipeline::declaration(&names.parts(spec, &pipeline_role, &connection_arn, &repository))?;
    let current = codepipeline::find(&aws.codepipeline, &names.pipeline, stack).await?;
    let (action, off) = codepipeline::plan(current.as_ref().map(|(d, _)| d), &wanted);
    let detail = if off.is_empty() {
        let stages: Vec<&str> = wanted.stages().iter().map(|s| s.name()).collect();
        format!("V2, {repository}@{} changing {}: {}", spec.branch, spec.trigger_paths.join(" "), stages.join(" -> "))
    } else {
        off.join(", ")
    };
    actions.push(PlannedAction::new(action, "pipeline", &names.pipeline, Some(detail)));

    if spec.promotion.is_none() {
        // Left from a run with a promotion: a run deletes them after updating the pipeline.
        let why = Some("no promotion any more".to_owned());
        if ours(project::find(&aws.codebuild, &names.promote_project, stack).await)?.flatten().is_some() {
            actions.push(PlannedAction::new(Action::Delete, "codebuild-project", &names.promote_project, why.clone()));
        }
        if ours(roles::find(&aws.iam, stack, RoleKind::Promote).await)?.flatten().is_some() {
            actions.push(PlannedAction::new(Action::Delete, "iam-role", &RoleKind::Promote.role_name(stack), why));
        }
    }

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
        actions.push(PlannedAction::new(Action::Delete, "pipeline", &names.pipeline, None));
    }
    for project in [&names.project, &names.promote_project] {
        if ours(project::find(&aws.codebuild, project, stack).await)?.flatten().is_some() {
            actions.push(PlannedAction::new(Action::Delete, "codebuild-project", project, None));
        }
    }
    for kind in RoleKind::ALL {
        if ours(roles::find(&aws.iam, stack, kind).await)?.flatten().is_some() {
            actions.push(PlannedAction::new(Action::Delete, "iam-role", &kind.role_name(stack), None));
        }
    }
    if ours(connection::find(&aws.connections, &names.connection, stack).await)?.flatten().is_some() {
        actions.push(PlannedAction::new(Action::Delete, "connection", &names.connection, None));
    }
    if ours(bucket::find(&aws.s3, &names.bucket, stack).await)? == Some(true) {
        actions.push(PlannedAction::new(
            Action::Delete,
            "s3-bucket",
            &names.bucket,
            Some("all object versions first".into()),
        ));
    }
    Ok(PlanDoc { region: names.region.clone(), account: names.account.clone(), spec: spec.clone(), actions })
}
