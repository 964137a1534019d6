//! The JSON mkpipeline writes (`pipeline`, `plan.pipeline`, `deleted.pipeline`). The types
//! live in `ekskit_model::pipeline`, with the other keys' and the schemas; these re-exports keep
//! the paths inside mkpipeline short.

pub use ekskit_model::pipeline::{ConnectionDoc, DeletedDoc, PipelineDoc, PlanDoc, ProjectDoc, PromotionDoc, RolesDoc};
pub use ekskit_model::plan::{Action, PlannedAction};
