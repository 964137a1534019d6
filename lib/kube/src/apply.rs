//! Server-side apply of one object, and what it did: created, configured or unchanged (by
//! comparing the object before and after, without the fields every write touches).

use kube::Client;
use kube::api::{Patch, PatchParams, ValidationDirective};
use serde_json::Value;

use crate::content::comparable;
use crate::errors::{idempotent, kube_error};
use crate::model::Action;
use crate::resolve::Object;
use crate::server::api;

// At its old path too: the crate root names it here.
pub use crate::server::FIELD_MANAGER;

/// How one object is sent; [`crate::ApplyOptions::patch`] makes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchOptions {
    pub force_conflicts: bool,
    pub dry_run: bool,
    pub diff: bool,
}

#[derive(Debug, Clone)]
pub struct Applied {
    pub action: Action,
    pub diff: Option<String>,
}

/// Applies `object`, whose live state (read by [`crate::live::fetch`]) is `before`.
pub async fn apply(
    client: &Client,
    object: &Object,
    before: Option<&Value>,
    opts: PatchOptions,
) -> anyhow::Result<Applied> {
    let api = api(client, &object.resource, object.namespace.as_deref());
    let key = object.key();
    let params = PatchParams {
        dry_run: opts.dry_run,
        force: opts.force_conflicts,
        field_manager: Some(FIELD_MANAGER.to_owned()),
        field_validation: Some(ValidationDirective::Strict),
    };
    // Applying the same object again is the same apply: safe to repeat after a lost answer.
    let patch = Patch::Apply(&object.body);
    let sent = idempotent(&format!("applying {key}"), || api.patch(&object.name, &params, &patch)).await;
    let after = match sent {
        Ok(after) => serde_json::to_value(after)?,
        Err(e) => return Err(kube_error(e, format!("applying {key} ({})", object.origin))),
    };
    // Compare content, not resourceVersions: bookkeeping alone (managedFields taken over from
    // `before-first-apply`, as on Namespaces created by server-side apply) bumps the version.
    let action = match before {
        None => Action::Created,
        Some(b) if comparable(b) == comparable(&after) => Action::Unchanged,
        _ => Action::Configured,
    };
    let diff = (opts.diff && action.is_change()).then(|| crate::diff::unified(&key, before, &after));
    Ok(Applied { action, diff })
}

/// What a dry run reports, without asking the server, for an object this same batch creates the
/// namespace or the CRD of: the server would only answer NotFound until they exist.
pub fn created_by_batch(object: &Object, opts: PatchOptions) -> Applied {
    let diff = opts.diff.then(|| crate::diff::unified(&object.key(), None, &object.body));
    Applied { action: Action::Created, diff }
}
