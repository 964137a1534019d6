//! The keys mkvpc writes into the document: `vpc`, `plan.vpc` (with `--dry-run`) and
//! `deleted.vpc` (with `--delete`). The types live in `ekskit_model::vpc`, with the other keys'
//! and the schemas; these re-exports keep the paths inside mkvpc short.

pub use ekskit_model::plan::{Action, PlannedAction};
pub use ekskit_model::vpc::*;
