//! external-secrets' stores: one IAM role per namespace that keeps secrets, reading only
//! `<secrets_prefix><namespace>/`, assumed by the controller's role (`spec.provider.aws.role` of
//! that namespace's SecretStore). The controller's own role reads nothing, so one namespace's
//! SecretStore cannot read another's secrets, as one ClusterSecretStore for every namespace
//! would. The roles live under one IAM path, `/ekskit/<stack>/secrets/`: the controller's policy
//! names that path, and `--delete` finds every store's role by it, whatever the document says.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_iam::Client;
use ekskit_aws::iam::{
    NewRole, create_owned_role, delete_owned_role, find_owned_role, parse_document, set_trust_policy,
};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::wait::{self, Backoff, Limit, Retry};
use ekskit_core::{Hinted, InputError};
use ekskit_model::cluster::{DEFAULT_SECRET_NAMESPACES, SecretStoreDoc};
use tracing::{info, warn};

use super::policy::{self, Scope};
use crate::TOOL;
use crate::account::Account;
use crate::iam::RoleKind;
use crate::model::PlannedAction;
use crate::names::bounded_name;
use ekskit_model::cluster::Addon;

/// The tag that says which namespace a store's role reads for.
const NAMESPACE_TAG: &str = "ekskit.io/secrets-namespace";
/// The tag on the controller's role listing the namespaces with stores (space-separated).
const LIST_TAG: &str = "ekskit.io/secrets-namespaces";
/// The inline policy of a store's role.
const INLINE_POLICY: &str = "ekskit-secret-store";

/// The IAM path of the stack's store roles.
pub fn path(stack: &str) -> String {
    format!("/ekskit/{stack}/secrets/")
}

/// `ekskit-<stack>-secrets-<namespace>`, within IAM's 64 characters (a long namespace keeps a
/// hash of itself, a long stack name likewise).
pub fn role_name(stack: &str, namespace: &str) -> String {
    let suffix = if namespace.len() <= 32 {
        format!("secrets-{namespace}")
    } else {
        format!("secrets-{}-{:08x}", &namespace[..23], fnv(namespace))
    };
    bounded_name(stack, &suffix, 64)
}

fn fnv(text: &str) -> u32 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3)) as u32
}

/// `--secrets-namespace`: a Kubernetes namespace name (an RFC 1123 label).
pub fn check_namespace(namespace: &str) -> Result<(), InputError> {
    let ok = (1..=63).contains(&namespace.len())
        && namespace.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if ok {
        return Ok(());
    }
    Err(InputError::new(format!("--secrets-namespace `{namespace}` is not a Kubernetes namespace name"))
        .hint("use 1-63 lower-case letters, digits and hyphens, e.g. comments-dev"))
}

/// The namespace's prefix below the add-on's: what its store may read.
pub fn prefix(secrets_prefix: &str, namespace: &str) -> String {
    format!("{secrets_prefix}{namespace}/")
}

/// The namespaces whose store role exists, with the roles' names. Roles under the path that
/// are not the stack's are left out (and alone).
pub async fn existing(iam: &Client, stack: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut names = Vec::new();
    let mut pages = iam.list_roles().path_prefix(path(stack)).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(format!("listing the IAM roles under {}", path(stack)))?;
        names.extend(page.roles().iter().map(|r| r.role_name().to_owned()));
    }
    let mut found = BTreeMap::new();
    for name in names {
        // ListRoles leaves tags out; GetRole has them.
        let role = match find_owned_role(iam, &name, stack).await {
            Ok(Some(role)) => role,
            Ok(None) => continue,
            Err(e) if e.is::<Hinted>() => {
                warn!("leaving IAM role {name} alone: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(tag) = role.tags().iter().find(|t| t.key() == NAMESPACE_TAG) {
            found.insert(tag.value().to_owned(), name);
        }
    }
    Ok(found)
}

/// The namespaces to have stores: those asked for, else those the last run recorded on the
/// controller's role, else those that have one (`existing`), else the default. The record comes
/// first: a run killed while it made the stores leaves only some, which are not the list.
fn wanted(
    asked: Option<&BTreeSet<String>>,
    recorded: Option<BTreeSet<String>>,
    existing: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    match (asked, recorded) {
        (Some(asked), _) => asked.clone(),
        (None, Some(recorded)) => recorded,
        (None, None) if existing.is_empty() => DEFAULT_SECRET_NAMESPACES.iter().map(|n| n.to_string()).collect(),
        (None, None) => existing.keys().cloned().collect(),
    }
}

/// The external-secrets controller's role: where the list of namespaces is recorded.
fn controller_role(stack: &str) -> String {
    RoleKind::Addon(Addon::ExternalSecrets).role_name(stack)
}

/// The namespaces recorded on the controller's role, when it has the record.
async fn recorded(iam: &Client, stack: &str) -> anyhow::Result<Option<BTreeSet<String>>> {
    let role = match find_owned_role(iam, &controller_role(stack), stack).await {
        Ok(role) => role,
        Err(e) if e.is::<Hinted>() => None,
        Err(e) => return Err(e),
    };
    let tag = role.and_then(|r| r.tags().iter().find(|t| t.key() == LIST_TAG).map(|t| t.value().to_owned()));
    Ok(tag.map(|v| v.split_whitespace().map(str::to_owned).collect()))
}

/// Records `namespaces` on the controller's role before their stores are made (IAM tag values
/// hold 256 characters: a longer list is not recorded, and a re-run without it finds the roles).
async fn record(iam: &Client, stack: &str, namespaces: &BTreeSet<String>) -> anyhow::Result<()> {
    let value = namespaces.iter().cloned().collect::<Vec<_>>().join(" ");
    let role = controller_role(stack);
    if value.len() > 256 {
        warn!("the list of namespaces with stores is too long to record on IAM role {role}");
        return Ok(());
    }
    let tag = aws_sdk_iam::types::Tag::builder().key(LIST_TAG).value(value).build()?;
    iam.tag_role().role_name(&role).tags(tag).send().await.aws(format!("tagging IAM role {role}"))?;
    Ok(())
}

/// What creates the stores' roles: the stack, its account, the controller's role and the prefix.
pub struct Stores<'a> {
    pub stack: &'a str,
    pub account: &'a Account,
    pub controller_role_arn: &'a str,
    pub secrets_prefix: &'a str,
}

/// Creates or converges a store role per wanted namespace, deletes those of namespaces no
/// longer wanted; returns `secret_stores`.
pub async fn ensure(
    iam: &Client,
    stores: &Stores<'_>,
    asked: Option<&BTreeSet<String>>,
) -> anyhow::Result<BTreeMap<String, SecretStoreDoc>> {
    let existing = existing(iam, stores.stack).await?;
    let wanted = wanted(asked, recorded(iam, stores.stack).await?, &existing);
    record(iam, stores.stack, &wanted).await?;
    let mut out = BTreeMap::new();
    for namespace in &wanted {
        out.insert(namespace.clone(), ensure_one(iam, stores, namespace).await?);
    }
    for (namespace, name) in existing {
        if !wanted.contains(&namespace) {
            info!("external-secrets: {namespace} no longer has a store; deleting IAM role {name}");
            delete_owned_role(iam, &name, stores.stack).await?;
        }
    }
    Ok(out)
}

async fn ensure_one(iam: &Client, stores: &Stores<'_>, namespace: &str) -> anyhow::Result<SecretStoreDoc> {
    let (stack, name) = (stores.stack, role_name(stores.stack, namespace));
    let trust = trust_policy(stores.controller_role_arn);
    let role_arn = match find_owned_role(iam, &name, stack).await? {
        Some(role) => {
            if role.assume_role_policy_document().and_then(parse_document).as_ref() != Some(&trust) {
                info!("setting the trust policy of IAM role {name}");
                until_principal_known(&name, || set_trust_policy(iam, &name, &trust)).await?;
            }
            role.arn().to_owned()
        }
        None => {
            let (trust_text, path) = (trust.to_string(), path(stack));
            let new = NewRole {
                name: &name,
                stack,
                tool: TOOL,
                trust_policy: &trust_text,
                description: &format!("external-secrets store of namespace {namespace}, ekskit stack {stack}"),
                path: &path,
                tags: &[(NAMESPACE_TAG, namespace)],
            };
            until_principal_known(&name, || create_owned_role(iam, &new)).await?.0.arn().to_owned()
        }
    };
    let prefix = prefix(stores.secrets_prefix, namespace);
    let scope = Scope { secrets_prefix: Some(prefix.clone()), ..Scope::new(stores.account, stack) };
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(INLINE_POLICY)
        .policy_document(policy::store_document(&scope)?)
        .send()
        .await
        .aws(format!("setting the inline policy of IAM role {name}"))?;
    Ok(SecretStoreDoc { role_arn, role_name: name, prefix })
}

/// Only the controller's role may assume a store's role.
fn trust_policy(controller_role_arn: &str) -> serde_json::Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": controller_role_arn}, "Action": "sts:AssumeRole",
    }]})
}

/// IAM refuses a trust policy naming a role it made seconds ago ("Invalid principal in policy")
/// until the new role has spread; the controller's role is often that new. Retried for a minute.
async fn until_principal_known<T, F, Fut>(what: &str, call: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let backoff = Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(8), factor: 2.0 };
    let policy = Retry { backoff, limit: Limit::Waited(Duration::from_secs(60)) };
    wait::retry(what, policy, principal_not_known, |_| call()).await.map_err(|gave_up| gave_up.error)
}

fn principal_not_known(err: &anyhow::Error) -> bool {
    aws_code(err) == Some("MalformedPolicyDocument") && format!("{err:#}").contains("Invalid principal")
}

/// Deletes every store role of the stack; returns `iam-role <name>` for each.
pub async fn delete(iam: &Client, stack: &str) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    for name in existing(iam, stack).await?.into_values() {
        if delete_owned_role(iam, &name, stack).await? {
            gone.push(format!("iam-role {name}"));
        }
    }
    Ok(gone)
}

/// The dry-run steps: each wanted store's role made or kept, the others' deleted.
pub async fn plan(iam: &Client, stack: &str, asked: Option<&BTreeSet<String>>) -> anyhow::Result<Vec<PlannedAction>> {
    let existing = existing(iam, stack).await?;
    let wanted = wanted(asked, recorded(iam, stack).await?, &existing);
    let mut steps = Vec::new();
    for namespace in &wanted {
        let detail = Some(format!("external-secrets store of {namespace}"));
        let name = role_name(stack, namespace);
        steps.push(PlannedAction::create_or_keep(existing.contains_key(namespace), "iam-role", &name, detail));
    }
    for (namespace, name) in existing.iter().filter(|(n, _)| !wanted.contains(*n)) {
        let detail = Some(format!("external-secrets store of {namespace}, no longer asked for"));
        steps.push(PlannedAction::new(crate::model::Action::Delete, "iam-role", name, detail));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_role_names_fit_iam_and_stay_apart() {
        assert_eq!(role_name("demo", "comments-dev"), "ekskit-demo-secrets-comments-dev");
        let long_ns = "n".repeat(63);
        let other_ns = format!("{}m", "n".repeat(62));
        let long_stack = "s".repeat(64);
        let names: BTreeSet<String> =
            [&long_ns, &other_ns].iter().flat_map(|ns| [role_name("demo", ns), role_name(&long_stack, ns)]).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| n.len() <= 64), "{names:?}");
    }

    #[test]
    fn namespaces_are_rfc_1123_labels() {
        for ok in ["argocd", "comments-dev", "a", &"a".repeat(63)] {
            assert!(check_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Dev", "-dev", "dev-", "team_a", "a/b", &"a".repeat(64)] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_controller_may_assume_a_store_role() {
        let arn = "arn:aws:iam::000000000000:role/ekskit-demo-external-secrets";
        let trust = trust_policy(arn);
        let statement = &trust["Statement"][0];
        assert_eq!(statement["Principal"], serde_json::json!({"AWS": arn}));
        assert_eq!(statement["Action"], "sts:AssumeRole");
        assert_eq!(trust["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn the_namespaces_asked_for_else_recorded_else_those_that_have_a_store_else_the_default() {
        let asked: BTreeSet<String> = ["team-a".to_owned()].into();
        let existing: BTreeMap<String, String> = [("argocd".to_owned(), "r".to_owned())].into();
        assert_eq!(wanted(Some(&asked), None, &existing), asked);
        assert_eq!(wanted(None, None, &existing), ["argocd".to_owned()].into());
        assert_eq!(wanted(None, None, &BTreeMap::new()).len(), DEFAULT_SECRET_NAMESPACES.len());
        // A killed run left one store of three: the record, not the stores, says which are wanted.
        let recorded: BTreeSet<String> = ["argocd".to_owned(), "team-a".to_owned()].into();
        assert_eq!(wanted(None, Some(recorded.clone()), &existing), recorded);
    }

    #[test]
    fn each_namespace_reads_below_its_own_prefix() {
        assert_eq!(prefix("ekskit/demo/", "comments-dev"), "ekskit/demo/comments-dev/");
        assert_eq!(path("demo"), "/ekskit/demo/secrets/");
    }
}
