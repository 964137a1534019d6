//! The record of a delete run: its own module because both deleting the stack and cleaning up
//! after Kubernetes write to it, and the first calls the second.

use tracing::warn;

use crate::model::Removed;

/// What a delete run did and what it could not do.
#[derive(Default)]
pub(crate) struct Outcome {
    pub removed: Vec<Removed>,
    pub failures: Vec<String>,
}

impl Outcome {
    pub fn record(&mut self, kind: &str, id: &str, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self.removed.push(Removed { kind: kind.to_owned(), id: id.to_owned() }),
            Err(e) => {
                let cause = e.chain().last().map(ToString::to_string).unwrap_or_default();
                warn!("could not delete {kind} {id}: {cause}");
                self.failures.push(format!("{kind} {id}: {cause}"));
            }
        }
    }

    pub fn record_all(&mut self, kind: &str, results: Vec<(String, anyhow::Result<()>)>) {
        for (id, result) in results {
            self.record(kind, &id, result);
        }
    }
}
