//! `mkeks --upgrade [--to X.Y]`: the whole cluster to a newer Kubernetes version, one minor at a
//! time as EKS requires. Each minor: the upgrade insights (a finding in ERROR stops it unless
//! `--force`), the control plane, every managed add-on to EKS' default version for the minor
//! (a newer one that runs on it is kept), every managed node group (`--force`: past
//! PodDisruptionBudgets). Every step is decided from what AWS reports, never from the document,
//! so a killed upgrade resumes where it stopped: an update in progress is waited for, and what
//! the cluster's minor still lacks (add-ons, node groups) is done before the next minor.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{Category, InsightStatusValue, InsightsFilter, ResolveConflicts, Update, UpdateStatus};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::wait::{Backoff, Check, until};
use ekskit_core::{Hinted, InputError};
use tracing::{info, warn};

use crate::cluster;
use crate::health::{failure, issue_text};
use crate::managed;
use crate::model::{Action, PlannedAction, UpgradeDoc, VersionsDoc};
use crate::versions::{self, Offered};

/// What the flags say about the upgrade (the library never sees clap).
#[derive(Debug, Clone)]
pub struct Options {
    /// Past a blocking insight, and node groups rolled past PodDisruptionBudgets.
    pub force: bool,
    /// Longest wait for one update.
    pub timeout: Duration,
}

fn backoff() -> Backoff {
    Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(20), factor: 1.5 }
}

/// The version to end at: `to`, else the newest EKS offers in standard support; refused when
/// EKS does not offer it or it is older than the cluster's (EKS cannot downgrade).
pub fn target(offered: Option<&[Offered]>, current: &str, to: Option<&str>) -> Result<String, InputError> {
    if let Some(to) = to {
        crate::cli::validate_version(to).map_err(|e| InputError::new(e.message.replace("--version", "--to")))?;
    }
    let target = match (offered.filter(|o| !o.is_empty()), to) {
        (None, None) => crate::cli::DEFAULT_VERSION.to_owned(),
        (None, Some(to)) => to.to_owned(),
        (Some(offered), to) => versions::choose(Some(offered), to).map_err(|e| {
            InputError::new(e.message.replace(" for new clusters", ""))
                .hint(e.hint.unwrap_or_default().replace("--version", "--to"))
        })?,
    };
    if versions::minor(&target) < versions::minor(current) {
        return Err(InputError::new(format!(
            "the cluster runs Kubernetes {current}; EKS cannot downgrade it to {target}"
        ))
        .hint(format!("pass --to {current} or newer")));
    }
    Ok(target)
}

/// The next minor after `version`: 1.35 → 1.36.
fn next_minor(version: &str) -> String {
    format!("1.{}", versions::minor(version) + 1)
}

/// Upgrades cluster `name` to `target`; returns the versions before and after.
pub async fn run(eks: &Client, name: &str, target: &str, opts: &Options) -> anyhow::Result<UpgradeDoc> {
    let from = read_versions(eks, name).await?;
    info!("upgrading EKS cluster {name} from Kubernetes {} to {target}", from.control_plane);
    loop {
        // A killed run may have left an update going: the cluster is UPDATING until it is done.
        let cluster = cluster::wait_active(eks, name, opts.timeout).await?;
        let current = cluster.version().unwrap_or_default().to_owned();
        finish_minor(eks, name, &current, opts).await?;
        if versions::minor(&current) >= versions::minor(target) {
            break;
        }
        let next = next_minor(&current);
        check_insights(eks, name, &next, opts.force).await?;
        info!("upgrade {name}: control plane {current} → {next}");
        let started = eks.update_cluster_version().name(name).version(&next).send().await;
        let update = started.aws(format!("upgrading the control plane of EKS cluster {name} to {next}"))?.update;
        wait_update(eks, name, Scope::Cluster, update, opts.timeout).await?;
    }
    let to = read_versions(eks, name).await?;
    info!("EKS cluster {name} runs Kubernetes {} with its add-ons and node groups", to.control_plane);
    Ok(UpgradeDoc { from, to })
}

/// What the cluster's minor `version` still lacks: add-ons at their default for it, node groups
/// at it.
async fn finish_minor(eks: &Client, name: &str, version: &str, opts: &Options) -> anyhow::Result<()> {
    for addon in list_addons(eks, name).await? {
        let found = until(&format!("add-on {addon}"), "ACTIVE", opts.timeout, backoff(), || async {
            Ok::<_, anyhow::Error>(managed::addon_state(managed::find(eks, name, &addon).await?))
        })
        .await?;
        let have = found.addon_version().unwrap_or_default();
        let Some(want) = addon_target(eks, &addon, have, version).await? else { continue };
        info!("upgrade {name}: add-on {addon} {have} → {want} (Kubernetes {version})");
        let request = eks
            .update_addon()
            .cluster_name(name)
            .addon_name(&addon)
            .addon_version(&want)
            // PRESERVE: what the user (or mkeks: vpc-cni's network policy) set stays set.
            .resolve_conflicts(ResolveConflicts::Preserve);
        let update = request.send().await.aws(format!("updating add-on {addon} of {name} to {want}"))?.update;
        wait_update(eks, name, Scope::Addon(&addon), update, opts.timeout).await?;
    }
    for ng in list_node_groups(eks, name).await? {
        let found = cluster::wait_node_group_named(eks, name, &ng, opts.timeout).await?;
        let have = found.version().unwrap_or_default();
        if versions::minor(have) >= versions::minor(version) {
            continue;
        }
        info!("upgrade {name}: node group {ng} {have} → {version} (rolling its nodes)");
        let request =
            eks.update_nodegroup_version().cluster_name(name).nodegroup_name(&ng).version(version).force(opts.force);
        let update = request.send().await.aws(format!("upgrading node group {ng} of {name} to {version}"))?.update;
        wait_update(eks, name, Scope::NodeGroup(&ng), update, opts.timeout).await?;
    }
    Ok(())
}

/// The version add-on `name` (at `have`) goes to on Kubernetes `version`: EKS' default for it,
/// unless `have` is that or newer and runs on it. None: it stays.
async fn addon_target(eks: &Client, name: &str, have: &str, version: &str) -> anyhow::Result<Option<String>> {
    let out = eks
        .describe_addon_versions()
        .addon_name(name)
        .kubernetes_version(version)
        .send()
        .await
        .aws(format!("listing the versions of add-on {name} for Kubernetes {version}"))?;
    let offered: Vec<(String, bool)> = out
        .addons()
        .iter()
        .flat_map(|a| a.addon_versions())
        .filter_map(|v| {
            let on = v.compatibilities().iter().find(|c| c.cluster_version() == Some(version))?;
            Some((v.addon_version()?.to_owned(), on.default_version()))
        })
        .collect();
    if offered.is_empty() {
        warn!("EKS offers no version of add-on {name} for Kubernetes {version}; it stays at {have}");
    }
    Ok(pick_addon_version(&offered, have))
}

/// The version to move to from `have`, given (version, is default) of those that run on the
/// minor: the default, unless `have` runs there and is not older than it.
fn pick_addon_version(offered: &[(String, bool)], have: &str) -> Option<String> {
    let default = offered.iter().find(|(_, d)| *d).or_else(|| offered.iter().max_by_key(|(v, _)| version_key(v)))?;
    let runs = offered.iter().any(|(v, _)| v == have);
    (!(runs && version_key(have) >= version_key(&default.0))).then(|| default.0.clone())
}

/// `v1.21.1-eksbuild.2` → [1, 21, 1, 2], to order add-on versions.
fn version_key(version: &str) -> Vec<u64> {
    version.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect()
}

/// Stops at an upgrade insight in ERROR for `next` (unless `force`); warns of the others not
/// passing. Where insights cannot be read, says so and goes on.
async fn check_insights(eks: &Client, name: &str, next: &str, force: bool) -> anyhow::Result<()> {
    let filter = InsightsFilter::builder().categories(Category::UpgradeReadiness).kubernetes_versions(next).build();
    let mut pages = eks.list_insights().cluster_name(name).filter(filter).into_paginator().send();
    let mut blocking = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page.aws(format!("reading the upgrade insights of {name} for {next}")) {
            Ok(page) => page,
            Err(e) if aws_code(&e) == Some("AccessDeniedException") => {
                warn!("cannot read the upgrade insights of {name} ({e:#}); upgrading without them");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for insight in page.insights() {
            let status = insight.insight_status().and_then(|s| s.status());
            let text = format!(
                "\"{}\" ({}): {}",
                insight.name().unwrap_or_default(),
                insight.id().unwrap_or_default(),
                insight.insight_status().and_then(|s| s.reason()).unwrap_or("no reason given")
            );
            match status {
                Some(InsightStatusValue::Passing) => {}
                Some(InsightStatusValue::Error) => blocking.push(text),
                _ => warn!("upgrade insight of {name} for {next}: {text}"),
            }
        }
    }
    if blocking.is_empty() {
        return Ok(());
    }
    if force {
        warn!("upgrading {name} to {next} despite (--force): {}", blocking.join("; "));
        return Ok(());
    }
    Err(Hinted::new(
        format!("EKS upgrade insights of {name} for Kubernetes {next} say it is not ready: {}", blocking.join("; ")),
        format!(
            "fix what they name (aws eks describe-insight --cluster-name {name} --id <id>) and run mkeks --upgrade \
             again; --force upgrades regardless"
        ),
    )
    .into())
}

/// What an update belongs to, for DescribeUpdate.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Cluster,
    Addon(&'a str),
    NodeGroup(&'a str),
}

impl Scope<'_> {
    fn describe(&self, cluster: &str) -> String {
        match self {
            Scope::Cluster => format!("the control plane of {cluster}"),
            Scope::Addon(a) => format!("add-on {a} of {cluster}"),
            Scope::NodeGroup(n) => format!("node group {n} of {cluster}"),
        }
    }
}

/// Waits for `update` to succeed; Failed or Cancelled fail with EKS' errors (the root cause).
async fn wait_update(
    eks: &Client,
    cluster: &str,
    scope: Scope<'_>,
    update: Option<Update>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let Some(id) = update.as_ref().and_then(|u| u.id()).map(str::to_owned) else {
        anyhow::bail!("EKS started an update of {} but gave no id to follow it by", scope.describe(cluster));
    };
    let what = format!("update {id} of {}", scope.describe(cluster));
    until(&what, "Successful", timeout, backoff(), || async {
        let mut request = eks.describe_update().name(cluster).update_id(&id);
        request = match scope {
            Scope::Cluster => request,
            Scope::Addon(a) => request.addon_name(a),
            Scope::NodeGroup(n) => request.nodegroup_name(n),
        };
        let update = request.send().await.aws(format!("reading {what}"))?.update;
        Ok::<_, anyhow::Error>(update_state(update))
    })
    .await
}

/// Successful is done; Failed and Cancelled fail with the update's errors.
fn update_state(update: Option<Update>) -> Check<()> {
    let Some(u) = update else { return Check::Failed("it disappeared".into()) };
    match u.status() {
        Some(UpdateStatus::Successful) => Check::Ready(()),
        Some(s @ (UpdateStatus::Failed | UpdateStatus::Cancelled)) => Check::Failed(failure(
            s.as_str(),
            u.errors()
                .iter()
                .map(|e| issue_text(e.error_code().map(|c| c.as_str()), e.error_message(), e.resource_ids())),
        )),
        other => Check::Pending(other.map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into())),
    }
}

async fn list_addons(eks: &Client, cluster: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = eks.list_addons().cluster_name(cluster).into_paginator().send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        found.extend(page.aws(format!("listing the add-ons of {cluster}"))?.addons().iter().cloned());
    }
    Ok(found)
}

async fn list_node_groups(eks: &Client, cluster: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = eks.list_nodegroups().cluster_name(cluster).into_paginator().send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        found.extend(page.aws(format!("listing the node groups of {cluster}"))?.nodegroups().iter().cloned());
    }
    Ok(found)
}

/// The versions of the control plane, each add-on and each node group now.
pub async fn read_versions(eks: &Client, name: &str) -> anyhow::Result<VersionsDoc> {
    let cluster = eks.describe_cluster().name(name).send().await.aws(format!("reading EKS cluster {name}"))?.cluster;
    let mut doc =
        VersionsDoc { control_plane: cluster.and_then(|c| c.version).unwrap_or_default(), ..VersionsDoc::default() };
    for addon in list_addons(eks, name).await? {
        if let Some(a) = managed::find(eks, name, &addon).await? {
            doc.addons.insert(addon, a.addon_version().unwrap_or_default().to_owned());
        }
    }
    for ng in list_node_groups(eks, name).await? {
        if let Some(found) = cluster::find_node_group_named(eks, name, &ng).await? {
            doc.node_groups.insert(ng, found.version.unwrap_or_default());
        }
    }
    Ok(doc)
}

/// `--upgrade --dry-run`: every step a run would take from what AWS reports now, in order.
pub async fn plan(eks: &Client, name: &str, target: &str) -> anyhow::Result<Vec<PlannedAction>> {
    let now = read_versions(eks, name).await?;
    let (mut addons, mut node_groups) = (now.addons.clone(), now.node_groups.clone());
    let mut steps = Vec::new();
    let mut version = now.control_plane.clone();
    loop {
        plan_minor(eks, &version, &mut addons, &mut node_groups, &mut steps).await?;
        if versions::minor(&version) >= versions::minor(target) {
            return Ok(steps);
        }
        let next = next_minor(&version);
        let detail = format!("UPGRADE_READINESS for {next}: a finding in ERROR stops the upgrade (--force: warns)");
        steps.push(PlannedAction::new(Action::Check, "upgrade-insights", name, Some(detail)));
        steps.push(PlannedAction::new(Action::Update, "cluster-version", name, Some(format!("{version} → {next}"))));
        version = next;
    }
}

/// The add-on and node group steps at minor `version`; the maps hold their planned versions.
async fn plan_minor(
    eks: &Client,
    version: &str,
    addons: &mut BTreeMap<String, String>,
    node_groups: &mut BTreeMap<String, String>,
    steps: &mut Vec<PlannedAction>,
) -> anyhow::Result<()> {
    for (addon, have) in addons.iter_mut() {
        if let Some(want) = addon_target(eks, addon, have, version).await? {
            steps.push(PlannedAction::new(Action::Update, "addon-version", addon, Some(format!("{have} → {want}"))));
            *have = want;
        }
    }
    for (ng, have) in node_groups.iter_mut() {
        if versions::minor(have) < versions::minor(version) {
            let detail = format!("{have} → {version}, its nodes rolled");
            steps.push(PlannedAction::new(Action::Update, "node-group-version", ng, Some(detail)));
            *have = version.to_owned();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(version: &str, standard: bool) -> Offered {
        Offered { version: version.into(), standard }
    }

    #[test]
    fn the_target_is_offered_and_not_older_than_the_cluster() {
        let list = [offer("1.34", false), offer("1.35", true), offer("1.36", true)];
        assert_eq!(target(Some(&list), "1.34", None).unwrap(), "1.36");
        assert_eq!(target(Some(&list), "1.34", Some("1.35")).unwrap(), "1.35");
        assert_eq!(target(Some(&list), "1.36", None).unwrap(), "1.36", "nothing to do is no error");
        let older = target(Some(&list), "1.36", Some("1.35")).unwrap_err();
        assert!(older.message.contains("cannot downgrade"), "{older:?}");
        let unknown = target(Some(&list), "1.34", Some("1.40")).unwrap_err();
        assert!(unknown.message.contains("does not offer Kubernetes 1.40"), "{unknown:?}");
        assert!(unknown.hint.unwrap().contains("--to 1.34, 1.35, 1.36"));
        assert!(target(Some(&list), "1.34", Some("banana")).unwrap_err().message.contains("--to"));
        assert_eq!(next_minor("1.35"), "1.36");
    }

    #[test]
    fn add_ons_go_to_the_default_unless_newer_and_running_on_the_minor() {
        let on_36 = [("v1.13.1-eksbuild.1".to_owned(), true), ("v1.14.0-eksbuild.1".to_owned(), false)];
        assert_eq!(pick_addon_version(&on_36, "v1.12.4-eksbuild.1").as_deref(), Some("v1.13.1-eksbuild.1"));
        assert_eq!(pick_addon_version(&on_36, "v1.13.1-eksbuild.1"), None, "already the default");
        assert_eq!(pick_addon_version(&on_36, "v1.14.0-eksbuild.1"), None, "newer, and runs on it: kept");
        assert_eq!(pick_addon_version(&[], "v1.0.0"), None, "nothing offered: it stays");
        assert!(version_key("v1.21.1-eksbuild.10") > version_key("v1.21.1-eksbuild.9"));
    }

    #[test]
    fn an_update_fails_with_the_errors_eks_gives() {
        use aws_sdk_eks::types::{ErrorCode, ErrorDetail};
        let failed = Update::builder()
            .status(UpdateStatus::Failed)
            .errors(
                ErrorDetail::builder()
                    .error_code(ErrorCode::PodEvictionFailure)
                    .error_message("Reached max retries while trying to evict pods from nodes in node group demo-nodes")
                    .resource_ids("i-0abc")
                    .build(),
            )
            .build();
        assert_eq!(
            update_state(Some(failed)),
            Check::Failed(
                "Failed: PodEvictionFailure: Reached max retries while trying to evict pods from nodes in node group \
                 demo-nodes (i-0abc)"
                    .into()
            )
        );
        let going = Update::builder().status(UpdateStatus::InProgress).build();
        assert_eq!(update_state(Some(going)), Check::Pending("InProgress".into()));
    }
}
