//! The IAM roles mkeks owns: the cluster's, the nodes', and one per add-on controller (EKS Pod
//! Identity) plus Karpenter's node role. Trust policy, AWS managed policies, an inline policy
//! for the add-ons, ownership tags. Found by name; a role of that name without our stack tag is
//! someone else's and is refused.

use aws_sdk_iam::Client;
use ekskit_aws::AwsResultExt;
use ekskit_aws::iam::{
    NewRole, create_owned_role, delete_owned_role, find_owned_role, parse_document, set_trust_policy,
};
// From the model, not through crate::addons: the add-ons make their roles here.
use ekskit_model::cluster::Addon;
use tracing::info;

use crate::TOOL;
use crate::account::Account;
use crate::names::bounded_name;

/// The EBS CSI driver's controller: the only service account its role is for.
pub const EBS_CSI_SERVICE_ACCOUNT: (&str, &str) = ("kube-system", "ebs-csi-controller-sa");

/// What a role's trust is scoped to: the account, and the cluster the service acts for; and
/// whether that cluster runs in EKS Auto Mode, whose cluster role does more (and tags sessions)
/// and whose node role less.
pub struct Trust<'a> {
    pub account: &'a Account,
    pub cluster: &'a str,
    pub auto_mode: bool,
}

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
    /// EKS' managed Argo CD (`--capability argocd`), which EKS runs outside the cluster.
    ArgoCdCapability,
}

impl RoleKind {
    /// The roles every cluster has.
    pub const CORE: [RoleKind; 3] = [RoleKind::Cluster, RoleKind::Node, RoleKind::EbsCsi];

    /// Every role mkeks may own for a stack: what `--delete` looks for.
    pub fn all() -> Vec<RoleKind> {
        let addons = Addon::ALL.into_iter().map(RoleKind::Addon);
        let others = [RoleKind::KarpenterNode, RoleKind::ArgoCdCapability];
        RoleKind::CORE.into_iter().chain(addons).chain(others).collect()
    }

    fn suffix(self) -> &'static str {
        match self {
            RoleKind::Cluster => "cluster",
            RoleKind::Node => "node",
            RoleKind::EbsCsi => "ebs-csi",
            RoleKind::Addon(addon) => addon_suffix(addon),
            RoleKind::KarpenterNode => "karpenter-node",
            RoleKind::ArgoCdCapability => "argocd-capability",
        }
    }

    fn service(self) -> &'static str {
        match self {
            RoleKind::Cluster => "eks.amazonaws.com",
            RoleKind::Node | RoleKind::KarpenterNode => "ec2.amazonaws.com",
            RoleKind::EbsCsi | RoleKind::Addon(_) => "pods.eks.amazonaws.com",
            RoleKind::ArgoCdCapability => "capabilities.eks.amazonaws.com",
        }
    }

    /// The AWS managed policies the role needs (EKS user guide: cluster role, node role, and
    /// those of Auto Mode).
    pub fn policies(self, auto_mode: bool) -> &'static [&'static str] {
        match self {
            RoleKind::Cluster if auto_mode => &[
                "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
                "arn:aws:iam::aws:policy/AmazonEKSComputePolicy",
                "arn:aws:iam::aws:policy/AmazonEKSBlockStoragePolicy",
                "arn:aws:iam::aws:policy/AmazonEKSLoadBalancingPolicy",
                "arn:aws:iam::aws:policy/AmazonEKSNetworkingPolicy",
            ],
            RoleKind::Node if auto_mode => &[
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
            ],
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
            // Repository credentials from Secrets Manager: an inline policy (capability.rs).
            RoleKind::Addon(_) | RoleKind::ArgoCdCapability => &[],
        }
    }

    /// `ekskit-<stack>-cluster`; long stack names are cut and keep a hash, as IAM allows 64 characters.
    pub fn role_name(self, stack: &str) -> String {
        bounded_name(stack, self.suffix(), 64)
    }

    /// Who may assume the role. EKS and Pod Identity act for this cluster of this account only
    /// (AWS's confused-deputy conditions); a Pod Identity role only for its own namespace and
    /// service account (the session tags Pod Identity sets), so no other association in the
    /// account can take it. The node roles trust EC2 as AWS documents them: EC2 sets neither
    /// SourceAccount nor SourceArn for an instance profile.
    fn trust_policy(self, trust: &Trust<'_>) -> serde_json::Value {
        let (account, cluster_arn) = (&trust.account.id, trust.account.cluster_arn(trust.cluster));
        let (actions, condition) = match self {
            // Auto Mode's cluster role tags the sessions it starts for the nodes it launches.
            RoleKind::Cluster => (
                if trust.auto_mode {
                    serde_json::json!(["sts:AssumeRole", "sts:TagSession"])
                } else {
                    serde_json::json!("sts:AssumeRole")
                },
                Some(serde_json::json!({
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": cluster_arn},
                })),
            ),
            RoleKind::Node | RoleKind::KarpenterNode => (serde_json::json!("sts:AssumeRole"), None),
            // As the EKS user guide gives it (capability-role): EKS tags the sessions it starts.
            RoleKind::ArgoCdCapability => (serde_json::json!(["sts:AssumeRole", "sts:TagSession"]), None),
            RoleKind::EbsCsi | RoleKind::Addon(_) => {
                let (namespace, service_account) = self.service_account().unwrap_or_default();
                let condition = serde_json::json!({"StringEquals": {
                    "aws:SourceAccount": account,
                    "aws:RequestTag/eks-cluster-arn": cluster_arn,
                    "aws:RequestTag/kubernetes-namespace": namespace,
                    "aws:RequestTag/kubernetes-service-account": service_account,
                }});
                (serde_json::json!(["sts:AssumeRole", "sts:TagSession"]), Some(condition))
            }
        };
        let mut statement =
            serde_json::json!({"Effect": "Allow", "Principal": {"Service": self.service()}, "Action": actions});
        if let Some(condition) = condition {
            statement["Condition"] = condition;
        }
        serde_json::json!({"Version": "2012-10-17", "Statement": [statement]})
    }

    /// The namespace and service account of a Pod Identity role.
    fn service_account(self) -> Option<(&'static str, &'static str)> {
        match self {
            RoleKind::EbsCsi => Some(EBS_CSI_SERVICE_ACCOUNT),
            RoleKind::Addon(addon) => Some((addon.namespace(), addon.service_account())),
            _ => None,
        }
    }
}

/// The role's ARN when it exists and is ours; an error when it exists and is not.
pub async fn find(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<Option<String>> {
    let role = find_owned_role(iam, &kind.role_name(stack), stack).await?;
    Ok(role.map(|r| r.arn().to_owned()))
}

/// Creates the role when missing, puts its trust policy right when it differs (a role made
/// before the trust was scoped, or edited by hand), and attaches its policies (attaching again
/// is a no-op).
pub async fn ensure(iam: &Client, stack: &str, kind: RoleKind, trust: &Trust<'_>) -> anyhow::Result<String> {
    let name = kind.role_name(stack);
    let wanted = kind.trust_policy(trust);
    let arn = match find_owned_role(iam, &name, stack).await? {
        Some(role) => {
            if role.assume_role_policy_document().and_then(parse_document).as_ref() != Some(&wanted) {
                info!("setting the trust policy of IAM role {name}");
                set_trust_policy(iam, &name, &wanted).await?;
            }
            role.arn().to_owned()
        }
        None => {
            let new = NewRole {
                name: &name,
                stack,
                tool: TOOL,
                trust_policy: &wanted.to_string(),
                description: &format!("EKS {} role of ekskit stack {stack}", kind.suffix()),
                path: "/",
                tags: &[],
            };
            create_owned_role(iam, &new).await?.0.arn().to_owned()
        }
    };
    for policy in kind.policies(trust.auto_mode) {
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
pub async fn ensure_with_policy(
    iam: &Client,
    stack: &str,
    kind: RoleKind,
    trust: &Trust<'_>,
    document: &str,
) -> anyhow::Result<String> {
    let arn = ensure(iam, stack, kind, trust).await?;
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
        let names: std::collections::BTreeSet<String> = RoleKind::all().iter().map(|k| k.role_name(&long)).collect();
        assert_eq!(names.len(), RoleKind::all().len(), "every role has its own name");
        assert!(names.iter().all(|n| n.len() <= 64), "{names:?}");
        assert!(bounded_name(&long, "karpenter-spot-interruption", 64).len() <= 64);
        assert_eq!(bounded_name("demo", "karpenter", 80), "ekskit-demo-karpenter");
    }

    #[test]
    fn each_role_trusts_its_service_for_this_cluster_and_pod_identity_for_its_service_account_only() {
        let account = Account { partition: "aws".into(), region: "eu-west-1".into(), id: "123456789012".into() };
        let trust = Trust { account: &account, cluster: "demo", auto_mode: false };
        let cluster_arn = "arn:aws:eks:eu-west-1:123456789012:cluster/demo";

        let cluster = RoleKind::Cluster.trust_policy(&trust);
        let statement = &cluster["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "eks.amazonaws.com");
        assert_eq!(statement["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(statement["Condition"]["ArnLike"]["aws:SourceArn"], cluster_arn);

        for (kind, namespace, service_account) in [
            (RoleKind::EbsCsi, "kube-system", "ebs-csi-controller-sa"),
            (RoleKind::Addon(Addon::Karpenter), Addon::Karpenter.namespace(), Addon::Karpenter.service_account()),
        ] {
            let policy = kind.trust_policy(&trust);
            let statement = &policy["Statement"][0];
            assert_eq!(statement["Principal"]["Service"], "pods.eks.amazonaws.com");
            assert_eq!(statement["Action"], serde_json::json!(["sts:AssumeRole", "sts:TagSession"]));
            let equals = &statement["Condition"]["StringEquals"];
            assert_eq!(equals["aws:SourceAccount"], "123456789012", "{kind:?}");
            assert_eq!(equals["aws:RequestTag/eks-cluster-arn"], cluster_arn, "{kind:?}");
            assert_eq!(equals["aws:RequestTag/kubernetes-namespace"], namespace, "{kind:?}");
            assert_eq!(equals["aws:RequestTag/kubernetes-service-account"], service_account, "{kind:?}");
        }
        let node = RoleKind::Node.trust_policy(&trust);
        assert_eq!(node["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
        assert!(node["Statement"][0].get("Condition").is_none(), "EC2 sets no source for instance profiles");
    }
}
