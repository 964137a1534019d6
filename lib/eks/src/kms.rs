//! The KMS key that envelope-encrypts the cluster's Secrets, found by its alias
//! `alias/ekskit-<stack>` and, when a run stopped before the alias was made, by its stack tag.
//! Deleting schedules the key's deletion (KMS allows no faster) before the alias goes, so no
//! interruption leaves an enabled key that nothing finds. The key rotates yearly.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeyState, Tag};
use ekskit_aws::once::{create_once, no_retries};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::info;

use crate::TOOL;

/// KMS' shortest waiting period before a key is gone.
const PENDING_DAYS: i32 = 7;

pub fn alias(stack: &str) -> String {
    format!("alias/ekskit-{stack}")
}

/// The key's ARN when the alias points at a key that is not being deleted.
pub async fn find(kms: &Client, stack: &str) -> anyhow::Result<Option<String>> {
    Ok(by_alias(kms, stack).await?.and_then(|k| k.arn))
}

/// The key the alias points at, unless it is being deleted.
async fn by_alias(kms: &Client, stack: &str) -> anyhow::Result<Option<KeyMetadata>> {
    let alias = alias(stack);
    let key = match kms.describe_key().key_id(&alias).send().await.aws(format!("reading KMS key {alias}")) {
        Ok(out) => out.key_metadata,
        Err(e) if aws_code(&e) == Some("NotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(key.filter(live))
}

/// The account's customer-managed keys that carry the stack's tag and are not being deleted,
/// alias or not. Keys this caller may not read are someone else's and are skipped.
async fn by_tag(kms: &Client, stack: &str) -> anyhow::Result<Vec<KeyMetadata>> {
    let mut found = Vec::new();
    let mut keys = kms.list_keys().into_paginator().items().send();
    while let Some(entry) = keys.next().await {
        let entry = entry.aws("listing KMS keys")?;
        let Some(id) = entry.key_id() else { continue };
        let Ok(described) = kms.describe_key().key_id(id).send().await else { continue };
        let Some(meta) =
            described.key_metadata.filter(|k| live(k) && k.key_manager() == Some(&KeyManagerType::Customer))
        else {
            continue;
        };
        let Ok(tags) = kms.list_resource_tags().key_id(id).send().await else { continue };
        if tags.tags().iter().any(|t| t.tag_key() == STACK_TAG && t.tag_value() == stack) {
            found.push(meta);
        }
    }
    Ok(found)
}

fn live(key: &KeyMetadata) -> bool {
    !matches!(key.key_state(), Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion))
}

pub async fn ensure(kms: &Client, stack: &str) -> anyhow::Result<String> {
    let key = match by_alias(kms, stack).await? {
        Some(key) => key,
        None => {
            let alias = alias(stack);
            // A run killed between CreateKey and CreateAlias left a tagged key: it is adopted, not doubled.
            let key = match by_tag(kms, stack).await?.into_iter().next() {
                Some(orphan) => {
                    info!("found KMS key {} without its alias; adopting it as {alias}", orphan.key_id());
                    orphan
                }
                None => create(kms, stack, &alias).await?,
            };
            point_alias(kms, &alias, key.key_id()).await?;
            key
        }
    };
    ensure_rotation(kms, stack, key.key_id()).await?;
    Ok(key.arn.unwrap_or_default())
}

/// Turns on the key's automatic rotation (yearly, AWS's default period), off on a new key; checked
/// on every run, so a key made before this, or turned off by hand, is put right.
async fn ensure_rotation(kms: &Client, stack: &str, key_id: &str) -> anyhow::Result<()> {
    let alias = alias(stack);
    let status = kms.get_key_rotation_status().key_id(key_id).send().await;
    if status.aws(format!("reading the rotation of KMS key {alias}"))?.key_rotation_enabled() {
        return Ok(());
    }
    info!("turning on the yearly rotation of KMS key {alias}");
    kms.enable_key_rotation().key_id(key_id).send().await.aws(format!("turning on the rotation of KMS key {alias}"))?;
    Ok(())
}

async fn create(kms: &Client, stack: &str, alias: &str) -> anyhow::Result<KeyMetadata> {
    info!("creating KMS key {alias} for Secrets encryption");
    let tags: Vec<Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
        .collect::<Result<_, _>>()?;
    let what = format!("creating KMS key for {alias}");
    // CreateKey takes no token: a retry after a lost answer would make a second key.
    let create = || async {
        let call = kms.create_key().description(format!("Secrets envelope encryption of EKS cluster {stack} (ekskit)"));
        let once = aws_sdk_kms::config::Builder::default().retry_config(no_retries());
        let key = call.set_tags(Some(tags.clone())).customize().config_override(once).send().await.aws(&what)?;
        key.key_metadata.ok_or_else(|| anyhow::anyhow!("KMS returned no key metadata for {alias}"))
    };
    let find = || async { Ok(by_tag(kms, stack).await?.into_iter().next()) };
    create_once(&what, create, find).await
}

/// Makes the alias point at the key. An alias left on a key being deleted (a delete that
/// stopped half way) is moved, not refused.
async fn point_alias(kms: &Client, alias: &str, key_id: &str) -> anyhow::Result<()> {
    let created = kms.create_alias().alias_name(alias).target_key_id(key_id).send().await;
    match created.aws(format!("creating {alias}")) {
        Err(e) if aws_code(&e) == Some("AlreadyExistsException") => {
            kms.update_alias().alias_name(alias).target_key_id(key_id).send().await.aws(format!("moving {alias}"))?;
            Ok(())
        }
        other => other.map(drop),
    }
}

/// Schedules the deletion of every key of the stack, then deletes the alias; returns whether
/// there was a key. Re-run after any interruption, it finishes the job.
pub async fn delete(kms: &Client, stack: &str) -> anyhow::Result<bool> {
    let mut keys = by_tag(kms, stack).await?;
    if let Some(aliased) = by_alias(kms, stack).await?
        && !keys.iter().any(|k| k.key_id() == aliased.key_id())
    {
        keys.push(aliased);
    }
    for key in &keys {
        info!("scheduling deletion of KMS key {} ({}) in {PENDING_DAYS} days", key.key_id(), alias(stack));
        // By key id: AWS takes an ARN too, but the local emulator (moto 5.2.5) fails on one.
        let scheduled =
            kms.schedule_key_deletion().key_id(key.key_id()).pending_window_in_days(PENDING_DAYS).send().await;
        match scheduled.aws(format!("scheduling deletion of KMS key {}", key.key_id())) {
            Err(e) if aws_code(&e) == Some("KMSInvalidStateException") => {} // already pending
            other => drop(other?),
        }
    }
    let alias = alias(stack);
    match kms.delete_alias().alias_name(&alias).send().await.aws(format!("deleting {alias}")) {
        Err(e) if aws_code(&e) == Some("NotFoundException") => {}
        other => drop(other?),
    }
    Ok(!keys.is_empty())
}
