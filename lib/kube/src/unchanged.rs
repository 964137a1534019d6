//! When an apply would change nothing, so kapply sends none (an unchanged re-apply is then only
//! reads): live holds every field the manifest sets, with the same values, *and* kapply's own
//! last apply of the object sent exactly this body. The second half is what
//! [`crate::current::difference`] cannot see: server-side apply removes fields the manager applied
//! before and no longer sets, so a manifest that dropped a field must still be sent. kapply
//! records a digest of every body it applies in an annotation to know that.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::server::FIELD_MANAGER;

/// The annotation holding the digest of the body kapply last applied.
pub const DIGEST: &str = "kapply.ekskit.dev/applied-digest";

/// Records in `body` the digest of `body` itself (computed without the annotation).
pub fn stamp(body: &mut Value) {
    strip(body);
    let digest = digest(body);
    body["metadata"]["annotations"][DIGEST] = Value::String(digest);
}

/// Why `body` (stamped) must be sent to an object whose live form is `live`; None when sending
/// it would change nothing.
pub fn reason_to_send(body: &Value, live: Option<&Value>) -> Option<String> {
    let Some(live) = live else { return Some("not there".into()) };
    if annotation(live) != annotation(body) {
        return Some("last applied from another manifest (or not by kapply)".into());
    }
    if !applied_by_kapply(live) {
        return Some(format!("no field is applied by {FIELD_MANAGER}"));
    }
    crate::current::difference(&applied_fields(body), live)
}

/// Whether metadata alone shows that sending `body` would change nothing: kapply last applied
/// exactly this body and no other manager has written the object since, which would have left
/// an entry of its own in managedFields. (Status writes do not count: an apply leaves status be.)
pub fn unchanged_by_metadata(body: &Value, live: &Value) -> bool {
    let writers = live["metadata"]["managedFields"].as_array().into_iter().flatten();
    let only_kapply = writers
        .filter(|entry| entry["subresource"].as_str().unwrap_or_default().is_empty())
        .all(|entry| entry["manager"] == FIELD_MANAGER && entry["operation"] == "Apply");
    annotation(body).is_some() && annotation(live) == annotation(body) && applied_by_kapply(live) && only_kapply
}

/// Removes the annotation from an object (for comparing objects as users see them).
pub fn strip(obj: &mut Value) {
    let Some(meta) = obj["metadata"].as_object_mut() else { return };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else { return };
    annotations.remove(DIGEST);
    if annotations.is_empty() {
        meta.remove("annotations");
    }
}

fn annotation(obj: &Value) -> Option<&str> {
    obj["metadata"]["annotations"][DIGEST].as_str()
}

fn applied_by_kapply(live: &Value) -> bool {
    live["metadata"]["managedFields"].as_array().into_iter().flatten().any(|entry| {
        entry["manager"] == FIELD_MANAGER
            && entry["operation"] == "Apply"
            && entry["subresource"].as_str().unwrap_or_default().is_empty()
    })
}

/// What an apply of `body` can change: not the type (LIST items carry none) and not `status`,
/// which the main resource ignores on writes (some generators put an empty one in CRDs).
fn applied_fields(body: &Value) -> Value {
    let mut fields = body.clone();
    if let Some(map) = fields.as_object_mut() {
        for field in ["apiVersion", "kind", "status"] {
            map.remove(field);
        }
    }
    fields
}

/// `sha256:<hex>` of the body as canonical JSON (keys sorted at every level), so the order of
/// keys in the manifest or in memory does not matter.
fn digest(body: &Value) -> String {
    let mut canonical = Vec::new();
    write_canonical(body, &mut canonical);
    let hash = Sha256::digest(&canonical);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(Value::String(k.clone()).to_string().into_bytes());
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(scalar.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stamped(body: Value) -> Value {
        let mut body = body;
        stamp(&mut body);
        body
    }

    /// The live form of `body` as the API server returns it after kapply applied it.
    fn applied(body: &Value) -> Value {
        let mut live = applied_fields(body);
        live["metadata"]["uid"] = json!("u1");
        live["metadata"]["managedFields"] = json!([{"manager": FIELD_MANAGER, "operation": "Apply"}]);
        live
    }

    #[test]
    fn the_digest_ignores_key_order_and_the_annotation_itself() {
        let a = stamped(json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1", "y": "2"}}));
        let b = stamped(json!({"data": {"y": "2", "x": "1"}, "metadata": {"name": "c"}, "kind": "ConfigMap"}));
        assert_eq!(annotation(&a), annotation(&b));
        assert!(annotation(&a).unwrap().starts_with("sha256:"));
        let again = stamped(a.clone());
        assert_eq!(again, a, "stamping twice gives the same body");
        let other = stamped(json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}));
        assert_ne!(annotation(&a), annotation(&other));
    }

    #[test]
    fn only_a_body_kapply_applied_last_and_live_still_holds_is_left_unsent() {
        let body = stamped(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"x": "1", "y": "2"}, "status": {}}));
        let live = applied(&body);
        assert_eq!(reason_to_send(&body, Some(&live)), None);
        assert_eq!(reason_to_send(&body, None).unwrap(), "not there");

        // Someone changed a value kapply sets.
        let mut edited = live.clone();
        edited["data"]["x"] = json!("9");
        assert!(reason_to_send(&body, Some(&edited)).unwrap().contains(".data.x"));

        // The manifest dropped `y`: live holds every field it sets, but the apply must remove `y`.
        let smaller =
            stamped(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}));
        assert!(reason_to_send(&smaller, Some(&live)).unwrap().contains("another manifest"));

        // Applied by an older kapply (no annotation), or no longer owned by kapply.
        let mut old = live.clone();
        strip(&mut old);
        assert!(reason_to_send(&body, Some(&old)).is_some());
        let mut taken = live.clone();
        taken["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Update"}]);
        assert!(reason_to_send(&body, Some(&taken)).unwrap().contains("no field is applied by"));
    }

    #[test]
    fn metadata_decides_only_when_kapply_alone_wrote_the_object() {
        let body = stamped(json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}));
        let meta = |entries: Value| {
            json!({"metadata": {"name": "c", "annotations": body["metadata"]["annotations"],
            "managedFields": entries}})
        };
        let kapply = json!({"manager": FIELD_MANAGER, "operation": "Apply"});
        let status = json!({"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"});
        assert!(unchanged_by_metadata(&body, &meta(json!([kapply, status]))));
        let edit = json!({"manager": "kubectl-edit", "operation": "Update"});
        assert!(!unchanged_by_metadata(&body, &meta(json!([kapply, edit]))), "someone else wrote it");
        assert!(!unchanged_by_metadata(&body, &meta(json!([]))));
        let other = stamped(json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "2"}}));
        assert!(!unchanged_by_metadata(&other, &meta(json!([kapply]))), "another manifest");
    }

    #[test]
    fn stripping_leaves_the_object_as_users_wrote_it() {
        let mut only = stamped(json!({"metadata": {"name": "c"}}));
        strip(&mut only);
        assert_eq!(only, json!({"metadata": {"name": "c"}}));
        let mut more = stamped(json!({"metadata": {"name": "c", "annotations": {"a": "b"}}}));
        strip(&mut more);
        assert_eq!(more, json!({"metadata": {"name": "c", "annotations": {"a": "b"}}}));
    }
}
