//! The KMS key that envelope-encrypts the cluster's Secrets, found by its alias
//! `alias/ekskit-<stack>`. Deleting schedules the key's deletion (KMS allows no faster).

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::ownership_tags;
use tracing::info;

use crate::TOOL;

/// KMS' shortest waiting period before a key is gone.
const PENDING_DAYS: i32 = 7;

pub fn alias(stack: &str) -> String {
    format!("alias/ekskit-{stack}")
}

/// The key's ARN when the alias points at a key that is not being deleted.
pub async fn find(kms: &Client, stack: &str) -> anyhow::Result<Option<String>> {
    Ok(find_key(kms, stack).await?.and_then(|k| k.arn))
}

async fn find_key(kms: &Client, stack: &str) -> anyhow::Result<Option<KeyMetadata>> {
    let alias = alias(stack);
    let key = match kms.describe_key().key_id(&alias).send().await.aws(format!("reading KMS key {alias}")) {
        Ok(out) => out.key_metadata,
        Err(e) if aws_code(&e) == Some("NotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(key.filter(|k| k.key_state() != Some(&KeyState::PendingDeletion)))
}

pub async fn ensure(kms: &Client, stack: &str) -> anyhow::Result<String> {
    if let Some(arn) = find(kms, stack).await? {
        return Ok(arn);
    }
    let alias = alias(stack);
    info!("creating KMS key {alias} for Secrets encryption");
    let tags: Vec<Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
        .collect::<Result<_, _>>()?;
    let key = kms
        .create_key()
        .description(format!("Secrets envelope encryption of EKS cluster {stack} (ekskit)"))
        .set_tags(Some(tags))
        .send()
        .await
        .aws(format!("creating KMS key for {alias}"))?;
    let meta = key.key_metadata.ok_or_else(|| anyhow::anyhow!("KMS returned no key metadata"))?;
    // The alias is how re-runs find the key. A run killed between these two calls leaves a key
    // without alias; it carries the stack tag, so it can be found and removed by tag.
    kms.create_alias().alias_name(&alias).target_key_id(meta.key_id()).send().await.aws(format!("creating {alias}"))?;
    Ok(meta.arn.unwrap_or_default())
}

/// Deletes the alias and schedules the key's deletion; returns whether there was a key.
pub async fn delete(kms: &Client, stack: &str) -> anyhow::Result<bool> {
    let Some(key) = find_key(kms, stack).await? else { return Ok(false) };
    let alias = alias(stack);
    info!("scheduling deletion of KMS key {alias} in {PENDING_DAYS} days");
    kms.delete_alias().alias_name(&alias).send().await.aws(format!("deleting {alias}"))?;
    // By key id: AWS takes an ARN too, but the local emulator (moto 5.2.5) fails on one.
    kms.schedule_key_deletion()
        .key_id(key.key_id())
        .pending_window_in_days(PENDING_DAYS)
        .send()
        .await
        .aws(format!("scheduling deletion of KMS key {}", key.key_id()))?;
    Ok(true)
}
