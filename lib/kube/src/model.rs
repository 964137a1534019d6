//! The JSON kapply reads (`cluster`, written by mkeks) and writes (`apply`, `deleted.apply`).
//! The types live in `ekskit_model` (`apply`, and `cluster` for what kapply reads), with the
//! other keys' and the schemas; these re-exports keep the paths inside kapply short.

pub use ekskit_model::apply::{Action, AppSet, ApplyDoc, ObjectResult};
pub use ekskit_model::cluster::ClusterInput;
