//! One step of a `--dry-run` plan, as mkvpc, mkeks and mkpipeline print them under `plan.<key>`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a run would do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It does not exist and would be created.
    Create,
    /// It exists as wanted and would be left alone.
    Keep,
    /// It exists and would be changed.
    Update,
    /// It would be deleted.
    Delete,
    /// An existing resource given by a flag, used as it is.
    Use,
    /// Read and checked before the steps after it, changing nothing (e.g. upgrade insights).
    Check,
}

impl Action {
    /// `Keep` when the resource exists, else `Create`.
    pub fn create_or_keep(exists: bool) -> Action {
        if exists { Action::Keep } else { Action::Create }
    }

    /// The word the JSON and the logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Keep => "keep",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Use => "use",
            Action::Check => "check",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a plan: what a run would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedAction {
    pub action: Action,
    /// The resource's kind, e.g. `subnet`, `iam-role`, `cluster`, `sqs-queue`, `codebuild-project`.
    pub kind: String,
    /// The resource's name, or what it is in the stack (e.g. `public us-east-1a 10.0.0.0/19`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The resource id when it already exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl PlannedAction {
    pub fn new(action: Action, kind: &str, name: &str, detail: Option<String>) -> PlannedAction {
        PlannedAction { action, kind: kind.into(), name: name.into(), detail, id: None }
    }

    /// `keep` when the resource exists, else `create`.
    pub fn create_or_keep(exists: bool, kind: &str, name: &str, detail: Option<String>) -> PlannedAction {
        PlannedAction::new(Action::create_or_keep(exists), kind, name, detail)
    }

    /// The same step, naming the existing resource's id.
    pub fn with_id(self, id: Option<String>) -> PlannedAction {
        PlannedAction { id, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_the_json_strings() {
        for action in [Action::Create, Action::Keep, Action::Update, Action::Delete, Action::Use] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
    }
}
