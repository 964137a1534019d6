//! `apply`, written by kapply (and `deleted.apply` after `--delete`); what it reads of
//! `cluster` is [`crate::cluster::ClusterInput`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It did not exist and was created (or would be, in a dry run).
    Created,
    /// It existed and the apply changed it.
    Configured,
    /// It existed and the apply changed nothing.
    Unchanged,
    /// It was in the app's ApplySet but no longer in the input, and was deleted.
    Pruned,
    /// `--delete` deleted it.
    Deleted,
    /// `--delete` found it already gone.
    Absent,
}

impl Action {
    /// Whether a diff-only run counts this as a change.
    pub fn is_change(self) -> bool {
        !matches!(self, Action::Unchanged | Action::Absent)
    }
}

/// One object kapply touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub action: Action,
    /// True once ready by the rules of its kind; null when kapply did not wait (dry run, `--no-wait`, deletes).
    pub ready: Option<bool>,
    /// `--diff` only: a unified diff of the live object against the result of the apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The ApplySet that groups an app's objects for pruning (`--app`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppSet {
    /// The app name given with `--app`.
    pub name: String,
    /// Namespace of the parent Secret.
    pub namespace: String,
    /// The ApplySet id, the value of the `applyset.kubernetes.io/part-of` label on every member.
    pub id: String,
}

/// The `apply` key (and `deleted.apply` after `--delete`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyDoc {
    /// The API server the objects went to.
    pub server: String,
    /// Server-side apply field manager.
    pub field_manager: String,
    /// True for `--dry-run` and `--diff`: the server checked everything and changed nothing.
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppSet>,
    /// Every object, in the order applied.
    pub objects: Vec<ObjectResult>,
    /// Wall time of the whole run, in seconds.
    pub duration_seconds: f64,
}
