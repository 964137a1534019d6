//! What every ekskit tool shares: the JSON document on stdin/stdout, errors and exit codes,
//! logging to stderr, waits with progress, and the ownership tags on everything we create.
//!
//! Nothing here knows about AWS or Kubernetes; `ekskit-aws` builds on it.

pub mod cli;
pub mod document;
pub mod errors;
pub mod image_ref;
pub mod lock;
pub mod logging;
pub mod net;
pub mod output;
pub mod run;
pub mod stack;
pub mod time;
pub mod wait;

pub use document::Document;
pub use errors::{ChangesFound, Hinted, InputError, Interrupted, ServiceError};
