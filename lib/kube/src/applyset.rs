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
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use crate::errors::{idempotent, is_not_found, kube_error};
use crate::model::Action;
use crate::resolve::{Key, Kinds, Object, group_kind};
use crate::server::{FIELD_MANAGER, api};
use crate::targets::{Target, delete_in_order};

pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const ID: &str = "applyset.kubernetes.io/id";
pub const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
const TOOLING_VALUE: &str = "kapply/v1";
/// LISTs and deletes of members at a time.
const CONCURRENCY: usize = 16;

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
        let parent = match idempotent("reading the app's parent Secret", || secrets.get_opt(&self.parent)).await {
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
        let patch = Patch::Apply(&parent);
        match idempotent("writing the app's parent Secret", || secrets.patch(&self.parent, &params, &patch)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(kube_error(e, format!("writing the app's parent Secret {}/{}", self.namespace, self.parent))),
        }
    }

    /// Deletes the parent Secret (after every member is gone).
    pub async fn delete_parent(&self, client: &Client) -> anyhow::Result<()> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        // A DELETE repeated after a lost answer finds it gone (404): done.
        let params = DeleteParams::default();
        match idempotent("deleting the app's parent Secret", || secrets.delete(&self.parent, &params)).await {
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
        let members = self.members(client, kinds, Some(inventory), &BTreeSet::new()).await?;
        let targets = members.into_iter().filter(|m| !keep.contains(&m.key)).collect();
        let done = delete_in_order(client, targets, dry_run, CONCURRENCY).await?;
        Ok(done
            .into_iter()
            .filter(|(_, action)| *action == Action::Deleted)
            .map(|(t, _)| {
                info!("pruned {}{}", t.key, if dry_run { " (dry run)" } else { "" });
                (t.key, t.resource.api_version)
            })
            .collect())
    }

    /// The live members of the set: listed by the kinds and namespaces the parent records or,
    /// with no parent (deleted by hand, or lost by a run of an older kapply that failed before
    /// writing it), by their label over every served kind, in every namespace (or, where the
    /// credentials may not list across namespaces, in the parent's and `namespaces`).
    pub async fn members(
        &self,
        client: &Client,
        kinds: &Kinds,
        inventory: Option<&Inventory>,
        namespaces: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<Target>> {
        let mut scope: BTreeSet<String> = namespaces.clone();
        scope.insert(self.namespace.clone());
        let lists: Vec<(ApiResource, Option<String>)> = match inventory {
            Some(inventory) => {
                scope.extend(inventory.namespaces.iter().cloned());
                self.recorded_lists(kinds, inventory, &scope)
            }
            None => {
                info!(
                    "no parent Secret {}/{}: looking for members of app {} by label in every served kind",
                    self.namespace, self.parent, self.app
                );
                kinds.deletable().into_iter().map(|resource| (resource, None)).collect()
            }
        };
        let scanning = inventory.is_none();
        let found: Vec<Vec<(String, Target)>> = stream::iter(lists)
            .map(|(resource, ns)| {
                let scope = &scope;
                async move { self.list_members(client, &resource, ns.as_deref(), scanning, scope).await }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut seen = HashSet::new();
        // A kind served by two groups (events) lists the same object twice: keep it once.
        Ok(found.into_iter().flatten().filter(|(uid, _)| seen.insert(uid.clone())).map(|(_, t)| t).collect())
    }

    /// One LIST per recorded group-kind and namespace (one for cluster-scoped kinds).
    fn recorded_lists(
        &self,
        kinds: &Kinds,
        inventory: &Inventory,
        scope: &BTreeSet<String>,
    ) -> Vec<(ApiResource, Option<String>)> {
        let mut lists = Vec::new();
        for gk in &inventory.group_kinds {
            let (kind, group) = gk.split_once('.').unwrap_or((gk, ""));
            let Some((resource, namespaced)) = kinds.resolve_group_kind(group, kind) else {
                // Not served when the run started: either its CRD is gone (and its objects with
                // it) or comes with this run, whose objects of that kind are all kept.
                debug!("{gk} was not served when the run started: no members of it to find");
                continue;
            };
            if namespaced {
                lists.extend(scope.iter().map(|ns| (resource.clone(), Some(ns.clone()))));
            } else {
                lists.push((resource, None));
            }
        }
        lists
    }

    /// Members of one resource in `ns` (None: cluster-wide or across namespaces). A label scan
    /// skips kinds it cannot list (an aggregated API that is down), saying so.
    async fn list_members(
        &self,
        client: &Client,
        resource: &ApiResource,
        ns: Option<&str>,
        scanning: bool,
        scope: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<(String, Target)>> {
        let params = ListParams::default().labels(&format!("{PART_OF}={}", self.id));
        let members = api(client, resource, ns);
        let list = match idempotent(&format!("listing {}", resource.plural), || members.list_metadata(&params)).await {
            Ok(list) => list,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(kube::Error::Api(s)) if scanning && s.code == 403 && ns.is_none() => {
                // May not list across namespaces: look where the app is known to be.
                let mut found = Vec::new();
                for ns in scope {
                    found.extend(Box::pin(self.list_members(client, resource, Some(ns), false, scope)).await?);
                }
                return Ok(found);
            }
            Err(kube::Error::Api(s)) if scanning && matches!(s.code, 405 | 503) => {
                warn!("cannot list {} to find members of app {}: {}", resource.plural, self.app, s.message);
                return Ok(Vec::new());
            }
            Err(e) => return Err(kube_error(e, format!("listing {} of app {}", resource.plural, self.app))),
        };
        Ok(list
            .items
            .into_iter()
            .map(|item| {
                let key = Key {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    namespace: item.metadata.namespace,
                    name: item.metadata.name.unwrap_or_default(),
                };
                (item.metadata.uid.unwrap_or_else(|| key.to_string()), Target { key, resource: resource.clone() })
            })
            .collect())
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
