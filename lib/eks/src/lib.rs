//! mkeks: the EKS cluster for a VPC, with its IAM roles, KMS key and managed node group;
//! created, converged and deleted by name and ownership tag.
//!
//! - [`cli`]: flags and the resolved [`cli::Spec`]; [`subnets`]: checks before creating
//! - [`iam`], [`kms`], [`cluster`] (cluster and node group, waits, root causes), [`managed`]
//!   (the EKS managed add-ons), [`addons`] (the AWS side of `--addon`: roles, Pod Identity, Karpenter),
//!   [`auto_mode`] (`--auto-mode`: EKS runs the nodes), [`capability`] (`--capability argocd`)
//! - [`plan`]: `--dry-run`; [`kubeconfig`]: `--kubeconfig`; [`model`]: the JSON keys and schemas
//! - [`versions`]: the Kubernetes versions EKS offers, and the one a new cluster gets;
//!   [`upgrade`]: `--upgrade`, one minor at a time

pub mod access;
pub mod account;
pub mod addons;
pub mod auto_mode;
pub mod capability;
pub mod cli;
pub mod cluster;
pub mod health;
pub mod iam;
pub mod kms;
pub mod kubeconfig;
pub mod launch_template;
pub mod managed;
pub mod model;
pub mod names;
pub mod plan;
pub mod subnets;
pub mod upgrade;
pub mod versions;

use std::time::Duration;

use aws_sdk_eks::types::{Cluster, Nodegroup};
use ekskit_core::Document;
use ekskit_core::output::emit;
use tracing::info;

use crate::account::Account;
use crate::addons::Addon;
use crate::cli::{Args, ResolveSpec, Spec};
use crate::iam::RoleKind;
use crate::managed::ManagedAddonDoc;
use crate::model::{ClusterDoc, DeletedDoc, LaunchTemplateDoc, NodeGroupDoc, RolesDoc};

/// Written into the `ekskit.io/managed-by` tag.
pub const TOOL: &str = "mkeks";

/// The AWS clients mkeks uses, made once from one configuration.
pub struct Clients {
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub route53: aws_sdk_route53::Client,
    pub sts: aws_sdk_sts::Client,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let doc = Document::from_stdin(args.stdin.mode())?;
    let region_hint = ekskit_aws::document_region(&doc)?;
    let spec = Spec::resolve(&args, &doc)?;
    let config = ekskit_aws::load(&args.aws, region_hint.as_deref()).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let aws = Clients {
        eks: aws_sdk_eks::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        kms: aws_sdk_kms::Client::new(&config),
        ec2: aws_sdk_ec2::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
        events: aws_sdk_eventbridge::Client::new(&config),
        route53: aws_sdk_route53::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
    };
    // Another mkeks on this cluster (on this machine, or with --lease on any) waits instead of
    // racing.
    let name = spec.name.clone();
    let run = converge(&args, &aws, doc, spec, region.clone());
    ekskit_aws::lease::exclusive(&config, &args.lease, args.dry_run.on, (TOOL, &region, &name), run).await
}

async fn converge(args: &Args, aws: &Clients, mut doc: Document, spec: Spec, region: String) -> anyhow::Result<()> {
    let asked = cli::asked_version(args, &doc)?;
    if args.delete.on && !args.addons.is_empty() {
        return delete_addons(aws, &spec, &region, doc, args.dry_run.on).await;
    }
    if args.delete.on {
        // Before anything goes: EKS would refuse the cluster at the end, leaving it half torn down.
        if let Some(c) = cluster::find(&aws.eks, &spec.name).await? {
            cluster::check_deletable(&c)?;
        }
        if args.dry_run.on {
            doc.set_nested("plan", "cluster", &plan::delete_plan(aws, &spec, &region).await?)?;
            return emit(&doc);
        }
        let resources = delete_all(aws, &spec, args.timeout.limit).await?;
        info!("deleted {} resources of cluster {}", resources.len(), spec.name);
        let left = plan::delete_plan(aws, &spec, &region).await?.actions;
        if !left.is_empty() {
            let names: Vec<String> = left.iter().map(|a| format!("{} {}", a.kind, a.name)).collect();
            return Err(ekskit_core::Hinted::new(
                format!("cluster {} still has: {}", spec.name, names.join(", ")),
                "run mkeks --delete again; if they stay, their AWS status (console or API) says what holds them",
            )
            .into());
        }
        doc.remove("cluster");
        doc.set_nested("deleted", "cluster", &DeletedDoc::new(&spec.name, region, resources))?;
        return emit(&doc);
    }

    if let Some(path) = &args.kubeconfig {
        kubeconfig::check(path)?;
    }
    subnets::check(&aws.ec2, &spec).await?;
    let mut existing = cluster::find(&aws.eks, &spec.name).await?;
    let mut spec = spec;
    spec.addons.addons.extend(addons::present(aws, &spec.name).await?);
    addons::check_present(&spec.addons, &spec.name)?;
    let mut upgraded = None;
    if args.upgrade {
        let Some(c) = &existing else {
            let message = format!("there is no EKS cluster {} to upgrade", spec.name);
            return Err(ekskit_core::InputError::new(message).hint("create it first: mkeks without --upgrade").into());
        };
        let offered = versions::offered(&aws.eks).await?;
        let target = upgrade::target(offered.as_deref(), c.version().unwrap_or_default(), args.to.as_deref())?;
        if args.dry_run.on {
            let steps = upgrade::plan(&aws.eks, &spec.name, &target).await?;
            spec.version = target;
            let mut plan = plan::create_plan(aws, &spec, &region).await?;
            plan.actions = steps.into_iter().chain(plan.actions).collect();
            doc.set_nested("plan", "cluster", &plan)?;
            return emit(&doc);
        }
        let opts = upgrade::Options { force: args.force, timeout: args.timeout.limit };
        upgraded = Some(upgrade::run(&aws.eks, &spec.name, &target, &opts).await?);
        existing = cluster::find(&aws.eks, &spec.name).await?;
    }
    spec.version = match &existing {
        // A re-run without a version keeps the cluster's; one with another is refused below.
        Some(c) if args.upgrade => c.version().unwrap_or_default().to_owned(),
        Some(c) => asked.unwrap_or_else(|| c.version().unwrap_or_default().to_owned()),
        None => versions::choose(versions::offered(&aws.eks).await?.as_deref(), asked.as_deref())?,
    };
    if let Some(c) = &existing {
        // A cluster in Auto Mode stays in it, with or without the flag or the document.
        spec.auto_mode |= auto_mode::is_on(c);
        // Secrets are encrypted as the cluster was made: a re-run without --no-secrets-encryption
        // makes no key the cluster would not use.
        spec.secrets_encryption = !c.encryption_config().is_empty();
        cli::check_auto_mode(&spec)?;
        cluster::check_compatible(c, &spec)?;
    }
    if args.dry_run.on {
        doc.set_nested("plan", "cluster", &plan::create_plan(aws, &spec, &region).await?)?;
        return emit(&doc);
    }

    let account = Account::caller(&aws.sts, &region).await?;
    let trust = iam::Trust { account: &account, cluster: &spec.name, auto_mode: spec.auto_mode };
    let cluster_role = iam::ensure(&aws.iam, &spec.name, RoleKind::Cluster, &trust).await?;
    let node_role = iam::ensure(&aws.iam, &spec.name, RoleKind::Node, &trust).await?;
    // Auto Mode's block storage is EKS' own: no EBS CSI driver, so no role for it.
    let ebs_csi_role = match spec.auto_mode {
        false => Some(iam::ensure(&aws.iam, &spec.name, RoleKind::EbsCsi, &trust).await?),
        true => None,
    };
    let key = if spec.secrets_encryption { Some(kms::ensure(&aws.kms, &spec.name).await?) } else { None };
    match &existing {
        None => cluster::create(&aws.eks, &spec, &cluster_role, &node_role, key.as_deref()).await?,
        Some(c) => cluster::set_deletion_protection(&aws.eks, c, &spec).await?,
    }
    let active = cluster::wait_active(&aws.eks, &spec.name, args.timeout.limit).await?;
    let (node_group, managed_addons, auto) = match &ebs_csi_role {
        Some(ebs_csi_role) => {
            let (ng, managed_addons) = ensure_node_group(aws, &spec, &node_role, ebs_csi_role, args).await?;
            (Some(node_group_doc(&spec, &ng)), managed_addons, None)
        }
        None => {
            let entry = auto_mode::ensure_node_access(&aws.eks, &spec.name, &node_role).await?;
            (None, Vec::new(), Some(auto_mode::doc(entry)))
        }
    };
    let addons = addons::ensure(aws, &spec.name, &spec.addons, &active).await?;
    let capabilities = capability::Context {
        aws,
        stack: &spec.name,
        account: &account,
        secrets_prefix: &spec.addons.secrets_prefix,
        timeout: args.timeout.limit,
    };
    let capabilities = capability::ensure(&capabilities, spec.argocd.as_ref()).await?;
    let roles = RolesDoc { cluster: cluster_role, node: node_role, ebs_csi: ebs_csi_role };
    let mut out = cluster_doc(&spec, &region, &active, roles, key);
    (out.node_group, out.managed_addons, out.auto_mode) = (node_group, managed_addons, auto);
    out.addons = addons;
    out.capabilities = capabilities;
    out.upgrade = upgraded;
    info!("EKS cluster {} is ACTIVE at {}", out.name, out.endpoint);
    if let Some(path) = &args.kubeconfig {
        let entry = kubeconfig::Entry {
            arn: &out.arn,
            name: &out.name,
            region: &out.region,
            endpoint: &out.endpoint,
            certificate_authority: &out.certificate_authority,
            profile: args.aws.profile.as_deref(),
        };
        kubeconfig::write(path, &entry)?;
        info!("kubeconfig {} now has context {} (current)", path.display(), out.arn);
    }
    doc.set("cluster", &out)?;
    emit(&doc)
}

/// The EKS managed add-ons and the node group (created from the launch template, or resized),
/// waited for until ACTIVE; the node group and the add-ons as they ended.
async fn ensure_node_group(
    aws: &Clients,
    spec: &Spec,
    node_role: &str,
    ebs_csi_role: &str,
    args: &Args,
) -> anyhow::Result<(Nodegroup, Vec<ManagedAddonDoc>)> {
    managed::ensure(&aws.eks, &spec.name, ebs_csi_role).await?;
    match cluster::find_node_group(&aws.eks, &spec.name).await? {
        None => {
            let template = launch_template::ensure(&aws.ec2, &spec.name).await?;
            cluster::create_node_group(&aws.eks, spec, node_role, &template).await?
        }
        Some(ng) => {
            if ng.launch_template().is_none() {
                warn_no_launch_template(&ng);
            }
            if cluster::scaling_of(&ng) != Some(spec.nodes) {
                cluster::resize_node_group(&aws.eks, &spec.name, spec.nodes).await?
            }
        }
    }
    let node_group = cluster::wait_node_group(&aws.eks, &spec.name, args.timeout.limit).await?;
    // coredns and the EBS CSI controller only get ready once there are nodes to run on.
    let managed_addons = managed::wait_active(&aws.eks, &spec.name, args.timeout.limit).await?;
    Ok((node_group, managed_addons))
}

/// Everything the cluster stack owns, each wait at most `timeout`; what went, for the output.
async fn delete_all(aws: &Clients, spec: &Spec, timeout: Duration) -> anyhow::Result<Vec<String>> {
    let exists = cluster::find(&aws.eks, &spec.name).await?.is_some();
    // First what deploys into the cluster: EKS' Argo CD (its objects stay: RETAIN).
    let mut gone = capability::delete(aws, &spec.name, exists, timeout).await?;
    gone.extend(addons::delete(aws, &spec.name, &Addon::ALL, exists).await?);
    if exists {
        for name in managed::delete(&aws.eks, &spec.name, timeout).await? {
            gone.push(format!("addon {name}"));
        }
    }
    if cluster::delete_node_group(&aws.eks, &spec.name, timeout).await? {
        gone.push(format!("node-group {}", cluster::node_group_name(&spec.name)));
    }
    if launch_template::delete(&aws.ec2, &spec.name).await? {
        gone.push(format!("launch-template {}", launch_template::name(&spec.name)));
    }
    if cluster::delete_cluster(&aws.eks, &spec.name, timeout).await? {
        gone.push(format!("cluster {}", spec.name));
    }
    // The add-on roles went with their add-ons above.
    for kind in RoleKind::CORE {
        if iam::delete(&aws.iam, &spec.name, kind).await? {
            gone.push(format!("iam-role {}", kind.role_name(&spec.name)));
        }
    }
    if kms::delete(&aws.kms, &spec.name).await? {
        gone.push(format!("kms-key {} (deletion scheduled)", kms::alias(&spec.name)));
    }
    Ok(gone)
}

/// EKS cannot give an existing node group a launch template: one made before mkeks had it keeps
/// EKS' hop limit of 2, so its Pods can reach the node role through the metadata service.
fn warn_no_launch_template(ng: &Nodegroup) {
    tracing::warn!(
        "node group {} has no launch template: its instances answer IMDS two hops away, so Pods can take the \
         node role's credentials; recreate it to get IMDSv2 with hop limit 1 (mkeks --delete, then mkeks)",
        ng.nodegroup_name().unwrap_or_default()
    );
}

/// `--delete --addon NAME...`: only those add-ons' AWS side; the cluster stays.
async fn delete_addons(
    aws: &Clients,
    spec: &Spec,
    region: &str,
    mut doc: Document,
    dry_run: bool,
) -> anyhow::Result<()> {
    let only: Vec<Addon> = spec.addons.addons.iter().copied().collect();
    let exists = cluster::find(&aws.eks, &spec.name).await?.is_some();
    if dry_run {
        doc.set_nested("plan", "cluster", &plan::delete_addons_plan(aws, spec, region, &only, exists).await?)?;
        return emit(&doc);
    }
    let resources = addons::delete(aws, &spec.name, &only, exists).await?;
    info!("deleted {} resources of the add-ons of cluster {}", resources.len(), spec.name);
    if let Some(mut cluster) = doc.get::<serde_json::Value>("cluster")?
        && let Some(listed) = cluster.get_mut("addons").and_then(|a| a.as_object_mut())
    {
        for addon in &only {
            listed.remove(addon.name());
        }
        doc.set("cluster", &cluster)?;
    }
    doc.set_nested("deleted", "addons", &DeletedDoc::new(&spec.name, region.into(), resources))?;
    emit(&doc)
}

fn cluster_doc(spec: &Spec, region: &str, c: &Cluster, roles: RolesDoc, key: Option<String>) -> ClusterDoc {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    ClusterDoc {
        name: spec.name.clone(),
        arn: text(c.arn()),
        region: region.to_owned(),
        version: text(c.version()),
        status: c.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        endpoint: text(c.endpoint()),
        certificate_authority: text(c.certificate_authority().and_then(|ca| ca.data())),
        oidc_issuer: text(c.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer())),
        security_group: text(c.resources_vpc_config().and_then(|v| v.cluster_security_group_id())),
        subnet_ids: c.resources_vpc_config().map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
        roles,
        deletion_protection: c.deletion_protection().unwrap_or(false),
        secrets_key: key,
        managed_addons: Vec::new(),
        addons: Default::default(),
        upgrade: None,
        node_group: None,
        auto_mode: None,
        capabilities: Default::default(),
    }
}

fn node_group_doc(spec: &Spec, ng: &Nodegroup) -> NodeGroupDoc {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    NodeGroupDoc {
        name: text(ng.nodegroup_name()),
        arn: text(ng.nodegroup_arn()),
        status: ng.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        scaling: cluster::scaling_of(ng).unwrap_or(spec.nodes),
        instance_types: ng.instance_types().to_vec(),
        ami_type: ng.ami_type().map(|a| a.as_str().to_owned()).unwrap_or_default(),
        version: text(ng.version()),
        launch_template: ng.launch_template().map(|t| LaunchTemplateDoc {
            id: text(t.id()),
            name: text(t.name()),
            version: text(t.version()),
        }),
    }
}
