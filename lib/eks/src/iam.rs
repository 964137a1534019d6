//! The IAM roles mkeks owns: the cluster's, the nodes', and one per add-on controller (EKS Pod
//! Identity) plus Karpenter's node role. Trust policy, AWS managed policies, an inline policy
//! for the add-ons, ownership tags. Found by name; a role of that name without our stack tag is
//! someone else's and is refused.

use aws_sdk_iam::Client;
use ekskit_aws::AwsResultExt;
use ekskit_aws::iam::{NewRole, create_owned_role, delete_owned_role, find_owned_role};
// From the model, not through crate::addons: the add-ons make their roles here.
use ekskit_model::cluster::Addon;

use crate::TOOL;
use crate::names::bounded_name;

/// The inline policy an add-on role carries (one per role, replaced on every run).
const INLINE_POLICY: &str = "ekskit-addon";

/// What an add-on's role name ends in: its name, shortened where the name is long.
fn addon_suffix(addon: Addon) -> &'static str {
    match addon {
        Addon::AwsLoadBalancerController => "lb-controller",
        other => other.name(),
    }
}

/// One of the roles mkeks owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    Cluster,
    Node,
    /// The EBS CSI driver's controller, through EKS Pod Identity.
    EbsCsi,
    /// An add-on's controller, through EKS Pod Identity.
    Addon(Addon),
    /// The nodes Karpenter launches (they join through an access entry, not the node group).
    KarpenterNode,
}

impl RoleKind {
    /// The roles every cluster has.
    pub const CORE: [RoleKind; 3] = [RoleKind::Cluster, RoleKind::Node, RoleKind::EbsCsi];

    /// Every role mkeks may own for a stack: what `--delete` looks for.
    pub fn all() -> Vec<RoleKind> {
        let addons = Addon::ALL.into_iter().map(RoleKind::Addon);
        RoleKind::CORE.into_iter().chain(addons).chain([RoleKind::KarpenterNode]).collect()
    }

    fn suffix(self) -> &'static str {
        match self {
            RoleKind::Cluster => "cluster",
            RoleKind::Node => "node",
            RoleKind::EbsCsi => "ebs-csi",
            RoleKind::Addon(addon) => addon_suffix(addon),
            RoleKind::KarpenterNode => "karpenter-node",
        }
    }

    fn service(self) -> &'static str {
        match self {
            RoleKind::Cluster => "eks.amazonaws.com",
            RoleKind::Node | RoleKind::KarpenterNode => "ec2.amazonaws.com",
            RoleKind::EbsCsi | RoleKind::Addon(_) => "pods.eks.amazonaws.com",
        }
    }

    /// The AWS managed policies the role needs (EKS user guide: cluster role, node role).
    pub fn policies(self) -> &'static [&'static str] {
        match self {
            RoleKind::Cluster => &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"],
            RoleKind::Node => &[
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ],
            RoleKind::EbsCsi => &["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            // Karpenter's getting-started node role; its controller has only an inline policy.
            RoleKind::KarpenterNode => &[
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ],
            RoleKind::Addon(_) => &[],
        }
    }

    /// `ekskit-<stack>-cluster`; long stack names are cut and keep a hash, as IAM allows 64 characters.
    pub fn role_name(self, stack: &str) -> String {
        bounded_name(stack, self.suffix(), 64)
    }

    fn trust_policy(self) -> String {
        // Pod Identity hands sessions tagged with the pod's cluster, namespace and service account.
        let actions = match self {
            RoleKind::EbsCsi | RoleKind::Addon(_) => serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
            _ => serde_json::json!("sts:AssumeRole"),
        };
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": self.service()}, "Action": actions}],
        })
        .to_string()
    }
}

/// The role's ARN when it exists and is ours; an error when it exists and is not.
pub async fn find(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<Option<String>> {
    let role = find_owned_role(iam, &kind.role_name(stack), stack).await?;
    Ok(role.map(|r| r.arn().to_owned()))
}

/// Creates the role when missing and attaches its policies (attaching again is a no-op).
pub async fn ensure(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<String> {
    let name = kind.role_name(stack);
    let arn = match find(iam, stack, kind).await? {
        Some(arn) => arn,
        None => {
            let new = NewRole {
                name: &name,
                stack,
                tool: TOOL,
                trust_policy: &kind.trust_policy(),
                description: &format!("EKS {} role of ekskit stack {stack}", kind.suffix()),
            };
            create_owned_role(iam, &new).await?.0.arn().to_owned()
        }
    };
    for policy in kind.policies() {
        iam.attach_role_policy()
            .role_name(&name)
            .policy_arn(*policy)
            .send()
            .await
            .aws(format!("attaching {policy} to IAM role {name}"))?;
    }
    Ok(arn)
}

/// [`ensure`], then sets the role's inline policy to `document` (PutRolePolicy replaces it, so
/// a narrowed policy takes effect on the next run).
pub async fn ensure_with_policy(iam: &Client, stack: &str, kind: RoleKind, document: &str) -> anyhow::Result<String> {
    let arn = ensure(iam, stack, kind).await?;
    let name = kind.role_name(stack);
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(INLINE_POLICY)
        .policy_document(document)
        .send()
        .await
        .aws(format!("setting the inline policy of IAM role {name}"))?;
    Ok(arn)
}

/// Deletes the role with its policies; returns whether there was one.
pub async fn delete(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<bool> {
    delete_owned_role(iam, &kind.role_name(stack), stack).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_iam_and_stay_unique() {
        assert_eq!(RoleKind::Cluster.role_name("demo"), "ekskit-demo-cluster");
        let long = "a".repeat(64);
        let other = format!("{}b", "a".repeat(63));
        let (n1, n2) = (RoleKind::Node.role_name(&long), RoleKind::Node.role_name(&other));
        assert!(n1.len() <= 64 && n2.len() <= 64);
        assert_ne!(n1, n2);
        assert!(RoleKind::Cluster.trust_policy().contains("eks.amazonaws.com"));
        let pod_identity: serde_json::Value = serde_json::from_str(&RoleKind::EbsCsi.trust_policy()).unwrap();
        assert_eq!(pod_identity["Statement"][0]["Principal"]["Service"], "pods.eks.amazonaws.com");
        assert_eq!(pod_identity["Statement"][0]["Action"], serde_json::json!(["sts:AssumeRole", "sts:TagSession"]));
        let karpenter: serde_json::Value =
            serde_json::from_str(&RoleKind::Addon(Addon::Karpenter).trust_policy()).unwrap();
        assert_eq!(karpenter["Statement"][0]["Principal"]["Service"], "pods.eks.amazonaws.com");
        let names: std::collections::BTreeSet<String> = RoleKind::all().iter().map(|k| k.role_name(&long)).collect();
        assert_eq!(names.len(), RoleKind::all().len(), "every role has its own name");
        assert!(names.iter().all(|n| n.len() <= 64), "{names:?}");
        assert!(bounded_name(&long, "karpenter-spot-interruption", 64).len() <= 64);
        assert_eq!(bounded_name("demo", "karpenter", 80), "ekskit-demo-karpenter");
    }
}
