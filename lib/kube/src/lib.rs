//! kapply: Kubernetes manifests applied server-side, in order, then waited for.
//!
//! - [`manifests`]: reading files, directories, stdin, URLs, kustomize; [`placeholders`]: `${a.b}`
//! - [`cluster`]: kubeconfig or mkeks' `cluster` key, with [`eks_token`]s signed here
//! - [`resolve`]: kinds from discovery (or CRDs in the batch); [`ordering`]: phases
//! - [`apply`], [`diff`], [`readiness`] + [`waiting`], [`applyset`] (prune), [`delete`]
//! - [`model`]: the JSON keys and their schemas

pub mod apply;
pub mod applyset;
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
pub mod ordering;
pub mod placeholders;
pub mod readiness;
pub mod resolve;
pub mod waiting;

use std::collections::HashSet;

use ekskit_core::document::Stdin;
use ekskit_core::output::{emit, to_stderr};
use ekskit_core::{ChangesFound, Document, InputError};
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::discovery::Discovery;
use tokio::time::Instant;
use tracing::info;

use crate::apply::{ApplyOptions, FIELD_MANAGER};
use crate::applyset::{AppSet, inventory_of};
use crate::cli::Args;
use crate::manifests::{Manifest, Source};
use crate::model::{Action, ApplyDoc, ObjectResult};
use crate::ordering::Phase;
use crate::resolve::{Key, Kinds, Object};

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

    let cluster = cluster::connect(&args.cluster, &doc).await?;
    let report = execute(&args, &cluster, manifests).await?;
    let changed = report.objects.iter().any(|o| o.action.is_change());
    if args.delete {
        doc.remove("apply");
        doc.set_nested("deleted", "apply", &report)?;
    } else {
        doc.set("apply", &report)?;
    }
    emit(&doc)?;
    if args.diff && changed {
        return Err(ChangesFound.into());
    }
    Ok(())
}

/// Applies (or, with `args.delete`, deletes) `manifests` on `cluster` the kapply way: kinds from
/// discovery, phases, server-side apply, the ApplySet of `args.app`, readiness waits. monstack
/// applies its stack through this too.
pub async fn execute(args: &Args, cluster: &cluster::Cluster, manifests: Vec<Manifest>) -> anyhow::Result<ApplyDoc> {
    let started = Instant::now();
    let client = cluster.client.clone();
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .map_err(|e| errors::kube_error(e, format!("discovering the API of {}", cluster.server)))?;
    let kinds = Kinds::new(discovery, &manifests);
    let namespace = args.namespace.clone().unwrap_or(cluster.default_namespace.clone());
    let mut objects = resolve::resolve(manifests, &kinds, &namespace, args.namespace.is_some())?;
    let set = args.app.as_deref().map(|app| AppSet::new(app, &namespace)).transpose()?;
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
        apply_all(&client, &objects, set.as_ref(), &kinds, args).await?
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

async fn apply_all(
    client: &Client,
    objects: &[Object],
    set: Option<&AppSet>,
    kinds: &Kinds,
    args: &Args,
) -> anyhow::Result<Vec<ObjectResult>> {
    let opts =
        ApplyOptions { force_conflicts: args.force_conflicts, dry_run: args.dry_run || args.diff, diff: args.diff };
    let previous = match set {
        Some(s) => s.read(client).await?,
        None => None,
    };
    let current = inventory_of(objects);
    let mut results = Vec::with_capacity(objects.len());
    for phase in Phase::ALL {
        let batch: Vec<&Object> = objects.iter().filter(|o| o.phase == phase).collect();
        results.extend(apply_batch(client, &batch, opts, args.concurrency.into()).await?);
        if phase == Phase::Definitions {
            if let Some(s) = set {
                // Record the union first: a crash from here on still leaves every member findable.
                s.write(client, &previous.clone().unwrap_or_default().union(&current), opts.dry_run).await?;
            }
            let crds: Vec<&Object> =
                batch.into_iter().filter(|o| o.resource.kind == "CustomResourceDefinition").collect();
            if !opts.dry_run && !crds.is_empty() {
                info!("waiting for {} CRDs to be Established", crds.len());
                waiting::wait_ready(client, &crds, args.timeout).await?;
            }
        }
    }
    if args.prune
        && let Some(s) = set
    {
        let keep: HashSet<_> = objects.iter().map(Object::key).collect();
        let inventory = previous.unwrap_or_default().union(&current);
        for (key, api_version) in s.prune(client, kinds, &inventory, &keep, opts.dry_run).await? {
            results.push(result_of_key(key, api_version, Action::Pruned));
        }
        s.write(client, &current, opts.dry_run).await?;
    }
    if opts.dry_run || args.no_wait {
        return Ok(results);
    }
    let all: Vec<&Object> = objects.iter().collect();
    waiting::wait_ready(client, &all, args.timeout).await?;
    for r in results.iter_mut().filter(|r| r.action != Action::Pruned) {
        r.ready = Some(true);
    }
    Ok(results)
}

/// Applies one phase concurrently, objects that start a rollout first (their controllers get to
/// work while the rest is applied); results in that order.
async fn apply_batch(
    client: &Client,
    batch: &[&Object],
    opts: ApplyOptions,
    concurrency: usize,
) -> anyhow::Result<Vec<ObjectResult>> {
    let mut batch = batch.to_vec();
    batch.sort_by_key(|o| !ordering::starts_rollout(&o.resource.group, &o.resource.kind));
    let live = live::fetch(client, &batch).await?;
    let live = &live;
    let applied: Vec<_> = stream::iter(batch.iter().copied())
        .map(|o| async move { apply::apply(client, o, live.get(&o.key()), opts).await.map(|a| (o, a)) })
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(applied
        .into_iter()
        .map(|(o, a)| {
            if let Some(diff) = &a.diff {
                to_stderr(diff);
            }
            info!("{} {}{}", o.key(), verb(a.action), if opts.dry_run { " (dry run)" } else { "" });
            result_of(o, a.action, a.diff)
        })
        .collect())
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

fn verb(action: Action) -> &'static str {
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
