//! What Kubernetes leaves in a VPC and what blocks deleting it: load balancers made for
//! Services (in-tree cloud provider: classic ELB/NLB; AWS Load Balancer Controller: ALB/NLB),
//! their target groups and security groups, and ENIs the VPC CNI detached but did not delete
//! (eksctl #616, #7589, #4932).
//!
//! Only resources whose tags say Kubernetes or EKS made them are removed; anything else found
//! in the VPC is reported and left alone.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancing::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::Client as Elbv2Client;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::wait::{self, Backoff, Check};
use tracing::info;

use crate::outcome::Outcome;
use crate::resources::delete_security_group;

/// The load balancer clients; EC2 is passed separately.
pub struct Leftovers {
    pub elb: ElbClient,
    pub elbv2: Elbv2Client,
}

/// Tag keys set by Kubernetes' cloud provider, the AWS Load Balancer Controller or EKS.
pub fn made_by_kubernetes<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    keys.any(|k| {
        k.starts_with("kubernetes.io/cluster/")
            || k == "elbv2.k8s.aws/cluster"
            || k == "service.k8s.aws/stack"
            || k == "aws:eks:cluster-name"
    })
}

fn vpc_filter(vpc: &str) -> Filter {
    Filter::builder().name("vpc-id").values(vpc).build()
}

/// Removes the Kubernetes leftovers in `vpc`. Returns what was removed and what failed or was
/// left alone (anything not made by Kubernetes that would still block the VPC's deletion).
pub(crate) async fn clean(ec2: &Client, lb: &Leftovers, vpc: &str, timeout: Duration, out: &mut Outcome) {
    match load_balancers_v2(lb, vpc).await {
        Ok((ours, foreign)) => {
            for arn in ours {
                let result = delete_load_balancer_v2(lb, &arn, timeout).await;
                out.record("load-balancer", &arn, result);
            }
            for arn in foreign {
                out.failures.push(format!("load balancer {arn} is in the VPC but not made by Kubernetes; left alone"));
            }
        }
        Err(e) => out.record("load-balancer", &format!("(in {vpc})"), Err(e)),
    }
    match target_groups(lb, vpc).await {
        Ok(arns) => {
            for arn in arns {
                let result = lb
                    .elbv2
                    .delete_target_group()
                    .target_group_arn(&arn)
                    .send()
                    .await
                    .aws(format!("deleting target group {arn}"))
                    .map(drop);
                out.record("target-group", &arn, result);
            }
        }
        Err(e) => out.record("target-group", &format!("(in {vpc})"), Err(e)),
    }
    match classic_load_balancers(lb, vpc).await {
        Ok((ours, foreign)) => {
            for name in ours {
                let result = lb
                    .elb
                    .delete_load_balancer()
                    .load_balancer_name(&name)
                    .send()
                    .await
                    .aws(format!("deleting classic load balancer {name}"))
                    .map(drop);
                out.record("classic-load-balancer", &name, result);
            }
            for name in foreign {
                out.failures
                    .push(format!("classic load balancer {name} is in the VPC but not made by Kubernetes; left alone"));
            }
        }
        Err(e) => out.record("classic-load-balancer", &format!("(in {vpc})"), Err(e)),
    }
    match kubernetes_security_groups(ec2, vpc).await {
        Ok(groups) => {
            if let Err(e) = revoke_references(ec2, vpc, &groups).await {
                out.record("security-group-rule", &format!("(in {vpc})"), Err(e));
            }
            for id in groups {
                let result = delete_security_group(ec2, &id, timeout).await;
                out.record("security-group", &id, result);
            }
        }
        Err(e) => out.record("security-group", &format!("(in {vpc})"), Err(e)),
    }
    match detached_interfaces(ec2, vpc).await {
        Ok(enis) => {
            for id in enis {
                let result = match ec2
                    .delete_network_interface()
                    .network_interface_id(&id)
                    .send()
                    .await
                    .aws(format!("deleting network interface {id}"))
                {
                    Err(e) if aws_code(&e) == Some("InvalidNetworkInterfaceID.NotFound") => Ok(()),
                    other => other.map(drop),
                };
                if result.is_ok() {
                    info!("deleted detached network interface {id}");
                }
                out.record("network-interface", &id, result);
            }
        }
        Err(e) => out.record("network-interface", &format!("(in {vpc})"), Err(e)),
    }
}

/// ALBs/NLBs in the VPC: (made by Kubernetes, others).
async fn load_balancers_v2(lb: &Leftovers, vpc: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let all = lb
        .elbv2
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing load balancers")?;
    let arns: Vec<String> = all
        .iter()
        .filter(|l| l.vpc_id() == Some(vpc))
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    split_by_tags_v2(lb, arns).await
}

async fn target_groups(lb: &Leftovers, vpc: &str) -> anyhow::Result<Vec<String>> {
    let all = lb
        .elbv2
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing target groups")?;
    let arns: Vec<String> = all
        .iter()
        .filter(|t| t.vpc_id() == Some(vpc))
        .filter_map(|t| t.target_group_arn().map(str::to_owned))
        .collect();
    Ok(split_by_tags_v2(lb, arns).await?.0)
}

/// Reads tags 20 ARNs at a time (the API's limit) and splits by [`made_by_kubernetes`].
async fn split_by_tags_v2(lb: &Leftovers, arns: Vec<String>) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut ours, mut foreign) = (Vec::new(), Vec::new());
    for chunk in arns.chunks(20) {
        let out = lb
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .aws("reading load balancer tags")?;
        for arn in chunk {
            let desc = out.tag_descriptions().iter().find(|d| d.resource_arn() == Some(arn.as_str()));
            let keys = desc.map(|d| d.tags()).unwrap_or_default().iter().filter_map(|t| t.key());
            if made_by_kubernetes(keys) { ours.push(arn.clone()) } else { foreign.push(arn.clone()) }
        }
    }
    Ok((ours, foreign))
}

async fn delete_load_balancer_v2(lb: &Leftovers, arn: &str, timeout: Duration) -> anyhow::Result<()> {
    lb.elbv2.delete_load_balancer().load_balancer_arn(arn).send().await.aws(format!("deleting load balancer {arn}"))?;
    wait::until(&format!("load balancer {arn}"), "deleted", timeout, Backoff::default(), || async {
        let out = lb
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .aws(format!("reading load balancer {arn}"));
        Ok::<_, anyhow::Error>(match out {
            Err(e) if aws_code(&e) == Some("LoadBalancerNotFound") => Check::Ready(()),
            Err(e) => return Err(e),
            Ok(o) if o.load_balancers().is_empty() => Check::Ready(()),
            Ok(_) => Check::Pending("deleting".into()),
        })
    })
    .await?;
    info!("deleted load balancer {arn}");
    Ok(())
}

/// Classic ELBs in the VPC: (made by Kubernetes, others).
async fn classic_load_balancers(lb: &Leftovers, vpc: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let all = lb
        .elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing classic load balancers")?;
    let names: Vec<String> = all
        .iter()
        .filter(|l| l.vpc_id() == Some(vpc))
        .filter_map(|l| l.load_balancer_name().map(str::to_owned))
        .collect();
    let (mut ours, mut foreign) = (Vec::new(), Vec::new());
    for chunk in names.chunks(20) {
        let out = lb
            .elb
            .describe_tags()
            .set_load_balancer_names(Some(chunk.to_vec()))
            .send()
            .await
            .aws("reading classic load balancer tags")?;
        for name in chunk {
            let desc = out.tag_descriptions().iter().find(|d| d.load_balancer_name() == Some(name.as_str()));
            let keys = desc.map(|d| d.tags()).unwrap_or_default().iter().map(|t| t.key());
            if made_by_kubernetes(keys) { ours.push(name.clone()) } else { foreign.push(name.clone()) }
        }
    }
    Ok((ours, foreign))
}

async fn kubernetes_security_groups(ec2: &Client, vpc: &str) -> anyhow::Result<Vec<String>> {
    let groups = ec2
        .describe_security_groups()
        .filters(vpc_filter(vpc))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing security groups in the VPC")?;
    Ok(groups
        .iter()
        .filter(|g| g.group_name() != Some("default"))
        .filter(|g| made_by_kubernetes(g.tags().iter().filter_map(|t| t.key())))
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect())
}

/// Rules in other groups that name a group we are about to delete keep it alive: revoke them.
async fn revoke_references(ec2: &Client, vpc: &str, doomed: &[String]) -> anyhow::Result<()> {
    if doomed.is_empty() {
        return Ok(());
    }
    let groups = ec2
        .describe_security_groups()
        .filters(vpc_filter(vpc))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing security groups in the VPC")?;
    for group in &groups {
        let id = group.group_id().unwrap_or_default();
        let referencing = |perms: &[aws_sdk_ec2::types::IpPermission]| -> Vec<aws_sdk_ec2::types::IpPermission> {
            perms
                .iter()
                .filter(|p| {
                    p.user_id_group_pairs()
                        .iter()
                        .any(|pair| pair.group_id().is_some_and(|g| doomed.iter().any(|d| d == g)))
                })
                .cloned()
                .collect()
        };
        let ingress = referencing(group.ip_permissions());
        if !ingress.is_empty() {
            ec2.revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ingress))
                .send()
                .await
                .aws(format!("revoking rules of {id}"))?;
        }
        let egress = referencing(group.ip_permissions_egress());
        if !egress.is_empty() {
            ec2.revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .aws(format!("revoking rules of {id}"))?;
        }
    }
    Ok(())
}

/// ENIs in the VPC that nothing uses any more.
async fn detached_interfaces(ec2: &Client, vpc: &str) -> anyhow::Result<Vec<String>> {
    let available = Filter::builder().name("status").values("available").build();
    let enis = ec2
        .describe_network_interfaces()
        .filters(vpc_filter(vpc))
        .filters(available)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("listing network interfaces in the VPC")?;
    Ok(enis.iter().filter_map(|e| e.network_interface_id().map(str::to_owned)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_what_kubernetes_and_eks_tag() {
        assert!(made_by_kubernetes(["kubernetes.io/cluster/demo", "Name"].into_iter()));
        assert!(made_by_kubernetes(["elbv2.k8s.aws/cluster"].into_iter()));
        assert!(made_by_kubernetes(["aws:eks:cluster-name"].into_iter()));
        assert!(!made_by_kubernetes(["Name", "ekskit.io/stack", "kubernetes.io/role/elb"].into_iter()));
    }
}
