//! AWS client configuration and AWS error rendering shared by the ekskit tools.

pub mod config;
pub mod errors;
pub mod iam;
pub mod lease;
pub mod once;

pub use aws_config::SdkConfig;
pub use config::{AwsArgs, document_region, load};
pub use errors::{AwsResultExt, aws_code, aws_error};
