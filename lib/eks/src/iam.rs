//! The cluster's and the nodes' IAM roles: trust policy, AWS managed policies, ownership tags.
//! Found by name; a role of that name without our stack tag is someone else's and is refused.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::info;

use crate::TOOL;

/// One of the two roles mkeks owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    Cluster,
    Node,
    /// The EBS CSI driver's controller, through EKS Pod Identity.
    EbsCsi,
}

impl RoleKind {
    pub const ALL: [RoleKind; 3] = [RoleKind::Cluster, RoleKind::Node, RoleKind::EbsCsi];

    fn suffix(self) -> &'static str {
        match self {
            RoleKind::Cluster => "cluster",
            RoleKind::Node => "node",
            RoleKind::EbsCsi => "ebs-csi",
        }
    }

    fn service(self) -> &'static str {
        match self {
            RoleKind::Cluster => "eks.amazonaws.com",
            RoleKind::Node => "ec2.amazonaws.com",
            RoleKind::EbsCsi => "pods.eks.amazonaws.com",
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
        }
    }

    /// `ekskit-<stack>-cluster`; long stack names are cut and keep a hash, as IAM allows 64 characters.
    pub fn role_name(self, stack: &str) -> String {
        let suffix = self.suffix();
        let full = format!("ekskit-{stack}-{suffix}");
        if full.len() <= 64 {
            return full;
        }
        let hash = stack.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
        format!("ekskit-{}-{:08x}-{suffix}", &stack[..40], hash as u32)
    }

    fn trust_policy(self) -> String {
        // Pod Identity hands sessions tagged with the pod's cluster, namespace and service account.
        let actions = match self {
            RoleKind::EbsCsi => serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
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
    let name = kind.role_name(stack);
    let role = match iam.get_role().role_name(&name).send().await.aws(format!("reading IAM role {name}")) {
        Ok(out) => out.role,
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(role) = role else { return Ok(None) };
    let ours = role.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack);
    if !ours {
        return Err(Hinted::new(
            format!("IAM role {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that role",
        )
        .into());
    }
    Ok(Some(role.arn().to_owned()))
}

/// Creates the role when missing and attaches its policies (attaching again is a no-op).
pub async fn ensure(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<String> {
    let name = kind.role_name(stack);
    let arn = match find(iam, stack, kind).await? {
        Some(arn) => arn,
        None => {
            info!("creating IAM role {name}");
            let tags: Vec<Tag> = ownership_tags(stack, TOOL)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<_, _>>()?;
            let created = iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(kind.trust_policy())
                .description(format!("EKS {} role of ekskit stack {stack}", kind.suffix()))
                .set_tags(Some(tags))
                .send()
                .await;
            match created.aws(format!("creating IAM role {name}")) {
                Ok(out) => out.role.map(|r| r.arn).unwrap_or_default(),
                // A concurrent or killed run created it between our look and now.
                Err(e) if aws_code(&e) == Some("EntityAlreadyExists") => {
                    find(iam, stack, kind).await?.unwrap_or_default()
                }
                Err(e) => return Err(e),
            }
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

/// Detaches every policy and deletes the role; returns whether there was one.
pub async fn delete(iam: &Client, stack: &str, kind: RoleKind) -> anyhow::Result<bool> {
    let name = kind.role_name(stack);
    match find(iam, stack, kind).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            tracing::warn!("leaving IAM role {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    let attached =
        iam.list_attached_role_policies().role_name(&name).send().await.aws(format!("listing policies of {name}"))?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            iam.detach_role_policy()
                .role_name(&name)
                .policy_arn(arn)
                .send()
                .await
                .aws(format!("detaching {arn} from {name}"))?;
        }
    }
    info!("deleting IAM role {name}");
    match iam.delete_role().role_name(&name).send().await.aws(format!("deleting IAM role {name}")) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => Ok(true),
        Err(e) => Err(e),
    }
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
    }
}
