//! `bump`, written by tagbump (`plan.bump` with `--dry-run`).

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
    /// The repository fetched and pushed with --repo, as given (never with credentials); absent
    /// when tagbump worked in the clone FILE is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The file the tag was copied from (--from); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Why the tag was kept at `old` (--forward-only and an older release); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
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
