//! `--delete`: removes everything the stack owns, in reverse order of creation, after what
//! Kubernetes left in the VPC. It keeps going past a failure so one stuck resource does not
//! leave everything else behind, then lists whatever remains and fails.

use std::time::Duration;

use aws_sdk_ec2::Client;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use futures::future::join_all;

use crate::inventory::{Inventory, describe_remaining};
use crate::leftovers::{self, Leftovers};
use crate::model::Removed;
use crate::outcome::Outcome;
use crate::resources::{
    delete_endpoints, delete_nat_gateway, delete_security_group, delete_when_free, not_found, release_address,
};

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
                    let detached = ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await;
                    match detached.aws(format!("detaching internet gateway {id} from {vpc}")) {
                        // Already detached: an earlier attempt whose answer was lost did it.
                        Err(e) if aws_code(&e) == Some("Gateway.NotAttached") => Ok(()),
                        other => other.map(drop),
                    }
                })
                .await?;
            }
            let deleted = ec2.delete_internet_gateway().internet_gateway_id(id).send().await;
            match deleted.aws(format!("deleting internet gateway {id}")) {
                // Gone already: an earlier attempt whose answer was lost deleted it.
                Err(e) if not_found(&e) => Ok(()),
                other => other.map(drop),
            }
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
