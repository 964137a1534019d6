//! `push`, written by imgpush (`plan.push` with `--dry-run`, `deleted.push` with `--delete`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PushDoc {
    /// The repository as deployments reference it, e.g. `127.0.0.1:5001/comments` or
    /// `123456789012.dkr.ecr.us-east-1.amazonaws.com/comments`.
    pub repository: String,
    /// The registry host that received the push (differs with --registry-endpoint).
    pub registry: String,
    /// Every tag that now points at the image.
    pub tags: Vec<String>,
    /// The manifest digest (`sha256:…`).
    pub digest: String,
    /// `repository@digest`: the immutable reference.
    pub reference: String,
    /// The local image id that was pushed.
    pub image_id: String,
    /// Tags pushed by this run.
    pub pushed: Vec<String>,
    /// Tags the registry already had with this image (nothing sent).
    pub unchanged: Vec<String>,
    pub layers: LayersDoc,
    /// Where the credentials came from (`ecr-token`, `docker-config`, `password-file`, …, or
    /// `none`); never the credentials.
    pub credentials: String,
    /// Set for Amazon ECR.
    pub ecr: Option<EcrDoc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LayersDoc {
    /// Layers sent by this run.
    pub pushed: u32,
    /// Layers the registry already had.
    pub existing: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EcrDoc {
    pub name: String,
    pub arn: String,
    pub registry_id: String,
    pub region: String,
    /// Created by this run.
    pub created: bool,
    pub scan_on_push: bool,
    pub immutable_tags: bool,
    /// Images kept by the lifecycle policy, when --keep-images set one.
    pub keep_images: Option<u32>,
}

/// `plan.push`: what a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub repository: String,
    pub image_id: String,
    /// An ECR repository that does not exist yet.
    pub create_repository: bool,
    pub tags: Vec<TagPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagPlan {
    pub tag: String,
    pub action: TagAction,
    /// The digest the tag points at now, if it exists.
    pub current: Option<String>,
}

/// What a run would do to one tag.
// Not `plan::Action`: a tag is pushed or moved, never created or kept, and one enum for both
// would let `plan.cluster`'s schema admit `move`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TagAction {
    /// A new tag.
    Push,
    /// The tag is already on this image.
    Unchanged,
    /// A mutable tag now on another image.
    Move,
    /// An immutable tag on another image: the run would fail.
    Conflict,
}

/// `deleted.push`: what --delete removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedDoc {
    pub repository: String,
    /// Tags that were there and are gone.
    pub tags: Vec<String>,
    /// Tags that were not there.
    pub absent: Vec<String>,
    /// The ECR repository itself was deleted (created by imgpush and empty).
    pub repository_deleted: bool,
}
