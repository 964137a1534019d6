//! The keys tagbump writes (`bump`, `plan.bump`). The types live in `ekskit_model::bump`, with
//! the other keys' and the schemas; this re-export keeps the paths inside tagbump short.

pub use ekskit_model::bump::{BumpDoc, PlanDoc};
