//! Converging the stack to the spec: find each resource by its tags, create what is missing,
//! fix what drifted, remove what the spec no longer wants. Independent resources are created
//! concurrently; the only wait is on NAT gateways becoming available.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, IpPermission, IpRange, NatGatewayState, ResourceType, RouteTable, SecurityGroup,
    Subnet, VpcEndpointType,
};
use ekskit_aws::once::{create_once, no_retries};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::ownership_tags;
use ekskit_core::wait::{self, Backoff, Check};
use futures::future::try_join_all;
use tracing::info;

use crate::cli::Spec;
use crate::inventory::{Inventory, role, role_az};
use crate::model::{EndpointDoc, NatGatewayDoc, NatMode, PrivateRouteTable, RouteTables, SubnetDoc, Subnets, VpcDoc};
use crate::plan::{SubnetPlan, Tier, Zone};
use crate::tagging::{AZS_TAG, TOOL, Tags};

const ANYWHERE: &str = "0.0.0.0/0";

/// For creates AWS takes no token for: sent once, a lost answer looked up ([`create_once`]).
fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(no_retries())
}

/// What converging needs: the client, the resolved spec and zones, and what already exists.
pub struct Converge<'a> {
    pub ec2: &'a Client,
    pub spec: &'a Spec,
    pub region: &'a str,
    pub zones: &'a [Zone],
    pub subnets: &'a [SubnetPlan],
    pub inventory: &'a Inventory,
}

/// The zones that get a NAT gateway under `mode`.
pub fn nat_zones(mode: NatMode, zones: &[Zone]) -> Vec<String> {
    match mode {
        NatMode::None => vec![],
        NatMode::Single => zones.iter().take(1).map(|z| z.name.clone()).collect(),
        NatMode::Ha => zones.iter().map(|z| z.name.clone()).collect(),
    }
}

/// The NAT zone serving the private subnet of `az`.
fn nat_zone_for(mode: NatMode, zones: &[Zone], az: &str) -> Option<String> {
    match mode {
        NatMode::None => None,
        NatMode::Single => zones.first().map(|z| z.name.clone()),
        NatMode::Ha => Some(az.to_owned()),
    }
}

impl Converge<'_> {
    fn stack(&self) -> &str {
        &self.spec.stack
    }

    pub async fn run(&self) -> anyhow::Result<VpcDoc> {
        let vpc_id = self.ensure_vpc().await?;
        let nat_azs = nat_zones(self.spec.nat, self.zones);
        let interface = self.spec.endpoints.iter().flat_map(|e| e.services()).any(|s| *s != "s3");
        let (igw, subnets, eips, endpoint_sg) = tokio::try_join!(
            self.ensure_internet_gateway(&vpc_id),
            try_join_all(self.subnets.iter().map(|plan| self.ensure_subnet(&vpc_id, plan))),
            try_join_all(nat_azs.iter().map(|az| self.ensure_eip(az))),
            async {
                match interface {
                    true => self.ensure_endpoint_security_group(&vpc_id).await.map(Some),
                    false => Ok(None),
                }
            },
        )?;
        let subnet_in =
            |tier: Tier, az: &str| subnets.iter().find(|(p, _)| p.tier == tier && p.az == az).map(|(_, s)| s.clone());
        let public_ids: Vec<String> =
            subnets.iter().filter(|(p, _)| p.tier == Tier::Public).map(|(_, s)| s.id.clone()).collect();
        let (public_rt, private_rts, nats) = tokio::try_join!(
            self.ensure_public_route_table(&vpc_id, &igw, &public_ids),
            try_join_all(self.zones.iter().map(|z| {
                let subnet = subnet_in(Tier::Private, &z.name).map(|s| s.id).unwrap_or_default();
                self.ensure_private_route_table(&vpc_id, &z.name, subnet)
            })),
            try_join_all(nat_azs.iter().zip(&eips).map(|(az, eip)| {
                let subnet = subnet_in(Tier::Public, az).map(|s| s.id).unwrap_or_default();
                self.ensure_nat_gateway(az, subnet, eip)
            })),
        )?;
        let nats: Vec<NatGatewayDoc> = try_join_all(nats.into_iter().map(|n| self.wait_nat_available(n))).await?;
        let mut private = Vec::new();
        for (zone, rt) in self.zones.iter().zip(&private_rts) {
            let nat = nat_zone_for(self.spec.nat, self.zones, &zone.name)
                .and_then(|az| nats.iter().find(|n| n.az == az))
                .map(|n| n.id.clone());
            self.ensure_default_route(rt, Target::Nat(nat.clone())).await?;
            private.push(PrivateRouteTable {
                id: rt.route_table_id().unwrap_or_default().to_owned(),
                az: zone.name.clone(),
                nat_gateway: nat,
            });
        }
        self.prune_nat_gateways(&nat_azs).await?;
        let mut route_table_ids = vec![public_rt.clone()];
        route_table_ids.extend(private.iter().map(|p| p.id.clone()));
        let private_ids: Vec<String> =
            subnets.iter().filter(|(p, _)| p.tier == Tier::Private).map(|(_, s)| s.id.clone()).collect();
        let endpoints = self.ensure_endpoints(&vpc_id, &route_table_ids, &private_ids, endpoint_sg.as_deref()).await?;
        let tier_docs = |tier: Tier| subnets.iter().filter(|(p, _)| p.tier == tier).map(|(_, s)| s.clone()).collect();
        Ok(VpcDoc {
            stack: self.stack().to_owned(),
            region: self.region.to_owned(),
            id: vpc_id,
            cidr: self.spec.cidr.to_string(),
            azs: self.zones.iter().map(|z| z.name.clone()).collect(),
            nat: self.spec.nat,
            subnets: Subnets { public: tier_docs(Tier::Public), private: tier_docs(Tier::Private) },
            internet_gateway: igw,
            nat_gateways: nats,
            route_tables: RouteTables { public: public_rt, private },
            endpoints,
            endpoint_security_group: endpoint_sg,
            tags: ownership_tags(self.stack(), TOOL).into_iter().collect::<BTreeMap<_, _>>(),
        })
    }

    /// The stack's resources as AWS holds them now: after a create whose answer was lost.
    async fn reload(&self) -> anyhow::Result<Inventory> {
        Inventory::load(self.ec2, self.stack()).await
    }

    /// Adds tags the resource lacks (someone removed them, or an older version did not set them).
    async fn ensure_tags(&self, id: &str, want: &Tags, have: &[aws_sdk_ec2::types::Tag]) -> anyhow::Result<()> {
        let missing = want.missing_from(have);
        if !missing.is_empty() {
            self.ec2.create_tags().resources(id).set_tags(Some(missing)).send().await.aws(format!("tagging {id}"))?;
            info!("restored tags on {id}");
        }
        Ok(())
    }

    async fn ensure_vpc(&self) -> anyhow::Result<String> {
        let zones: Vec<&str> = self.zones.iter().map(|z| z.name.as_str()).collect();
        let tags = Tags::new(self.stack(), role::VPC, None, "vpc").with(AZS_TAG, zones.join(","));
        let id = match self.inventory.vpcs.first() {
            Some(vpc) => {
                let id = vpc.vpc_id().unwrap_or_default().to_owned();
                self.ensure_tags(&id, &tags, vpc.tags()).await?;
                info!("found VPC {id} ({})", vpc.cidr_block().unwrap_or_default());
                id
            }
            None => {
                let what = format!("creating VPC {}", self.spec.cidr);
                let create = || async {
                    let call = self.ec2.create_vpc().cidr_block(self.spec.cidr.to_string());
                    let call = call.tag_specifications(tags.spec(ResourceType::Vpc)).customize();
                    let out = call.config_override(once()).send().await.aws(&what)?;
                    Ok(out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_owned())
                };
                let find =
                    || async { Ok(self.reload().await?.vpcs.first().and_then(|v| v.vpc_id()).map(str::to_owned)) };
                let id = create_once(&what, create, find).await?;
                info!("created VPC {id} ({})", self.spec.cidr);
                id
            }
        };
        // EKS needs both for private endpoint access and node registration; interface
        // endpoints need them for private DNS. AWS takes one attribute per call.
        for hostnames in [false, true] {
            self.ensure_vpc_dns(&id, hostnames).await?;
        }
        Ok(id)
    }

    async fn ensure_vpc_dns(&self, id: &str, hostnames: bool) -> anyhow::Result<()> {
        use aws_sdk_ec2::types::VpcAttributeName;
        let (attribute, what) = match hostnames {
            true => (VpcAttributeName::EnableDnsHostnames, "DNS hostnames"),
            false => (VpcAttributeName::EnableDnsSupport, "DNS support"),
        };
        let current = self
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(attribute)
            .send()
            .await
            .aws(format!("reading {what} of VPC {id}"))?;
        let enabled = match hostnames {
            true => current.enable_dns_hostnames().and_then(|a| a.value()),
            false => current.enable_dns_support().and_then(|a| a.value()),
        };
        if enabled != Some(true) {
            let on = AttributeBooleanValue::builder().value(true).build();
            let call = self.ec2.modify_vpc_attribute().vpc_id(id);
            let call = match hostnames {
                true => call.enable_dns_hostnames(on),
                false => call.enable_dns_support(on),
            };
            call.send().await.aws(format!("enabling {what} on VPC {id}"))?;
            info!("enabled {what} on VPC {id}");
        }
        Ok(())
    }

    async fn ensure_internet_gateway(&self, vpc_id: &str) -> anyhow::Result<String> {
        let tags = Tags::new(self.stack(), role::IGW, None, "igw");
        let (id, attached) = match self.inventory.internet_gateways.first() {
            Some(igw) => {
                let id = igw.internet_gateway_id().unwrap_or_default().to_owned();
                self.ensure_tags(&id, &tags, igw.tags()).await?;
                let attached = igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id));
                info!("found internet gateway {id}");
                (id, attached)
            }
            None => {
                let what = "creating the internet gateway";
                let create = || async {
                    let call = self.ec2.create_internet_gateway();
                    let call = call.tag_specifications(tags.spec(ResourceType::InternetGateway)).customize();
                    let out = call.config_override(once()).send().await.aws(what)?;
                    let id = out.internet_gateway().and_then(|i| i.internet_gateway_id()).unwrap_or_default();
                    Ok((id.to_owned(), false))
                };
                let find = || async {
                    let found = self.reload().await?.internet_gateways.first().cloned();
                    Ok(found.map(|igw| {
                        let attached = igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id));
                        (igw.internet_gateway_id().unwrap_or_default().to_owned(), attached)
                    }))
                };
                let (id, attached) = create_once(what, create, find).await?;
                info!("created internet gateway {id}");
                (id, attached)
            }
        };
        if !attached {
            let attach = self.ec2.attach_internet_gateway().internet_gateway_id(&id).vpc_id(vpc_id).send().await;
            match attach.aws(format!("attaching internet gateway {id} to VPC {vpc_id}")) {
                // Attached by an earlier attempt whose answer was lost (the SDK retried it).
                Err(e) if aws_code(&e) == Some("Resource.AlreadyAssociated") => {}
                other => drop(other?),
            }
            info!("attached internet gateway {id} to {vpc_id}");
        }
        Ok(id)
    }

    async fn ensure_subnet(&self, vpc_id: &str, plan: &SubnetPlan) -> anyhow::Result<(SubnetPlan, SubnetDoc)> {
        let (role, tier) = match plan.tier {
            Tier::Public => (role::SUBNET_PUBLIC, "public"),
            Tier::Private => (role::SUBNET_PRIVATE, "private"),
        };
        let tags = Tags::new(self.stack(), role, Some(&plan.az), &format!("{tier}-{}", plan.az))
            .kubernetes_subnet(self.stack(), plan.tier);
        let (id, maps_public_ip) = match self.inventory.subnet(role, &plan.az) {
            Some(subnet) => {
                let id = subnet.subnet_id().unwrap_or_default().to_owned();
                self.ensure_tags(&id, &tags, subnet.tags()).await?;
                info!("found {tier} subnet {id} ({}, {})", plan.az, plan.cidr);
                (id, subnet.map_public_ip_on_launch() == Some(true))
            }
            None => {
                let what = format!("creating {tier} subnet {} in {}", plan.cidr, plan.az);
                let create = || async {
                    let call = self.ec2.create_subnet().vpc_id(vpc_id).cidr_block(plan.cidr.to_string());
                    let call = call.availability_zone(&plan.az).tag_specifications(tags.spec(ResourceType::Subnet));
                    let out = call.customize().config_override(once()).send().await.aws(&what)?;
                    Ok((out.subnet().and_then(Subnet::subnet_id).unwrap_or_default().to_owned(), false))
                };
                let find = || async {
                    let inventory = self.reload().await?;
                    let found = inventory.subnet(role, &plan.az);
                    Ok(found.map(|s| {
                        (s.subnet_id().unwrap_or_default().to_owned(), s.map_public_ip_on_launch() == Some(true))
                    }))
                };
                let (id, maps_public_ip) = create_once(&what, create, find).await?;
                info!("created {tier} subnet {id} ({}, {})", plan.az, plan.cidr);
                (id, maps_public_ip)
            }
        };
        if plan.tier == Tier::Public && !maps_public_ip {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .aws(format!("turning on public IPs at launch in subnet {id}"))?;
        }
        let doc = SubnetDoc { id, az: plan.az.clone(), az_id: plan.az_id.clone(), cidr: plan.cidr.to_string() };
        Ok((plan.clone(), doc))
    }

    async fn ensure_eip(&self, az: &str) -> anyhow::Result<(String, Option<String>)> {
        if let Some(address) = self.inventory.address(az) {
            let id = address.allocation_id().unwrap_or_default().to_owned();
            info!("found Elastic IP {id} for the NAT gateway in {az}");
            return Ok((id, address.public_ip().map(str::to_owned)));
        }
        let tags = Tags::new(self.stack(), role::EIP, Some(az), &format!("nat-{az}"));
        let what = format!("allocating an Elastic IP for the NAT gateway in {az}");
        let create = || async {
            let call = self.ec2.allocate_address().domain(DomainType::Vpc);
            let call = call.tag_specifications(tags.spec(ResourceType::ElasticIp)).customize();
            let out = call.config_override(once()).send().await.aws(&what)?;
            Ok((out.allocation_id().unwrap_or_default().to_owned(), out.public_ip().map(str::to_owned)))
        };
        let find = || async {
            let inventory = self.reload().await?;
            let found = inventory.address(az);
            Ok(found.map(|a| (a.allocation_id().unwrap_or_default().to_owned(), a.public_ip().map(str::to_owned))))
        };
        let (id, ip) = create_once(&what, create, find).await?;
        info!("allocated Elastic IP {id} ({}) for the NAT gateway in {az}", ip.as_deref().unwrap_or("?"));
        Ok((id, ip))
    }

    async fn ensure_nat_gateway(
        &self,
        az: &str,
        subnet_id: String,
        eip: &(String, Option<String>),
    ) -> anyhow::Result<NatGatewayDoc> {
        let mut replaces = None;
        if let Some(nat) = self.inventory.nat_gateway(az) {
            let id = nat.nat_gateway_id().unwrap_or_default().to_owned();
            match nat.state() {
                Some(NatGatewayState::Failed) => {
                    // A failed NAT gateway never recovers; AWS removes it by itself after a while.
                    info!(
                        "NAT gateway {id} in {az} failed ({}); replacing it",
                        nat.failure_message().unwrap_or("no reason given")
                    );
                    self.ec2
                        .delete_nat_gateway()
                        .nat_gateway_id(&id)
                        .send()
                        .await
                        .aws(format!("deleting failed NAT gateway {id}"))?;
                    replaces = Some(id);
                }
                Some(NatGatewayState::Deleting) => {
                    info!("NAT gateway {id} in {az} is being deleted; creating a new one");
                    replaces = Some(id);
                }
                _ => {
                    info!("found NAT gateway {id} in {az}");
                    return Ok(NatGatewayDoc {
                        id,
                        az: az.to_owned(),
                        subnet_id,
                        allocation_id: eip.0.clone(),
                        public_ip: eip.1.clone(),
                    });
                }
            }
        }
        let id = self.create_nat_gateway(az, &subnet_id, &eip.0, replaces.as_deref()).await?;
        info!("created NAT gateway {id} in {az}");
        Ok(NatGatewayDoc { id, az: az.to_owned(), subnet_id, allocation_id: eip.0.clone(), public_ip: eip.1.clone() })
    }

    /// Creates the gateway and returns its id. AWS answers a client token it has seen with the
    /// gateway that token made, even once that gateway is gone: then the next token is derived
    /// from that gateway, so a re-run after a lost answer walks the same chain to the same one.
    async fn create_nat_gateway(
        &self,
        az: &str,
        subnet_id: &str,
        allocation_id: &str,
        replaces: Option<&str>,
    ) -> anyhow::Result<String> {
        let tags = Tags::new(self.stack(), role::NAT, Some(az), &format!("nat-{az}"));
        let mut token = nat_client_token(replaces.unwrap_or(subnet_id), allocation_id);
        for _ in 0..NAT_TOKEN_CHAIN {
            let out = self
                .ec2
                .create_nat_gateway()
                .subnet_id(subnet_id)
                .allocation_id(allocation_id)
                .client_token(&token)
                .tag_specifications(tags.spec(ResourceType::Natgateway))
                .send()
                .await
                .aws(format!("creating NAT gateway in {az}"))?;
            let nat = out.nat_gateway();
            let id = nat.and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_owned();
            match nat.and_then(|n| n.state()) {
                Some(state @ (NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)) => {
                    info!("NAT gateway {id} in {az}, made by an earlier run, is {state}; creating another");
                    token = nat_client_token(&id, allocation_id);
                }
                _ => return Ok(id),
            }
        }
        anyhow::bail!(
            "creating NAT gateway in {az}: AWS kept answering with gateways made earlier and now gone \
             ({NAT_TOKEN_CHAIN} in a row); wait until they are no longer listed, then run the same command again"
        )
    }

    async fn wait_nat_available(&self, nat: NatGatewayDoc) -> anyhow::Result<NatGatewayDoc> {
        let what = format!("NAT gateway {} ({})", nat.id, nat.az);
        wait::until(&what, "available", self.spec.timeout, Backoff::default(), || async {
            let out = self
                .ec2
                .describe_nat_gateways()
                .nat_gateway_ids(&nat.id)
                .send()
                .await
                .aws(format!("reading {what}"))?;
            let gw = out.nat_gateways().first();
            let failure = gw.map(|g| (g.failure_code(), g.failure_message()));
            Ok::<_, anyhow::Error>(nat_check(gw.and_then(|g| g.state()), failure.unwrap_or_default()))
        })
        .await?;
        Ok(nat)
    }

    async fn ensure_public_route_table(
        &self,
        vpc_id: &str,
        igw: &str,
        subnet_ids: &[String],
    ) -> anyhow::Result<String> {
        let rt = self.ensure_route_table(vpc_id, role::RTB_PUBLIC, None, "public").await?;
        self.ensure_default_route(&rt, Target::Gateway(igw.to_owned())).await?;
        for subnet in subnet_ids {
            self.ensure_association(&rt, subnet).await?;
        }
        Ok(rt.route_table_id().unwrap_or_default().to_owned())
    }

    async fn ensure_private_route_table(
        &self,
        vpc_id: &str,
        az: &str,
        subnet_id: String,
    ) -> anyhow::Result<RouteTable> {
        let rt = self.ensure_route_table(vpc_id, role::RTB_PRIVATE, Some(az), &format!("private-{az}")).await?;
        self.ensure_association(&rt, &subnet_id).await?;
        Ok(rt)
    }

    async fn ensure_route_table(
        &self,
        vpc_id: &str,
        role: &str,
        az: Option<&str>,
        suffix: &str,
    ) -> anyhow::Result<RouteTable> {
        if let Some(rt) = self.inventory.route_table(role, az) {
            info!("found route table {} ({suffix})", rt.route_table_id().unwrap_or_default());
            return Ok(rt.clone());
        }
        let tags = Tags::new(self.stack(), role, az, &format!("rtb-{suffix}"));
        // CreateRouteTable takes a client token, but AWS answers a token it saw with the table it
        // made then, even once deleted: a table removed by hand would come back as a dead id.
        let what = format!("creating the {suffix} route table");
        let create = || async {
            let call = self.ec2.create_route_table().vpc_id(vpc_id);
            let call = call.tag_specifications(tags.spec(ResourceType::RouteTable)).customize();
            let out = call.config_override(once()).send().await.aws(&what)?;
            out.route_table().cloned().context("AWS returned no route table")
        };
        let find = || async { Ok(self.reload().await?.route_table(role, az).cloned()) };
        let rt = create_once(&what, create, find).await?;
        info!("created route table {} ({suffix})", rt.route_table_id().unwrap_or_default());
        Ok(rt)
    }

    /// Makes `0.0.0.0/0` in `rt` go to `target`: creates, replaces a wrong or blackholed one, or
    /// removes it when the target is "no NAT".
    async fn ensure_default_route(&self, rt: &RouteTable, target: Target) -> anyhow::Result<()> {
        let rt_id = rt.route_table_id().unwrap_or_default();
        let current = rt.routes().iter().find(|r| r.destination_cidr_block() == Some(ANYWHERE));
        let current_target = current.and_then(|r| r.nat_gateway_id().or(r.gateway_id()));
        let blackhole = current.and_then(|r| r.state()).is_some_and(|s| s.as_str() == "blackhole");
        let want = target.id();
        if current_target == want && !blackhole {
            return Ok(());
        }
        let doing = format!("routing {ANYWHERE} in {rt_id} to {}", want.unwrap_or("nothing"));
        match (current.is_some(), &target) {
            (true, Target::Nat(None)) => {
                self.ec2
                    .delete_route()
                    .route_table_id(rt_id)
                    .destination_cidr_block(ANYWHERE)
                    .send()
                    .await
                    .aws(&doing)?;
            }
            (false, Target::Nat(None)) => return Ok(()),
            (exists, _) => {
                let result = if exists {
                    let call = self.ec2.replace_route().route_table_id(rt_id).destination_cidr_block(ANYWHERE);
                    match &target {
                        Target::Gateway(id) => call.gateway_id(id),
                        Target::Nat(id) => call.set_nat_gateway_id(id.clone()),
                    }
                    .send()
                    .await
                    .aws(&doing)
                    .map(drop)
                } else {
                    let call = self.ec2.create_route().route_table_id(rt_id).destination_cidr_block(ANYWHERE);
                    match &target {
                        Target::Gateway(id) => call.gateway_id(id),
                        Target::Nat(id) => call.set_nat_gateway_id(id.clone()),
                    }
                    .send()
                    .await
                    .aws(&doing)
                    .map(drop)
                };
                match result {
                    // A re-run after a crash may find the route made but not yet in its copy of the table.
                    Err(e) if aws_code(&e) == Some("RouteAlreadyExists") => {}
                    other => other?,
                }
            }
        }
        info!("{doing}");
        Ok(())
    }

    /// Associates `subnet_id` with `rt`, moving it from another table if it has one.
    async fn ensure_association(&self, rt: &RouteTable, subnet_id: &str) -> anyhow::Result<()> {
        let rt_id = rt.route_table_id().unwrap_or_default();
        if rt.associations().iter().any(|a| a.subnet_id() == Some(subnet_id)) {
            return Ok(());
        }
        let elsewhere = self
            .ec2
            .describe_route_tables()
            .filters(aws_sdk_ec2::types::Filter::builder().name("association.subnet-id").values(subnet_id).build())
            .send()
            .await
            .aws(format!("reading the route table of subnet {subnet_id}"))?;
        let existing =
            elsewhere.route_tables().iter().flat_map(|t| t.associations()).find(|a| a.subnet_id() == Some(subnet_id));
        match existing {
            Some(a) if a.route_table_id() == Some(rt_id) => return Ok(()),
            Some(a) => {
                self.ec2
                    .replace_route_table_association()
                    .association_id(a.route_table_association_id().unwrap_or_default())
                    .route_table_id(rt_id)
                    .send()
                    .await
                    .aws(format!("moving subnet {subnet_id} to route table {rt_id}"))?;
            }
            None => {
                let associated =
                    self.ec2.associate_route_table().route_table_id(rt_id).subnet_id(subnet_id).send().await;
                match associated.aws(format!("associating subnet {subnet_id} with route table {rt_id}")) {
                    // Associated by an earlier attempt whose answer was lost (the SDK retried it).
                    Err(e) if aws_code(&e) == Some("Resource.AlreadyAssociated") => {}
                    other => drop(other?),
                }
            }
        }
        info!("associated subnet {subnet_id} with route table {rt_id}");
        Ok(())
    }

    /// Deletes NAT gateways (and their Elastic IPs) in zones the NAT mode no longer wants,
    /// after the private routes stopped using them.
    async fn prune_nat_gateways(&self, wanted: &[String]) -> anyhow::Result<()> {
        let unwanted = |az: Option<&str>| az.is_some_and(|az| !wanted.iter().any(|w| w == az));
        let gone = self.inventory.nat_gateways.iter().filter(|n| unwanted(role_az(n.tags()).1));
        try_join_all(gone.map(|nat| async move {
            let id = nat.nat_gateway_id().unwrap_or_default();
            crate::resources::delete_nat_gateway(self.ec2, id, self.spec.timeout).await
        }))
        .await?;
        for address in self.inventory.addresses.iter().filter(|a| unwanted(role_az(a.tags()).1)) {
            crate::resources::release_address(self.ec2, address).await?;
        }
        Ok(())
    }

    async fn ensure_endpoint_security_group(&self, vpc_id: &str) -> anyhow::Result<String> {
        if let Some(group) = self.inventory.endpoint_security_group() {
            let id = group.group_id().unwrap_or_default().to_owned();
            info!("found endpoint security group {id}");
            // A run killed between creating the group and adding its rule, or a rule removed by
            // hand, leaves endpoints nothing can reach: the rule is repaired on every run.
            if !allows_https_from(group, &self.spec.cidr.to_string()) {
                info!("restoring the HTTPS rule of {id}");
                self.allow_https(&id).await?;
            }
            return Ok(id);
        }
        let tags = Tags::new(self.stack(), role::ENDPOINT_SG, None, "endpoints");
        let what = "creating the endpoint security group";
        let create = || async {
            let call =
                self.ec2.create_security_group().vpc_id(vpc_id).group_name(format!("{}-endpoints", self.stack()));
            let call = call.description("HTTPS from the VPC to its interface endpoints (ekskit mkvpc)");
            let call = call.tag_specifications(tags.spec(ResourceType::SecurityGroup)).customize();
            let out = call.config_override(once()).send().await.aws(what)?;
            Ok(out.group_id().unwrap_or_default().to_owned())
        };
        let find = || async {
            let inventory = self.reload().await?;
            Ok(inventory.endpoint_security_group().and_then(|g| g.group_id()).map(str::to_owned))
        };
        let id = create_once(what, create, find).await?;
        self.allow_https(&id).await?;
        info!("created endpoint security group {id}");
        Ok(id)
    }

    /// Allows HTTPS from the VPC's CIDR into the group; an existing identical rule is fine.
    async fn allow_https(&self, id: &str) -> anyhow::Result<()> {
        let https = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip(self.spec.cidr.to_string()).description("the VPC").build())
            .build();
        let allowed = self.ec2.authorize_security_group_ingress().group_id(id).ip_permissions(https).send().await;
        match allowed.aws(format!("allowing HTTPS from the VPC into {id}")) {
            Err(e) if aws_code(&e) == Some("InvalidPermission.Duplicate") => Ok(()),
            other => other.map(drop),
        }
    }

    async fn ensure_endpoints(
        &self,
        vpc_id: &str,
        route_tables: &[String],
        private_subnets: &[String],
        security_group: Option<&str>,
    ) -> anyhow::Result<Vec<EndpointDoc>> {
        let services: Vec<String> = self
            .spec
            .endpoints
            .iter()
            .flat_map(|e| e.services())
            .map(|s| format!("com.amazonaws.{}.{s}", self.region))
            .collect();
        let unwanted: Vec<String> = self
            .inventory
            .endpoints
            .iter()
            .filter(|e| !services.iter().any(|s| Some(s.as_str()) == e.service_name()))
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
            .collect();
        if !unwanted.is_empty() {
            crate::resources::delete_endpoints(self.ec2, &unwanted, self.spec.timeout).await?;
        }
        let mut docs = Vec::new();
        for service in &services {
            let gateway = service.ends_with(".s3");
            let kind = if gateway { VpcEndpointType::Gateway } else { VpcEndpointType::Interface };
            let id = match self.inventory.endpoint(service) {
                Some(existing) => {
                    let id = existing.vpc_endpoint_id().unwrap_or_default().to_owned();
                    if gateway {
                        let missing: Vec<String> = route_tables
                            .iter()
                            .filter(|rt| !existing.route_table_ids().contains(rt))
                            .cloned()
                            .collect();
                        if !missing.is_empty() {
                            self.ec2
                                .modify_vpc_endpoint()
                                .vpc_endpoint_id(&id)
                                .set_add_route_table_ids(Some(missing))
                                .send()
                                .await
                                .aws(format!("adding route tables to endpoint {id}"))?;
                        }
                    }
                    info!("found endpoint {id} ({service})");
                    id
                }
                None => {
                    let short = service.rsplit_once(&format!("{}.", self.region)).map_or(service.as_str(), |(_, s)| s);
                    let tags = Tags::new(self.stack(), role::ENDPOINT, None, &format!("endpoint-{short}"));
                    let what = format!("creating VPC endpoint {service}");
                    let create = || async {
                        let call = self
                            .ec2
                            .create_vpc_endpoint()
                            .vpc_id(vpc_id)
                            .service_name(service)
                            .vpc_endpoint_type(kind.clone())
                            .tag_specifications(tags.spec(ResourceType::VpcEndpoint));
                        let call = if gateway {
                            call.set_route_table_ids(Some(route_tables.to_vec()))
                        } else {
                            call.set_subnet_ids(Some(private_subnets.to_vec()))
                                .set_security_group_ids(security_group.map(|g| vec![g.to_owned()]))
                                .private_dns_enabled(true)
                        };
                        let out = call.customize().config_override(once()).send().await.aws(&what)?;
                        Ok(out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap_or_default().to_owned())
                    };
                    // An SDK retry after a lost answer made a second endpoint: sent once, and
                    // looked up by service before it is sent again.
                    let find = || async {
                        let reloaded = self.reload().await?;
                        Ok(reloaded.endpoint(service).and_then(|e| e.vpc_endpoint_id()).map(str::to_owned))
                    };
                    let id = create_once(&what, create, find).await?;
                    info!("created endpoint {id} ({service})");
                    id
                }
            };
            docs.push(EndpointDoc { service: service.clone(), id, kind: kind.as_str().to_owned() });
        }
        if security_group.is_none()
            && let Some(group) = self.inventory.endpoint_security_group()
        {
            crate::resources::delete_security_group(self.ec2, group.group_id().unwrap_or_default(), self.spec.timeout)
                .await?;
        }
        Ok(docs)
    }
}

/// Where a default route goes.
enum Target {
    Gateway(String),
    /// `None`: no NAT, so no default route.
    Nat(Option<String>),
}

impl Target {
    fn id(&self) -> Option<&str> {
        match self {
            Target::Gateway(id) => Some(id),
            Target::Nat(id) => id.as_deref(),
        }
    }
}

/// Reads a NAT gateway's state for the wait; a failure names AWS's `(failureCode, failureMessage)`.
pub fn nat_check(state: Option<&NatGatewayState>, failure: (Option<&str>, Option<&str>)) -> Check<()> {
    match state {
        Some(NatGatewayState::Available) => Check::Ready(()),
        Some(NatGatewayState::Failed) => Check::Failed(match failure {
            (Some(code), Some(message)) => format!("failed: {code}: {message}"),
            (code, message) => format!("failed: {}", message.or(code).unwrap_or("no reason given")),
        }),
        Some(NatGatewayState::Deleting | NatGatewayState::Deleted) => Check::Failed("deleted".into()),
        Some(other) => Check::Pending(other.as_str().to_owned()),
        None => Check::Pending("not visible yet".into()),
    }
}

/// How many gateways, made earlier and gone, a NAT creation follows through their tokens.
const NAT_TOKEN_CHAIN: usize = 8;

/// The idempotency token of a NAT gateway's creation: the same on a re-run after an answer was
/// lost (AWS then returns the gateway it made instead of a second one), different for every new
/// subnet or address. `base` is the subnet, or the gateway the new one replaces: a failed gateway
/// is replaced under a token of its own, since AWS would hand the old one back for the old token.
fn nat_client_token(base: &str, allocation_id: &str) -> String {
    // EC2 takes up to 64 ASCII characters; ids are at most 24 (subnet, NAT gateway) and 26.
    format!("ekskit-{base}-{allocation_id}").chars().take(64).collect()
}

/// Whether the group lets TCP 443 in from `cidr` (one rule may cover a wider port range).
fn allows_https_from(group: &SecurityGroup, cidr: &str) -> bool {
    group.ip_permissions().iter().any(|p| {
        matches!(p.ip_protocol(), Some("tcp" | "6" | "-1"))
            && (p.ip_protocol() == Some("-1")
                || (p.from_port().unwrap_or(0) <= 443 && p.to_port().unwrap_or(65535) >= 443))
            && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some(cidr))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(names: &[&str]) -> Vec<Zone> {
        names
            .iter()
            .map(|n| Zone {
                name: (*n).into(),
                id: String::new(),
                state: "available".into(),
                zone_type: "availability-zone".into(),
            })
            .collect()
    }

    #[test]
    fn nat_zones_by_mode() {
        let z = zones(&["a", "b", "c"]);
        assert_eq!(nat_zones(NatMode::Single, &z), ["a"]);
        assert_eq!(nat_zones(NatMode::Ha, &z), ["a", "b", "c"]);
        assert!(nat_zones(NatMode::None, &z).is_empty());
        assert_eq!(nat_zone_for(NatMode::Single, &z, "c").as_deref(), Some("a"));
        assert_eq!(nat_zone_for(NatMode::Ha, &z, "c").as_deref(), Some("c"));
    }

    #[test]
    fn nat_states_as_recorded_from_aws() {
        // States and failure text as DescribeNatGateways returns them.
        assert_eq!(nat_check(Some(&NatGatewayState::Pending), (None, None)), Check::Pending("pending".into()));
        assert_eq!(nat_check(Some(&NatGatewayState::Available), (None, None)), Check::Ready(()));
        assert_eq!(
            nat_check(
                Some(&NatGatewayState::Failed),
                (Some("Resource.AlreadyAssociated"), Some("Elastic IP address [eipalloc-1] is already associated"))
            ),
            Check::Failed(
                "failed: Resource.AlreadyAssociated: Elastic IP address [eipalloc-1] is already associated".into()
            )
        );
        assert_eq!(
            nat_check(Some(&NatGatewayState::Failed), (None, None)),
            Check::Failed("failed: no reason given".into())
        );
        assert_eq!(nat_check(Some(&NatGatewayState::Deleted), (None, None)), Check::Failed("deleted".into()));
    }

    #[test]
    fn nat_tokens_follow_the_subnet_and_the_address() {
        let token = nat_client_token("subnet-0123456789abcdef0", "eipalloc-0123456789abcdef0");
        assert_eq!(token, "ekskit-subnet-0123456789abcdef0-eipalloc-0123456789abcdef0");
        assert!(token.len() <= 64);
        assert_ne!(token, nat_client_token("subnet-0123456789abcdef0", "eipalloc-0fedcba9876543210"));
        let replacing = nat_client_token("nat-0123456789abcdef0", "eipalloc-0123456789abcdef0");
        assert_eq!(replacing, "ekskit-nat-0123456789abcdef0-eipalloc-0123456789abcdef0");
        assert!(replacing.len() <= 64);
    }

    #[test]
    fn https_rule_detection() {
        let rule = |proto: &str, from: i32, to: i32, cidr: &str| {
            IpPermission::builder()
                .ip_protocol(proto)
                .from_port(from)
                .to_port(to)
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build()
        };
        let group = |rules: Vec<IpPermission>| SecurityGroup::builder().set_ip_permissions(Some(rules)).build();
        assert!(allows_https_from(&group(vec![rule("tcp", 443, 443, "10.0.0.0/16")]), "10.0.0.0/16"));
        assert!(allows_https_from(&group(vec![rule("tcp", 0, 65535, "10.0.0.0/16")]), "10.0.0.0/16"));
        assert!(allows_https_from(&group(vec![rule("-1", -1, -1, "10.0.0.0/16")]), "10.0.0.0/16"));
        assert!(!allows_https_from(&group(vec![]), "10.0.0.0/16"));
        assert!(!allows_https_from(&group(vec![rule("tcp", 443, 443, "10.1.0.0/16")]), "10.0.0.0/16"));
        assert!(!allows_https_from(&group(vec![rule("udp", 443, 443, "10.0.0.0/16")]), "10.0.0.0/16"));
    }
}
