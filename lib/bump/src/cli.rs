//! tagbump's flags.

use std::path::PathBuf;

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::GlobalArgs;

const EXAMPLES: &str = "\
Examples:
  imgbuild app/ | imgpush -r ecr:comments | tagbump deploy/environments/dev/values.yaml --push
  tagbump deploy/charts/comments/values.yaml --tag 0123abcd              # image.tag, commit only
  tagbump deploy/environments/prod/kustomization.yaml --image comments --tag v1.4.0 --push
  tagbump values.yaml --path app.image.tag --tag 1.20 --dry-run          # the diff, nothing written

The new tag comes from --tag, else the stdin `push` (imgpush) or `image` (imgbuild) key. Push
credentials: a token from --token-env (default GIT_TOKEN when set), --token-file or
--token-secret (AWS Secrets Manager), or an SSH key (--ssh-key, else the SSH agent). They are
never printed and never written into .git/config.

Output: the stdin document (kept whole) plus the `bump` key; see schemas/bump.schema.json.
Exit codes: 0 committed (or already set), 1 failure, 2 bad usage or input (the file untouched).";

/// Set an image tag in a YAML file in place, commit it and push it.
///
/// Only the tag's bytes change: comments, blank lines, key order, quoting, anchors and line
/// endings stay as they were. The tag is kept a string. A push that loses a race is redone on
/// the remote's new tip.
#[derive(Debug, Parser)]
#[command(name = "tagbump", version, after_help = EXAMPLES)]
pub struct Args {
    /// The YAML file: Helm values, a kustomization.yaml, or any YAML with --path
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Path of the tag, e.g. image.tag, images[name=registry.k8s.io/app].newTag (dots inside [...]
    /// are part of the name), labels."app.kubernetes.io/version" (a quoted key) [default:
    /// image.tag; images[name=IMAGE].newTag in a kustomization.yaml]
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,

    /// Image name, for the commit message and kustomization images [default: from stdin]
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// The new tag [default: `push.tags[0]`, else the tag of `image.tags[0]`, from stdin]
    #[arg(short = 't', long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Which YAML document of the file, counted from 0, when several have the path
    #[arg(long, value_name = "N")]
    pub document: Option<usize>,

    /// Branch to commit on [default: the checked-out one]
    #[arg(short = 'b', long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Push the commit; a rejected push is redone on the remote's new tip
    #[arg(long)]
    pub push: bool,

    /// Remote to push to
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,

    /// Attempts after the first when the push is rejected because the remote moved
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// Commit author, "Name <email>" [default: GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, else git config]
    #[arg(long, value_name = "NAME <EMAIL>", value_parser = parse_author)]
    pub author: Option<(String, String)>,

    /// Environment variable holding the push token
    #[arg(long, value_name = "VAR", default_value = "GIT_TOKEN")]
    pub token_env: String,

    /// File holding the push token
    #[arg(long, value_name = "FILE", conflicts_with = "token_secret")]
    pub token_file: Option<PathBuf>,

    /// AWS Secrets Manager secret (ARN or name) holding the token, as text or JSON {"token": ...}
    #[arg(long, value_name = "ARN")]
    pub token_secret: Option<String>,

    /// User name sent with the token over HTTPS
    #[arg(long, value_name = "USER", default_value = "x-access-token")]
    pub token_user: String,

    /// SSH private key for ssh:// remotes [default: the SSH agent]
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,

    /// Print the diff it would make; write nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

fn parse_author(text: &str) -> Result<(String, String), String> {
    let (name, rest) = text.split_once('<').ok_or("write the author as \"Name <email>\"")?;
    let email = rest.strip_suffix('>').ok_or("write the author as \"Name <email>\"")?;
    if name.trim().is_empty() || !email.contains('@') {
        return Err("write the author as \"Name <email>\"".into());
    }
    Ok((name.trim().to_owned(), email.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        let a = Args::try_parse_from(["tagbump", "v.yaml", "--author", "CI Bot <ci@example.com>"]).unwrap();
        assert_eq!(a.author, Some(("CI Bot".into(), "ci@example.com".into())));
        assert!(Args::try_parse_from(["tagbump", "v.yaml", "--author", "nobody"]).is_err());
        assert!(Args::try_parse_from(["tagbump"]).is_err());
    }
}
