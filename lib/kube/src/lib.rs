//! The Kubernetes engine of kapply and monstack: manifests applied server-side, in order, then
//! waited for. Like ekskit-aws for AWS, a platform crate: it takes options, never a tool's flags
//! (kapply's are in ekskit-apply, monstack's in ekskit-mon), so tools share it without depending
//! on each other.
//!
//! - [`manifests`]: reading files, directories, stdin, URLs, kustomize; [`placeholders`]: `${a.b}`
//! - [`cluster`]: kubeconfig or mkeks' `cluster` key, with [`eks_token`]s signed here
//! - [`resolve`]: kinds from discovery (or CRDs in the batch); [`ordering`]: phases
//! - [`batch`]: the whole apply (reads, [`namespaces`] check, ApplySet parent, phases, waits),
//!   [`apply`] of one object unless [`unchanged`] says nothing would change; [`timing`] per stage
//! - [`diff`], [`current`], [`readiness`] + [`waiting`] over [`live`] reads, [`applyset`]
//!   (prune), [`delete`], both through [`targets`]; [`server`]: the API and field manager of
//!   every request; [`content`]: what comparing objects compares
//! - [`options`]: what [`execute`] is asked to do; [`args`]: the `--kubeconfig`/`--context` flags
//! - [`model`]: the JSON keys and their schemas

pub mod apply;
pub mod applyset;
pub mod args;
pub mod batch;
pub mod cluster;
pub mod content;
pub mod current;
pub mod delete;
pub mod diff;
pub mod eks_token;
pub mod errors;
pub mod live;
pub mod manifests;
pub mod model;
pub mod namespaces;
pub mod options;
pub mod ordering;
pub mod placeholders;
pub mod readiness;
pub mod resolve;
pub mod server;
pub mod targets;
pub mod timing;
pub mod unchanged;
pub mod waiting;

pub use crate::options::{ApplyOptions, ClusterOptions};

use kube::discovery::Discovery;
use tokio::time::Instant;
use tracing::info;

use crate::apply::FIELD_MANAGER;
use crate::applyset::AppSet;
use crate::manifests::Manifest;
use crate::model::{Action, ApplyDoc, ObjectResult};
use crate::resolve::{Key, Kinds, Object};
use crate::timing::Stages;

/// Applies (or, with `options.delete`, deletes) `manifests` on `cluster` the kapply way: kinds
/// from discovery, phases, server-side apply, the ApplySet of `options.app`, readiness waits.
/// monstack applies its stack through this too.
pub async fn execute(
    options: &ApplyOptions,
    cluster: &cluster::Cluster,
    manifests: Vec<Manifest>,
) -> anyhow::Result<ApplyDoc> {
    execute_with(options, cluster, manifests, discover(cluster.client.clone(), cluster.server.clone())).await
}

/// One aggregated discovery: the only one of a run. kapply starts it while it reads the
/// manifests and passes it to [`execute_with`].
pub async fn discover(client: kube::Client, server: String) -> anyhow::Result<Discovery> {
    errors::idempotent("discovering the API", || Discovery::new(client.clone()).run_aggregated())
        .await
        .map_err(|e| errors::kube_error(e, format!("discovering the API of {server}")))
}

/// [`execute`] with the discovery already under way.
pub async fn execute_with(
    options: &ApplyOptions,
    cluster: &cluster::Cluster,
    manifests: Vec<Manifest>,
    discovery: impl Future<Output = anyhow::Result<Discovery>>,
) -> anyhow::Result<ApplyDoc> {
    let started = Instant::now();
    let mut stages = Stages::start();
    let client = cluster.client.clone();
    let namespace = options.namespace.clone().unwrap_or(cluster.default_namespace.clone());
    let set = options.app.as_deref().map(|app| AppSet::new(app, &namespace)).transpose()?;
    let applying = !options.delete && !options.wait_only;
    // What needs no discovery is read while it runs.
    let early = async {
        match applying {
            true => batch::early_reads(&client, &manifests, &namespace, set.as_ref()).await.map(Some),
            false => Ok(None),
        }
    };
    let (discovery, early) = tokio::try_join!(discovery, early)?;
    stages.lap("discovery");
    let kinds = Kinds::new(discovery, &manifests);
    let forced = options.namespace.is_some() && !options.other_namespaces;
    let mut objects = resolve::resolve(manifests, &kinds, &namespace, forced)?;
    if let Some(set) = &set {
        set.label(&mut objects);
    }
    let results = if options.delete {
        delete::delete(&client, &objects, set.as_ref(), &kinds, options).await?
    } else if options.wait_only {
        let all: Vec<&Object> = objects.iter().collect();
        waiting::wait_current(&client, &all, options.timeout).await?;
        objects.iter().map(|o| ObjectResult { ready: Some(true), ..result_of(o, Action::Unchanged, None) }).collect()
    } else {
        for o in &mut objects {
            unchanged::stamp(&mut o.body);
        }
        let early = early.expect("read when applying");
        batch::apply(&client, &objects, set.as_ref(), &kinds, options, early, &mut stages).await?
    };
    let report = ApplyDoc {
        server: cluster.server.clone(),
        field_manager: FIELD_MANAGER.to_owned(),
        dry_run: options.server_dry_run(),
        app: set.map(|s| model::AppSet { name: s.app, namespace: s.namespace, id: s.id }),
        objects: results,
        duration_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    };
    summarize(&report, options.delete);
    Ok(report)
}

pub(crate) fn result_of(o: &Object, action: Action, diff: Option<String>) -> ObjectResult {
    ObjectResult {
        api_version: o.resource.api_version.clone(),
        kind: o.resource.kind.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        action,
        ready: None,
        diff,
    }
}

/// The result for an object known only by its key (a member found through the ApplySet).
pub(crate) fn result_of_key(key: Key, api_version: String, action: Action) -> ObjectResult {
    ObjectResult {
        api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
        action,
        ready: None,
        diff: None,
    }
}

pub(crate) fn verb(action: Action) -> &'static str {
    match action {
        Action::Created => "created",
        Action::Configured => "configured",
        Action::Unchanged => "unchanged",
        Action::Pruned => "pruned",
        Action::Deleted => "deleted",
        Action::Absent => "already absent",
    }
}

fn summarize(report: &ApplyDoc, deleting: bool) {
    let mut counts: Vec<(Action, usize)> = Vec::new();
    for o in &report.objects {
        match counts.iter_mut().find(|(a, _)| *a == o.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((o.action, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(a, n)| format!("{n} {}", verb(*a))).collect();
    let what = if deleting { "delete" } else { "apply" };
    let dry = if report.dry_run { " (dry run)" } else { "" };
    info!(
        "{what}{dry}: {} in {:.1}s",
        if parts.is_empty() { "nothing".into() } else { parts.join(", ") },
        report.duration_seconds
    );
}
