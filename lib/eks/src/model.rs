//! The JSON mkeks writes (`cluster`, `plan.cluster`, `deleted.cluster`) and their schemas.
//! `cluster` carries what kapply reads to reach the cluster: name, endpoint,
//! certificate_authority, region.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cli::{Scaling, Spec};

/// The `cluster` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterDoc {
    pub name: String,
    pub arn: String,
    pub region: String,
    /// Kubernetes version, e.g. `1.35`.
    pub version: String,
    pub status: String,
    /// API server URL.
    pub endpoint: String,
    /// The cluster CA bundle, base64 of PEM, as EKS returns it.
    pub certificate_authority: String,
    /// OIDC issuer URL (for IRSA); empty when EKS reports none.
    pub oidc_issuer: String,
    /// The security group EKS made for the control plane and nodes.
    pub security_group: String,
    pub subnet_ids: Vec<String>,
    pub roles: RolesDoc,
    /// KMS key encrypting Secrets; absent with --no-secrets-encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_key: Option<String>,
    pub node_group: NodeGroupDoc,
    /// The EKS managed add-ons every cluster gets (vpc-cni, coredns, ...).
    pub managed_addons: Vec<crate::managed::ManagedAddonDoc>,
    /// The add-ons set up with `--addon`, by name: what their charts and manifests need.
    pub addons: std::collections::BTreeMap<String, crate::addons::AddonDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolesDoc {
    pub cluster: String,
    pub node: String,
    /// The EBS CSI driver's Pod Identity role.
    pub ebs_csi: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeGroupDoc {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub scaling: Scaling,
    pub instance_types: Vec<String>,
    pub ami_type: String,
}

/// One step of a plan; its kinds: `iam-role`, `kms-key`, `cluster`, `addon`, `node-group`,
/// `pod-identity-association`, `access-entry`, `sqs-queue`, `event-rule`.
pub use ekskit_core::plan::PlannedAction;

/// `plan.cluster`: the fully defaulted spec and what a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub region: String,
    pub spec: Spec,
    pub actions: Vec<PlannedAction>,
}

/// `deleted.cluster`: what --delete removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedDoc {
    pub name: String,
    pub region: String,
    /// `kind name` of each resource deleted (KMS keys: scheduled for deletion).
    pub resources: Vec<String>,
}

pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("cluster.schema.json", schemars::schema_for!(ClusterDoc)),
        ("plan.cluster.schema.json", schemars::schema_for!(PlanDoc)),
        ("deleted.cluster.schema.json", schemars::schema_for!(DeletedDoc)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas match the types. `UPDATE_SCHEMAS=1 cargo test` rewrites them.
    #[test]
    fn committed_schemas_match_the_types() {
        ekskit_core::schemas::assert_committed(env!("CARGO_MANIFEST_DIR"), schemas());
    }
}
