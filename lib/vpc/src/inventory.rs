//! What the stack already owns in the region, found by the `ekskit.io/stack` tag.
//!
//! Every resource is tagged when it is created (TagSpecifications, in the same call), so a run
//! killed at any point leaves nothing untagged: the next run finds it here and carries on.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Address, Filter, InternetGateway, NatGateway, NatGatewayState, RouteTable, SecurityGroup, Subnet, Tag, Vpc,
    VpcEndpoint,
};
use ekskit_aws::AwsResultExt;
use ekskit_core::stack::{AZ_TAG, ROLE_TAG, STACK_TAG};

/// Roles (`ekskit.io/role` values) of the stack's resources.
pub mod role {
    pub const VPC: &str = "vpc";
    pub const IGW: &str = "internet-gateway";
    pub const SUBNET_PUBLIC: &str = "subnet-public";
    pub const SUBNET_PRIVATE: &str = "subnet-private";
    pub const EIP: &str = "nat-eip";
    pub const NAT: &str = "nat-gateway";
    pub const RTB_PUBLIC: &str = "route-table-public";
    pub const RTB_PRIVATE: &str = "route-table-private";
    pub const ENDPOINT: &str = "endpoint";
    pub const ENDPOINT_SG: &str = "endpoint-security-group";
}

#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    /// NAT gateways that are not deleted.
    pub nat_gateways: Vec<NatGateway>,
    pub addresses: Vec<Address>,
    pub route_tables: Vec<RouteTable>,
    /// Endpoints that are not deleted.
    pub endpoints: Vec<VpcEndpoint>,
    pub security_groups: Vec<SecurityGroup>,
}

pub fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// `(role, az)` of a tagged resource, the key it is found by.
pub fn role_az(tags: &[Tag]) -> (Option<&str>, Option<&str>) {
    (tag(tags, ROLE_TAG), tag(tags, AZ_TAG))
}

fn owned(stack: &str) -> Filter {
    Filter::builder().name(format!("tag:{STACK_TAG}")).values(stack).build()
}

impl Inventory {
    /// Everything tagged for `stack`, read concurrently.
    pub async fn load(ec2: &Client, stack: &str) -> anyhow::Result<Self> {
        let (vpcs, subnets, internet_gateways, nat_gateways, addresses, route_tables, endpoints, security_groups) = tokio::try_join!(
            async {
                ec2.describe_vpcs()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's VPCs")
            },
            async {
                ec2.describe_subnets()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's subnets")
            },
            async {
                ec2.describe_internet_gateways()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's internet gateways")
            },
            async {
                let all: Vec<NatGateway> = ec2
                    .describe_nat_gateways()
                    .filter(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's NAT gateways")?;
                Ok(all.into_iter().filter(|n| n.state() != Some(&NatGatewayState::Deleted)).collect::<Vec<_>>())
            },
            async {
                ec2.describe_addresses()
                    .filters(owned(stack))
                    .send()
                    .await
                    .aws("listing the stack's Elastic IPs")
                    .map(|out| out.addresses().to_vec())
            },
            async {
                ec2.describe_route_tables()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's route tables")
            },
            async {
                let all: Vec<VpcEndpoint> = ec2
                    .describe_vpc_endpoints()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's VPC endpoints")?;
                Ok(all.into_iter().filter(|e| !is_gone(e.state().map(|s| s.as_str()))).collect::<Vec<_>>())
            },
            async {
                ec2.describe_security_groups()
                    .filters(owned(stack))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("listing the stack's security groups")
            },
        )?;
        // The tag filter is applied again here: an API (or emulator) that ignored it must never
        // make us adopt, or delete, another stack's resources.
        let mine = |tags: &[Tag]| tag(tags, STACK_TAG) == Some(stack);
        Ok(Self {
            vpcs: vpcs.into_iter().filter(|x| mine(x.tags())).collect(),
            subnets: subnets.into_iter().filter(|x| mine(x.tags())).collect(),
            internet_gateways: internet_gateways.into_iter().filter(|x| mine(x.tags())).collect(),
            nat_gateways: nat_gateways.into_iter().filter(|x| mine(x.tags())).collect(),
            addresses: addresses.into_iter().filter(|x| mine(x.tags())).collect(),
            route_tables: route_tables.into_iter().filter(|x| mine(x.tags())).collect(),
            endpoints: endpoints.into_iter().filter(|x| mine(x.tags())).collect(),
            security_groups: security_groups.into_iter().filter(|x| mine(x.tags())).collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.nat_gateways.is_empty()
            && self.addresses.is_empty()
            && self.route_tables.is_empty()
            && self.endpoints.is_empty()
            && self.security_groups.is_empty()
    }

    pub fn subnet(&self, role: &str, az: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| role_az(s.tags()) == (Some(role), Some(az)))
    }

    pub fn address(&self, az: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| role_az(a.tags()) == (Some(role::EIP), Some(az)))
    }

    pub fn nat_gateway(&self, az: &str) -> Option<&NatGateway> {
        self.nat_gateways.iter().find(|n| role_az(n.tags()) == (Some(role::NAT), Some(az)))
    }

    pub fn route_table(&self, role: &str, az: Option<&str>) -> Option<&RouteTable> {
        self.route_tables.iter().find(|r| role_az(r.tags()) == (Some(role), az))
    }

    pub fn endpoint(&self, service: &str) -> Option<&VpcEndpoint> {
        self.endpoints.iter().find(|e| e.service_name() == Some(service))
    }

    pub fn endpoint_security_group(&self) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|g| tag(g.tags(), ROLE_TAG) == Some(role::ENDPOINT_SG))
    }
}

/// Endpoint states after which it no longer exists.
pub fn is_gone(state: Option<&str>) -> bool {
    matches!(
        state.map(str::to_ascii_lowercase).as_deref(),
        Some("deleted" | "deleting" | "rejected" | "failed" | "expired")
    )
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
