//! The keys imgpush writes (`push`, `plan.push`, `deleted.push`). The types live in
//! `ekskit_model::push`, with the other keys' and the schemas; this re-export keeps the paths
//! inside imgpush short.

pub use ekskit_model::push::*;
