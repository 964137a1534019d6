//! What the push and the delete below [`crate::run`] read of imgpush's flags, so they never see
//! clap: the tags asked for, where the registry is reached, whether to change anything.

use ekskit_aws::AwsArgs;

use crate::cli::Args;

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The tags given (`--tag`); empty: the image's own, or the stdin `push` key's.
    pub tags: Vec<String>,
    /// HOST[:PORT] the engine and the API talk to instead of the repository's host.
    pub registry_endpoint: Option<String>,
    /// Plan only: create, push and delete nothing.
    pub dry_run: bool,
    /// Retries after the first attempt of a registry request or push (`--retries`).
    pub retries: u32,
    /// The AWS configuration for an ECR repository.
    pub aws: AwsArgs,
}

impl From<&Args> for PushOptions {
    fn from(args: &Args) -> Self {
        PushOptions {
            tags: args.tags.clone(),
            registry_endpoint: args.registry_endpoint.clone(),
            dry_run: args.dry_run.on,
            retries: args.retries,
            aws: args.aws.clone(),
        }
    }
}
