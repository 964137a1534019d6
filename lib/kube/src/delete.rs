//! `--delete`: the objects the manifests name, workloads first and namespaces and CRDs last,
//! plus (with `--app`) every member of the app and its parent Secret; then a wait until they are
//! gone, naming what is left (usually a finalizer) on timeout.

use std::collections::HashSet;
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

pub async fn delete(
    client: &Client,
    objects: &[Object],
    set: Option<&AppSet>,
    kinds: &Kinds,
    args: &Args,
) -> anyhow::Result<Vec<ObjectResult>> {
    let params = DeleteParams {
        dry_run: args.dry_run,
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let mut results = Vec::new();
    let mut gone: Vec<(Key, ApiResource)> = Vec::new();
    for phase in Phase::delete_order() {
        let batch: Vec<&Object> = objects.iter().filter(|o| o.phase == phase).collect();
        let deleted: Vec<(&Object, Action)> = stream::iter(batch)
            .map(|o| {
                let params = params.clone();
                async move {
                    match api(client, &o.resource, o.namespace.as_deref()).delete(&o.name, &params).await {
                        Ok(_) => Ok((o, Action::Deleted)),
                        Err(e) if is_not_found(&e) => Ok((o, Action::Absent)),
                        Err(e) => Err(kube_error(e, format!("deleting {}", o.key()))),
                    }
                }
            })
            .buffered(args.concurrency.into())
            .try_collect()
            .await?;
        for (o, action) in deleted {
            info!("{} {}", o.key(), if action == Action::Deleted { "deleted" } else { "already absent" });
            if action == Action::Deleted {
                gone.push((o.key(), o.resource.clone()));
            }
            results.push(crate::result_of(o, action, None));
        }
    }
    if let Some(set) = set
        && let Some(inventory) = set.read(client).await?
    {
        let named: HashSet<Key> = objects.iter().map(Object::key).collect();
        for (key, api_version) in set.prune(client, kinds, &inventory, &named, args.dry_run).await? {
            if let Some((resource, _)) = kinds.resolve_group_kind(&key.group, &key.kind) {
                gone.push((key.clone(), resource));
            }
            results.push(crate::result_of_key(key, api_version, Action::Deleted));
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

async fn wait_gone(client: &Client, gone: &[(Key, ApiResource)], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut left: Vec<&(Key, ApiResource)> = gone.iter().collect();
    if !left.is_empty() {
        info!("waiting up to {} for {} objects to be gone", human(timeout), left.len());
    }
    let mut interval = Duration::from_millis(200);
    loop {
        let still: Vec<Option<(&(Key, ApiResource), String)>> = stream::iter(left.iter().copied())
            .map(|item| async move {
                let (key, resource) = item;
                match api(client, resource, key.namespace.as_deref()).get(&key.name).await {
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(kube_error(e, format!("checking that {key} is gone"))),
                    Ok(live) => {
                        let finalizers = live.metadata.finalizers.unwrap_or_default();
                        let state = if finalizers.is_empty() {
                            "still terminating".to_owned()
                        } else {
                            format!("held by finalizers {}", finalizers.join(", "))
                        };
                        Ok(Some((item, state)))
                    }
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        let still: Vec<(&(Key, ApiResource), String)> = still.into_iter().flatten().collect();
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let lines: Vec<String> = still.iter().map(|((key, _), state)| format!("{key}: {state}")).collect();
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
        left = still.into_iter().map(|(item, _)| item).collect();
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
    }
}
