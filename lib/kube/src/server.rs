//! How kapply addresses the API server about any one object: the API of its resource and the
//! field manager every write names. Its own module because applying, reading live state,
//! deleting, pruning and the digest check all need these, and applying needs the rest.

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;

/// Every apply uses this field manager, so re-runs own the same fields and conflicts with
/// other managers (kubectl, Helm, controllers) show up instead of being silently overwritten.
pub const FIELD_MANAGER: &str = "ekskit-kapply";

/// The API for `resource`, namespaced or cluster-wide.
pub fn api(client: &Client, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}
