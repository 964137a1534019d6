//! The `image` key imgbuild writes. The types live in `ekskit_model::image`, with the other
//! keys' and the schemas; this re-export keeps the paths inside imgbuild short.

pub use ekskit_model::image::{ImageDoc, RevisionSource};
