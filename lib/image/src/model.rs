//! The `image` key imgbuild writes, and its schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageDoc {
    /// Image id (`sha256:…`), the same for the same context and tag.
    pub id: String,
    /// Every tag put on it, the revision tag first.
    pub tags: Vec<String>,
    /// The full commit, or null with --no-git.
    pub revision: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Uncompressed size in bytes.
    pub size: i64,
    /// `classic` (the engine's builder) or `buildkit`.
    pub builder: String,
    /// Docker Engine API version spoken.
    pub engine_api: String,
}

pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![("image.schema.json", schemars::schema_for!(ImageDoc))]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas match the types. `UPDATE_SCHEMAS=1 cargo test` rewrites them.
    #[test]
    fn committed_schemas_match_the_types() {
        ekskit_core::schemas::assert_committed(env!("CARGO_MANIFEST_DIR"), schemas());
    }
}
