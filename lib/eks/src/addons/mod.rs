//! The AWS side of the cluster add-ons mkeks sets up on request (`--addon`): for each, an IAM
//! role with a least-privilege inline policy ([`policy`]), trusted through EKS Pod Identity by
//! exactly the add-on's namespace and service account ([`pod_identity`]), and what else the
//! add-on needs from AWS (Karpenter's queue, rules, node role and access entry: [`karpenter`];
//! the name of cert-manager's hosted zone; external-secrets' per-namespace store roles:
//! [`secret_stores`]).
//! The cluster side (charts, CRDs, Gateway, issuers) lives in `deploy/addons/` and reads the
//! `cluster.addons` key this writes.

pub mod karpenter;
pub mod pod_identity;
pub mod policy;
pub mod secret_stores;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eks::types::Cluster;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::InputError;
use tracing::{info, warn};

pub use ekskit_model::cluster::{Addon, AddonDoc, AddonsSpec};

use crate::Clients;
use crate::iam::{self, RoleKind};
use crate::model::PlannedAction;
use crate::names::node_group_name;

/// `--hosted-zone-id`: `Z...` or `/hostedzone/Z...` as Route53 prints it.
pub fn parse_hosted_zone(text: &str) -> Result<String, InputError> {
    let id = text.trim().trim_start_matches("/hostedzone/");
    // Route53 ids are upper-case letters and digits (Z... on AWS).
    if (2..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return Ok(id.to_owned());
    }
    Err(InputError::new(format!("--hosted-zone-id `{text}` is not a Route53 hosted zone id"))
        .hint("use the id `aws route53 list-hosted-zones` shows, e.g. Z0123456789ABCDEFGHIJ"))
}

/// `--secrets-prefix`: a non-empty Secrets Manager name prefix (an empty one would grant every secret).
pub fn check_secrets_prefix(prefix: &str) -> Result<(), InputError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if prefix.is_empty() || prefix.len() > 256 || !prefix.chars().all(allowed) {
        return Err(InputError::new(format!("--secrets-prefix `{prefix}` is not a Secrets Manager name prefix"))
            .hint("use letters, digits and /_+=.@-, e.g. ekskit/demo/ (external-secrets may read only below it)"));
    }
    Ok(())
}

pub use crate::account::Account;

/// An add-on found in AWS but named by neither flags nor document must not lose its scope:
/// cert-manager's role would be widened to every hosted zone. Refused before anything changes.
pub fn check_present(spec: &AddonsSpec, stack: &str) -> Result<(), InputError> {
    if spec.addons.contains(&Addon::CertManager) && spec.hosted_zone_id.is_none() && !spec.any_hosted_zone {
        let role = RoleKind::Addon(Addon::CertManager).role_name(stack);
        return Err(InputError::new(format!(
            "cert-manager is set up for {stack} (IAM role {role}), but this run names no hosted zone for it"
        ))
        .hint("pipe in the document of the earlier run, or pass --addon cert-manager --hosted-zone-id ID (or --any-hosted-zone)"));
    }
    Ok(())
}

/// Add-ons whose role exists from an earlier run: kept (and listed) even when this run's flags
/// and document do not name them, so a re-run never drops one silently.
pub async fn present(aws: &Clients, stack: &str) -> anyhow::Result<BTreeSet<Addon>> {
    let mut found = BTreeSet::new();
    for addon in Addon::ALL {
        if iam::find(&aws.iam, stack, RoleKind::Addon(addon)).await?.is_some() {
            found.insert(addon);
        }
    }
    Ok(found)
}

/// Creates or converges the AWS side of every add-on in `spec`; returns `cluster.addons`.
pub async fn ensure(
    aws: &Clients,
    stack: &str,
    spec: &AddonsSpec,
    cluster: &Cluster,
) -> anyhow::Result<BTreeMap<String, AddonDoc>> {
    if spec.addons.contains(&Addon::Karpenter) && spec.addons.contains(&Addon::ClusterAutoscaler) {
        warn!("both karpenter and cluster-autoscaler are set up: run only one of them at a time in the cluster");
    }
    let account = Account::from_arn(cluster.arn().unwrap_or_default())?;
    let vpc = cluster.resources_vpc_config();
    let mut out = BTreeMap::new();
    for &addon in &spec.addons {
        let mut doc = AddonDoc {
            namespace: addon.namespace().into(),
            service_account: addon.service_account().into(),
            role_name: RoleKind::Addon(addon).role_name(stack),
            ..AddonDoc::default()
        };
        let mut scope = policy::Scope::new(&account, stack);
        match addon {
            Addon::AwsLoadBalancerController => {
                let vpc_id = vpc_of(aws, cluster).await?;
                let (cidr, subnets) = pod_networks(aws, &vpc_id, cluster).await?;
                (doc.vpc_cidr, doc.cluster_subnet_cidrs) = (Some(cidr), Some(subnets));
                doc.vpc_id = Some(vpc_id);
                scope.vpc_id = doc.vpc_id.clone();
            }
            Addon::CertManager => {
                // Empty when none was given: cert-manager's Route53 solver then finds the zone
                // of each name itself, and the ClusterIssuer can always carry the field.
                doc.hosted_zone_id = Some(spec.hosted_zone_id.clone().unwrap_or_default());
                if let Some(id) = &spec.hosted_zone_id {
                    doc.dns_zone = Some(zone_name(&aws.route53, id).await?);
                } else {
                    warn!(
                        "cert-manager may write TXT _acme-challenge records in every hosted zone of the account \
                         (--any-hosted-zone); pass --hosted-zone-id to narrow it to one"
                    );
                }
                scope.hosted_zone = spec.hosted_zone_id.clone();
            }
            Addon::ExternalSecrets => {
                doc.secrets_prefix = Some(spec.secrets_prefix.clone());
                scope.secret_stores_path = Some(secret_stores::path(stack));
            }
            // EKS tags a managed node group's Auto Scaling group for auto-discovery by itself
            // (k8s.io/cluster-autoscaler/enabled, k8s.io/cluster-autoscaler/<cluster>).
            Addon::ClusterAutoscaler => doc.node_group = Some(node_group_name(stack)),
            Addon::Karpenter => {
                let subnets = vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
                let security_group = vpc.and_then(|v| v.cluster_security_group_id()).map(str::to_owned);
                let side = karpenter::ensure(aws, stack, &account, &subnets, security_group.as_deref()).await?;
                scope.queue_arn = Some(side.queue_arn.clone());
                scope.node_role_arn = Some(side.node_role_arn.clone());
                doc.node_role_name = Some(RoleKind::KarpenterNode.role_name(stack));
                doc.node_role_arn = Some(side.node_role_arn);
                doc.interruption_queue = Some(side.queue_name);
                doc.discovery_tag_value = Some(stack.to_owned());
            }
        }
        let document = policy::document(addon, &scope)?;
        let trust = iam::Trust { account: &account, cluster: stack, auto_mode: false };
        doc.role_arn = iam::ensure_with_policy(&aws.iam, stack, RoleKind::Addon(addon), &trust, &document).await?;
        doc.association_id = pod_identity::ensure(&aws.eks, stack, addon, &doc.role_arn).await?;
        if addon == Addon::ExternalSecrets {
            let stores = secret_stores::Stores {
                stack,
                account: &account,
                controller_role_arn: &doc.role_arn,
                secrets_prefix: &spec.secrets_prefix,
            };
            let asked = spec.secret_namespaces.as_ref();
            doc.secret_stores = Some(secret_stores::ensure(&aws.iam, &stores, asked).await?);
        }
        info!("add-on {}: role {} for {}/{}", addon.name(), doc.role_name, doc.namespace, doc.service_account);
        out.insert(addon.name().to_owned(), doc);
    }
    Ok(out)
}

/// Deletes the AWS side of `addons`; returns `kind name` of what it removed.
pub async fn delete(aws: &Clients, stack: &str, addons: &[Addon], cluster_exists: bool) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    for &addon in addons {
        if cluster_exists && let Some(id) = pod_identity::delete(&aws.eks, stack, addon).await? {
            gone.push(format!("pod-identity-association {id}"));
        }
        if addon == Addon::Karpenter {
            gone.extend(karpenter::delete(aws, stack, cluster_exists).await?);
        }
        if addon == Addon::ExternalSecrets {
            gone.extend(secret_stores::delete(&aws.iam, stack).await?);
        }
        if iam::delete(&aws.iam, stack, RoleKind::Addon(addon)).await? {
            gone.push(format!("iam-role {}", RoleKind::Addon(addon).role_name(stack)));
        }
    }
    Ok(gone)
}

/// The dry-run steps for the add-ons: their roles, associations and Karpenter's parts.
pub async fn plan(
    aws: &Clients,
    stack: &str,
    spec: &AddonsSpec,
    cluster_exists: bool,
) -> anyhow::Result<Vec<PlannedAction>> {
    let mut steps = Vec::new();
    let step = |keep: bool, kind: &str, name: String, detail| PlannedAction::create_or_keep(keep, kind, &name, detail);
    for &addon in &spec.addons {
        let kind = RoleKind::Addon(addon);
        let role = iam::find(&aws.iam, stack, kind).await?.is_some();
        steps.push(step(role, "iam-role", kind.role_name(stack), Some(format!("inline policy for {}", addon.name()))));
        let association = cluster_exists && pod_identity::find(&aws.eks, stack, addon).await?.is_some();
        let sa = format!("{}/{}", addon.namespace(), addon.service_account());
        steps.push(step(association, "pod-identity-association", sa, None));
        if addon == Addon::Karpenter {
            steps.extend(karpenter::plan(aws, stack, cluster_exists).await?);
        }
        if addon == Addon::ExternalSecrets {
            steps.extend(secret_stores::plan(&aws.iam, stack, spec.secret_namespaces.as_ref()).await?);
        }
    }
    Ok(steps)
}

/// The cluster's VPC, as EKS reports it or else as its first subnet's.
async fn vpc_of(aws: &Clients, cluster: &Cluster) -> anyhow::Result<String> {
    let config = cluster.resources_vpc_config();
    if let Some(id) = config.and_then(|v| v.vpc_id()).filter(|id| !id.is_empty()) {
        return Ok(id.to_owned());
    }
    let subnet = config.and_then(|v| v.subnet_ids().first()).cloned().unwrap_or_default();
    let out = aws.ec2.describe_subnets().subnet_ids(&subnet).send().await.aws(format!("reading subnet {subnet}"))?;
    out.subnets().first().and_then(|s| s.vpc_id()).map(str::to_owned).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot tell the VPC of cluster {}: it reports no VPC and subnet {subnet} has none",
            cluster.name().unwrap_or_default()
        )
    })
}

/// The VPC's primary CIDR and the CIDRs of the cluster's subnets inside it (a subnet in a
/// secondary block is outside it, and a NetworkPolicy's `except` must lie inside its `cidr`).
async fn pod_networks(aws: &Clients, vpc_id: &str, cluster: &Cluster) -> anyhow::Result<(String, Vec<String>)> {
    let vpcs = aws.ec2.describe_vpcs().vpc_ids(vpc_id).send().await.aws(format!("reading VPC {vpc_id}"))?;
    let cidr = vpcs.vpcs().first().and_then(|v| v.cidr_block()).map(str::to_owned);
    let cidr = cidr.ok_or_else(|| anyhow::anyhow!("VPC {vpc_id} reports no CIDR block"))?;
    let ids = cluster.resources_vpc_config().map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
    let subnets = aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids))
        .send()
        .await
        .aws(format!("reading the subnets of cluster {}", cluster.name().unwrap_or_default()))?;
    let mut inside: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.cidr_block())
        .filter(|c| within(c, &cidr) && *c != cidr) // the API server wants a strict subset
        .map(str::to_owned)
        .collect();
    inside.sort();
    Ok((cidr, inside))
}

/// Whether IPv4 CIDR `inner` lies within `outer`.
fn within(inner: &str, outer: &str) -> bool {
    match (inner.parse::<ipnet::Ipv4Net>(), outer.parse::<ipnet::Ipv4Net>()) {
        (Ok(inner), Ok(outer)) => outer.contains(&inner),
        _ => false,
    }
}

async fn zone_name(route53: &aws_sdk_route53::Client, id: &str) -> anyhow::Result<String> {
    let out = route53.get_hosted_zone().id(id).send().await.aws(format!("reading Route53 hosted zone {id}"));
    match out {
        Ok(out) => Ok(out.hosted_zone.map(|z| z.name.trim_end_matches('.').to_owned()).unwrap_or_default()),
        Err(e) if aws_code(&e) == Some("NoSuchHostedZone") => Err(ekskit_core::Hinted::new(
            format!("Route53 hosted zone {id} does not exist in this account"),
            "pass the id of a zone you own (`aws route53 list-hosted-zones`), or leave --hosted-zone-id out",
        )
        .into()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_is_within_the_vpc_block_that_holds_it() {
        assert!(within("10.0.64.0/19", "10.0.0.0/16"));
        assert!(within("10.0.0.0/16", "10.0.0.0/16"));
        assert!(!within("100.64.0.0/19", "10.0.0.0/16"), "a secondary block");
        assert!(!within("10.0.0.0/8", "10.0.0.0/16"));
        assert!(!within("nonsense", "10.0.0.0/16"));
    }

    #[test]
    fn names_namespaces_and_inputs() {
        for addon in Addon::ALL {
            assert_eq!(Addon::parse(addon.name()), Some(addon));
            let value = <Addon as clap::ValueEnum>::to_possible_value(&addon).unwrap();
            assert_eq!(value.get_name(), addon.name(), "the flag and the document use one name");
        }
        assert_eq!(Addon::Karpenter.namespace(), "kube-system");
        assert_eq!(Addon::CertManager.namespace(), "cert-manager");
        assert_eq!(parse_hosted_zone("/hostedzone/Z0ABC123").unwrap(), "Z0ABC123");
        for bad in ["", "abc", "Z12*", "hostedzone/Z1", "example.com"] {
            assert!(parse_hosted_zone(bad).is_err(), "{bad}");
        }
        assert!(check_secrets_prefix("ekskit/demo/").is_ok());
        for bad in ["", "a*", "a b"] {
            assert!(check_secrets_prefix(bad).is_err(), "{bad}");
        }
        let account = Account::from_arn("arn:aws-cn:eks:cn-north-1:000000000000:cluster/demo").unwrap();
        assert_eq!((account.partition.as_str(), account.region.as_str()), ("aws-cn", "cn-north-1"));
        assert!(Account::from_arn("demo").is_err());
    }
}
