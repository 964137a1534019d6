//! The EKS cluster and its managed node group: found by name (and refused when not ours),
//! created with the spec, waited for until ACTIVE with the AWS root cause on failure, resized
//! when the node group size changed, and deleted node group first.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    AmiTypes, AuthenticationMode, Cluster, ClusterStatus, CreateAccessConfigRequest, EncryptionConfig,
    LaunchTemplateSpecification, LogSetup, LogType, Logging, Nodegroup, NodegroupScalingConfig, NodegroupStatus,
    Provider, VpcConfigRequest,
};
use ekskit_aws::iam::role_not_ready;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use ekskit_core::wait::{Backoff, Check, Limit, Retry, retry, until};
use ekskit_core::{Hinted, InputError};
use tracing::info;

use crate::TOOL;
use crate::auto_mode;
use crate::cli::{EndpointAccess, Scaling, Spec};
use crate::health::{failure, issue_text};
// At its old path too: the node group is this module's, and lib.rs and plan.rs name it here.
pub use crate::names::node_group_name;

fn tags(stack: &str) -> HashMap<String, String> {
    ownership_tags(stack, TOOL).into_iter().collect()
}

fn backoff() -> Backoff {
    Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(20), factor: 1.5 }
}

/// The cluster when it exists; an error when a cluster of that name is not ours.
pub async fn find(eks: &Client, stack: &str) -> anyhow::Result<Option<Cluster>> {
    let cluster = match eks.describe_cluster().name(stack).send().await.aws(format!("reading EKS cluster {stack}")) {
        Ok(out) => out.cluster,
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Some(c) = &cluster
        && c.tags().and_then(|t| t.get(STACK_TAG)).map(String::as_str) != Some(stack)
    {
        return Err(Hinted::new(
            format!("EKS cluster {stack} exists but does not carry {STACK_TAG}={stack}"),
            "it was not made by mkeks; pick another --name",
        )
        .into());
    }
    Ok(cluster)
}

pub async fn create(
    eks: &Client,
    spec: &Spec,
    role_arn: &str,
    node_role_arn: &str,
    key_arn: Option<&str>,
) -> anyhow::Result<()> {
    let mode = if spec.auto_mode { ", Auto Mode" } else { "" };
    info!("creating EKS cluster {} (Kubernetes {}{mode})", spec.name, spec.version);
    let (public, private) = match spec.endpoint_access {
        EndpointAccess::Public => (true, false),
        EndpointAccess::Private => (false, true),
        EndpointAccess::Both => (true, true),
    };
    let vpc = VpcConfigRequest::builder()
        .set_subnet_ids(Some(spec.subnet_ids.clone()))
        .endpoint_public_access(public)
        .endpoint_private_access(private)
        .set_public_access_cidrs(public.then(|| spec.public_access_cidrs.clone()))
        .build();
    let logging = Logging::builder()
        .cluster_logging(
            LogSetup::builder()
                .set_types(Some(vec![LogType::Api, LogType::Audit, LogType::Authenticator]))
                .enabled(true)
                .build(),
        )
        .build();
    let encryption = key_arn.map(|arn| {
        vec![
            EncryptionConfig::builder().resources("secrets").provider(Provider::builder().key_arn(arn).build()).build(),
        ]
    });
    // API access entries, and the creator (this caller) as cluster admin through one of them.
    let access = CreateAccessConfigRequest::builder()
        .authentication_mode(AuthenticationMode::Api)
        .bootstrap_cluster_creator_admin_permissions(true)
        .build();
    let request = eks
        .create_cluster()
        .name(&spec.name)
        .version(&spec.version)
        .role_arn(role_arn)
        .resources_vpc_config(vpc)
        .logging(logging)
        .set_encryption_config(encryption)
        .access_config(access)
        .set_deletion_protection(spec.deletion_protection)
        .set_tags(Some(tags(&spec.name)));
    // Auto Mode: its three parts on together, as EKS requires; EKS' own networking, DNS and
    // proxy instead of the self-managed add-ons.
    let request = match spec.auto_mode {
        true => request
            .compute_config(auto_mode::compute(node_role_arn))
            .storage_config(auto_mode::storage())
            .kubernetes_network_config(auto_mode::network())
            .bootstrap_self_managed_addons(false),
        false => request,
    };
    let created =
        retry_new_role(|| async { request.clone().send().await.aws(format!("creating EKS cluster {}", spec.name)) })
            .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if aws_code(&e) == Some("ResourceInUseException") => Ok(()), // a killed run got this far
        Err(e) => Err(e),
    }
}

/// IAM is eventually consistent: EKS may not yet be able to assume a role created seconds ago
/// and says so with InvalidParameterException. Retried for up to two minutes, as eksctl does.
const NEW_ROLE: Retry = Retry {
    backoff: Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(20), factor: 2.0 },
    limit: Limit::Waited(Duration::from_secs(120)),
};

async fn retry_new_role<T, F, Fut>(mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let what = "the new IAM role is not usable by EKS yet";
    retry(what, NEW_ROLE, role_not_ready, |_| call()).await.map_err(|gave_up| gave_up.error)
}

/// Refuses changes EKS cannot make in place (or that are a later job).
pub fn check_compatible(cluster: &Cluster, spec: &Spec) -> Result<(), InputError> {
    if spec.auto_mode && !auto_mode::is_on(cluster) {
        return Err(InputError::new(format!(
            "EKS cluster {} runs a managed node group; mkeks does not move a cluster to Auto Mode",
            spec.name
        ))
        .hint("leave out --auto-mode, or delete the cluster (mkeks --delete) and create it with --auto-mode"));
    }
    let version = cluster.version().unwrap_or_default();
    if version != spec.version {
        return Err(InputError::new(format!(
            "EKS cluster {} runs Kubernetes {version}; --version {} would change it",
            spec.name, spec.version
        ))
        .hint(format!(
            "leave --version out (or pass {version}) to keep it; to upgrade: mkeks --upgrade --to {}",
            spec.version
        )));
    }
    Ok(())
}

/// Turns deletion protection on or off as `spec` asks, where the cluster has it otherwise; the
/// cluster is UPDATING for a moment, which [`wait_active`] then covers.
pub async fn set_deletion_protection(eks: &Client, cluster: &Cluster, spec: &Spec) -> anyhow::Result<()> {
    let Some(wanted) = spec.deletion_protection else { return Ok(()) };
    if cluster.deletion_protection().unwrap_or(false) == wanted {
        return Ok(());
    }
    info!("turning deletion protection of EKS cluster {} {}", spec.name, if wanted { "on" } else { "off" });
    eks.update_cluster_config()
        .name(&spec.name)
        .deletion_protection(wanted)
        .send()
        .await
        .aws(format!("setting the deletion protection of EKS cluster {}", spec.name))?;
    Ok(())
}

/// `--delete` stops before deleting anything when EKS would refuse the cluster itself.
pub fn check_deletable(cluster: &Cluster) -> Result<(), InputError> {
    if !cluster.deletion_protection().unwrap_or(false) {
        return Ok(());
    }
    let name = cluster.name().unwrap_or_default();
    Err(InputError::new(format!(
        "EKS cluster {name} has deletion protection on: EKS refuses to delete it, so mkeks --delete deletes nothing"
    ))
    .hint(format!(
        "if it is really to go, lift it first: mkeks --no-deletion-protection < doc (or aws eks update-cluster-config \
         --name {name} --no-deletion-protection), then mkeks --delete again"
    )))
}

pub async fn wait_active(eks: &Client, name: &str, timeout: Duration) -> anyhow::Result<Cluster> {
    until(&format!("EKS cluster {name}"), "ACTIVE", timeout, backoff(), || async {
        let cluster =
            eks.describe_cluster().name(name).send().await.aws(format!("reading EKS cluster {name}"))?.cluster;
        Ok::<_, anyhow::Error>(cluster_state(cluster))
    })
    .await
}

/// ACTIVE is ready; FAILED fails with the cluster's health issues (the AWS root cause).
pub fn cluster_state(cluster: Option<Cluster>) -> Check<Cluster> {
    let Some(c) = cluster else { return Check::Failed("it disappeared".into()) };
    match c.status() {
        Some(ClusterStatus::Active) => Check::Ready(c),
        Some(ClusterStatus::Failed) => {
            let issues = c.health().map(|h| h.issues()).unwrap_or_default();
            Check::Failed(failure(
                "FAILED",
                issues.iter().map(|i| issue_text(i.code().map(|c| c.as_str()), i.message(), i.resource_ids())),
            ))
        }
        other => Check::Pending(other.map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into())),
    }
}

/// mkeks' own node group, when it exists.
pub async fn find_node_group(eks: &Client, stack: &str) -> anyhow::Result<Option<Nodegroup>> {
    find_node_group_named(eks, stack, &node_group_name(stack)).await
}

/// Node group `name` of `cluster` (any, e.g. one `--upgrade` rolls), when it exists.
pub async fn find_node_group_named(eks: &Client, cluster: &str, name: &str) -> anyhow::Result<Option<Nodegroup>> {
    let out = eks.describe_nodegroup().cluster_name(cluster).nodegroup_name(name).send().await;
    match out.aws(format!("reading node group {name}")) {
        Ok(out) => Ok(out.nodegroup),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

fn scaling_config(s: Scaling) -> NodegroupScalingConfig {
    NodegroupScalingConfig::builder().min_size(s.min).desired_size(s.desired).max_size(s.max).build()
}

/// The node group, its instances started from `launch_template` (by id, at its default version).
pub async fn create_node_group(
    eks: &Client,
    spec: &Spec,
    node_role: &str,
    launch_template: &str,
) -> anyhow::Result<()> {
    let name = node_group_name(&spec.name);
    info!("creating node group {name}: {} x {}", spec.nodes.desired, spec.instance_types.join("/"));
    let request = eks
        .create_nodegroup()
        .cluster_name(&spec.name)
        .nodegroup_name(&name)
        .node_role(node_role)
        .set_subnets(Some(spec.subnet_ids.clone()))
        .set_instance_types(Some(spec.instance_types.clone()))
        .ami_type(AmiTypes::from(spec.ami_type.aws_name()))
        .scaling_config(scaling_config(spec.nodes))
        .launch_template(LaunchTemplateSpecification::builder().id(launch_template).build())
        .set_tags(Some(tags(&spec.name)));
    let created =
        retry_new_role(|| async { request.clone().send().await.aws(format!("creating node group {name}")) }).await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if aws_code(&e) == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(e),
    }
}

/// The node group's size as EKS reports it.
pub fn scaling_of(ng: &Nodegroup) -> Option<Scaling> {
    let s = ng.scaling_config()?;
    Some(Scaling { min: s.min_size()?, desired: s.desired_size()?, max: s.max_size()? })
}

pub async fn resize_node_group(eks: &Client, stack: &str, to: Scaling) -> anyhow::Result<()> {
    let name = node_group_name(stack);
    info!("resizing node group {name} to {}:{}:{}", to.min, to.desired, to.max);
    eks.update_nodegroup_config()
        .cluster_name(stack)
        .nodegroup_name(&name)
        .scaling_config(scaling_config(to))
        .send()
        .await
        .aws(format!("resizing node group {name}"))?;
    Ok(())
}

pub async fn wait_node_group(eks: &Client, stack: &str, timeout: Duration) -> anyhow::Result<Nodegroup> {
    wait_node_group_named(eks, stack, &node_group_name(stack), timeout).await
}

/// Waits for node group `name` of `cluster` to be ACTIVE (one whose last update failed is ACTIVE
/// again, at its old version: ready too).
pub async fn wait_node_group_named(
    eks: &Client,
    cluster: &str,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<Nodegroup> {
    until(&format!("node group {name}"), "ACTIVE", timeout, backoff(), || async {
        Ok::<_, anyhow::Error>(node_group_state(find_node_group_named(eks, cluster, name).await?))
    })
    .await
}

/// ACTIVE is ready; CREATE_FAILED/DEGRADED fail with the node group's health issues.
pub fn node_group_state(ng: Option<Nodegroup>) -> Check<Nodegroup> {
    let Some(ng) = ng else { return Check::Failed("it disappeared".into()) };
    match ng.status() {
        Some(NodegroupStatus::Active) => Check::Ready(ng),
        Some(s @ (NodegroupStatus::CreateFailed | NodegroupStatus::Degraded | NodegroupStatus::DeleteFailed)) => {
            let issues = ng.health().map(|h| h.issues()).unwrap_or_default();
            Check::Failed(failure(
                s.as_str(),
                issues.iter().map(|i| issue_text(i.code().map(|c| c.as_str()), i.message(), i.resource_ids())),
            ))
        }
        other => Check::Pending(other.map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into())),
    }
}

/// Deletes the node group and waits until it is gone; returns whether there was one.
pub async fn delete_node_group(eks: &Client, stack: &str, timeout: Duration) -> anyhow::Result<bool> {
    let name = node_group_name(stack);
    if find_node_group(eks, stack).await?.is_none() {
        return Ok(false);
    }
    info!("deleting node group {name}");
    let deleted = eks.delete_nodegroup().cluster_name(stack).nodegroup_name(&name).send().await;
    match deleted.aws(format!("deleting node group {name}")) {
        Ok(_) => {}
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => return Ok(true),
        Err(e) => return Err(e),
    }
    until(&format!("node group {name}"), "deleted", timeout, backoff(), || async {
        Ok::<_, anyhow::Error>(match find_node_group(eks, stack).await? {
            None => Check::Ready(()),
            Some(ng) if ng.status() == Some(&NodegroupStatus::DeleteFailed) => node_group_state(Some(ng)).map_ready(),
            Some(ng) => Check::Pending(ng.status().map(|s| s.as_str().to_owned()).unwrap_or_default()),
        })
    })
    .await?;
    Ok(true)
}

/// Deletes the cluster and waits until it is gone; returns whether there was one.
pub async fn delete_cluster(eks: &Client, stack: &str, timeout: Duration) -> anyhow::Result<bool> {
    if find(eks, stack).await?.is_none() {
        return Ok(false);
    }
    info!("deleting EKS cluster {stack}");
    match eks.delete_cluster().name(stack).send().await.aws(format!("deleting EKS cluster {stack}")) {
        Ok(_) => {}
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => return Ok(true),
        Err(e) => return Err(e),
    }
    until(&format!("EKS cluster {stack}"), "deleted", timeout, backoff(), || async {
        let out = eks.describe_cluster().name(stack).send().await.aws(format!("reading EKS cluster {stack}"));
        Ok::<_, anyhow::Error>(match out {
            Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Check::Ready(()),
            Err(e) => return Err(e),
            Ok(out) => Check::Pending(
                out.cluster
                    .and_then(|c| c.status().map(|s| s.as_str().to_owned()))
                    .unwrap_or_else(|| "DELETING".into()),
            ),
        })
    })
    .await?;
    Ok(true)
}

trait MapReady {
    fn map_ready(self) -> Check<()>;
}

impl<T> MapReady for Check<T> {
    fn map_ready(self) -> Check<()> {
        match self {
            Check::Ready(_) => Check::Ready(()),
            Check::Pending(s) => Check::Pending(s),
            Check::Failed(s) => Check::Failed(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eks::types::{
        ClusterHealth, ClusterIssue, ClusterIssueCode, Issue, NodegroupHealth, NodegroupIssueCode,
    };

    #[test]
    fn failed_clusters_and_node_groups_report_the_aws_root_cause() {
        // As DescribeCluster reports a cluster whose role lost its permissions.
        let issue = ClusterIssue::builder()
            .code(ClusterIssueCode::AccessDenied)
            .message("The cluster role is missing permissions")
            .resource_ids("arn:aws:iam::123456789012:role/ekskit-demo-cluster")
            .build();
        let failed = Cluster::builder()
            .status(ClusterStatus::Failed)
            .health(ClusterHealth::builder().issues(issue).build())
            .build();
        assert_eq!(
            cluster_state(Some(failed)).map_ready(),
            Check::Failed(
                "FAILED: AccessDenied: The cluster role is missing permissions (arn:aws:iam::123456789012:role/ekskit-demo-cluster)"
                    .into()
            )
        );
        let creating = Cluster::builder().status(ClusterStatus::Creating).build();
        assert_eq!(cluster_state(Some(creating)).map_ready(), Check::Pending("CREATING".into()));

        // As DescribeNodegroup reports nodes that could not join.
        let ng = Nodegroup::builder()
            .status(NodegroupStatus::CreateFailed)
            .health(
                NodegroupHealth::builder()
                    .issues(
                        Issue::builder()
                            .code(NodegroupIssueCode::NodeCreationFailure)
                            .message("Instances failed to join the kubernetes cluster")
                            .resource_ids("i-0abc")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            node_group_state(Some(ng)).map_ready(),
            Check::Failed(
                "CREATE_FAILED: NodeCreationFailure: Instances failed to join the kubernetes cluster (i-0abc)".into()
            )
        );
    }
}
