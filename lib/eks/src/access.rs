//! EKS access entries mkeks relies on: Karpenter's nodes (EC2_LINUX), Auto Mode's nodes (EC2,
//! AmazonEKSAutoNodePolicy), the Argo CD capability's role (cluster admin). Looked up by
//! principal, made with the ownership tags when missing (one EKS or a killed run made is kept),
//! and given an access policy for the whole cluster.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{AccessEntry, AccessScope, AccessScopeType};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::ownership_tags;
use tracing::info;

use crate::TOOL;

/// The access entry of `principal` on `cluster`, when there is one.
pub async fn find(eks: &Client, cluster: &str, principal: &str) -> anyhow::Result<Option<AccessEntry>> {
    let out = eks.describe_access_entry().cluster_name(cluster).principal_arn(principal).send().await;
    match out.aws(format!("reading the access entry of {principal} on {cluster}")) {
        Ok(out) => Ok(out.access_entry),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the access entry of `principal`, of `kind` (`None`: EKS' STANDARD); one made between
/// our look and now (a concurrent or killed run, or EKS itself) is fine.
pub async fn create(eks: &Client, cluster: &str, principal: &str, kind: Option<&str>) -> anyhow::Result<()> {
    info!("creating the access entry of {principal} on {cluster} ({})", kind.unwrap_or("STANDARD"));
    let created = eks
        .create_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .set_type(kind.map(str::to_owned))
        .set_tags(Some(ownership_tags(cluster, TOOL).into_iter().collect()))
        .send()
        .await
        .aws(format!("creating the access entry of {principal} on {cluster}"));
    match created {
        Err(e) if aws_code(&e) != Some("ResourceInUseException") => Err(e),
        _ => Ok(()),
    }
}

/// Associates access policy `policy` with `principal`'s entry, for the whole cluster.
pub async fn associate(eks: &Client, cluster: &str, principal: &str, policy: &str) -> anyhow::Result<()> {
    eks.associate_access_policy()
        .cluster_name(cluster)
        .principal_arn(principal)
        .policy_arn(policy)
        .access_scope(AccessScope::builder().r#type(AccessScopeType::Cluster).build())
        .send()
        .await
        .aws(format!("associating {policy} with {principal} on {cluster}"))?;
    Ok(())
}
