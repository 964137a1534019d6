//! `cluster`, written by mkeks (`plan.cluster` with `--dry-run`, `deleted.cluster` and
//! `deleted.addons` with `--delete`), with the spec it resolves; and [`ClusterInput`], what
//! kapply reads of it to reach the cluster: name, endpoint, certificate_authority, region.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deleted::Deleted;
use crate::plan::PlannedAction;

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
    /// EKS refuses to delete the cluster while this is on (`--deletion-protection`).
    #[serde(default)]
    pub deletion_protection: bool,
    /// KMS key encrypting Secrets; absent with --no-secrets-encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_key: Option<String>,
    /// The managed node group; absent in Auto Mode, where EKS runs the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_group: Option<NodeGroupDoc>,
    /// EKS Auto Mode (`--auto-mode`): compute, block storage and load balancing run by EKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_mode: Option<AutoModeDoc>,
    /// The EKS managed add-ons every cluster gets (vpc-cni, coredns, ...); none in Auto Mode,
    /// which runs their like itself.
    pub managed_addons: Vec<ManagedAddonDoc>,
    /// The add-ons set up with `--addon`, by name: what their charts and manifests need.
    pub addons: std::collections::BTreeMap<String, AddonDoc>,
    /// EKS Capabilities (`--capability argocd`), by capability name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub capabilities: std::collections::BTreeMap<String, CapabilityDoc>,
    /// What `--upgrade` found and left; absent from other runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeDoc>,
}

/// `cluster.upgrade`: the versions when `mkeks --upgrade` started (a resumed upgrade: where the
/// killed one had got to) and when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpgradeDoc {
    pub from: VersionsDoc,
    pub to: VersionsDoc,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionsDoc {
    /// The control plane's Kubernetes version, e.g. `1.36`.
    pub control_plane: String,
    /// Each EKS managed add-on's version, by name.
    pub addons: std::collections::BTreeMap<String, String>,
    /// Each managed node group's Kubernetes version, by name.
    pub node_groups: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolesDoc {
    pub cluster: String,
    pub node: String,
    /// The EBS CSI driver's Pod Identity role; absent in Auto Mode (its block storage is EKS').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_csi: Option<String>,
}

/// One EKS Capability in `cluster.capabilities` (today: `argocd`, EKS' managed Argo CD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapabilityDoc {
    pub arn: String,
    /// `ARGOCD`, `ACK` or `KRO`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub version: String,
    /// The role the capability acts with (its access entry on the cluster is EKS').
    pub role_arn: String,
    pub role_name: String,
    /// Argo CD: the server's URL (UI, API and CLI, signed in through IAM Identity Center).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Argo CD: the namespace its Applications, AppProjects and repository Secrets live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Argo CD: the IAM Identity Center instance users sign in with, and its region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idc_instance_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idc_region: Option<String>,
    /// Argo CD: who gets which Argo CD role, as `ROLE:SSO_USER|SSO_GROUP:ID`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rbac: Vec<String>,
}

/// `cluster.auto_mode`: what EKS Auto Mode runs for the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AutoModeDoc {
    /// The built-in node pools EKS launches nodes for (`general-purpose`, `system`).
    pub node_pools: Vec<String>,
    /// The access entry (type EC2) that lets the nodes, with the node role, join the cluster.
    pub node_access_entry: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeGroupDoc {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub scaling: Scaling,
    pub instance_types: Vec<String>,
    pub ami_type: String,
    /// The nodes' Kubernetes version (the control plane's, once an upgrade has rolled them).
    #[serde(default)]
    pub version: String,
    /// The launch template the instances start from (IMDSv2 only, hop limit 1). Absent for a node
    /// group made before mkeks gave it one: EKS cannot add one in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LaunchTemplateDoc {
    pub id: String,
    pub name: String,
    /// The version EKS started the node group's instances from.
    pub version: String,
}

/// `plan.cluster`: the fully defaulted spec and what a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub region: String,
    pub spec: Spec,
    /// Kinds: `iam-role`, `kms-key`, `cluster`, `cluster-config` (deletion protection turned on
    /// or off), `addon`, `launch-template`, `node-group`,
    /// `pod-identity-association`, `access-entry`, `sqs-queue`, `event-rule`, `capability`; with `--upgrade`
    /// first its steps, in order: `upgrade-insights`, `cluster-version`, `addon-version`,
    /// `node-group-version`.
    pub actions: Vec<PlannedAction>,
}

/// `deleted.cluster`: what --delete removed, each resource as `kind name` (KMS keys: scheduled
/// for deletion).
// Also `deleted.addons`. `name` is older than the common `stack`, which is the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedDoc {
    pub name: String,
    #[serde(flatten)]
    pub deleted: Deleted,
}

impl DeletedDoc {
    /// What went of the cluster `name`, whose stack has the same name.
    pub fn new(name: &str, region: String, resources: Vec<String>) -> DeletedDoc {
        DeletedDoc { name: name.to_owned(), deleted: Deleted { stack: name.to_owned(), region, resources } }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scaling {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

impl Scaling {
    pub const DEFAULT: Scaling = Scaling { min: 2, desired: 2, max: 4 };

    pub fn parse(text: &str) -> Result<Scaling, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let nums: Vec<i32> = parts.iter().filter_map(|p| p.trim().parse().ok()).collect();
        let [min, desired, max] = nums[..] else {
            return Err(format!("`{text}` is not MIN:DESIRED:MAX, e.g. 2:3:5"));
        };
        if parts.len() != 3 || min < 0 || max < 1 || !(min <= desired && desired <= max) {
            return Err(format!("`{text}` needs 0 <= MIN <= DESIRED <= MAX and MAX >= 1"));
        }
        Ok(Scaling { min, desired, max })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum AmiType {
    /// Amazon Linux 2023, x86_64
    Al2023,
    /// Bottlerocket, x86_64
    Bottlerocket,
}

impl AmiType {
    pub fn aws_name(self) -> &'static str {
        match self {
            AmiType::Al2023 => "AL2023_x86_64_STANDARD",
            AmiType::Bottlerocket => "BOTTLEROCKET_x86_64",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum EndpointAccess {
    Public,
    Private,
    Both,
}

/// Everything mkeks needs to know, resolved from flags, the document and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub subnet_ids: Vec<String>,
    pub instance_types: Vec<String>,
    pub nodes: Scaling,
    pub ami_type: AmiType,
    pub endpoint_access: EndpointAccess,
    pub public_access_cidrs: Vec<String>,
    pub secrets_encryption: bool,
    pub addons: AddonsSpec,
    /// EKS deletion protection: on or off as `--deletion-protection` / `--no-deletion-protection`
    /// say; absent: a new cluster has it off, an existing one keeps what it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// EKS Auto Mode: no managed node group, no managed add-ons; EKS runs the nodes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_mode: bool,
    /// EKS' managed Argo CD (`--capability argocd`); None: none asked for (one that exists is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdSpec>,
}

/// `--capability argocd`: what EKS' managed Argo CD is created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArgoCdSpec {
    /// The IAM Identity Center instance users sign in with (`--idc-instance-arn`).
    pub idc_instance_arn: String,
    /// Its region, when not the cluster's (`--idc-region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idc_region: Option<String>,
    /// `ROLE:SSO_USER|SSO_GROUP:ID` (`--argocd-rbac`), ROLE one of ADMIN, EDITOR, VIEWER.
    pub rbac: Vec<String>,
}

/// An add-on whose AWS side mkeks manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Addon {
    /// Gateway API and Service load balancers through ALB/NLB
    AwsLoadBalancerController,
    /// Certificates from ACME, with Route53 DNS-01
    CertManager,
    /// Kubernetes Secrets from AWS Secrets Manager, read-only under a prefix
    ExternalSecrets,
    /// Node group scaling, by auto-discovery tags
    ClusterAutoscaler,
    /// Node provisioning, with an interruption queue
    Karpenter,
}

impl Addon {
    pub const ALL: [Addon; 5] = [
        Addon::AwsLoadBalancerController,
        Addon::CertManager,
        Addon::ExternalSecrets,
        Addon::ClusterAutoscaler,
        Addon::Karpenter,
    ];

    /// The name used by `--addon`, the document and the upstream project.
    pub fn name(self) -> &'static str {
        match self {
            Addon::AwsLoadBalancerController => "aws-load-balancer-controller",
            Addon::CertManager => "cert-manager",
            Addon::ExternalSecrets => "external-secrets",
            Addon::ClusterAutoscaler => "cluster-autoscaler",
            Addon::Karpenter => "karpenter",
        }
    }

    pub fn parse(name: &str) -> Option<Addon> {
        Addon::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Where the controller runs; its chart in `deploy/addons/` installs it there.
    pub fn namespace(self) -> &'static str {
        match self {
            Addon::CertManager => "cert-manager",
            Addon::ExternalSecrets => "external-secrets",
            _ => "kube-system",
        }
    }

    /// The service account Pod Identity hands the role to.
    pub fn service_account(self) -> &'static str {
        self.name()
    }
}

/// What the add-ons are to get, resolved from flags and the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AddonsSpec {
    pub addons: std::collections::BTreeSet<Addon>,
    /// cert-manager's Route53 zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    /// cert-manager without a zone: its role may answer DNS-01 (TXT `_acme-challenge` records
    /// only) in any zone of the account. Only when asked for (`--any-hosted-zone`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_hosted_zone: bool,
    /// external-secrets reads only secrets whose name starts with this.
    pub secrets_prefix: String,
    /// external-secrets: the namespaces that get a SecretStore of their own, each reading only
    /// `<secrets_prefix><namespace>/` (`--secrets-namespace`, else the document's). None: the
    /// stores an earlier run made, else [`DEFAULT_SECRET_NAMESPACES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_namespaces: Option<std::collections::BTreeSet<String>>,
}

/// The namespaces `deploy/` keeps secrets for: Argo CD's repository token and each
/// environment of the app. The default of `--secrets-namespace`.
pub const DEFAULT_SECRET_NAMESPACES: [&str; 3] = ["argocd", "comments-dev", "comments-prod"];

/// One namespace's SecretStore in `cluster.addons.external-secrets.secret_stores`: the role its
/// SecretStore assumes (`spec.provider.aws.role`), which may read only below `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SecretStoreDoc {
    pub role_arn: String,
    pub role_name: String,
    /// `<secrets_prefix><namespace>/`: the names this namespace's secrets start with.
    pub prefix: String,
}

/// One add-on in `cluster.addons`: what its chart and manifests need to know.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AddonDoc {
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub role_name: String,
    /// The Pod Identity association of namespace/service_account with the role.
    pub association_id: String,
    /// aws-load-balancer-controller: the cluster's VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// aws-load-balancer-controller: the VPC's CIDR, and the CIDRs of the cluster's subnets in it
    /// (where Pods take their addresses). An ALB reaches Pods from the VPC's other subnets, so a
    /// NetworkPolicy admits `vpc_cidr` except `cluster_subnet_cidrs`: the ALB, not other Pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_subnet_cidrs: Option<Vec<String>>,
    /// cert-manager: the Route53 zone DNS-01 answers in (empty: any zone, found per name), and
    /// its name (no trailing dot; absent without a zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_zone: Option<String>,
    /// external-secrets: the Secrets Manager name prefix below which its stores read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_prefix: Option<String>,
    /// external-secrets: one SecretStore per namespace, by namespace. The controller's own role
    /// reads nothing; it may only assume these roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_stores: Option<std::collections::BTreeMap<String, SecretStoreDoc>>,
    /// cluster-autoscaler: the managed node group (EKS tags its Auto Scaling group for discovery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_group: Option<String>,
    /// karpenter: the role of the nodes it launches (joined by an access entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_role_name: Option<String>,
    /// karpenter: the SQS queue EventBridge sends interruption events to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interruption_queue: Option<String>,
    /// karpenter: subnets and the cluster security group carry `karpenter.sh/discovery=<this>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_tag_value: Option<String>,
}

/// One EKS managed add-on in `cluster.managed_addons`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManagedAddonDoc {
    pub name: String,
    pub version: String,
    pub status: String,
}

/// The `cluster` key kapply reads: enough to reach an EKS cluster without a kubeconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterInput {
    /// EKS cluster name; signed into the authentication token.
    pub name: Option<String>,
    /// API server URL, e.g. `https://ABC.gr7.us-east-1.eks.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The cluster CA bundle, base64 of PEM (as EKS `certificateAuthority.data`).
    pub certificate_authority: Option<String>,
    /// AWS region of the cluster.
    pub region: Option<String>,
}
