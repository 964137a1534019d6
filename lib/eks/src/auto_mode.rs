//! EKS Auto Mode (`--auto-mode`): EKS launches and runs the nodes from its built-in node pools,
//! with block storage and load balancing of its own, so there is no managed node group, launch
//! template or managed add-on. mkeks turns on the three parts together (EKS refuses them apart),
//! gives the node pools the node role, and sees to the access entry (type EC2) that lets nodes
//! with that role join: EKS makes it with the cluster; a run that finds it gone makes it again.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    BlockStorage, Cluster, ComputeConfigRequest, ElasticLoadBalancing, KubernetesNetworkConfigRequest,
    StorageConfigRequest,
};

use crate::access;
use crate::model::{AutoModeDoc, PlannedAction};

/// The node pools EKS builds in: general workloads, and the cluster's own (CriticalAddonsOnly).
pub const NODE_POOLS: [&str; 2] = ["general-purpose", "system"];
/// What the nodes' access entry grants: joining the cluster as Auto Mode nodes, nothing more.
pub const NODE_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy";

/// Auto Mode's compute part: the built-in node pools, launching nodes with `node_role`.
pub fn compute(node_role: &str) -> ComputeConfigRequest {
    ComputeConfigRequest::builder()
        .enabled(true)
        .set_node_pools(Some(NODE_POOLS.iter().map(|p| p.to_string()).collect()))
        .node_role_arn(node_role)
        .build()
}

/// Auto Mode's block storage (EBS volumes for PersistentVolumes).
pub fn storage() -> StorageConfigRequest {
    StorageConfigRequest::builder().block_storage(BlockStorage::builder().enabled(true).build()).build()
}

/// Auto Mode's load balancing (ALB/NLB for Ingresses and Services).
pub fn network() -> KubernetesNetworkConfigRequest {
    KubernetesNetworkConfigRequest::builder()
        .elastic_load_balancing(ElasticLoadBalancing::builder().enabled(true).build())
        .build()
}

/// Whether the cluster runs in Auto Mode (its compute part is on).
pub fn is_on(cluster: &Cluster) -> bool {
    cluster.compute_config().and_then(|c| c.enabled()).unwrap_or(false)
}

/// The node role's access entry ARN, when there is one.
pub async fn find_node_access(eks: &Client, cluster: &str, node_role: &str) -> anyhow::Result<Option<String>> {
    Ok(access::find(eks, cluster, node_role).await?.and_then(|e| e.access_entry_arn))
}

/// The node role's access entry, made (with [`NODE_POLICY`]) when EKS's is gone; its ARN.
pub async fn ensure_node_access(eks: &Client, cluster: &str, node_role: &str) -> anyhow::Result<String> {
    if let Some(arn) = find_node_access(eks, cluster, node_role).await? {
        return Ok(arn);
    }
    access::create(eks, cluster, node_role, Some("EC2")).await?;
    access::associate(eks, cluster, node_role, NODE_POLICY).await?;
    let arn = find_node_access(eks, cluster, node_role).await?;
    arn.ok_or_else(|| anyhow::anyhow!("the access entry of {node_role} on {cluster} is gone right after it was made"))
}

/// `cluster.auto_mode` for a cluster whose node access entry is `entry`.
pub fn doc(entry: String) -> AutoModeDoc {
    AutoModeDoc { node_pools: NODE_POOLS.iter().map(|p| p.to_string()).collect(), node_access_entry: entry }
}

/// The dry-run step for the nodes' access entry.
pub async fn plan(eks: &Client, cluster: &str, node_role: Option<&str>) -> anyhow::Result<PlannedAction> {
    let exists = match node_role {
        Some(role) => find_node_access(eks, cluster, role).await?.is_some(),
        None => false,
    };
    let detail = Some(format!("EC2 (Auto Mode nodes), {NODE_POLICY}"));
    Ok(PlannedAction::create_or_keep(exists, "access-entry", &crate::iam::RoleKind::Node.role_name(cluster), detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_parts_are_on_together_with_the_node_role() {
        let compute = compute("arn:aws:iam::000000000000:role/ekskit-demo-node");
        assert_eq!(compute.enabled(), Some(true));
        assert_eq!(compute.node_pools(), ["general-purpose", "system"]);
        assert_eq!(compute.node_role_arn(), Some("arn:aws:iam::000000000000:role/ekskit-demo-node"));
        assert_eq!(storage().block_storage().and_then(|b| b.enabled()), Some(true));
        assert_eq!(network().elastic_load_balancing().and_then(|e| e.enabled()), Some(true));
    }
}
