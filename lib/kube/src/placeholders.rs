//! `${cluster.name}`-style placeholders in manifests, filled from the stdin document.
//!
//! A placeholder is `${` a dotted path of at least two parts `}`; a single word such as
//! `${HOME}` is left alone, because shell scripts in ConfigMaps use that form. `$${` writes a
//! literal `${`. A string that is exactly one placeholder takes the value's JSON type, so
//! `replicas: ${app.replicas}` stays a number. An unknown path is an input error.

use ekskit_core::InputError;
use serde_json::Value;

use crate::manifests::Manifest;

/// Fills every placeholder in every manifest; the first unknown one fails the whole batch.
pub fn fill(manifests: &mut [Manifest], doc: &Value) -> Result<(), InputError> {
    for m in manifests {
        let origin = m.origin.clone();
        fill_value(&mut m.object, doc).map_err(|e| InputError { message: format!("{origin}: {}", e.message), ..e })?;
    }
    Ok(())
}

fn fill_value(value: &mut Value, doc: &Value) -> Result<(), InputError> {
    match value {
        Value::String(text) if text.contains("${") => *value = fill_string(text, doc)?,
        Value::Array(items) => items.iter_mut().try_for_each(|v| fill_value(v, doc))?,
        Value::Object(map) => map.values_mut().try_for_each(|v| fill_value(v, doc))?,
        _ => {}
    }
    Ok(())
}

fn fill_string(text: &str, doc: &Value) -> Result<Value, InputError> {
    if let Some(path) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).filter(|p| is_path(p)) {
        return lookup(doc, path).cloned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            out.push_str(&rest[..at]); // `$${` → `${`
            out.push('{');
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find('}').map(|end| (&after[..end], end)).filter(|(p, _)| is_path(p)) {
            Some((path, end)) => {
                out.push_str(&scalar_text(lookup(doc, path)?, path)?);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

fn is_path(p: &str) -> bool {
    let mut parts = p.split('.');
    let first_ok = parts.next().is_some_and(|f| f.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
    first_ok
        && p.contains('.')
        && p.split('.').all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, InputError> {
    let mut at = doc;
    for part in path.split('.') {
        let next = match at {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        at = next.filter(|v| !v.is_null()).ok_or_else(|| unknown(doc, path))?;
    }
    Ok(at)
}

fn unknown(doc: &Value, path: &str) -> InputError {
    let keys: Vec<&str> = doc.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    let hint = if keys.is_empty() {
        "placeholders are filled from the JSON document on stdin, and none was given; pipe e.g. `mkeks … |` into kapply, or write `$${` for a literal `${`".to_owned()
    } else {
        format!("the stdin document has the keys: {}; write `$${{` for a literal `${{`", keys.join(", "))
    };
    InputError::new(format!("unknown placeholder ${{{path}}}: the stdin document has no such value")).hint(hint)
}

fn scalar_text(value: &Value, path: &str) -> Result<String, InputError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(InputError::new(format!("placeholder ${{{path}}} is an object or a list, not text"))
            .hint("point it at a single value, e.g. ${vpc.id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"cluster": {"name": "demo", "port": 443}, "vpc": {"id": "vpc-1", "subnets": [{"id": "s-1"}]}})
    }

    fn run(v: Value) -> Result<Value, InputError> {
        let mut ms = vec![Manifest { origin: "f.yaml#1".into(), object: v }];
        fill(&mut ms, &doc())?;
        Ok(ms.remove(0).object)
    }

    #[test]
    fn fills_strings_keeps_types_and_leaves_shell_variables() {
        let out = run(json!({"a": "${cluster.name}-x", "n": "${cluster.port}", "list": ["${vpc.subnets.0.id}"],
                            "sh": "echo ${HOME} $x", "esc": "$${cluster.name}", "open": "${cluster.name"}))
        .unwrap();
        assert_eq!(
            out,
            json!({"a": "demo-x", "n": 443, "list": ["s-1"], "sh": "echo ${HOME} $x",
                   "esc": "${cluster.name}", "open": "${cluster.name"})
        );
    }

    #[test]
    fn unknown_placeholders_are_input_errors_naming_the_manifest() {
        let err = run(json!({"a": "x ${cluster.nmae}"})).unwrap_err();
        assert_eq!(err.message, "f.yaml#1: unknown placeholder ${cluster.nmae}: the stdin document has no such value");
        assert!(err.hint.unwrap().contains("cluster, vpc"));
        assert!(run(json!({"a": "${vpc}.x ${vpc.subnets}!"})).unwrap_err().message.contains("not text"));
    }
}
