//! The S3 artifact bucket: versioned, encrypted (SSE-S3), every public access blocked, tagged.
//! Found by its name (global, so it holds the account and region); a bucket of that name without
//! our stack tag is someone else's and is refused.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::{info, warn};

use crate::TOOL;
use crate::model::Action;

/// Whether the bucket exists (and is ours); an error when it is someone else's.
pub async fn find(s3: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    match s3.head_bucket().bucket(name).send().await.aws(format!("reading S3 bucket {name}")) {
        Ok(_) => {}
        Err(e) if matches!(aws_code(&e), Some("NotFound" | "NoSuchBucket")) => return Ok(false),
        Err(e) if matches!(aws_code(&e), Some("Forbidden" | "AccessDenied" | "403")) => {
            return Err(Hinted::new(
                format!("S3 bucket {name} exists in another AWS account"),
                "bucket names are global: pick another --name",
            )
            .into());
        }
        Err(e) => return Err(e),
    }
    let tags =
        match s3.get_bucket_tagging().bucket(name).send().await.aws(format!("reading the tags of S3 bucket {name}")) {
            Ok(out) => out.tag_set,
            Err(e) if aws_code(&e) == Some("NoSuchTagSet") => Vec::new(),
            Err(e) => return Err(e),
        };
    if tags.iter().any(|t| t.key() == STACK_TAG && t.value() == stack) {
        return Ok(true);
    }
    // CreateBucket takes no tags: a run stopped between creating and tagging leaves an untagged,
    // empty bucket of our exact name, which a re-run adopts.
    if tags.is_empty() && is_empty(s3, name).await? {
        warn!("S3 bucket {name} has no tags and no objects: adopting it (a run stopped before tagging it)");
        return Ok(true);
    }
    Err(Hinted::new(
        format!("S3 bucket {name} exists but does not carry {STACK_TAG}={stack}"),
        "it belongs to something else: pick another --name, or delete or tag that bucket",
    )
    .into())
}

async fn is_empty(s3: &Client, name: &str) -> anyhow::Result<bool> {
    let out =
        s3.list_object_versions().bucket(name).max_keys(1).send().await.aws(format!("listing S3 bucket {name}"))?;
    Ok(out.versions().is_empty() && out.delete_markers().is_empty())
}

/// The settings of an existing bucket that differ from what mkpipeline wants.
pub async fn drift(s3: &Client, name: &str, stack: &str) -> anyhow::Result<Vec<&'static str>> {
    let mut off = Vec::new();
    let versioning =
        s3.get_bucket_versioning().bucket(name).send().await.aws(format!("reading versioning of S3 bucket {name}"))?;
    if versioning.status() != Some(&BucketVersioningStatus::Enabled) {
        off.push("versioning");
    }
    match s3.get_bucket_encryption().bucket(name).send().await.aws(format!("reading encryption of S3 bucket {name}")) {
        Ok(out) if out.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty()) => {}
        Ok(_) => off.push("encryption"),
        Err(e) if aws_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => off.push("encryption"),
        Err(e) => return Err(e),
    }
    let block = s3.get_public_access_block().bucket(name).send().await.aws(format!("reading S3 bucket {name}"));
    match block {
        Ok(out) => {
            let all = out.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
            if !all {
                off.push("public-access-block");
            }
        }
        Err(e) if aws_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => off.push("public-access-block"),
        Err(e) => return Err(e),
    }
    let tags = match s3.get_bucket_tagging().bucket(name).send().await.aws(format!("reading tags of S3 bucket {name}"))
    {
        Ok(out) => out.tag_set,
        Err(e) if aws_code(&e) == Some("NoSuchTagSet") => Vec::new(),
        Err(e) => return Err(e),
    };
    let tagged = ownership_tags(stack, TOOL).iter().all(|(k, v)| tags.iter().any(|t| t.key() == k && t.value() == v));
    if !tagged {
        off.push("tags");
    }
    Ok(off)
}

/// Creates the bucket when missing and sets what has drifted. Returns `create`, `update` or `keep`.
pub async fn ensure(s3: &Client, name: &str, stack: &str, region: &str) -> anyhow::Result<Action> {
    let action = if find(s3, name, stack).await? {
        Action::Keep
    } else {
        info!("creating S3 bucket {name}");
        let mut create = s3.create_bucket().bucket(name);
        if region != "us-east-1" {
            let config = CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build();
            create = create.create_bucket_configuration(config);
        }
        match create.send().await.aws(format!("creating S3 bucket {name}")) {
            Ok(_) => {}
            Err(e) if aws_code(&e) == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) if aws_code(&e) == Some("BucketAlreadyExists") => {
                return Err(Hinted::new(
                    format!("S3 bucket name {name} is taken by another AWS account"),
                    "bucket names are global: pick another --name",
                )
                .into());
            }
            Err(e) => return Err(e),
        }
        Action::Create
    };
    let off = drift(s3, name, stack).await?;
    if off.contains(&"tags") {
        let tags: Vec<Tag> = ownership_tags(stack, TOOL)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        let tagging = Tagging::builder().set_tag_set(Some(tags)).build()?;
        s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.aws(format!("tagging S3 bucket {name}"))?;
    }
    if off.contains(&"public-access-block") {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .aws(format!("blocking public access to S3 bucket {name}"))?;
    }
    if off.contains(&"encryption") {
        let default = ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let config = ServerSideEncryptionConfiguration::builder().rules(rule).build()?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .aws(format!("setting default encryption of S3 bucket {name}"))?;
    }
    if off.contains(&"versioning") {
        let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(versioning)
            .send()
            .await
            .aws(format!("enabling versioning of S3 bucket {name}"))?;
    }
    Ok(if action == Action::Keep && !off.is_empty() {
        info!("S3 bucket {name}: set {}", off.join(", "));
        Action::Update
    } else {
        action
    })
}

/// Deletes every object version and delete marker, then the bucket; returns whether there was one.
/// A bucket of that name that is not ours is left alone.
pub async fn delete(s3: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    match find(s3, name, stack).await {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving S3 bucket {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    let mut emptied = 0usize;
    loop {
        let page =
            s3.list_object_versions().bucket(name).send().await.aws(format!("listing versions in S3 bucket {name}"))?;
        let mut ids = Vec::new();
        for v in page.versions() {
            ids.push(
                ObjectIdentifier::builder()
                    .key(v.key().unwrap_or_default())
                    .set_version_id(v.version_id().map(Into::into))
                    .build()?,
            );
        }
        for m in page.delete_markers() {
            ids.push(
                ObjectIdentifier::builder()
                    .key(m.key().unwrap_or_default())
                    .set_version_id(m.version_id().map(Into::into))
                    .build()?,
            );
        }
        if ids.is_empty() {
            break;
        }
        for chunk in ids.chunks(1000) {
            let batch = Delete::builder().set_objects(Some(chunk.to_vec())).quiet(true).build()?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(batch)
                .send()
                .await
                .aws(format!("emptying S3 bucket {name}"))?;
            if let Some(err) = out.errors().first() {
                return Err(Hinted::new(
                    format!(
                        "S3 refused to delete {} in bucket {name}: {} {}",
                        err.key().unwrap_or_default(),
                        err.code().unwrap_or_default(),
                        err.message().unwrap_or_default()
                    ),
                    "check the bucket's object lock and policy, then run mkpipeline --delete again",
                )
                .into());
            }
            emptied += chunk.len();
        }
    }
    if emptied > 0 {
        info!("emptied S3 bucket {name} ({emptied} object versions and delete markers)");
    }
    info!("deleting S3 bucket {name}");
    match s3.delete_bucket().bucket(name).send().await.aws(format!("deleting S3 bucket {name}")) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("NoSuchBucket") => Ok(true),
        Err(e) => Err(e),
    }
}
