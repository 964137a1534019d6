//! Turning manifests into objects the API knows: the resource (plural, scope) of each kind from
//! discovery, or from a CRD in the same batch; the namespace filled in; duplicates refused.
//! Everything is checked before the first write, so bad input changes nothing.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use ekskit_core::InputError;
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Discovery, Scope, verbs};
use serde_json::Value;

use crate::manifests::Manifest;
use crate::ordering::{Phase, group_of};

/// An object ready to apply.
#[derive(Debug, Clone)]
pub struct Object {
    pub origin: String,
    pub body: Value,
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub phase: Phase,
}

/// Identity of an object: group, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

impl Object {
    pub fn key(&self) -> Key {
        Key {
            group: self.resource.group.clone(),
            kind: self.resource.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn group_kind(&self) -> String {
        group_kind(&self.resource.group, &self.resource.kind)
    }
}

/// `Deployment.apps`, `Namespace`: the form ApplySet annotations use.
pub fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") }
}

/// (group, version, kind)
type Gvk = (String, String, String);
/// A resource and whether it is namespaced.
type Resolved = (ApiResource, bool);

/// What kinds the server has, plus those defined by CRDs in the batch.
pub struct Kinds {
    discovery: Discovery,
    planned: HashMap<Gvk, Resolved>,
}

impl Kinds {
    pub fn new(discovery: Discovery, manifests: &[Manifest]) -> Self {
        let planned = manifests
            .iter()
            .filter(|m| m.kind() == "CustomResourceDefinition")
            .flat_map(|m| crd_resources(&m.object))
            .collect();
        Self { discovery, planned }
    }

    /// The resource and whether it is namespaced.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Resolved> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some((resource, caps)) = self.discovery.resolve_gvk(&gvk) {
            return Some((resource, caps.scope == Scope::Namespaced));
        }
        self.planned.get(&(group.to_owned(), version.to_owned(), kind.to_owned())).cloned()
    }

    /// Whether the server serves `resource` now (not only a CRD of the batch that is still to come).
    pub fn is_served(&self, resource: &ApiResource) -> bool {
        let gvk = GroupVersionKind::gvk(&resource.group, &resource.version, &resource.kind);
        self.discovery.resolve_gvk(&gvk).is_some()
    }

    /// Whether discovery serves every served version of the CRD `crd` (a manifest): the API
    /// server serves a CRD's kind only once it is Established.
    pub fn serves_crd(&self, crd: &Value) -> bool {
        let served = crd_resources(crd);
        !served.is_empty()
            && served.iter().all(|((g, v, k), _)| self.discovery.resolve_gvk(&GroupVersionKind::gvk(g, v, k)).is_some())
    }

    /// Every served resource that can be listed and deleted, each kind once at its most stable
    /// version (for finding an app's members by label alone).
    pub fn deletable(&self) -> Vec<ApiResource> {
        self.discovery
            .groups()
            .flat_map(|g| g.resources_by_stability())
            .filter(|(_, caps)| caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::DELETE))
            .map(|(r, _)| r)
            .collect()
    }

    /// The served resource of a group and kind in any version (for pruning by ApplySet group-kinds).
    pub fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<Resolved> {
        let g = self.discovery.get(group)?;
        g.recommended_kind(kind).map(|(r, caps)| (r, caps.scope == Scope::Namespaced))
    }
}

/// The resources a CRD (its manifest or live form) serves, keyed by (group, version, kind).
fn crd_resources(crd: &Value) -> Vec<(Gvk, Resolved)> {
    let spec = &crd["spec"];
    let (Some(group), Some(kind), Some(plural)) =
        (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
    else {
        return Vec::new();
    };
    let namespaced = spec["scope"] != "Cluster";
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] != false)
        .filter_map(|v| v["name"].as_str())
        .map(|version| {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            (
                (group.to_owned(), version.to_owned(), kind.to_owned()),
                (ApiResource::from_gvk_with_plural(&gvk, plural), namespaced),
            )
        })
        .collect()
}

/// Resolves every manifest or fails listing every problem at once.
pub fn resolve(
    manifests: Vec<Manifest>,
    kinds: &Kinds,
    namespace: &str,
    forced_ns: bool,
) -> Result<Vec<Object>, InputError> {
    let mut objects = Vec::with_capacity(manifests.len());
    let mut problems = BTreeSet::new();
    let mut seen: HashMap<Key, String> = HashMap::new();
    for m in manifests {
        let Some((resource, namespaced)) = kinds.resolve(m.api_version(), m.kind()) else {
            problems.insert(format!("{}: unknown kind {} in {}", m.origin, m.kind(), m.api_version()));
            continue;
        };
        let object_ns = if namespaced {
            match m.namespace() {
                Some(ns) if forced_ns && ns != namespace => {
                    problems.insert(format!("{}: namespace {ns} differs from --namespace {namespace}", m.origin));
                    continue;
                }
                Some(ns) => Some(ns.to_owned()),
                None => Some(namespace.to_owned()),
            }
        } else {
            None
        };
        let mut body = m.object;
        match &object_ns {
            Some(ns) => body["metadata"]["namespace"] = Value::String(ns.clone()),
            None => {
                if let Some(meta) = body["metadata"].as_object_mut() {
                    meta.remove("namespace");
                }
            }
        }
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let object = Object {
            phase: Phase::of(group_of(&resource.api_version), &resource.kind),
            origin: m.origin,
            body,
            resource,
            namespace: object_ns,
            name,
        };
        if let Some(first) = seen.insert(object.key(), object.origin.clone()) {
            problems.insert(format!("{} is defined twice: {first} and {}", object.key(), object.origin));
            continue;
        }
        objects.push(object);
    }
    if problems.is_empty() {
        return Ok(objects);
    }
    let unknown_kind = problems.iter().any(|p| p.contains("unknown kind"));
    let hint = if unknown_kind {
        "check apiVersion and kind (`kubectl api-resources` lists what the server has); a custom resource needs its CRD in the same input or installed first"
    } else {
        "fix the manifests; nothing was applied"
    };
    Err(InputError::new(problems.into_iter().collect::<Vec<_>>().join("; ")).hint(hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::parse_stream;

    #[test]
    fn crds_in_the_batch_define_their_kinds_in_every_served_version() {
        let ms = parse_stream(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: crontabs.stable.example.com}\n\
             spec:\n  group: stable.example.com\n  scope: Namespaced\n  names: {kind: CronTab, plural: crontabs}\n  \
             versions: [{name: v1, served: true}, {name: v0, served: false}]\n",
            "crd.yaml",
        )
        .unwrap();
        let res = crd_resources(&ms[0].object);
        assert_eq!(res.len(), 1);
        let ((g, v, k), (r, namespaced)) = &res[0];
        assert_eq!(
            (g.as_str(), v.as_str(), k.as_str(), r.plural.as_str(), *namespaced),
            ("stable.example.com", "v1", "CronTab", "crontabs", true)
        );
        assert_eq!(group_kind("apps", "Deployment"), "Deployment.apps");
        assert_eq!(group_kind("", "Namespace"), "Namespace");
    }
}
