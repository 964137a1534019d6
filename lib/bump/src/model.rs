//! The keys tagbump writes (`bump`, `plan.bump`) and their schemas.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BumpDoc {
    /// The file, relative to the repository's work tree.
    pub file: String,
    /// The path of the tag in it, e.g. `image.tag`.
    pub path: String,
    pub image: String,
    pub old: String,
    pub new: String,
    /// The commit made; null when the tag was already set.
    pub commit: Option<String>,
    pub branch: String,
    pub remote: String,
    pub pushed: bool,
    /// Push attempts (more than 1 when the remote moved meanwhile).
    pub attempts: u32,
}

/// `plan.bump`: what --dry-run would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub file: String,
    pub path: String,
    pub old: String,
    pub new: String,
    /// Unified diff of the file; empty when the tag is already set.
    pub diff: String,
}

pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("bump.schema.json", schemars::schema_for!(BumpDoc)),
        ("plan.bump.schema.json", schemars::schema_for!(PlanDoc)),
    ]
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
