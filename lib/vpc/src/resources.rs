//! Deleting one EC2 resource, taking "already gone" for done and waiting while something
//! still holds it. Its own module because converging (a NAT gateway, endpoint or group that
//! changed), deleting the stack and cleaning up after Kubernetes all remove these.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Address, NatGatewayState};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::wait::{self, Backoff, Check};
use tracing::info;

/// Codes that mean "already gone", which is what deleting wants.
pub(crate) fn not_found(err: &anyhow::Error) -> bool {
    aws_code(err).is_some_and(|c| c.ends_with("NotFound"))
}

/// Retries a delete that AWS refuses with DependencyViolation while something still lets go of
/// the resource (ENIs of a deleted load balancer, a NAT gateway's addresses).
pub(crate) async fn delete_when_free<F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let backoff = Backoff { initial: Duration::from_secs(3), max: Duration::from_secs(15), factor: 1.5 };
    wait::until(what, "deleted", timeout, backoff, || {
        let fut = attempt();
        async move {
            match fut.await {
                Ok(()) => Ok(Check::Ready(())),
                Err(e) if not_found(&e) => Ok(Check::Ready(())),
                Err(e) if aws_code(&e) == Some("DependencyViolation") => Ok(Check::Pending("still in use".into())),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

pub async fn delete_nat_gateway(ec2: &Client, id: &str, timeout: Duration) -> anyhow::Result<()> {
    match ec2.delete_nat_gateway().nat_gateway_id(id).send().await.aws(format!("deleting NAT gateway {id}")) {
        Err(e) if not_found(&e) => return Ok(()),
        other => drop(other?),
    }
    let what = format!("NAT gateway {id}");
    wait::until(&what, "deleted", timeout, Backoff::default(), || async {
        let out = ec2.describe_nat_gateways().nat_gateway_ids(id).send().await;
        let state = match out.aws(format!("reading {what}")) {
            Err(e) if not_found(&e) => return Ok(Check::Ready(())),
            other => other?.nat_gateways().first().and_then(|n| n.state().cloned()),
        };
        Ok::<_, anyhow::Error>(match state {
            None | Some(NatGatewayState::Deleted) => Check::Ready(()),
            Some(s) => Check::Pending(s.as_str().to_owned()),
        })
    })
    .await?;
    info!("deleted NAT gateway {id}");
    Ok(())
}

pub async fn release_address(ec2: &Client, address: &Address) -> anyhow::Result<()> {
    let id = address.allocation_id().unwrap_or_default();
    if let Some(association) = address.association_id() {
        match ec2
            .disassociate_address()
            .association_id(association)
            .send()
            .await
            .aws(format!("disassociating Elastic IP {id}"))
        {
            Err(e) if not_found(&e) => {}
            other => drop(other?),
        }
    }
    match ec2.release_address().allocation_id(id).send().await.aws(format!("releasing Elastic IP {id}")) {
        Err(e) if not_found(&e) => {}
        other => drop(other?),
    }
    info!("released Elastic IP {id}");
    Ok(())
}

pub async fn delete_endpoints(ec2: &Client, ids: &[String], timeout: Duration) -> anyhow::Result<()> {
    ec2.delete_vpc_endpoints()
        .set_vpc_endpoint_ids(Some(ids.to_vec()))
        .send()
        .await
        .aws(format!("deleting VPC endpoints {}", ids.join(", ")))?;
    let what = format!("VPC endpoints {}", ids.join(", "));
    wait::until(&what, "deleted", timeout, Backoff::default(), || async {
        let out = ec2.describe_vpc_endpoints().set_vpc_endpoint_ids(Some(ids.to_vec())).send().await;
        let remaining: Vec<String> = match out.aws(format!("reading {what}")) {
            Err(e) if not_found(&e) => return Ok(Check::Ready(())),
            other => other?
                .vpc_endpoints()
                .iter()
                .filter(|e| !matches!(e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref(), Some("deleted")))
                .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
                .collect(),
        };
        Ok::<_, anyhow::Error>(if remaining.is_empty() {
            Check::Ready(())
        } else {
            Check::Pending(format!("{} deleting", remaining.len()))
        })
    })
    .await?;
    info!("deleted VPC endpoints {}", ids.join(", "));
    Ok(())
}

pub async fn delete_security_group(ec2: &Client, id: &str, timeout: Duration) -> anyhow::Result<()> {
    delete_when_free(&format!("security group {id}"), timeout, || async {
        ec2.delete_security_group().group_id(id).send().await.aws(format!("deleting security group {id}")).map(drop)
    })
    .await?;
    info!("deleted security group {id}");
    Ok(())
}
