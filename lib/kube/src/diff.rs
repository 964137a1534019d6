//! Unified diffs of live objects against what an apply would make of them, as YAML, with
//! Secret values masked the way `kubectl diff` masks them.

use serde_json::Value;
use similar::TextDiff;

use crate::content::comparable;
use crate::resolve::Key;

/// The diff of `before` (None: the object does not exist) to `after` for the object `key`.
/// The kind comes from the key: LIST items, and so `before`, carry none.
pub fn unified(key: &Key, before: Option<&Value>, after: &Value) -> String {
    let name = key.to_string();
    let (mut before, mut after) = (before.map(comparable), comparable(after));
    if key.group.is_empty() && key.kind == "Secret" {
        mask_secret(before.as_mut(), &mut after);
    }
    let old = before.as_ref().map(yaml).unwrap_or_default();
    let new = yaml(&after);
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{name}"), &format!("applied/{name}"))
        .to_string()
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// Replaces Secret values with `***`, marking changed ones `(before)`/`(after)`.
fn mask_secret(before: Option<&mut Value>, after: &mut Value) {
    let old = before.as_ref().map(|b| b["data"].clone()).unwrap_or(Value::Null);
    let new = after["data"].clone();
    let mark = |data: &mut Value, other: &Value, tag: &str| {
        if let Some(map) = data.as_object_mut() {
            for (k, v) in map.iter_mut() {
                *v = Value::String(if other.get(k) == Some(v) { "***".into() } else { format!("*** ({tag})") });
            }
        }
    };
    if let Some(b) = before {
        mark(&mut b["data"], &new, "before");
        drop_last_applied(b);
    }
    mark(&mut after["data"], &old, "after");
    drop_last_applied(after);
    if let Some(map) = after.as_object_mut() {
        map.remove("stringData");
    }
}

/// `kubectl apply` (client-side) copies the whole Secret, values too, into this annotation.
fn drop_last_applied(obj: &mut Value) {
    if let Some(annotations) = obj["metadata"]["annotations"].as_object_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: &str, name: &str) -> Key {
        Key { group: String::new(), kind: kind.into(), namespace: Some("default".into()), name: name.into() }
    }

    #[test]
    fn diffs_show_changed_lines_only_and_never_secret_values() {
        let before = json!({"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1"}, "data": {"a": "1", "b": "2"}});
        let after = json!({"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "2"}, "data": {"a": "1", "b": "3"}});
        let d = unified(&key("ConfigMap", "c"), Some(&before), &after);
        assert!(d.starts_with("--- live/ConfigMap default/c\n+++ applied/ConfigMap default/c\n"), "{d}");
        assert!(d.contains("\n-  b: '2'\n+  b: '3'\n"), "{d}");
        assert!(!d.contains("resourceVersion"));

        // As read by a LIST: no kind on the live object.
        let s1 = json!({"metadata": {"name": "s"}, "data": {"k": "c2VjcmV0", "same": "eA=="}});
        let s2 = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "bmV3", "same": "eA=="}});
        let d = unified(&key("Secret", "s"), Some(&s1), &s2);
        assert!(!d.contains("c2VjcmV0") && !d.contains("bmV3") && !d.contains("eA=="), "{d}");
        assert!(d.contains("-  k: '*** (before)'") && d.contains("+  k: '*** (after)'"), "{d}");
    }
}
