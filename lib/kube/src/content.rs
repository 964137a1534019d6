//! What of an object counts when comparing it before and after a write. Its own module because
//! applying (is it unchanged?) and diffing (what changed?) both compare this way, and applying
//! uses the diff.

use serde_json::Value;

/// The object without the fields every write changes, without `status`, which controllers
/// change on their own and an apply does not, without the type (LIST items carry none), and
/// without kapply's digest annotation (objects applied before kapply wrote it are unchanged).
pub fn comparable(obj: &Value) -> Value {
    let mut obj = obj.clone();
    crate::unchanged::strip(&mut obj);
    if let Some(map) = obj.as_object_mut() {
        for field in ["status", "apiVersion", "kind"] {
            map.remove(field);
        }
    }
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(field);
        }
    }
    obj
}
