//! The namespaces a run writes into, checked before its first write: each must exist or be a
//! Namespace of the input. Otherwise the run would stop half way (the objects of earlier phases
//! applied, the rest not, perhaps with no ApplySet parent to find them by), and a dry run would
//! say yes to what the real run refuses. Read once per run, concurrently with discovery.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ekskit_core::InputError;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::Api;
use serde_json::Value;
use tracing::debug;

use crate::applyset::AppSet;
use crate::errors::kube_error;
use crate::manifests::Manifest;
use crate::resolve::Object;

/// What the run knows about the namespaces it may write into.
#[derive(Debug, Default)]
pub struct Namespaces {
    /// Live namespaces by name, as read (Null when the credentials may not read namespaces).
    live: HashMap<String, Value>,
    /// The Namespace objects of the input.
    in_input: BTreeSet<String>,
}

impl Namespaces {
    /// Reads every namespace the manifests may use (theirs, `default_ns` for those that name
    /// none, the Namespaces they define, `parent_ns`): one GET each, concurrently. Asked before
    /// discovery says which kinds are namespaced, so it may read one too many; a GET is cheap.
    pub async fn read(
        client: &Client,
        manifests: &[Manifest],
        default_ns: &str,
        parent_ns: Option<&str>,
    ) -> anyhow::Result<Self> {
        let in_input: BTreeSet<String> = manifests
            .iter()
            .filter(|m| is_namespace(m.api_version(), m.kind()))
            .filter_map(|m| m.object["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        let mut names: BTreeSet<String> =
            manifests.iter().map(|m| m.namespace().unwrap_or(default_ns).to_owned()).collect();
        names.extend(in_input.iter().cloned());
        names.extend(parent_ns.map(str::to_owned));
        let api: Api<Namespace> = Api::all(client.clone());
        let found: Vec<Option<(String, Value)>> = stream::iter(names)
            .map(|name| {
                let api = api.clone();
                let in_input = in_input.contains(&name);
                async move {
                    let reading = format!("reading namespace {name}");
                    match crate::errors::idempotent(&reading, || api.get_opt(&name)).await {
                        Ok(Some(ns)) => Ok(Some((name, serde_json::to_value(ns)?))),
                        Ok(None) => Ok(None),
                        // Credentials limited to some namespaces may not read them: assume it is
                        // there, as before this check; the apply says if it is not.
                        Err(kube::Error::Api(s)) if s.code == 403 && !in_input => {
                            debug!("may not read namespace {name}; assuming it exists");
                            Ok(Some((name, Value::Null)))
                        }
                        Err(e) => Err(kube_error(e, format!("reading namespace {name}"))),
                    }
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        Ok(Self { live: found.into_iter().flatten().collect(), in_input })
    }

    /// Exit 2 unless every namespace `objects` (and the app's parent) live in exists or is
    /// created by the input, naming the missing ones and what would have gone into them.
    pub fn check(&self, objects: &[Object], set: Option<&AppSet>) -> Result<(), InputError> {
        let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for o in objects {
            if let Some(ns) = o.namespace.as_deref().filter(|ns| !self.usable(ns)) {
                missing.entry(ns).or_default().push(o.key().to_string());
            }
        }
        if let Some(set) = set.filter(|s| !self.usable(&s.namespace)) {
            let parent = format!("the parent Secret {}/{} of app {}", set.namespace, set.parent, set.app);
            missing.entry(&set.namespace).or_default().insert(0, parent);
        }
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.keys().copied().collect();
        let holds: Vec<String> = missing.iter().map(|(ns, what)| format!("{ns} would hold {}", few(what))).collect();
        let message = match names.as_slice() {
            [one] => format!("namespace {one} does not exist and the input does not create it; {}", holds[0]),
            _ => format!(
                "namespaces {} do not exist and the input does not create them; {}",
                names.join(", "),
                holds.join("; ")
            ),
        };
        Err(InputError::new(message).hint(format!(
            "add a Namespace object to the input, or create it first (`kubectl create namespace {}`); nothing was applied",
            names[0]
        )))
    }

    /// A Namespace of the input that does not exist yet: this batch creates it.
    pub fn created_by_batch(&self, ns: &str) -> bool {
        self.in_input.contains(ns) && !self.live.contains_key(ns)
    }

    /// Whether `ns` exists live (or cannot be read, and is assumed to).
    pub fn exists(&self, ns: &str) -> bool {
        self.live.contains_key(ns)
    }

    /// The live form of a namespace, when read.
    pub fn live(&self, ns: &str) -> Option<&Value> {
        self.live.get(ns).filter(|v| !v.is_null())
    }

    fn usable(&self, ns: &str) -> bool {
        self.exists(ns) || self.in_input.contains(ns)
    }
}

/// Core `v1` Namespace.
pub fn is_namespace(api_version: &str, kind: &str) -> bool {
    api_version == "v1" && kind == "Namespace"
}

/// `a, b, c and 4 more`
fn few(items: &[String]) -> String {
    const SHOWN: usize = 3;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_cut_after_three() {
        let items: Vec<String> = (1..=5).map(|i| format!("ConfigMap shop/c{i}")).collect();
        assert_eq!(few(&items[..2]), "ConfigMap shop/c1, ConfigMap shop/c2");
        assert_eq!(few(&items), "ConfigMap shop/c1, ConfigMap shop/c2, ConfigMap shop/c3 and 2 more");
    }
}
