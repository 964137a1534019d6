//! Whether a live object already holds what a manifest says (`--wait-only`): every field the
//! manifest sets has that value in the live object; fields it does not set do not matter.
//! Lists of named items (containers, ports, env) are matched by name, other lists by position.
//! A null (`creationTimestamp: null` from generators) says nothing, and a zero value (`{}`, `[]`,
//! `false`, `0`, `""`) holds where live has no such field: the API server drops them from its own
//! types (`omitempty`), e.g. `hostNetwork: false` in Helm charts.

use serde_json::Value;

/// The first place where `live` does not hold `want`, as `path: want X, live Y`; `None` when it does.
pub fn difference(want: &Value, live: &Value) -> Option<String> {
    diff_at(want, live, String::new())
}

fn diff_at(want: &Value, live: &Value, path: String) -> Option<String> {
    match (want, live) {
        (Value::Null, _) => None,
        (Value::Object(w), Value::Object(l)) => w.iter().find_map(|(k, v)| {
            let sub = format!("{path}.{k}");
            match l.get(k) {
                Some(lv) => diff_at(v, lv, sub),
                None if is_zero(v) => None,
                None => Some(format!("{sub}: want {}, not set", short(v))),
            }
        }),
        (Value::Array(w), Value::Array(l)) => {
            let named = |items: &Vec<Value>| items.iter().all(|i| i.get("name").and_then(Value::as_str).is_some());
            if named(w) {
                w.iter().find_map(|item| {
                    let name = item["name"].as_str().unwrap_or_default();
                    match l.iter().find(|li| li.get("name").and_then(Value::as_str) == Some(name)) {
                        Some(li) => diff_at(item, li, format!("{path}[{name}]")),
                        None => Some(format!("{path}[{name}]: not there")),
                    }
                })
            } else if w.len() != l.len() {
                Some(format!("{path}: want {} items, live {}", w.len(), l.len()))
            } else {
                w.iter().zip(l).enumerate().find_map(|(i, (wi, li))| diff_at(wi, li, format!("{path}[{i}]")))
            }
        }
        (w, l) if same_scalar(w, l) => None,
        (w, l) => Some(format!("{path}: want {}, live {}", short(w), short(l))),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
    }
}

/// Equal, allowing for numbers written as strings (`"80"` in a manifest is 80 once defaulted, and
/// quantities such as `"1"` CPU) the way the API server normalises them.
fn same_scalar(want: &Value, live: &Value) -> bool {
    want == live
        || matches!((want, live), (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) if n.to_string() == *s)
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 { format!("{}…", &text[..57]) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_the_manifest_sets_must_match_and_others_do_not_matter() {
        let live = json!({"metadata": {"name": "web", "uid": "1"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy:1"}, {"name": "web", "image": "app:v2", "ports": [{"containerPort": 80}]}]}}}});
        let want = json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "app:v2"}]}}}});
        assert_eq!(difference(&want, &live), None);
        let old = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "app:v3"}]}}}});
        assert_eq!(
            difference(&old, &live).unwrap(),
            ".spec.template.spec.containers[web].image: want \"app:v3\", live \"app:v2\""
        );
        assert!(difference(&json!({"spec": {"paused": true}}), &live).unwrap().contains("not set"));
        assert!(
            difference(&json!({"spec": {"template": {"spec": {"containers": [{"name": "db"}]}}}}), &live)
                .unwrap()
                .contains("[db]: not there")
        );
        assert_eq!(difference(&json!({"a": [1, 2]}), &json!({"a": [1, 2]})), None);
        assert!(difference(&json!({"a": [1]}), &json!({"a": [1, 2]})).is_some());
        assert_eq!(difference(&json!({"port": "80"}), &json!({"port": 80})), None);
        let generated = json!({"metadata": {"name": "web", "creationTimestamp": null, "annotations": {}},
            "spec": {"args": [], "hostNetwork": false, "minReadySeconds": 0}});
        assert_eq!(difference(&generated, &live), None);
        assert!(difference(&json!({"spec": {"replicas": {}}}), &live).is_some());
    }
}
