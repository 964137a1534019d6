//! An app's objects as a Kubernetes ApplySet (KEP-3659, the scheme `kubectl apply --prune
//! --applyset` uses): every member carries `applyset.kubernetes.io/part-of=<id>`, and a parent
//! Secret `kapply-<app>` records which group-kinds and namespaces members live in. Pruning lists
//! only those kinds, only with that label, so it can never touch anything outside the app.

use std::collections::{BTreeSet, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ekskit_core::{Hinted, InputError};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::apply::{FIELD_MANAGER, api};
use crate::errors::{is_not_found, kube_error};
use crate::resolve::{Key, Kinds, Object, group_kind};

pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const ID: &str = "applyset.kubernetes.io/id";
pub const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
const TOOLING_VALUE: &str = "kapply/v1";

/// The ApplySet of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSet {
    pub app: String,
    pub namespace: String,
    pub parent: String,
    pub id: String,
}

/// What the parent records: group-kinds (`Deployment.apps`) and namespaces of members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub group_kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
}

impl AppSet {
    pub fn new(app: &str, namespace: &str) -> Result<Self, InputError> {
        check_app_name(app)?;
        let parent = format!("kapply-{app}");
        Ok(Self { id: id(&parent, namespace), app: app.to_owned(), namespace: namespace.to_owned(), parent })
    }

    /// Puts the membership label on every object.
    pub fn label(&self, objects: &mut [Object]) {
        for o in objects {
            o.body["metadata"]["labels"][PART_OF] = Value::String(self.id.clone());
        }
    }

    /// The inventory recorded on the parent, or None when the app was never applied.
    pub async fn read(&self, client: &Client) -> anyhow::Result<Option<Inventory>> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        let parent = match secrets.get_opt(&self.parent).await {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => None, // the namespace itself is not there yet
            Err(e) => {
                return Err(kube_error(
                    e,
                    format!("reading the app's parent Secret {}/{}", self.namespace, self.parent),
                ));
            }
        };
        let Some(parent) = parent else { return Ok(None) };
        let labels = parent.metadata.labels.unwrap_or_default();
        if labels.get(ID) != Some(&self.id) {
            return Err(Hinted::new(
                format!(
                    "Secret {}/{} exists but is not kapply's ApplySet parent of app {}",
                    self.namespace, self.parent, self.app
                ),
                "pick another --app name, or delete that Secret if it is a leftover",
            )
            .into());
        }
        let annotations = parent.metadata.annotations.unwrap_or_default();
        let split = |key: &str| -> BTreeSet<String> {
            annotations
                .get(key)
                .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Ok(Some(Inventory { group_kinds: split(GROUP_KINDS), namespaces: split(NAMESPACES) }))
    }

    /// Writes the parent Secret with `inventory` (server-side apply, so re-runs converge).
    pub async fn write(&self, client: &Client, inventory: &Inventory, dry_run: bool) -> anyhow::Result<()> {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
        let namespaces: BTreeSet<String> =
            inventory.namespaces.iter().filter(|ns| **ns != self.namespace).cloned().collect();
        let parent = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.parent,
                "namespace": self.namespace,
                "labels": {ID: self.id, "app.kubernetes.io/managed-by": "kapply"},
                "annotations": {TOOLING: TOOLING_VALUE, GROUP_KINDS: join(&inventory.group_kinds), NAMESPACES: join(&namespaces)},
            },
            "type": "Opaque",
        });
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        let params = PatchParams { dry_run, ..PatchParams::apply(FIELD_MANAGER).force() };
        match secrets.patch(&self.parent, &params, &Patch::Apply(&parent)).await {
            Ok(_) => Ok(()),
            Err(e) if dry_run && is_not_found(&e) => Ok(()), // its namespace comes in this same batch
            Err(e) => Err(kube_error(e, format!("writing the app's parent Secret {}/{}", self.namespace, self.parent))),
        }
    }

    /// Deletes the parent Secret (after every member is gone).
    pub async fn delete_parent(&self, client: &Client) -> anyhow::Result<()> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        match secrets.delete(&self.parent, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                Err(kube_error(e, format!("deleting the app's parent Secret {}/{}", self.namespace, self.parent)))
            }
        }
    }

    /// Deletes every member of the set that is not in `keep`; returns what it deleted (or would).
    pub async fn prune(
        &self,
        client: &Client,
        kinds: &Kinds,
        inventory: &Inventory,
        keep: &HashSet<Key>,
        dry_run: bool,
    ) -> anyhow::Result<Vec<(Key, String)>> {
        let selector = format!("{PART_OF}={}", self.id);
        let mut namespaces = inventory.namespaces.clone();
        namespaces.insert(self.namespace.clone());
        let mut targets = Vec::new();
        for gk in &inventory.group_kinds {
            let (kind, group) = gk.split_once('.').unwrap_or((gk, ""));
            let Some((resource, namespaced)) = kinds.resolve_group_kind(group, kind) else {
                info!("prune: {gk} is no longer served; skipping it");
                continue;
            };
            let scopes: Vec<Option<&str>> =
                if namespaced { namespaces.iter().map(|n| Some(n.as_str())).collect() } else { vec![None] };
            for ns in scopes {
                let list = api(client, &resource, ns).list_metadata(&ListParams::default().labels(&selector)).await;
                let list = match list {
                    Ok(l) => l,
                    Err(e) if is_not_found(&e) => continue,
                    Err(e) => return Err(kube_error(e, format!("listing {gk} of app {} to prune", self.app))),
                };
                for item in list.items {
                    let name = item.metadata.name.unwrap_or_default();
                    let key =
                        Key { group: group.to_owned(), kind: kind.to_owned(), namespace: ns.map(str::to_owned), name };
                    if !keep.contains(&key) {
                        targets.push((key, resource.clone()));
                    }
                }
            }
        }
        let params = DeleteParams {
            dry_run,
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        stream::iter(targets)
            .map(|(key, resource)| {
                let params = params.clone();
                async move {
                    let result = api(client, &resource, key.namespace.as_deref()).delete(&key.name, &params).await;
                    match result {
                        Ok(_) => info!("pruned {key}{}", if dry_run { " (dry run)" } else { "" }),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(kube_error(e, format!("pruning {key}"))),
                    }
                    Ok((key, resource.api_version))
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await
    }
}

/// `--app` names become part of the parent Secret's name and of label values.
pub fn check_app_name(app: &str) -> Result<(), InputError> {
    let ok = !app.is_empty()
        && app.len() <= 56
        && app.starts_with(|c: char| c.is_ascii_lowercase())
        && app.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !app.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(InputError::new(format!("--app `{app}` is not a valid app name"))
            .hint("use lowercase letters, digits and hyphens, starting with a letter, at most 56 characters"))
    }
}

/// `applyset-<base64url(sha256("<name>.<namespace>.Secret."))>-v1`, as the ApplySet spec defines.
fn id(parent: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{parent}.{namespace}.Secret.").as_bytes());
    format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(digest))
}

/// The inventory of a set of objects.
pub fn inventory_of(objects: &[Object]) -> Inventory {
    Inventory {
        group_kinds: objects.iter().map(|o| group_kind(&o.resource.group, &o.resource.kind)).collect(),
        namespaces: objects.iter().filter_map(|o| o.namespace.clone()).collect(),
    }
}

impl Inventory {
    pub fn union(&self, other: &Inventory) -> Inventory {
        Inventory {
            group_kinds: self.group_kinds.union(&other.group_kinds).cloned().collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_applyset_spec_and_fit_a_label() {
        let set = AppSet::new("demo", "default").unwrap();
        assert_eq!(set.parent, "kapply-demo");
        assert!(set.id.starts_with("applyset-") && set.id.ends_with("-v1"));
        assert!(set.id.len() <= 63);
        // Reference value: printf kapply-demo.default.Secret. | sha256sum | xxd -r -p | base64 | tr +/ -_ | tr -d =
        assert_eq!(
            set.id,
            format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(Sha256::digest(b"kapply-demo.default.Secret.")))
        );
        assert_ne!(set.id, AppSet::new("demo", "other").unwrap().id);
        for bad in ["", "Demo", "1x", "a_b", "x-", &"a".repeat(57)] {
            assert!(AppSet::new(bad, "default").is_err(), "{bad}");
        }
    }
}
