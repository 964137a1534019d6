//! `--delete`: the objects the manifests name plus (with `--app`) every member of the app,
//! workloads first and namespaces and CRDs last; then a wait until they are gone, naming what is
//! left (usually a finalizer) on timeout; then the app's parent Secret. Pruning deletes through
//! the same [`delete_in_order`].

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use ekskit_core::Hinted;
use ekskit_core::wait::human;
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::discovery::ApiResource;
use tokio::time::Instant;
use tracing::info;

use crate::apply::api;
use crate::applyset::AppSet;
use crate::cli::Args;
use crate::errors::{is_not_found, kube_error};
use crate::model::{Action, ObjectResult};
use crate::ordering::Phase;
use crate::resolve::{Key, Kinds, Object};

/// An object to delete: who it is and where its API is.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: Key,
    pub resource: ApiResource,
}

impl Target {
    pub fn of(o: &Object) -> Self {
        Self { key: o.key(), resource: o.resource.clone() }
    }
}

pub async fn delete(
    client: &Client,
    objects: &[Object],
    set: Option<&AppSet>,
    kinds: &Kinds,
    args: &Args,
) -> anyhow::Result<Vec<ObjectResult>> {
    let mut targets: Vec<Target> = objects.iter().map(Target::of).collect();
    if let Some(set) = set {
        let named: HashSet<Key> = objects.iter().map(Object::key).collect();
        let inventory = set.read(client).await?;
        let namespaces: BTreeSet<String> = objects.iter().filter_map(|o| o.namespace.clone()).collect();
        let members = set.members(client, kinds, inventory.as_ref(), &namespaces).await?;
        targets.extend(members.into_iter().filter(|m| !named.contains(&m.key)));
    }
    let done = delete_in_order(client, targets, args.dry_run, args.concurrency.into()).await?;
    let mut results = Vec::with_capacity(done.len());
    let mut gone = Vec::new();
    for (target, action) in done {
        info!("{} {}", target.key, if action == Action::Deleted { "deleted" } else { "already absent" });
        results.push(crate::result_of_key(target.key.clone(), target.resource.api_version.clone(), action));
        if action == Action::Deleted {
            gone.push(target);
        }
    }
    if !args.dry_run && !args.no_wait {
        wait_gone(client, &gone, args.timeout).await?;
    }
    if let Some(set) = set
        && !args.dry_run
    {
        set.delete_parent(client).await?;
    }
    Ok(results)
}

/// Deletes `targets` phase by phase in the reverse of the apply order (workloads before what they
/// use, namespaces and CRDs last), each phase concurrently; `Absent` for those already gone.
pub async fn delete_in_order(
    client: &Client,
    targets: Vec<Target>,
    dry_run: bool,
    concurrency: usize,
) -> anyhow::Result<Vec<(Target, Action)>> {
    let params =
        DeleteParams { dry_run, propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
    let params = &params;
    let mut done = Vec::with_capacity(targets.len());
    for phase in Phase::delete_order() {
        let batch: Vec<&Target> = targets.iter().filter(|t| Phase::of(&t.key.group, &t.key.kind) == phase).collect();
        let deleted: Vec<(Target, Action)> = stream::iter(batch)
            .map(|t| async move {
                match api(client, &t.resource, t.key.namespace.as_deref()).delete(&t.key.name, params).await {
                    Ok(_) => Ok((t.clone(), Action::Deleted)),
                    Err(e) if is_not_found(&e) => Ok((t.clone(), Action::Absent)),
                    Err(e) => Err(kube_error(e, format!("deleting {}", t.key))),
                }
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        done.extend(deleted);
    }
    Ok(done)
}

async fn wait_gone(client: &Client, gone: &[Target], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut left: Vec<&Target> = gone.iter().collect();
    if !left.is_empty() {
        info!("waiting up to {} for {} objects to be gone", human(timeout), left.len());
    }
    let mut interval = Duration::from_millis(200);
    loop {
        let still: Vec<Option<(&Target, String)>> = stream::iter(left.iter().copied())
            .map(|t| async move {
                match api(client, &t.resource, t.key.namespace.as_deref()).get(&t.key.name).await {
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(kube_error(e, format!("checking that {} is gone", t.key))),
                    Ok(live) => {
                        let finalizers = live.metadata.finalizers.unwrap_or_default();
                        let state = if finalizers.is_empty() {
                            "still terminating".to_owned()
                        } else {
                            format!("held by finalizers {}", finalizers.join(", "))
                        };
                        Ok(Some((t, state)))
                    }
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        let still: Vec<(&Target, String)> = still.into_iter().flatten().collect();
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let lines: Vec<String> = still.iter().map(|(t, state)| format!("{}: {state}", t.key)).collect();
            return Err(Hinted::new(
                format!(
                    "timed out after {} waiting for {} objects to be gone: {}",
                    human(timeout),
                    lines.len(),
                    lines.join("; ")
                ),
                "a finalizer's controller may be gone; check the objects named, or re-run with a longer --timeout",
            )
            .into());
        }
        left = still.into_iter().map(|(t, _)| t).collect();
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
    }
}
