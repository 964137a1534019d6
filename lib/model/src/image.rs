//! `image`, written by imgbuild; [`ImageRef`] is what imgpush reads of it.

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
    /// Where the commit came from: `git` (HEAD of the context's repository), `flag`
    /// (--revision), `CODEBUILD_RESOLVED_SOURCE_VERSION` or `GITHUB_SHA` (no repository: the CI
    /// system's variable); null with --no-git.
    pub revision_source: Option<RevisionSource>,
    pub labels: BTreeMap<String, String>,
    /// Uncompressed size in bytes.
    pub size: i64,
    /// `classic` (the engine's builder) or `buildkit`.
    pub builder: String,
    /// Docker Engine API version spoken.
    pub engine_api: String,
}

/// Where the revision came from, as the `revision_source` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RevisionSource {
    /// HEAD of the git repository the context is in.
    #[serde(rename = "git")]
    Git,
    /// The --revision flag.
    #[serde(rename = "flag")]
    Flag,
    /// No repository: AWS CodeBuild's variable (a commit for git and CodePipeline sources).
    #[serde(rename = "CODEBUILD_RESOLVED_SOURCE_VERSION")]
    CodeBuild,
    /// No repository: GitHub Actions' variable.
    #[serde(rename = "GITHUB_SHA")]
    GitHub,
}

impl RevisionSource {
    /// How the log line names it: the flag or variable a user would look for.
    pub fn shown(self) -> &'static str {
        match self {
            RevisionSource::Git => "git",
            RevisionSource::Flag => "--revision",
            RevisionSource::CodeBuild => "CODEBUILD_RESOLVED_SOURCE_VERSION",
            RevisionSource::GitHub => "GITHUB_SHA",
        }
    }
}

/// What imgpush reads of `image`: the image to push and the tags it comes with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageRef {
    pub id: String,
    pub tags: Vec<String>,
}
