//! The IAM roles CodeBuild (the release project, and the promotion project with a role of its
//! own) and CodePipeline assume, each with one inline least-privilege policy
//! (see [`crate::policies`]). Found by name; a role of that name without our stack tag is someone
//! else's and is refused.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Role;
use ekskit_aws::iam::{NewRole, create_owned_role, delete_owned_role, find_owned_role, set_trust_policy};
use ekskit_aws::{AwsResultExt, aws_code};
use serde_json::Value;
use tracing::info;

use crate::TOOL;
use crate::model::Action;
use crate::names::{self, INLINE_POLICY};
use crate::policies::{Scope, parse_document, trust};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// The release project's.
    CodeBuild,
    CodePipeline,
    /// The promotion project's.
    Promote,
}

impl RoleKind {
    pub const ALL: [RoleKind; 3] = [RoleKind::CodePipeline, RoleKind::CodeBuild, RoleKind::Promote];

    pub fn role_name(self, stack: &str) -> String {
        match self {
            RoleKind::CodeBuild => names::codebuild_role(stack),
            RoleKind::CodePipeline => names::codepipeline_role(stack),
            RoleKind::Promote => names::promote_role(stack),
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            RoleKind::CodeBuild | RoleKind::Promote => "codebuild.amazonaws.com",
            RoleKind::CodePipeline => "codepipeline.amazonaws.com",
        }
    }

    /// Its trust policy: its service, for the stack's own project or pipeline in this account.
    pub fn trust(self, scope: &Scope) -> Value {
        let source = match self {
            RoleKind::CodeBuild => scope.project_arn(),
            RoleKind::Promote => scope.promote_project_arn(),
            RoleKind::CodePipeline => scope.pipeline_arn(),
        };
        trust(self.service(), &scope.account, &source)
    }

    fn description(self, stack: &str) -> String {
        match self {
            RoleKind::CodeBuild | RoleKind::CodePipeline => {
                format!("{} service role of ekskit stack {stack}", self.service())
            }
            RoleKind::Promote => format!("{} service role of the promotion of ekskit stack {stack}", self.service()),
        }
    }
}

/// The role when it exists and is ours; an error when it exists and is not.
pub async fn find(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<Option<Role>> {
    find_owned_role(iam, &kind.role_name(stack), stack).await
}

/// What differs between the role and what is wanted: `trust policy`, `inline policy`.
pub async fn drift(iam: &Client, role: &Role, trust: &Value, policy: &Value) -> anyhow::Result<Vec<&'static str>> {
    let mut off = Vec::new();
    let trusted = role.assume_role_policy_document().and_then(parse_document);
    if trusted.as_ref() != Some(trust) {
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
    scope: &Scope,
    policy: &Value,
) -> anyhow::Result<(String, Action)> {
    let name = kind.role_name(stack);
    let trust = kind.trust(scope);
    let (role, created) = match find(iam, stack, kind).await? {
        Some(role) => (role, false),
        None => {
            let new = NewRole {
                name: &name,
                stack,
                tool: TOOL,
                trust_policy: &trust.to_string(),
                description: &kind.description(stack),
                path: "/",
                tags: &[],
            };
            create_owned_role(iam, &new).await?
        }
    };
    let off = drift(iam, &role, &trust, policy).await?;
    if off.contains(&"trust policy") {
        set_trust_policy(iam, &name, &trust).await?;
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
        (true, _) => Action::Create,
        (false, true) => Action::Keep,
        (false, false) => {
            info!("IAM role {name}: updated {}", off.join(", "));
            Action::Update
        }
    };
    Ok((role.arn().to_owned(), action))
}

/// Deletes the role's inline and attached policies, then the role; returns whether there was one.
pub async fn delete(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<bool> {
    delete_owned_role(iam, &kind.role_name(stack), stack).await
}
