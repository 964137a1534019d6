//! `--delete`: the objects the manifests name plus (with `--app`) every member of the app,
//! workloads first and namespaces and CRDs last; then a wait until they are gone, naming what is
//! left (usually a finalizer) on timeout; then the app's parent Secret. Pruning deletes through
//! the same [`crate::targets::delete_in_order`].

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use ekskit_core::Hinted;
use ekskit_core::wait::human;
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use tokio::time::Instant;
use tracing::info;

use crate::applyset::AppSet;
use crate::errors::{is_not_found, kube_error, sleep_out};
use crate::model::{Action, ObjectResult};
use crate::options::ApplyOptions;
use crate::resolve::{Key, Kinds, Object};
use crate::server::api;
use crate::targets::{Target, delete_in_order};

pub async fn delete(
    client: &Client,
    objects: &[Object],
    set: Option<&AppSet>,
    kinds: &Kinds,
    options: &ApplyOptions,
) -> anyhow::Result<Vec<ObjectResult>> {
    let mut targets: Vec<Target> = objects.iter().map(Target::of).collect();
    if let Some(set) = set {
        let named: HashSet<Key> = objects.iter().map(Object::key).collect();
        let inventory = set.read(client).await?;
        let namespaces: BTreeSet<String> = objects.iter().filter_map(|o| o.namespace.clone()).collect();
        let members = set.members(client, kinds, inventory.as_ref(), &namespaces).await?;
        targets.extend(members.into_iter().filter(|m| !named.contains(&m.key)));
    }
    let done = delete_in_order(client, targets, options.dry_run, options.concurrency.into()).await?;
    let mut results = Vec::with_capacity(done.len());
    let mut gone = Vec::new();
    for (target, action) in done {
        info!("{} {}", target.key, if action == Action::Deleted { "deleted" } else { "already absent" });
        results.push(crate::result_of_key(target.key.clone(), target.resource.api_version.clone(), action));
        if action == Action::Deleted {
            gone.push(target);
        }
    }
    if !options.dry_run && options.wait {
        wait_gone(client, &gone, options.timeout).await?;
    }
    if let Some(set) = set
        && !options.dry_run
    {
        set.delete_parent(client).await?;
    }
    Ok(results)
}

// Not ekskit_core::wait::until: this polls many objects at once and its timeout names each one
// left with its finalizers, in words `until` (one resource, one state) cannot give.
#[allow(clippy::disallowed_methods)]
async fn wait_gone(client: &Client, gone: &[Target], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut left: Vec<&Target> = gone.iter().collect();
    if !left.is_empty() {
        info!("waiting up to {} for {} objects to be gone", human(timeout), left.len());
    }
    let mut interval = Duration::from_millis(200);
    loop {
        let polled: anyhow::Result<Vec<Option<(&Target, String)>>> = stream::iter(left.iter().copied())
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
            .await;
        let still = match polled {
            Ok(still) => still,
            // Throttled, a 5xx, a dropped connection: poll again after what the server asked.
            Err(e) => {
                sleep_out(e, deadline).await?;
                continue;
            }
        };
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
