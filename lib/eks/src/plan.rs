//! `--dry-run`: the fully defaulted spec and, per resource, whether a run would create, keep,
//! update or delete it. Reads only.

use ekskit_core::Hinted;

use crate::Clients;
use crate::addons::{self, Addon, karpenter, pod_identity, secret_stores};
use crate::auto_mode;
use crate::capability;
use crate::cli::Spec;
use crate::cluster;
use crate::iam::{self, RoleKind};
use crate::kms;
use crate::launch_template;
use crate::managed;
use crate::model::{Action, PlanDoc, PlannedAction};

pub async fn create_plan(aws: &Clients, spec: &Spec, region: &str) -> anyhow::Result<PlanDoc> {
    let (eks, iam_client, kms_client) = (&aws.eks, &aws.iam, &aws.kms);
    let mut actions = Vec::new();
    let mut node_role = None;
    // Auto Mode's block storage is EKS' own: no EBS CSI role.
    for kind in RoleKind::CORE.into_iter().filter(|k| !(spec.auto_mode && *k == RoleKind::EbsCsi)) {
        let found = iam::find(iam_client, &spec.name, kind).await?;
        if kind == RoleKind::Node {
            node_role = found.clone();
        }
        actions.push(PlannedAction::create_or_keep(
            found.is_some(),
            "iam-role",
            &kind.role_name(&spec.name),
            Some(kind.policies(spec.auto_mode).join(", ")),
        ));
    }
    if spec.secrets_encryption {
        let exists = kms::find(kms_client, &spec.name).await?.is_some();
        actions.push(PlannedAction::create_or_keep(exists, "kms-key", &kms::alias(&spec.name), None));
    }
    let found = cluster::find(eks, &spec.name).await?;
    let exists = found.is_some();
    let mode = if spec.auto_mode { ", Auto Mode (node pools general-purpose, system)" } else { "" };
    actions.push(PlannedAction::create_or_keep(
        exists,
        "cluster",
        &spec.name,
        Some(format!("Kubernetes {}{mode}", spec.version)),
    ));
    let protected = found.as_ref().map(|c| c.deletion_protection().unwrap_or(false));
    if let Some(wanted) = spec.deletion_protection.filter(|w| protected.is_some_and(|p| p != *w)) {
        let detail = format!("deletion protection {}", if wanted { "on" } else { "off" });
        actions.push(PlannedAction::new(Action::Update, "cluster-config", &spec.name, Some(detail)));
    }
    if spec.auto_mode {
        let role = node_role.as_deref().filter(|_| exists);
        actions.push(auto_mode::plan(eks, &spec.name, role).await?);
        actions.extend(addons::plan(aws, &spec.name, &spec.addons, exists).await?);
        actions.extend(capability::plan(aws, &spec.name, spec.argocd.as_ref(), exists).await?);
        return Ok(PlanDoc { region: region.into(), spec: spec.clone(), actions });
    }
    for name in managed::ADDONS {
        let there = exists && managed::find(eks, &spec.name, name).await?.is_some();
        actions.push(PlannedAction::create_or_keep(there, "addon", name, None));
    }
    let ng = if exists { cluster::find_node_group(eks, &spec.name).await? } else { None };
    // Made with a new node group only: EKS cannot give an existing one a launch template.
    let template = launch_template::find(&aws.ec2, &spec.name).await?;
    if ng.is_none() || template.is_some() {
        actions.push(PlannedAction::create_or_keep(
            template.is_some(),
            "launch-template",
            &launch_template::name(&spec.name),
            Some(format!("IMDSv2 only, hop limit {}", launch_template::HOP_LIMIT)),
        ));
    }
    let size = format!("{}:{}:{}", spec.nodes.min, spec.nodes.desired, spec.nodes.max);
    let action = match &ng {
        None => Action::Create,
        Some(ng) if cluster::scaling_of(ng) != Some(spec.nodes) => Action::Update,
        Some(_) => Action::Keep,
    };
    actions.push(PlannedAction::new(
        action,
        "node-group",
        &cluster::node_group_name(&spec.name),
        Some(format!("{size} x {}", spec.instance_types.join("/"))),
    ));
    actions.extend(addons::plan(aws, &spec.name, &spec.addons, exists).await?);
    actions.extend(capability::plan(aws, &spec.name, spec.argocd.as_ref(), exists).await?);
    Ok(PlanDoc { region: region.into(), spec: spec.clone(), actions })
}

pub async fn delete_plan(aws: &Clients, spec: &Spec, region: &str) -> anyhow::Result<PlanDoc> {
    let (eks, iam_client, kms_client) = (&aws.eks, &aws.iam, &aws.kms);
    let mut actions = Vec::new();
    let cluster = cluster::find(eks, &spec.name).await?;
    if cluster.is_some() && capability::find(eks, &spec.name, capability::ARGOCD).await?.is_some() {
        let detail = Some("the objects Argo CD deployed stay".into());
        actions.push(PlannedAction::new(Action::Delete, "capability", capability::ARGOCD, detail));
    }
    actions.extend(addon_parts_to_delete(aws, spec, &Addon::ALL, cluster.is_some()).await?);
    if cluster.is_some() {
        for name in managed::ADDONS.iter().rev() {
            if managed::find(eks, &spec.name, name).await?.is_some() {
                actions.push(PlannedAction::new(Action::Delete, "addon", name, None));
            }
        }
    }
    if cluster.is_some() && cluster::find_node_group(eks, &spec.name).await?.is_some() {
        actions.push(PlannedAction::new(Action::Delete, "node-group", &cluster::node_group_name(&spec.name), None));
    }
    match launch_template::find(&aws.ec2, &spec.name).await {
        Ok(Some(_)) => actions.push(PlannedAction::new(
            Action::Delete,
            "launch-template",
            &launch_template::name(&spec.name),
            None,
        )),
        Ok(None) => {}
        Err(e) if e.is::<Hinted>() => {} // someone else's template of that name: --delete leaves it alone
        Err(e) => return Err(e),
    }
    if cluster.is_some() {
        actions.push(PlannedAction::new(Action::Delete, "cluster", &spec.name, None));
    }
    for kind in RoleKind::all() {
        match iam::find(iam_client, &spec.name, kind).await {
            Ok(Some(_)) => {
                actions.push(PlannedAction::new(Action::Delete, "iam-role", &kind.role_name(&spec.name), None))
            }
            Ok(None) => {}
            Err(e) if e.is::<Hinted>() => {} // someone else's role of that name: --delete leaves it alone
            Err(e) => return Err(e),
        }
    }
    if kms::find(kms_client, &spec.name).await?.is_some() {
        actions.push(PlannedAction::new(
            Action::Delete,
            "kms-key",
            &kms::alias(&spec.name),
            Some("deletion scheduled in 7 days".into()),
        ));
    }
    Ok(PlanDoc { region: region.into(), spec: spec.clone(), actions })
}

/// `--delete --addon NAME... --dry-run`: those add-ons' parts and roles.
pub async fn delete_addons_plan(
    aws: &Clients,
    spec: &Spec,
    region: &str,
    only: &[Addon],
    cluster_exists: bool,
) -> anyhow::Result<PlanDoc> {
    let mut actions = addon_parts_to_delete(aws, spec, only, cluster_exists).await?;
    for &addon in only {
        let kind = RoleKind::Addon(addon);
        if iam::find(&aws.iam, &spec.name, kind).await.ok().flatten().is_some() {
            actions.push(PlannedAction::new(Action::Delete, "iam-role", &kind.role_name(&spec.name), None));
        }
    }
    if only.contains(&Addon::Karpenter)
        && iam::find(&aws.iam, &spec.name, RoleKind::KarpenterNode).await.ok().flatten().is_some()
    {
        actions.push(PlannedAction::new(
            Action::Delete,
            "iam-role",
            &RoleKind::KarpenterNode.role_name(&spec.name),
            None,
        ));
    }
    Ok(PlanDoc { region: region.into(), spec: spec.clone(), actions })
}

/// What deleting `only` removes besides the add-on roles: associations, Karpenter's queue,
/// rules and access entry, external-secrets' store roles.
async fn addon_parts_to_delete(
    aws: &Clients,
    spec: &Spec,
    only: &[Addon],
    cluster_exists: bool,
) -> anyhow::Result<Vec<PlannedAction>> {
    let mut actions = Vec::new();
    for &addon in only {
        if cluster_exists && pod_identity::find(&aws.eks, &spec.name, addon).await?.is_some() {
            let sa = format!("{}/{}", addon.namespace(), addon.service_account());
            actions.push(PlannedAction::new(Action::Delete, "pod-identity-association", &sa, None));
        }
        if addon == Addon::Karpenter {
            let parts = karpenter::plan(aws, &spec.name, cluster_exists).await?;
            let there = parts.into_iter().filter(|p| p.action == Action::Keep && p.kind != "iam-role");
            actions.extend(there.map(|p| PlannedAction { action: Action::Delete, ..p }));
        }
        if addon == Addon::ExternalSecrets {
            for (namespace, name) in secret_stores::existing(&aws.iam, &spec.name).await? {
                let detail = Some(format!("external-secrets store of {namespace}"));
                actions.push(PlannedAction::new(Action::Delete, "iam-role", &name, detail));
            }
        }
    }
    Ok(actions)
}
