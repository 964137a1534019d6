//! kapply: Kubernetes manifests applied server-side, in order, then waited for.
//!
//! - [`manifests`]: reading files, directories, stdin, URLs, kustomize; [`placeholders`]: `${a.b}`
//! - [`cluster`]: kubeconfig or mkeks' `cluster` key, with [`eks_token`]s signed here
//! - [`resolve`]: kinds from discovery (or CRDs in the batch); [`ordering`]: phases
//! - [`batch`]: the whole apply (reads, [`namespaces`] check, ApplySet parent, phases, waits),
//!   [`apply`] of one object unless [`unchanged`] says nothing would change; [`timing`] per stage
//! - [`diff`], [`current`], [`readiness`] + [`waiting`] over [`live`] reads, [`applyset`]
//!   (prune), [`delete`]
//! - [`model`]: the JSON keys and their schemas

pub mod apply;
pub mod applyset;
pub mod batch;
pub mod cli;
pub mod cluster;
pub mod current;
pub mod delete;
pub mod diff;
pub mod eks_token;
pub mod errors;
pub mod live;
pub mod manifests;
pub mod model;
pub mod namespaces;
pub mod ordering;
pub mod placeholders;
pub mod readiness;
pub mod resolve;
pub mod timing;
pub mod unchanged;
pub mod waiting;

use ekskit_core::document::Stdin;
use ekskit_core::output::emit;
use ekskit_core::{ChangesFound, Document, InputError};
use kube::discovery::Discovery;
use tokio::time::Instant;
use tracing::info;

use crate::apply::FIELD_MANAGER;
use crate::applyset::AppSet;
use crate::cli::Args;
use crate::manifests::{Manifest, Source};
use crate::model::{Action, ApplyDoc, ObjectResult};
use crate::resolve::{Key, Kinds, Object};
use crate::timing::Stages;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = if args.manifests_on_stdin() { Document::new() } else { Document::from_stdin(Stdin::WhenPiped)? };
    let sources: Vec<Source> = args
        .files
        .iter()
        .map(|f| Source::from_arg(f))
        .chain(args.kustomize.iter().cloned().map(Source::Kustomize))
        .collect();
    let delete_whole_app = args.delete && args.app.is_some();
    if sources.is_empty() && !delete_whole_app {
        return Err(InputError::new("no manifests given").hint("pass -f FILE|DIR|URL|- or -k DIR").into());
    }
    if let Some(app) = &args.app {
        applyset::check_app_name(app)?; // before anything else happens
    }
    let mut stages = Stages::start();
    // Discovery needs no manifests: it runs while they are parsed (errors in them still win).
    let cluster = cluster::connect(&args.cluster, &doc).await;
    let discovery = cluster.as_ref().ok().map(|c| tokio::spawn(discover(c.client.clone(), c.server.clone())));
    let mut manifests = manifests::load(&sources).await?;
    placeholders::fill(&mut manifests, &doc.as_value())?;
    if args.prune && manifests.is_empty() {
        return Err(InputError::new("--prune with no objects in the input would delete the whole app")
            .hint("check the input paths; to delete the app on purpose use --delete --app NAME")
            .into());
    }
    if manifests.is_empty() && !delete_whole_app {
        return Err(InputError::new("the input holds no objects").hint("check the paths given to -f/-k").into());
    }

    stages.lap("load");
    let cluster = cluster?;
    let discovery = async { discovery.expect("started once connected").await? };
    let report = execute_with(&args, &cluster, manifests, discovery).await?;
    stages.lap("execute");
    let changed = report.objects.iter().any(|o| o.action.is_change());
    if args.delete {
        doc.remove("apply");
        doc.set_nested("deleted", "apply", &report)?;
    } else {
        doc.set("apply", &report)?;
    }
    emit(&doc)?;
    stages.lap("output");
    stages.log("");
    if args.diff && changed {
        return Err(ChangesFound.into());
    }
    Ok(())
}

/// Applies (or, with `args.delete`, deletes) `manifests` on `cluster` the kapply way: kinds from
/// discovery, phases, server-side apply, the ApplySet of `args.app`, readiness waits. monstack
/// applies its stack through this too.
pub async fn execute(args: &Args, cluster: &cluster::Cluster, manifests: Vec<Manifest>) -> anyhow::Result<ApplyDoc> {
    execute_with(args, cluster, manifests, discover(cluster.client.clone(), cluster.server.clone())).await
}

/// One aggregated discovery: the only one of a run.
async fn discover(client: kube::Client, server: String) -> anyhow::Result<Discovery> {
    Discovery::new(client)
        .run_aggregated()
        .await
        .map_err(|e| errors::kube_error(e, format!("discovering the API of {server}")))
}

/// [`execute`] with the discovery already under way.
async fn execute_with(
    args: &Args,
    cluster: &cluster::Cluster,
    manifests: Vec<Manifest>,
    discovery: impl Future<Output = anyhow::Result<Discovery>>,
) -> anyhow::Result<ApplyDoc> {
    let started = Instant::now();
    let mut stages = Stages::start();
    let client = cluster.client.clone();
    let namespace = args.namespace.clone().unwrap_or(cluster.default_namespace.clone());
    let set = args.app.as_deref().map(|app| AppSet::new(app, &namespace)).transpose()?;
    let applying = !args.delete && !args.wait_only;
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
    let mut objects = resolve::resolve(manifests, &kinds, &namespace, args.namespace.is_some())?;
    if let Some(set) = &set {
        set.label(&mut objects);
    }
    let results = if args.delete {
        delete::delete(&client, &objects, set.as_ref(), &kinds, args).await?
    } else if args.wait_only {
        let all: Vec<&Object> = objects.iter().collect();
        waiting::wait_current(&client, &all, args.timeout).await?;
        objects.iter().map(|o| ObjectResult { ready: Some(true), ..result_of(o, Action::Unchanged, None) }).collect()
    } else {
        for o in &mut objects {
            unchanged::stamp(&mut o.body);
        }
        let early = early.expect("read when applying");
        batch::apply(&client, &objects, set.as_ref(), &kinds, args, early, &mut stages).await?
    };
    let report = ApplyDoc {
        server: cluster.server.clone(),
        field_manager: FIELD_MANAGER.to_owned(),
        dry_run: args.dry_run || args.diff,
        app: set.map(|s| model::AppSet { name: s.app, namespace: s.namespace, id: s.id }),
        objects: results,
        duration_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    };
    summarize(&report, args.delete);
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
