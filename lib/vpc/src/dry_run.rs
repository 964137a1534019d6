//! `--dry-run`: what converging or deleting would do, from the same reads, changing nothing.

use crate::cli::Spec;
use crate::create::nat_zones;
use crate::inventory::{Inventory, describe_remaining, role};
use crate::model::{Action, PlanDoc, PlannedAction};
use crate::plan::{SubnetPlan, Tier, Zone};

fn action(exists: Option<&str>, kind: &str, name: String) -> PlannedAction {
    PlannedAction::create_or_keep(exists.is_some(), kind, &name, None).with_id(exists.map(str::to_owned))
}

/// The plan for converging to `spec`.
pub fn create_plan(spec: &Spec, region: &str, zones: &[Zone], subnets: &[SubnetPlan], inv: &Inventory) -> PlanDoc {
    let mut actions = vec![action(inv.vpcs.first().and_then(|v| v.vpc_id()), "vpc", spec.cidr.to_string())];
    actions.push(action(
        inv.internet_gateways.first().and_then(|i| i.internet_gateway_id()),
        "internet-gateway",
        "igw".into(),
    ));
    for s in subnets {
        let role = match s.tier {
            Tier::Public => role::SUBNET_PUBLIC,
            Tier::Private => role::SUBNET_PRIVATE,
        };
        let existing = inv.subnet(role, &s.az).and_then(|x| x.subnet_id());
        actions.push(action(existing, "subnet", format!("{} {} {}", s.tier.as_str(), s.az, s.cidr)));
    }
    let nat_azs = nat_zones(spec.nat, zones);
    for az in &nat_azs {
        actions.push(action(inv.address(az).and_then(|a| a.allocation_id()), "elastic-ip", format!("nat {az}")));
        actions.push(action(inv.nat_gateway(az).and_then(|n| n.nat_gateway_id()), "nat-gateway", az.clone()));
    }
    for nat in &inv.nat_gateways {
        let az = crate::inventory::role_az(nat.tags()).1.unwrap_or_default();
        if !nat_azs.iter().any(|a| a == az) {
            let id = nat.nat_gateway_id().map(str::to_owned);
            actions.push(PlannedAction::new(Action::Delete, "nat-gateway", az, None).with_id(id));
        }
    }
    actions.push(action(
        inv.route_table(role::RTB_PUBLIC, None).and_then(|r| r.route_table_id()),
        "route-table",
        "public".into(),
    ));
    for z in zones {
        let existing = inv.route_table(role::RTB_PRIVATE, Some(&z.name)).and_then(|r| r.route_table_id());
        actions.push(action(existing, "route-table", format!("private {}", z.name)));
    }
    for e in spec.endpoints.iter().flat_map(|e| e.services()) {
        let service = format!("com.amazonaws.{region}.{e}");
        let existing = inv.endpoint(&service).and_then(|x| x.vpc_endpoint_id());
        actions.push(action(existing, "vpc-endpoint", service));
    }
    PlanDoc {
        stack: spec.stack.clone(),
        region: region.to_owned(),
        operation: "create".into(),
        cidr: Some(spec.cidr.to_string()),
        azs: zones.iter().map(|z| z.name.clone()).collect(),
        nat: Some(spec.nat),
        endpoints: spec.endpoints.clone(),
        actions,
    }
}

/// The plan for `--delete`: every resource the stack owns (plus what Kubernetes left in the
/// VPC, which is only found when deleting).
pub fn delete_plan(stack: &str, region: &str, inv: &Inventory) -> PlanDoc {
    let actions = describe_remaining(inv)
        .into_iter()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let kind = parts.next().unwrap_or_default().to_owned();
            let id = parts.next().map(str::to_owned);
            let name = parts.next().unwrap_or_default().trim_matches(['(', ')']).to_owned();
            PlannedAction::new(Action::Delete, &kind, &name, None).with_id(id)
        })
        .collect();
    PlanDoc {
        stack: stack.to_owned(),
        region: region.to_owned(),
        operation: "delete".into(),
        cidr: None,
        azs: vec![],
        nat: None,
        endpoints: vec![],
        actions,
    }
}
