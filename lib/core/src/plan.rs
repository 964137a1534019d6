//! One step of a `--dry-run` plan, as mkeks and mkpipeline print them under `plan.<key>`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One step of a plan: what a run would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedAction {
    /// `create`, `keep`, `update`, `delete`, or `use` (an existing resource given by a flag).
    pub action: String,
    /// The resource's kind, e.g. `iam-role`, `cluster`, `sqs-queue`, `codebuild-project`.
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl PlannedAction {
    pub fn new(action: &str, kind: &str, name: &str, detail: Option<String>) -> PlannedAction {
        PlannedAction { action: action.into(), kind: kind.into(), name: name.into(), detail }
    }

    /// `keep` when the resource exists, else `create`.
    pub fn create_or_keep(exists: bool, kind: &str, name: &str, detail: Option<String>) -> PlannedAction {
        PlannedAction::new(if exists { "keep" } else { "create" }, kind, name, detail)
    }
}
