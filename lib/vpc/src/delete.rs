//! `--delete`: removes everything the stack owns, in reverse order of creation, after what
//! Kubernetes left in the VPC. It keeps going past a failure so one stuck resource does not
//! leave everything else behind, then lists whatever remains and fails.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Address, NatGatewayState};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::wait::{self, Backoff, Check};
use futures::future::join_all;
use tracing::{info, warn};

use crate::inventory::{Inventory, is_gone, role_az};
use crate::leftovers::{self, Leftovers};
use crate::model::Removed;

/// Codes that mean "already gone", which is what deleting wants.
fn not_found(err: &anyhow::Error) -> bool {
    aws_code(err).is_some_and(|c| c.ends_with("NotFound"))
}

/// Retries a delete that AWS refuses with DependencyViolation while something still lets go of
/// the resource (ENIs of a deleted load balancer, a NAT gateway's addresses).
async fn delete_when_free<F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> anyhow::Result<()>
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

/// What a delete run did and what it could not do.
#[derive(Default)]
pub(crate) struct Outcome {
    pub removed: Vec<Removed>,
    pub failures: Vec<String>,
}

impl Outcome {
    pub fn record(&mut self, kind: &str, id: &str, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self.removed.push(Removed { kind: kind.to_owned(), id: id.to_owned() }),
            Err(e) => {
                let cause = e.chain().last().map(ToString::to_string).unwrap_or_default();
                warn!("could not delete {kind} {id}: {cause}");
                self.failures.push(format!("{kind} {id}: {cause}"));
            }
        }
    }

    fn record_all(&mut self, kind: &str, results: Vec<(String, anyhow::Result<()>)>) {
        for (id, result) in results {
            self.record(kind, &id, result);
        }
    }
}

/// Deletes the whole stack. Returns what was removed; fails listing what remains.
pub async fn delete_stack(
    ec2: &Client,
    leftovers: &Leftovers,
    stack: &str,
    inventory: &Inventory,
    timeout: Duration,
) -> anyhow::Result<Vec<Removed>> {
    let mut out = Outcome::default();
    let vpc_ids: Vec<String> = inventory.vpcs.iter().filter_map(|v| v.vpc_id().map(str::to_owned)).collect();

    // 1. What Kubernetes made in the VPC: load balancers, their security groups, loose ENIs.
    for vpc in &vpc_ids {
        leftovers::clean(ec2, leftovers, vpc, timeout, &mut out).await;
    }
    // Something we may not remove still sits in the VPC: deleting subnets and the VPC would
    // only wait out the timeout on DependencyViolation. Say what it is now instead.
    if !out.failures.is_empty() {
        return Err(Hinted::new(
            format!("stack {stack} cannot be deleted yet: {}", out.failures.join("; ")),
            format!(
                "delete these (or the cluster that owns them) first, then run `mkvpc --delete --name {stack}` again; \
                 nothing of the stack's own was deleted"
            ),
        )
        .into());
    }

    // 2. Endpoints, then NAT gateways (both hold ENIs in our subnets), then their addresses.
    let endpoint_ids: Vec<String> =
        inventory.endpoints.iter().filter_map(|e| e.vpc_endpoint_id().map(str::to_owned)).collect();
    if !endpoint_ids.is_empty() {
        let result = delete_endpoints(ec2, &endpoint_ids, timeout).await;
        match result {
            Ok(()) => out
                .removed
                .extend(endpoint_ids.iter().map(|id| Removed { kind: "vpc-endpoint".into(), id: id.clone() })),
            Err(e) => out.record("vpc-endpoint", &endpoint_ids.join(","), Err(e)),
        }
    }
    let nats = join_all(
        inventory
            .nat_gateways
            .iter()
            .filter_map(|n| n.nat_gateway_id())
            .map(|id| async move { (id.to_owned(), delete_nat_gateway(ec2, id, timeout).await) }),
    )
    .await;
    out.record_all("nat-gateway", nats);
    for address in &inventory.addresses {
        let result = release_address(ec2, address).await;
        out.record("elastic-ip", address.allocation_id().unwrap_or_default(), result);
    }

    // 3. Route tables (their associations first), the internet gateway, subnets, groups, the VPC.
    for rt in &inventory.route_tables {
        let id = rt.route_table_id().unwrap_or_default();
        let result = async {
            for association in rt.associations().iter().filter(|a| a.main() != Some(true)) {
                let assoc = association.route_table_association_id().unwrap_or_default();
                match ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                    .aws(format!("disassociating {assoc}"))
                {
                    Err(e) if not_found(&e) => {}
                    other => drop(other?),
                }
            }
            delete_when_free(&format!("route table {id}"), timeout, || async {
                ec2.delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .aws(format!("deleting route table {id}"))
                    .map(drop)
            })
            .await
        }
        .await;
        out.record("route-table", id, result);
    }
    for igw in &inventory.internet_gateways {
        let id = igw.internet_gateway_id().unwrap_or_default();
        let result = async {
            for attachment in igw.attachments() {
                let vpc = attachment.vpc_id().unwrap_or_default();
                // Detaching fails while public IPs are mapped in the VPC; they go with the NATs and LBs.
                delete_when_free(&format!("internet gateway {id} attachment"), timeout, || async {
                    ec2.detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                        .send()
                        .await
                        .aws(format!("detaching internet gateway {id} from {vpc}"))
                        .map(drop)
                })
                .await?;
            }
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .aws(format!("deleting internet gateway {id}"))
                .map(drop)
        }
        .await;
        out.record("internet-gateway", id, result);
    }
    let subnets = join_all(inventory.subnets.iter().filter_map(|s| s.subnet_id()).map(|id| async move {
        let result = delete_when_free(&format!("subnet {id}"), timeout, || async {
            ec2.delete_subnet().subnet_id(id).send().await.aws(format!("deleting subnet {id}")).map(drop)
        })
        .await;
        (id.to_owned(), result)
    }))
    .await;
    out.record_all("subnet", subnets);
    for group in &inventory.security_groups {
        let id = group.group_id().unwrap_or_default();
        let result = delete_security_group(ec2, id, timeout).await;
        out.record("security-group", id, result);
    }
    for id in &vpc_ids {
        let result = delete_when_free(&format!("VPC {id}"), timeout, || async {
            ec2.delete_vpc().vpc_id(id).send().await.aws(format!("deleting VPC {id}")).map(drop)
        })
        .await;
        out.record("vpc", id, result);
    }

    // 4. Check: nothing may remain with the stack's tag.
    let after = Inventory::load(ec2, stack).await?;
    let remaining = describe_remaining(&after);
    if !remaining.is_empty() || !out.failures.is_empty() {
        let mut message = format!("could not delete everything of stack {stack}");
        if !remaining.is_empty() {
            message.push_str(&format!("; still there: {}", remaining.join(", ")));
        }
        if !out.failures.is_empty() {
            message.push_str(&format!("; failures: {}", out.failures.join("; ")));
        }
        return Err(Hinted::new(
            message,
            format!("remove what still uses these resources, then run `mkvpc --delete --name {stack}` again"),
        )
        .into());
    }
    Ok(out.removed)
}

/// One line per resource still tagged for the stack.
pub fn describe_remaining(inv: &Inventory) -> Vec<String> {
    let named = |kind: &str, id: Option<&str>, tags: &[aws_sdk_ec2::types::Tag]| {
        let (role, az) = role_az(tags);
        let what = [role, az].into_iter().flatten().collect::<Vec<_>>().join(" ");
        format!("{kind} {} ({what})", id.unwrap_or("?"))
    };
    let mut lines = Vec::new();
    lines.extend(inv.vpcs.iter().map(|v| named("vpc", v.vpc_id(), v.tags())));
    lines.extend(inv.subnets.iter().map(|s| named("subnet", s.subnet_id(), s.tags())));
    lines.extend(inv.internet_gateways.iter().map(|i| named("internet-gateway", i.internet_gateway_id(), i.tags())));
    lines.extend(inv.nat_gateways.iter().map(|n| named("nat-gateway", n.nat_gateway_id(), n.tags())));
    lines.extend(inv.addresses.iter().map(|a| named("elastic-ip", a.allocation_id(), a.tags())));
    lines.extend(inv.route_tables.iter().map(|r| named("route-table", r.route_table_id(), r.tags())));
    lines.extend(
        inv.endpoints
            .iter()
            .filter(|e| !is_gone(e.state().map(|s| s.as_str())))
            .map(|e| named("vpc-endpoint", e.vpc_endpoint_id(), e.tags())),
    );
    lines.extend(inv.security_groups.iter().map(|g| named("security-group", g.group_id(), g.tags())));
    lines
}
