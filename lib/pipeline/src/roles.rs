//! The IAM roles CodeBuild and CodePipeline assume, each with one inline least-privilege policy
//! (see [`crate::policies`]). Found by name; a role of that name without our stack tag is someone
//! else's and is refused.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Role, Tag};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use serde_json::Value;
use tracing::{info, warn};

use crate::TOOL;
use crate::names::{self, INLINE_POLICY};
use crate::policies::{parse_document, trust};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    CodeBuild,
    CodePipeline,
}

impl RoleKind {
    pub const ALL: [RoleKind; 2] = [RoleKind::CodePipeline, RoleKind::CodeBuild];

    pub fn role_name(self, stack: &str) -> String {
        match self {
            RoleKind::CodeBuild => names::codebuild_role(stack),
            RoleKind::CodePipeline => names::codepipeline_role(stack),
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            RoleKind::CodeBuild => "codebuild.amazonaws.com",
            RoleKind::CodePipeline => "codepipeline.amazonaws.com",
        }
    }
}

/// The role when it exists and is ours; an error when it exists and is not.
pub async fn find(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<Option<Role>> {
    let name = kind.role_name(stack);
    let role = match iam.get_role().role_name(&name).send().await.aws(format!("reading IAM role {name}")) {
        Ok(out) => out.role,
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(role) = role else { return Ok(None) };
    if !role.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack) {
        return Err(Hinted::new(
            format!("IAM role {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that role",
        )
        .into());
    }
    Ok(Some(role))
}

/// What differs between the role and what is wanted: `trust policy`, `inline policy`.
pub async fn drift(iam: &Client, role: &Role, kind: RoleKind, policy: &Value) -> anyhow::Result<Vec<&'static str>> {
    let mut off = Vec::new();
    let trusted = role.assume_role_policy_document().and_then(parse_document);
    if trusted.as_ref() != Some(&trust(kind.service())) {
        off.push("trust policy");
    }
    let name = role.role_name();
    let current = match iam.get_role_policy().role_name(name).policy_name(INLINE_POLICY).send().await {
        Ok(out) => parse_document(out.policy_document()),
        Err(e) => {
            let e = ekskit_aws::aws_error(e).context(format!("reading policy {INLINE_POLICY} of IAM role {name}"));
            if aws_code(&e) != Some("NoSuchEntity") {
                return Err(e);
            }
            None
        }
    };
    if current.as_ref() != Some(policy) {
        off.push("inline policy");
    }
    Ok(off)
}

/// Creates the role when missing and converges its trust and inline policy.
/// Returns its ARN and `create`, `update` or `keep`.
pub async fn ensure(
    iam: &Client,
    stack: &str,
    kind: RoleKind,
    policy: &Value,
) -> anyhow::Result<(String, &'static str)> {
    let name = kind.role_name(stack);
    let (role, created) = match find(iam, stack, kind).await? {
        Some(role) => (role, false),
        None => {
            info!("creating IAM role {name}");
            let tags: Vec<Tag> = ownership_tags(stack, TOOL)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<_, _>>()?;
            let created = iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(trust(kind.service()).to_string())
                .description(format!("{} service role of ekskit stack {stack}", kind.service()))
                .set_tags(Some(tags))
                .send()
                .await
                .aws(format!("creating IAM role {name}"));
            match created {
                Ok(out) => (out.role.ok_or_else(|| anyhow::anyhow!("CreateRole returned no role"))?, true),
                // A concurrent or killed run created it between our look and now.
                Err(e) if aws_code(&e) == Some("EntityAlreadyExists") => {
                    (find(iam, stack, kind).await?.ok_or(e)?, false)
                }
                Err(e) => return Err(e),
            }
        }
    };
    let off = drift(iam, &role, kind, policy).await?;
    if off.contains(&"trust policy") {
        iam.update_assume_role_policy()
            .role_name(&name)
            .policy_document(trust(kind.service()).to_string())
            .send()
            .await
            .aws(format!("setting the trust policy of IAM role {name}"))?;
    }
    if off.contains(&"inline policy") {
        iam.put_role_policy()
            .role_name(&name)
            .policy_name(INLINE_POLICY)
            .policy_document(policy.to_string())
            .send()
            .await
            .aws(format!("putting policy {INLINE_POLICY} on IAM role {name}"))?;
    }
    let action = match (created, off.is_empty()) {
        (true, _) => "create",
        (false, true) => "keep",
        (false, false) => {
            info!("IAM role {name}: updated {}", off.join(", "));
            "update"
        }
    };
    Ok((role.arn().to_owned(), action))
}

/// Deletes the role's inline and attached policies, then the role; returns whether there was one.
pub async fn delete(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<bool> {
    let name = kind.role_name(stack);
    match find(iam, stack, kind).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving IAM role {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    let inline = iam.list_role_policies().role_name(&name).send().await.aws(format!("listing policies of {name}"))?;
    for policy in inline.policy_names() {
        iam.delete_role_policy()
            .role_name(&name)
            .policy_name(policy)
            .send()
            .await
            .aws(format!("deleting policy {policy} of {name}"))?;
    }
    let attached =
        iam.list_attached_role_policies().role_name(&name).send().await.aws(format!("listing policies of {name}"))?;
    for arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
        iam.detach_role_policy()
            .role_name(&name)
            .policy_arn(arn)
            .send()
            .await
            .aws(format!("detaching {arn} from {name}"))?;
    }
    info!("deleting IAM role {name}");
    match iam.delete_role().role_name(&name).send().await.aws(format!("deleting IAM role {name}")) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => Ok(true),
        Err(e) => Err(e),
    }
}
