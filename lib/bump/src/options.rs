//! What a bump is asked to do, apart from the flags that asked: [`crate::run`] makes it from
//! tagbump's [`Args`] and nothing below it sees clap.

use std::path::PathBuf;

use ekskit_aws::AwsArgs;

use crate::cli::Args;
use crate::git;

#[derive(Debug, Clone)]
pub struct BumpOptions {
    /// The YAML file; with `repo`, a path from the repository's root.
    pub file: PathBuf,
    /// Copy the tag from this file, at the same path as in `file` (a promotion).
    pub from: Option<PathBuf>,
    /// Path of the tag; `None`: `image.tag`, or the kustomization's images entry.
    pub path: Option<String>,
    /// Which YAML document of the file, when several have the path.
    pub document: Option<usize>,
    pub image: Option<String>,
    pub tag: Option<String>,
    /// Work in a temporary clone of this repository instead of the one `file` is in.
    pub repo: Option<String>,
    /// Show the diff; write nothing.
    pub dry_run: bool,
    pub branch: Option<String>,
    pub push: bool,
    pub remote: String,
    /// Attempts after the first when the push loses a race.
    pub retries: u32,
    /// How long a remote may stall a connect, read or write.
    pub network_timeout: std::time::Duration,
    /// Keep the tag when the new one is an older release.
    pub forward_only: bool,
    /// (name, email) of the commit's author.
    pub author: Option<(String, String)>,
    /// Where the push token is: a file, else a Secrets Manager secret, else this variable.
    pub token_file: Option<PathBuf>,
    pub token_secret: Option<String>,
    pub token_env: String,
    pub token_user: String,
    pub ssh_key: Option<PathBuf>,
    /// The AWS configuration for `token_secret`.
    pub aws: AwsArgs,
}

impl BumpOptions {
    /// How the commit is made and pushed, with the push's `credentials`.
    pub fn git(&self, credentials: git::Credentials) -> git::Options {
        git::Options {
            branch: self.branch.clone(),
            push: self.push,
            remote: self.remote.clone(),
            retries: self.retries,
            network_timeout: self.network_timeout,
            network_patience: git::NETWORK_PATIENCE,
            author: self.author.clone(),
            credentials,
            forward_only: self.forward_only,
        }
    }
}

impl From<&Args> for BumpOptions {
    fn from(args: &Args) -> Self {
        BumpOptions {
            file: args.file.clone(),
            from: args.from.clone(),
            path: args.path.clone(),
            document: args.document,
            image: args.image.clone(),
            tag: args.tag.clone(),
            repo: args.repo.clone(),
            dry_run: args.dry_run.on,
            branch: args.branch.clone(),
            push: args.push,
            remote: args.remote.clone(),
            retries: args.retries,
            network_timeout: std::time::Duration::from_secs(args.network_timeout.into()),
            forward_only: args.forward_only,
            author: args.author.clone(),
            token_file: args.token_file.clone(),
            token_secret: args.token_secret.clone(),
            token_env: args.token_env.clone(),
            token_user: args.token_user.clone(),
            ssh_key: args.ssh_key.clone(),
            aws: args.aws.clone(),
        }
    }
}
