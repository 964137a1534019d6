//! EKS Pod Identity associations: one per add-on, from its namespace and service account to its
//! role. Found by namespace and service account; a role change is an update, not a second one.

use aws_sdk_eks::Client;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::ownership_tags;
use tracing::info;

use super::Addon;
use crate::TOOL;

/// The association's id and role, when there is one.
pub async fn find(eks: &Client, cluster: &str, addon: Addon) -> anyhow::Result<Option<(String, String)>> {
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .namespace(addon.namespace())
        .service_account(addon.service_account())
        .send()
        .await
        .aws(format!("listing Pod Identity associations of {cluster}"))?;
    let Some(id) = listed
        .associations()
        .iter()
        .find(|a| a.namespace() == Some(addon.namespace()) && a.service_account() == Some(addon.service_account()))
        .and_then(|a| a.association_id())
    else {
        return Ok(None);
    };
    let described = eks
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .send()
        .await
        .aws(format!("reading Pod Identity association {id}"))?;
    let role = described.association.and_then(|a| a.role_arn).unwrap_or_default();
    Ok(Some((id.to_owned(), role)))
}

/// Creates the association, or points it at `role_arn`; returns its id.
pub async fn ensure(eks: &Client, cluster: &str, addon: Addon, role_arn: &str) -> anyhow::Result<String> {
    let who = format!("{}/{}", addon.namespace(), addon.service_account());
    match find(eks, cluster, addon).await? {
        Some((id, role)) if role == role_arn => Ok(id),
        Some((id, _)) => {
            info!("pointing the Pod Identity association of {who} at {role_arn}");
            eks.update_pod_identity_association()
                .cluster_name(cluster)
                .association_id(&id)
                .role_arn(role_arn)
                .send()
                .await
                .aws(format!("updating Pod Identity association {id} of {who}"))?;
            Ok(id)
        }
        None => {
            info!("creating the Pod Identity association of {who}");
            let created = eks
                .create_pod_identity_association()
                .cluster_name(cluster)
                .namespace(addon.namespace())
                .service_account(addon.service_account())
                .role_arn(role_arn)
                .set_tags(Some(ownership_tags(cluster, TOOL).into_iter().collect()))
                .send()
                .await
                .aws(format!("creating the Pod Identity association of {who} on {cluster}"));
            match created {
                Ok(out) => Ok(out.association.and_then(|a| a.association_id).unwrap_or_default()),
                // A concurrent or killed run made it between our look and now.
                Err(e) if aws_code(&e) == Some("ResourceInUseException") => {
                    Ok(find(eks, cluster, addon).await?.map(|(id, _)| id).unwrap_or_default())
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Deletes the association; returns its id when there was one.
pub async fn delete(eks: &Client, cluster: &str, addon: Addon) -> anyhow::Result<Option<String>> {
    let Some((id, _)) = find(eks, cluster, addon).await? else { return Ok(None) };
    info!("deleting the Pod Identity association of {}/{}", addon.namespace(), addon.service_account());
    let deleted = eks
        .delete_pod_identity_association()
        .cluster_name(cluster)
        .association_id(&id)
        .send()
        .await
        .aws(format!("deleting Pod Identity association {id}"));
    match deleted {
        Ok(_) => Ok(Some(id)),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(Some(id)),
        Err(e) => Err(e),
    }
}
