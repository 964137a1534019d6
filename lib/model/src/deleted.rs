//! The common core of `deleted.<key>` for the tools that delete an AWS stack (mkvpc, mkeks,
//! mkpipeline): which stack, where, and what went. The keys of the other tools say what they
//! removed in their own terms (tags, Kubernetes objects), so they keep their own shapes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `deleted.<key>`: what --delete removed.
// `R` is how a removed resource is named: `kind name` text, or mkvpc's `kind` and `id` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// One title for every instance: the committed schemas call it `DeletedDoc`, as they did before.
#[schemars(rename = "DeletedDoc")]
pub struct Deleted<R = String> {
    /// The ekskit stack the resources belonged to.
    pub stack: String,
    pub region: String,
    /// Each resource deleted.
    pub resources: Vec<R>,
}
