//! mkvpc: the VPC an EKS cluster runs in, created, converged and deleted by tag.
//!
//! - [`plan`]: zones and subnet CIDRs (pure)
//! - [`inventory`]: what the stack already owns, found by tag
//! - [`create`]: converging to the spec; [`delete`] and [`leftovers`]: taking it all away
//! - [`resources`]: deleting one resource, which converging and deleting both do
//! - [`dry_run`]: the plan, changing nothing; [`model`]: the JSON keys and their schemas

pub mod cli;
pub mod create;
pub mod delete;
pub mod dry_run;
pub mod inventory;
pub mod leftovers;
pub mod model;
mod outcome;
pub mod plan;
pub mod resources;
pub mod tagging;

use aws_sdk_ec2::Client;
use ekskit_core::output::emit;
use ekskit_core::{Document, InputError};
use tracing::info;

use crate::cli::{Args, Spec};
use crate::inventory::{Inventory, role, role_az};
use crate::leftovers::Leftovers;
use crate::model::DeletedDoc;
use crate::plan::{AzChoice, SubnetPlan, Tier, Zone};

pub async fn run(args: Args) -> anyhow::Result<()> {
    let doc = Document::from_stdin(args.stdin.mode())?;
    let input = cli::vpc_input(&doc)?;
    let spec = Spec::resolve(&args, &input)?;
    let config = ekskit_aws::load(&args.aws, input.region.as_deref()).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    // Another mkvpc on this stack (on this machine, or with --lease on any) waits instead of racing.
    let stack = spec.stack.clone();
    let run = converge(&args, doc, spec, &config, &region);
    ekskit_aws::lease::exclusive(&config, &args.lease, args.dry_run.on, (tagging::TOOL, &region, &stack), run).await
}

async fn converge(
    args: &Args,
    mut doc: Document,
    mut spec: Spec,
    config: &ekskit_aws::SdkConfig,
    region: &str,
) -> anyhow::Result<()> {
    let region = region.to_owned();
    let ec2 = Client::new(config);
    let inventory = Inventory::load(&ec2, &spec.stack).await?;
    if args.delete.on {
        if args.dry_run.on {
            doc.set_nested("plan", "vpc", &dry_run::delete_plan(&spec.stack, &region, &inventory))?;
            return emit(&doc);
        }
        if inventory.is_empty() {
            info!("stack {} owns nothing in {region}; nothing to delete", spec.stack);
        }
        let leftovers = Leftovers {
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
        };
        let resources = delete::delete_stack(&ec2, &leftovers, &spec.stack, &inventory, spec.timeout).await?;
        info!("deleted {} resources of stack {}", resources.len(), spec.stack);
        doc.remove("vpc");
        doc.set_nested("deleted", "vpc", &DeletedDoc { stack: spec.stack.clone(), region, resources })?;
        return emit(&doc);
    }

    // Deleting takes every VPC of the stack (a lost race leaves two); creating needs one.
    if inventory.vpcs.len() > 1 {
        let ids: Vec<&str> = inventory.vpcs.iter().filter_map(|v| v.vpc_id()).collect();
        return Err(ekskit_core::Hinted::new(
            format!("stack {} owns {} VPCs ({}); expected one", spec.stack, ids.len(), ids.join(", ")),
            "two runs raced, or a VPC was copied with its tags; delete the extra one (or all, with --delete) and re-run",
        )
        .into());
    }

    if spec.azs == AzChoice::Default
        && let Some(kept) = zones_in_use(&inventory)
    {
        spec.azs = AzChoice::Named(kept);
    }
    let zones = describe_zones(&ec2).await?;
    let azs = plan::select_azs(&region, &zones, &spec.azs)?;
    let subnets = plan::plan_subnets(spec.cidr, &azs)?;
    check_conflicts(&spec, &subnets, &inventory)?;

    if args.dry_run.on {
        doc.set_nested("plan", "vpc", &dry_run::create_plan(&spec, &region, &azs, &subnets, &inventory))?;
        return emit(&doc);
    }
    let new_eips = create::nat_zones(spec.nat, &azs).iter().filter(|az| inventory.address(az).is_none()).count();
    check_elastic_ip_quota(&ec2, new_eips).await?;
    let vpc = create::Converge {
        ec2: &ec2,
        spec: &spec,
        region: &region,
        zones: &azs,
        subnets: &subnets,
        inventory: &inventory,
    }
    .run()
    .await?;
    info!("VPC {} of stack {} is ready in {}", vpc.id, vpc.stack, vpc.azs.join(", "));
    doc.set("vpc", &vpc)?;
    emit(&doc)
}

/// NAT gateways need Elastic IPs, and the quota (5 per region by default) is often the first
/// thing to run out. Check before creating anything rather than fail half way (eksctl #1646).
async fn check_elastic_ip_quota(ec2: &Client, needed: usize) -> anyhow::Result<()> {
    use ekskit_aws::AwsResultExt;
    if needed == 0 {
        return Ok(());
    }
    let attributes = ec2.describe_account_attributes().send().await.aws("reading the account's EC2 limits")?;
    let limit = attributes
        .account_attributes()
        .iter()
        .find(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
        .and_then(|a| a.attribute_values().first())
        .and_then(|v| v.attribute_value())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(limit) = limit else { return Ok(()) };
    let used = ec2.describe_addresses().send().await.aws("listing Elastic IPs")?.addresses().len();
    if used + needed > limit {
        return Err(ekskit_core::Hinted::new(
            format!(
                "the NAT gateways need {needed} more Elastic IPs, but {used} of the region's {limit} are in use; nothing was created"
            ),
            ekskit_aws::errors::hint_for("AddressLimitExceeded").unwrap_or_default(),
        )
        .into());
    }
    Ok(())
}

async fn describe_zones(ec2: &Client) -> anyhow::Result<Vec<Zone>> {
    use ekskit_aws::AwsResultExt;
    let out = ec2.describe_availability_zones().send().await.aws("listing availability zones")?;
    Ok(out
        .availability_zones()
        .iter()
        .map(|z| Zone {
            name: z.zone_name().unwrap_or_default().to_owned(),
            id: z.zone_id().unwrap_or_default().to_owned(),
            state: z.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            zone_type: z.zone_type().unwrap_or("availability-zone").to_owned(),
        })
        .collect())
}

/// The zones recorded on the stack's VPC: a re-run without `--azs` keeps them.
fn zones_in_use(inv: &Inventory) -> Option<Vec<String>> {
    let recorded = inventory::tag(inv.vpcs.first()?.tags(), tagging::AZS_TAG)?;
    let zones: Vec<String> = recorded.split(',').filter(|z| !z.is_empty()).map(str::to_owned).collect();
    (zones.len() >= 2).then_some(zones)
}

/// An existing stack that was made with other flags is not silently rebuilt: say so, change nothing.
fn check_conflicts(spec: &Spec, plan: &[SubnetPlan], inv: &Inventory) -> Result<(), InputError> {
    let redo =
        format!("pass the flags of the first run, or delete the stack first (mkvpc --delete --name {})", spec.stack);
    if let Some(cidr) = inv.vpcs.first().and_then(|v| v.cidr_block())
        && cidr != spec.cidr.to_string()
    {
        return Err(InputError::new(format!(
            "stack {} already has VPC {} with CIDR {cidr}, not {}",
            spec.stack,
            inv.vpcs[0].vpc_id().unwrap_or_default(),
            spec.cidr
        ))
        .hint(redo));
    }
    for subnet in &inv.subnets {
        let (role, az) = role_az(subnet.tags());
        let tier = match role {
            Some(role::SUBNET_PUBLIC) => Tier::Public,
            Some(role::SUBNET_PRIVATE) => Tier::Private,
            _ => continue,
        };
        let id = subnet.subnet_id().unwrap_or_default();
        let have = subnet.cidr_block().unwrap_or_default();
        match plan.iter().find(|p| p.tier == tier && Some(p.az.as_str()) == az) {
            Some(p) if p.cidr.to_string() == have => {}
            Some(p) => {
                return Err(InputError::new(format!(
                    "{} subnet {id} in {} has CIDR {have}; this run plans {}",
                    tier.as_str(),
                    p.az,
                    p.cidr
                ))
                .hint(redo));
            }
            None => {
                return Err(InputError::new(format!(
                    "stack {} has a {} subnet {id} in {}, a zone this run does not use",
                    spec.stack,
                    tier.as_str(),
                    az.unwrap_or("an unknown zone")
                ))
                .hint(redo));
            }
        }
    }
    Ok(())
}
