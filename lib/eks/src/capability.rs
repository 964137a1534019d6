//! EKS Capabilities (`--capability argocd`): EKS' managed Argo CD, run by EKS outside the
//! cluster and signed in to through IAM Identity Center. mkeks makes its role (trusted by EKS'
//! capabilities service, reading the GitOps token below `<secrets prefix>argocd/`), creates the
//! capability and waits until it is ACTIVE, and gives the role's access entry (which EKS makes
//! without any Kubernetes permission) cluster admin, so Argo CD can deploy into this cluster as a
//! self-installed one does. A capability that exists is kept as it is; `--delete` deletes it
//! (its Kubernetes objects stay, as EKS' RETAIN policy says) before the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    ArgoCdAwsIdcConfigRequest, ArgoCdConfigRequest, ArgoCdRole, ArgoCdRoleMapping, Capability,
    CapabilityConfigurationRequest, CapabilityDeletePropagationPolicy, CapabilityStatus, CapabilityType, SsoIdentity,
    SsoIdentityType,
};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::InputError;
use ekskit_core::stack::ownership_tags;
use ekskit_core::wait::{Backoff, Check, until};
use ekskit_model::cluster::{ArgoCdSpec, CapabilityDoc};
use tracing::{info, warn};

use crate::access;
use crate::account::Account;
use crate::addons::policy::{self, Scope};
use crate::health::{failure, issue_text};
use crate::iam::{self, RoleKind, Trust};
use crate::model::{Action, PlannedAction};
use crate::{Clients, TOOL};

/// The capability's name on the cluster.
pub const ARGOCD: &str = "argocd";
/// What the capability role may do in the cluster: deploy anything, as Argo CD does.
pub const CLUSTER_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

fn backoff() -> Backoff {
    Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(15), factor: 1.5 }
}

/// `--argocd-rbac ROLE:TYPE:ID` into `ADMIN:SSO_GROUP:ID` (ROLE admin, editor or viewer; TYPE
/// user or group).
pub fn parse_rbac(text: &str) -> Result<String, InputError> {
    let bad = || {
        InputError::new(format!("--argocd-rbac `{text}` is not ROLE:TYPE:ID")).hint(
            "e.g. admin:group:9067a4f2-... (ROLE admin, editor or viewer; TYPE user or group; the Identity Center id)",
        )
    };
    let mut parts = text.splitn(3, ':');
    let (role, kind, id) =
        (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
    let role = match role.to_ascii_lowercase().as_str() {
        "admin" | "editor" | "viewer" => role.to_ascii_uppercase(),
        _ => return Err(bad()),
    };
    let kind = match kind.to_ascii_lowercase().trim_start_matches("sso_") {
        "user" => "SSO_USER",
        "group" => "SSO_GROUP",
        _ => return Err(bad()),
    };
    if id.is_empty() || id.len() > 256 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad());
    }
    Ok(format!("{role}:{kind}:{id}"))
}

/// `--idc-instance-arn`: an IAM Identity Center instance.
pub fn check_idc_instance(arn: &str) -> Result<(), InputError> {
    if arn.starts_with("arn:") && arn.contains(":instance/ssoins-") {
        return Ok(());
    }
    Err(InputError::new(format!("--idc-instance-arn `{arn}` is not an IAM Identity Center instance ARN"))
        .hint("`aws sso-admin list-instances` gives it, e.g. arn:aws:sso:::instance/ssoins-0123456789abcdef"))
}

/// The role mappings of `ADMIN:SSO_GROUP:ID` lines, one per role.
fn mappings(rbac: &[String]) -> anyhow::Result<Vec<ArgoCdRoleMapping>> {
    let mut by_role: BTreeMap<&str, Vec<SsoIdentity>> = BTreeMap::new();
    for line in rbac {
        let mut parts = line.splitn(3, ':');
        let (role, kind, id) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let identity = SsoIdentity::builder().id(id).r#type(SsoIdentityType::from(kind)).build()?;
        by_role.entry(role).or_default().push(identity);
    }
    by_role
        .into_iter()
        .map(|(role, identities)| {
            Ok(ArgoCdRoleMapping::builder().role(ArgoCdRole::from(role)).set_identities(Some(identities)).build()?)
        })
        .collect()
}

pub async fn find(eks: &Client, cluster: &str, name: &str) -> anyhow::Result<Option<Capability>> {
    let out = eks.describe_capability().cluster_name(cluster).capability_name(name).send().await;
    match out.aws(format!("reading capability {name} of {cluster}")) {
        Ok(out) => Ok(out.capability),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// What makes the capability: the clients, the stack, its account and the secrets prefix.
pub struct Context<'a> {
    pub aws: &'a Clients,
    pub stack: &'a str,
    pub account: &'a Account,
    pub secrets_prefix: &'a str,
    pub timeout: Duration,
}

/// Creates the Argo CD capability when asked for and missing, keeps one that exists, waits for
/// it and gives its role cluster access; returns `cluster.capabilities`.
pub async fn ensure(ctx: &Context<'_>, asked: Option<&ArgoCdSpec>) -> anyhow::Result<BTreeMap<String, CapabilityDoc>> {
    let (eks, stack) = (&ctx.aws.eks, ctx.stack);
    let existing = find(eks, stack, ARGOCD).await?;
    let role_arn = match (&existing, asked) {
        (None, None) => return Ok(BTreeMap::new()),
        (None, Some(spec)) => {
            let role = ensure_role(ctx).await?;
            create(eks, stack, &role, spec).await?;
            role
        }
        (Some(found), asked) => {
            if let Some(spec) = asked
                && rbac_of(found) != spec.rbac
            {
                warn!(
                    "capability {ARGOCD} keeps its Argo CD role mappings ({}); mkeks does not change them: use \
                     `aws eks update-capability` or the console",
                    rbac_of(found).join(", ")
                );
            }
            ensure_role(ctx).await?
        }
    };
    let what = format!("capability {ARGOCD} of {stack}");
    let capability = until(&what, "ACTIVE", ctx.timeout, backoff(), || async {
        Ok::<_, anyhow::Error>(state(find(eks, stack, ARGOCD).await?))
    })
    .await?;
    ensure_access(eks, stack, &role_arn).await?;
    Ok(BTreeMap::from([(ARGOCD.to_owned(), doc(&capability, stack))]))
}

async fn ensure_role(ctx: &Context<'_>) -> anyhow::Result<String> {
    let trust = Trust { account: ctx.account, cluster: ctx.stack, auto_mode: false };
    let prefix = format!("{}{ARGOCD}/", ctx.secrets_prefix);
    let scope = Scope { secrets_prefix: Some(prefix), ..Scope::new(ctx.account, ctx.stack) };
    let document = policy::store_document(&scope)?;
    iam::ensure_with_policy(&ctx.aws.iam, ctx.stack, RoleKind::ArgoCdCapability, &trust, &document).await
}

async fn create(eks: &Client, stack: &str, role: &str, spec: &ArgoCdSpec) -> anyhow::Result<()> {
    info!("creating capability {ARGOCD} (EKS' managed Argo CD) on {stack}");
    let idc = ArgoCdAwsIdcConfigRequest::builder()
        .idc_instance_arn(&spec.idc_instance_arn)
        .set_idc_region(spec.idc_region.clone())
        .build()?;
    let argocd = ArgoCdConfigRequest::builder()
        .namespace(ARGOCD)
        .aws_idc(idc)
        .set_rbac_role_mappings(Some(mappings(&spec.rbac)?))
        .build();
    let created = eks
        .create_capability()
        .cluster_name(stack)
        .capability_name(ARGOCD)
        .r#type(CapabilityType::Argocd)
        .role_arn(role)
        .configuration(CapabilityConfigurationRequest::builder().argo_cd(argocd).build())
        .delete_propagation_policy(CapabilityDeletePropagationPolicy::Retain)
        .client_request_token(format!("ekskit-{stack}-{ARGOCD}"))
        .set_tags(Some(ownership_tags(stack, TOOL).into_iter().collect()))
        .send()
        .await
        .aws(format!("creating capability {ARGOCD} on {stack}"));
    match created {
        Ok(_) => Ok(()),
        // A concurrent or killed run made it between our look and now.
        Err(e) if aws_code(&e) == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(e),
    }
}

/// ACTIVE is ready; CREATE_FAILED and DEGRADED fail with the capability's health issues.
fn state(capability: Option<Capability>) -> Check<Capability> {
    let Some(c) = capability else { return Check::Failed("gone".into()) };
    match c.status() {
        Some(CapabilityStatus::Active) => Check::Ready(c),
        Some(s @ (CapabilityStatus::CreateFailed | CapabilityStatus::Degraded)) => Check::Failed(health(&c, s)),
        other => Check::Pending(other.map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into())),
    }
}

fn health(c: &Capability, status: &CapabilityStatus) -> String {
    let issues = c.health().map(|h| h.issues()).unwrap_or_default();
    failure(status.as_str(), issues.iter().map(|i| issue_text(i.code().map(|c| c.as_str()), i.message(), &[])))
}

/// The capability role's access entry (EKS makes it, or this does) with cluster admin.
async fn ensure_access(eks: &Client, stack: &str, role: &str) -> anyhow::Result<()> {
    let listed = eks.list_associated_access_policies().cluster_name(stack).principal_arn(role).send().await;
    let policies = match listed.aws(format!("listing the access policies of {role} on {stack}")) {
        Ok(out) => out.associated_access_policies.unwrap_or_default(),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => {
            access::create(eks, stack, role, None).await?;
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    if policies.iter().any(|p| p.policy_arn() == Some(CLUSTER_POLICY)) {
        return Ok(());
    }
    info!("giving the capability role {role} cluster admin on {stack} (Argo CD deploys into it)");
    access::associate(eks, stack, role, CLUSTER_POLICY).await
}

fn rbac_of(c: &Capability) -> Vec<String> {
    let argocd = c.configuration().and_then(|c| c.argo_cd());
    let mappings = argocd.map(|a| a.rbac_role_mappings()).unwrap_or_default();
    let mut lines: Vec<String> = mappings
        .iter()
        .flat_map(|m| {
            m.identities().iter().map(move |i| format!("{}:{}:{}", m.role().as_str(), i.r#type().as_str(), i.id()))
        })
        .collect();
    lines.sort();
    lines
}

fn doc(c: &Capability, stack: &str) -> CapabilityDoc {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    let argocd = c.configuration().and_then(|c| c.argo_cd());
    let idc = argocd.and_then(|a| a.aws_idc());
    CapabilityDoc {
        arn: text(c.arn()),
        kind: c.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        status: c.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        version: text(c.version()),
        role_arn: text(c.role_arn()),
        role_name: RoleKind::ArgoCdCapability.role_name(stack),
        server_url: argocd.and_then(|a| a.server_url()).map(str::to_owned),
        namespace: argocd.and_then(|a| a.namespace()).map(str::to_owned),
        idc_instance_arn: idc.and_then(|i| i.idc_instance_arn()).map(str::to_owned),
        idc_region: idc.and_then(|i| i.idc_region()).map(str::to_owned),
        rbac: rbac_of(c),
    }
}

/// Deletes the capability (its Kubernetes objects stay: RETAIN) and its role, waiting until the
/// capability is gone; returns `kind name` of what went.
pub async fn delete(
    aws: &Clients,
    stack: &str,
    cluster_exists: bool,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    if cluster_exists && find(&aws.eks, stack, ARGOCD).await?.is_some() {
        info!("deleting capability {ARGOCD} of {stack} (the objects Argo CD deployed stay)");
        let deleted = aws.eks.delete_capability().cluster_name(stack).capability_name(ARGOCD).send().await;
        match deleted.aws(format!("deleting capability {ARGOCD} of {stack}")) {
            Err(e) if aws_code(&e) != Some("ResourceNotFoundException") => return Err(e),
            _ => {}
        }
        until(&format!("capability {ARGOCD} of {stack}"), "deleted", timeout, backoff(), || async {
            Ok::<_, anyhow::Error>(match find(&aws.eks, stack, ARGOCD).await? {
                None => Check::Ready(()),
                Some(c) if c.status() == Some(&CapabilityStatus::DeleteFailed) => {
                    Check::Failed(health(&c, &CapabilityStatus::DeleteFailed))
                }
                Some(c) => Check::Pending(c.status().map(|s| s.as_str().to_owned()).unwrap_or_default()),
            })
        })
        .await?;
        gone.push(format!("capability {ARGOCD}"));
    }
    if iam::delete(&aws.iam, stack, RoleKind::ArgoCdCapability).await? {
        gone.push(format!("iam-role {}", RoleKind::ArgoCdCapability.role_name(stack)));
    }
    Ok(gone)
}

/// The dry-run steps: the role and the capability, made or kept.
pub async fn plan(
    aws: &Clients,
    stack: &str,
    asked: Option<&ArgoCdSpec>,
    exists: bool,
) -> anyhow::Result<Vec<PlannedAction>> {
    let found = exists && find(&aws.eks, stack, ARGOCD).await?.is_some();
    if !found && asked.is_none() {
        return Ok(Vec::new());
    }
    let role = iam::find(&aws.iam, stack, RoleKind::ArgoCdCapability).await?.is_some();
    let name = RoleKind::ArgoCdCapability.role_name(stack);
    Ok(vec![
        PlannedAction::create_or_keep(
            role,
            "iam-role",
            &name,
            Some("trusted by capabilities.eks.amazonaws.com".into()),
        ),
        PlannedAction::new(
            Action::create_or_keep(found),
            "capability",
            ARGOCD,
            Some(format!("EKS' managed Argo CD; its role gets {CLUSTER_POLICY}")),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_lines_are_read_as_eks_names_them() {
        assert_eq!(parse_rbac("admin:group:9067-abc").unwrap(), "ADMIN:SSO_GROUP:9067-abc");
        assert_eq!(parse_rbac("Viewer:sso_user:u-1").unwrap(), "VIEWER:SSO_USER:u-1");
        for bad in ["admin", "admin:group", "owner:group:x", "admin:team:x", "admin:group:", "admin:group:a b"] {
            assert!(parse_rbac(bad).is_err(), "{bad}");
        }
        let grouped = mappings(&["ADMIN:SSO_GROUP:a".into(), "ADMIN:SSO_USER:b".into(), "VIEWER:SSO_GROUP:c".into()]);
        let grouped = grouped.unwrap();
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[0].role(), grouped[0].identities().len()), (&ArgoCdRole::Admin, 2));
    }

    #[test]
    fn identity_center_instances_are_checked() {
        assert!(check_idc_instance("arn:aws:sso:::instance/ssoins-0123456789abcdef").is_ok());
        assert!(check_idc_instance("ssoins-0123").is_err());
    }
}
