//! Objects to delete, and deleting them in the reverse of the apply order. Its own module
//! because `--delete` and the app set's pruning both delete this way, and `--delete` also
//! removes the app set.

use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::discovery::ApiResource;

use crate::errors::{is_not_found, kube_error};
use crate::model::Action;
use crate::ordering::Phase;
use crate::resolve::{Key, Object};
use crate::server::api;

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
                let api = api(client, &t.resource, t.key.namespace.as_deref());
                // A DELETE repeated after a lost answer finds it gone: `absent`, and gone all the same.
                match crate::errors::idempotent(&format!("deleting {}", t.key), || api.delete(&t.key.name, params))
                    .await
                {
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
