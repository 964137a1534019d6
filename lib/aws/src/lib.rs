//! AWS client configuration and AWS error rendering shared by the ekskit tools.

pub mod config;
pub mod errors;

pub use config::{AwsArgs, load};
pub use errors::{AwsResultExt, aws_code, aws_error};
