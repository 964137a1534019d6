//! The add-on roles' inline policies: `lib/eks/policies/<addon>.json`, written after each
//! upstream project's recommended policy and narrowed to this account, region and cluster
//! (and Karpenter's queue and node role, cert-manager's zone, external-secrets' stores: its
//! controller may only assume their roles, each of which reads one namespace's prefix).
//! The tests below hold every policy to the same least-privilege rules. Conditions use the tags
//! the add-ons themselves put on what they create (elbv2.k8s.aws/cluster, kubernetes.io/cluster/..).

use super::{Account, Addon};

/// What a policy is scoped to.
#[derive(Debug, Clone)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub cluster: String,
    pub vpc_id: Option<String>,
    pub hosted_zone: Option<String>,
    /// external-secrets: the controller's, the IAM path of the stores' roles; a store's, the
    /// prefix of its namespace's secrets.
    pub secret_stores_path: Option<String>,
    pub secrets_prefix: Option<String>,
    pub queue_arn: Option<String>,
    pub node_role_arn: Option<String>,
}

impl Scope {
    pub fn new(account: &Account, cluster: &str) -> Scope {
        Scope {
            partition: account.partition.clone(),
            region: account.region.clone(),
            account: account.id.clone(),
            cluster: cluster.into(),
            vpc_id: None,
            hosted_zone: None,
            secret_stores_path: None,
            secrets_prefix: None,
            queue_arn: None,
            node_role_arn: None,
        }
    }
}

fn template(addon: Addon) -> &'static str {
    match addon {
        Addon::AwsLoadBalancerController => include_str!("../../policies/aws-load-balancer-controller.json"),
        Addon::CertManager => include_str!("../../policies/cert-manager.json"),
        Addon::ExternalSecrets => include_str!("../../policies/external-secrets.json"),
        Addon::ClusterAutoscaler => include_str!("../../policies/cluster-autoscaler.json"),
        Addon::Karpenter => include_str!("../../policies/karpenter.json"),
    }
}

/// The policy document for `addon`, compact JSON as IAM stores it.
pub fn document(addon: Addon, scope: &Scope) -> anyhow::Result<String> {
    fill(addon.name(), template(addon), scope)
}

/// The policy of one external-secrets store's role: read below `scope.secrets_prefix` (the
/// namespace's own prefix).
pub fn store_document(scope: &Scope) -> anyhow::Result<String> {
    fill("secret store", include_str!("../../policies/external-secrets-store.json"), scope)
}

fn fill(name: &str, template: &str, scope: &Scope) -> anyhow::Result<String> {
    let missing = |what: &str| anyhow::anyhow!("the {name} policy needs {what}");
    let mut text = template
        .replace("${Partition}", &scope.partition)
        .replace("${Region}", &scope.region)
        .replace("${Account}", &scope.account)
        .replace("${Cluster}", &scope.cluster)
        // Without a zone, DNS-01 may answer in any zone of the account (still TXT _acme-challenge only).
        .replace("${HostedZone}", scope.hosted_zone.as_deref().unwrap_or("*"));
    for (var, value, what) in [
        ("${VpcId}", &scope.vpc_id, "the cluster's VPC"),
        ("${SecretsPrefix}", &scope.secrets_prefix, "a secrets prefix"),
        ("${SecretStoresPath}", &scope.secret_stores_path, "the IAM path of the stores' roles"),
        ("${QueueArn}", &scope.queue_arn, "the interruption queue"),
        ("${NodeRoleArn}", &scope.node_role_arn, "the node role"),
    ] {
        if text.contains(var) {
            text = text.replace(var, value.as_deref().ok_or_else(|| missing(what))?);
        }
    }
    let value: serde_json::Value = serde_json::from_str(&text)?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn scope() -> Scope {
        let account = Account { partition: "aws".into(), region: "eu-west-1".into(), id: "000000000000".into() };
        Scope {
            vpc_id: Some("vpc-0abc".into()),
            hosted_zone: Some("Z0ZONE".into()),
            secrets_prefix: Some("ekskit/demo/".into()),
            secret_stores_path: Some("/ekskit/demo/secrets/".into()),
            queue_arn: Some("arn:aws:sqs:eu-west-1:000000000000:ekskit-demo-karpenter".into()),
            node_role_arn: Some("arn:aws:iam::000000000000:role/ekskit-demo-karpenter-node".into()),
            ..Scope::new(&account, "demo")
        }
    }

    fn statements(addon: Addon, scope: &Scope) -> Vec<Value> {
        let doc: Value = serde_json::from_str(&document(addon, scope).unwrap()).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        doc["Statement"].as_array().unwrap().clone()
    }

    fn list(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            other => panic!("not a string or list: {other}"),
        }
    }

    /// Reads: a Describe/List/Get call, which changes nothing.
    fn reads_only(action: &str) -> bool {
        let verb = action.split(':').nth(1).unwrap_or_default();
        ["Describe", "List", "Get"].iter().any(|p| verb.starts_with(p))
    }

    /// The services each add-on may call at all.
    fn services(addon: Addon) -> &'static [&'static str] {
        match addon {
            Addon::AwsLoadBalancerController => &["ec2", "elasticloadbalancing", "acm", "iam"],
            Addon::CertManager => &["route53"],
            Addon::ExternalSecrets => &["sts"],
            Addon::ClusterAutoscaler => &["autoscaling", "ec2", "eks"],
            Addon::Karpenter => &["ec2", "ssm", "pricing", "sqs", "iam", "eks"],
        }
    }

    /// Writes on `*` the upstream projects need and IAM cannot narrow by resource; each is
    /// still bound by a condition (checked below) except pricing, which has no resources.
    const UNSCOPABLE: [&str; 3] =
        ["iam:CreateServiceLinkedRole", "route53:ListHostedZonesByName", "pricing:GetProducts"];

    #[test]
    fn every_policy_is_least_privilege() {
        let scope = scope();
        for addon in Addon::ALL {
            for st in statements(addon, &scope) {
                let sid = st["Sid"].as_str().unwrap_or("?").to_owned();
                assert_eq!(st["Effect"], "Allow", "{addon:?} {sid}: only Allow statements");
                assert!(st.get("NotAction").is_none() && st.get("NotResource").is_none(), "{addon:?} {sid}");
                let actions = list(&st["Action"]);
                let resources = list(&st["Resource"]);
                for action in &actions {
                    let (service, verb) = action.split_once(':').expect("service:Action");
                    assert!(!verb.contains('*'), "{addon:?} {sid}: wildcard action {action}");
                    assert!(services(addon).contains(&service), "{addon:?} {sid}: {action} is not its business");
                    let on_anything = resources.iter().any(|r| r == "*");
                    if on_anything && !reads_only(action) {
                        assert!(
                            st.get("Condition").is_some() || UNSCOPABLE.contains(&action.as_str()),
                            "{addon:?} {sid}: {action} on * with no condition"
                        );
                    }
                }
                for r in resources.iter().filter(|r| r.as_str() != "*") {
                    assert!(r.starts_with("arn:aws:"), "{addon:?} {sid}: {r}");
                    // Regional services are pinned to this region and account.
                    let fields: Vec<&str> = r.split(':').collect();
                    if !matches!(fields[2], "iam" | "route53") {
                        assert_eq!(fields[3], "eu-west-1", "{addon:?} {sid}: {r}");
                        assert!(matches!(fields[4], "000000000000" | ""), "{addon:?} {sid}: {r}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_load_balancer_controller_changes_rules_only_in_the_vpc_and_listeners_only_of_k8s_load_balancers() {
        let scope = scope();
        let vpc = format!("arn:aws:ec2:eu-west-1:000000000000:vpc/{}", scope.vpc_id.as_deref().unwrap());
        for st in statements(Addon::AwsLoadBalancerController, &scope) {
            let actions = list(&st["Action"]);
            let ingress = actions.iter().any(|a| a.ends_with("SecurityGroupIngress"));
            if ingress {
                assert_eq!(st["Condition"]["ArnEquals"]["ec2:Vpc"], vpc.as_str(), "{st}");
            }
            for r in list(&st["Resource"]).iter().filter(|r| r.contains(":listener")) {
                assert!(r.contains("/*/k8s-*/"), "{r}: only the controller's load balancers (k8s-*)");
            }
        }
    }

    #[test]
    fn scopes_name_the_cluster_zone_prefix_queue_and_role() {
        let scope = scope();
        let text = |a| document(a, &scope).unwrap();
        // The controller reads nothing itself: it may only assume the stores' roles.
        assert_eq!(
            statements(Addon::ExternalSecrets, &scope),
            [serde_json::json!({"Sid": "AssumeTheStoresReaderRoles", "Effect": "Allow", "Action": "sts:AssumeRole",
                                "Resource": "arn:aws:iam::000000000000:role/ekskit/demo/secrets/*"})]
        );
        let store = Scope { secrets_prefix: Some("ekskit/demo/comments-dev/".into()), ..scope.clone() };
        let store = store_document(&store).unwrap();
        assert!(store.contains(
            r#""Resource":"arn:aws:secretsmanager:eu-west-1:000000000000:secret:ekskit/demo/comments-dev/*""#
        ));
        assert!(!store.contains("PutSecretValue") && !store.contains("${"), "{store}");
        assert!(text(Addon::CertManager).contains("hostedzone/Z0ZONE"));
        assert!(text(Addon::CertManager).contains("_acme-challenge.*"));
        let karpenter = text(Addon::Karpenter);
        assert!(karpenter.contains(scope.queue_arn.as_deref().unwrap()));
        assert!(karpenter.contains(r#""Resource":"arn:aws:iam::000000000000:role/ekskit-demo-karpenter-node""#));
        assert!(karpenter.contains("kubernetes.io/cluster/demo"));
        assert!(text(Addon::ClusterAutoscaler).contains("k8s.io/cluster-autoscaler/demo"));
        assert!(text(Addon::AwsLoadBalancerController).contains(r#""aws:ResourceTag/elbv2.k8s.aws/cluster":"demo""#));
        for addon in Addon::ALL {
            assert!(!text(addon).contains("${"), "{addon:?}: every variable is filled");
        }
        // No zone: any zone, but still only ACME TXT records.
        let any_zone = Scope { hosted_zone: None, ..scope.clone() };
        assert!(document(Addon::CertManager, &any_zone).unwrap().contains("hostedzone/*"));
        // A policy whose scope is missing is an error, not a wildcard.
        let no_queue = Scope { queue_arn: None, ..scope };
        assert!(document(Addon::Karpenter, &no_queue).is_err());
    }
}
