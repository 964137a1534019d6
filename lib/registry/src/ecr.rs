//! Amazon ECR: the repository made to exist (scan on push, immutable tags, ownership tags, an
//! optional lifecycle policy), the registry token, and cleanup for `--delete`.

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{ImageIdentifier, ImageScanningConfiguration, ImageTagMutability, Repository, Tag};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::{MANAGED_BY_TAG, ownership_tags};
use tracing::info;

use crate::auth::Credentials;

/// An ECR repository as imgpush reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRepository {
    pub name: String,
    pub uri: String,
    pub arn: String,
    pub registry_id: String,
    pub immutable: bool,
    pub scan_on_push: bool,
    /// Created by this run.
    pub created: bool,
}

fn from_api(r: &Repository, created: bool) -> EcrRepository {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    EcrRepository {
        name: text(r.repository_name()),
        uri: text(r.repository_uri()),
        arn: text(r.repository_arn()),
        registry_id: text(r.registry_id()),
        immutable: matches!(
            r.image_tag_mutability(),
            Some(ImageTagMutability::Immutable | ImageTagMutability::ImmutableWithExclusion)
        ),
        scan_on_push: r.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
        created,
    }
}

pub async fn find(ecr: &Client, registry: Option<&str>, name: &str) -> anyhow::Result<Option<EcrRepository>> {
    let answer =
        ecr.describe_repositories().set_registry_id(registry.map(str::to_owned)).repository_names(name).send().await;
    match answer.aws(format!("looking up ECR repository {name}")) {
        Ok(out) => Ok(out.repositories().first().map(|r| from_api(r, false))),
        Err(e) if aws_code(&e) == Some("RepositoryNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The repository, created when missing: scan on push, immutable tags (a tag names one image
/// for good, which is what GitOps tags rely on), tagged as the stack's.
pub async fn ensure(
    ecr: &Client,
    registry: Option<&str>,
    name: &str,
    stack: &str,
    tool: &str,
) -> anyhow::Result<EcrRepository> {
    if let Some(found) = find(ecr, registry, name).await? {
        return Ok(found);
    }
    let tags = ownership_tags(stack, tool)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let created = ecr
        .create_repository()
        .set_registry_id(registry.map(str::to_owned))
        .repository_name(name)
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .image_tag_mutability(ImageTagMutability::Immutable)
        .set_tags(Some(tags))
        .send()
        .await;
    match created.aws(format!("creating ECR repository {name}")) {
        Ok(out) => {
            let repo = out
                .repository()
                .map(|r| from_api(r, true))
                .ok_or_else(|| anyhow::anyhow!("ECR created {name} but did not describe it"))?;
            info!("created ECR repository {} (scan on push, immutable tags)", repo.uri);
            Ok(repo)
        }
        // Another run created it between our look and our create.
        Err(e) if aws_code(&e) == Some("RepositoryAlreadyExistsException") => find(ecr, registry, name).await?.ok_or(e),
        Err(e) => Err(e),
    }
}

/// Expire all but the newest `keep` untagged images and, per prefix, tagged ones.
pub async fn put_lifecycle(ecr: &Client, repo: &EcrRepository, keep: u32, prefixes: &[String]) -> anyhow::Result<()> {
    let policy = lifecycle_policy(keep, prefixes);
    ecr.put_lifecycle_policy()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .lifecycle_policy_text(policy.to_string())
        .send()
        .await
        .aws(format!("setting the lifecycle policy of ECR repository {}", repo.name))?;
    Ok(())
}

/// The lifecycle policy: never a rule on every image (`tagStatus: any`), which would expire the
/// image a deployment runs once enough newer ones were pushed. Tagged images expire only under
/// a prefix the user names; untagged ones (a tag moved away, a build never tagged) always may.
fn lifecycle_policy(keep: u32, prefixes: &[String]) -> serde_json::Value {
    let rule = |priority: usize, what: String, selection: serde_json::Value| {
        serde_json::json!({
            "rulePriority": priority,
            "description": format!("keep the newest {keep} {what} (ekskit imgpush)"),
            "selection": selection,
            "action": { "type": "expire" }
        })
    };
    let mut rules: Vec<serde_json::Value> = prefixes
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            let selection = serde_json::json!({
                "tagStatus": "tagged", "tagPrefixList": [prefix],
                "countType": "imageCountMoreThan", "countNumber": keep
            });
            rule(i + 1, format!("images tagged {prefix}*"), selection)
        })
        .collect();
    let untagged =
        serde_json::json!({ "tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": keep });
    rules.push(rule(prefixes.len() + 1, "untagged images".into(), untagged));
    serde_json::json!({ "rules": rules })
}

/// Registry credentials from GetAuthorizationToken (valid 12 hours for every registry the
/// identity may use; never stored or shown).
pub async fn token(ecr: &Client) -> anyhow::Result<Credentials> {
    let out = ecr.get_authorization_token().send().await.aws("getting an ECR authorization token")?;
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or_else(|| anyhow::anyhow!("ECR returned no authorization token"))?;
    Credentials::from_ecr_token(token)
}

/// Deletes `tags` from the repository; returns the ones that were there.
pub async fn delete_tags(ecr: &Client, repo: &EcrRepository, tags: &[String]) -> anyhow::Result<Vec<String>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let ids = tags.iter().map(|t| ImageIdentifier::builder().image_tag(t).build()).collect();
    let out = ecr
        .batch_delete_image()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .set_image_ids(Some(ids))
        .send()
        .await
        .aws(format!("deleting tags from ECR repository {}", repo.name))?;
    let missing: Vec<&str> = out
        .failures()
        .iter()
        .filter(|f| {
            f.failure_code()
                .is_some_and(|c| c.as_str() == "ImageNotFound" || c.as_str() == "ImageTagDoesNotMatchDigest")
        })
        .filter_map(|f| f.image_id().and_then(|i| i.image_tag()))
        .collect();
    if let Some(other) =
        out.failures().iter().find(|f| !f.image_id().and_then(|i| i.image_tag()).is_some_and(|t| missing.contains(&t)))
    {
        anyhow::bail!(
            "ECR could not delete {:?} from {}: {}",
            other.image_id().and_then(|i| i.image_tag()).unwrap_or_default(),
            repo.name,
            other.failure_reason().unwrap_or_default()
        );
    }
    Ok(tags.iter().filter(|t| !missing.contains(&t.as_str())).cloned().collect())
}

/// Deletes the repository when imgpush created it (its managed-by tag) and no image is left in
/// it; a repository someone else made, or still holding images, stays. Returns whether it went.
pub async fn delete_if_ours_and_empty(ecr: &Client, repo: &EcrRepository, tool: &str) -> anyhow::Result<bool> {
    let tags = ecr
        .list_tags_for_resource()
        .resource_arn(&repo.arn)
        .send()
        .await
        .aws(format!("reading the tags of {}", repo.name))?;
    let ours = tags.tags().iter().any(|t| t.key() == MANAGED_BY_TAG && t.value() == tool);
    if !ours {
        info!("ECR repository {} was not created by {tool}; it stays", repo.name);
        return Ok(false);
    }
    let images = ecr
        .list_images()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .max_results(1)
        .send()
        .await
        .aws(format!("listing the images of {}", repo.name))?;
    if !images.image_ids().is_empty() {
        info!("ECR repository {} still holds other images; it stays", repo.name);
        return Ok(false);
    }
    let deleted = ecr.delete_repository().registry_id(&repo.registry_id).repository_name(&repo.name).send().await;
    match deleted.aws(format!("deleting ECR repository {}", repo.name)) {
        // Gone already: an SDK retry after an attempt whose answer was lost.
        Err(e) if aws_code(&e) == Some("RepositoryNotFoundException") => {}
        other => drop(other?),
    }
    info!("deleted ECR repository {}", repo.uri);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region};

    /// An ECR client for the JSON API at `address`.
    fn client(address: &str) -> Client {
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{address}"))
            .credentials_provider(Credentials::new("AKIDTEST", "not-a-secret", None, None, "test"))
            .build();
        Client::from_conf(config)
    }

    fn repository() -> EcrRepository {
        EcrRepository {
            name: "app".into(),
            uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app".into(),
            arn: "arn:aws:ecr:us-east-1:123456789012:repository/app".into(),
            registry_id: "123456789012".into(),
            immutable: true,
            scan_on_push: true,
            created: false,
        }
    }

    #[tokio::test]
    async fn a_repository_deleted_by_an_attempt_whose_answer_was_lost_counts_as_deleted() {
        let json = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1";
        let gone = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1";
        let (address, requests) = crate::canned::serve(vec![
            (json, r#"{"tags":[{"Key":"ekskit.io/managed-by","Value":"imgpush"}]}"#),
            (json, r#"{"imageIds":[]}"#),
            (gone, r#"{"__type":"RepositoryNotFoundException","message":"The repository does not exist"}"#),
        ]);
        assert!(delete_if_ours_and_empty(&client(&address), &repository(), "imgpush").await.unwrap());
        let sent: Vec<String> = requests.try_iter().collect();
        assert!(sent[2].contains("DeleteRepository"), "{}", sent[2]);
    }

    #[tokio::test]
    async fn a_repository_someone_else_made_stays() {
        let json = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1";
        let (address, requests) = crate::canned::serve(vec![(json, r#"{"tags":[]}"#)]);
        assert!(!delete_if_ours_and_empty(&client(&address), &repository(), "imgpush").await.unwrap());
        assert_eq!(requests.try_iter().count(), 1, "nothing listed or deleted");
    }

    #[test]
    fn the_lifecycle_never_selects_every_image_and_tagged_ones_only_under_a_prefix() {
        let plain = lifecycle_policy(5, &[]);
        let rules = plain["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
        assert_eq!(rules[0]["selection"]["countNumber"], 5);

        let previews = lifecycle_policy(20, &["pr-".into(), "dev-".into()]);
        let rules = previews["rules"].as_array().unwrap();
        let shape: Vec<(u64, &str, Option<&str>)> = rules
            .iter()
            .map(|r| {
                let s = &r["selection"];
                (r["rulePriority"].as_u64().unwrap(), s["tagStatus"].as_str().unwrap(), s["tagPrefixList"][0].as_str())
            })
            .collect();
        assert_eq!(shape, [(1, "tagged", Some("pr-")), (2, "tagged", Some("dev-")), (3, "untagged", None)]);
        assert!(!previews.to_string().contains(r#""any""#));
    }
}
