//! imgpush's flags.

use std::path::PathBuf;

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, after_help, for_arg};

const EXAMPLES: &str = "\
Examples:
  imgbuild app/ | imgpush --repository 127.0.0.1:5001/comments
  imgbuild app/ | imgpush --repository ecr:comments --keep-images 50      # ECR in the current account
  imgpush -r ecr:comments --keep-images 20 --expire-tag-prefix pr-       # previews expire, releases stay
  imgpush --image comments:latest --repository 123456789012.dkr.ecr.us-east-1.amazonaws.com/comments
  imgpush --image app:v1 --repository team/app --username team --password-file ~/.hub-token
  imgpush --delete < pushed.json                                        # remove the tags it pushed

Credentials, never from a flag: ECR from the AWS credential chain (GetAuthorizationToken); other
registries from --username with --password-file (or --password-stdin), else the Docker config
(auths, credHelpers, credsStore). Tokens and passwords are never printed.

Output: the stdin document (kept whole) plus the `push` key; see schemas/push.schema.json.";

const EXIT_CODES: ExitCodes = ExitCodes {
    done: "pushed (or already there)",
    failure: "failure",
    usage: "bad usage or input (nothing pushed)",
    ..ExitCodes::DEFAULT
};

/// Push an image through the Docker engine to Amazon ECR or any registry.
///
/// Pushes the `image` of the stdin document (from imgbuild) or --image under each of its tags
/// (or --tag). A tag the registry already holds with the same image is not pushed again; on an
/// immutable repository a tag holding another image is an error. ECR repositories are created
/// when missing, with scan on push and immutable tags.
#[derive(Debug, Parser)]
#[command(name = "imgpush", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print what would be pushed and created, change nothing"))))]
#[command(mut_args(for_arg("delete", |a| a
    .help("Delete the pushed tags from the repository (and an ECR repository imgpush created, once empty)"))))]
pub struct Args {
    /// Target repository: HOST[:PORT]/NAME, ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME, ecr:NAME
    /// or USER/NAME (Docker Hub) [default: `push.repository` from stdin]
    #[arg(short = 'r', long, value_name = "REPOSITORY")]
    pub repository: Option<String>,

    /// Local image (name:tag or id) [default: `image.id` from stdin]
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// Tags to push; repeatable [default: the tags of the stdin image, or of --image]
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Send the push to this registry endpoint (HOST:PORT) instead of the repository's own
    /// host: a mirror, a proxy, or the local stack standing in for ECR
    #[arg(long, value_name = "HOST:PORT", env = "IMGPUSH_REGISTRY_ENDPOINT")]
    pub registry_endpoint: Option<String>,

    /// Registry user, with --password-file or --password-stdin (not for ECR)
    #[arg(short = 'u', long, value_name = "USER", requires = "password_source")]
    pub username: Option<String>,

    /// File holding the registry password or token
    #[arg(long, value_name = "FILE", group = "password_source", requires = "username")]
    pub password_file: Option<PathBuf>,

    /// Read the registry password from stdin (then the image comes from --image, not stdin)
    #[arg(long, group = "password_source", requires_all = ["username", "image"], conflicts_with = "stdin")]
    pub password_stdin: bool,

    /// ECR: a lifecycle policy that expires untagged images but the newest N; tagged images
    /// only with --expire-tag-prefix, so the image a deployment runs is never expired
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub keep_images: Option<u32>,

    /// ECR, with --keep-images: also expire tagged images whose tags start with PREFIX, but the
    /// newest N (e.g. `pr-` for preview builds); repeatable
    #[arg(long, value_name = "PREFIX", requires = "keep_images", value_parser = tag_prefix)]
    pub expire_tag_prefix: Vec<String>,

    /// Retries of each registry request on 408/429/5xx and reset connections; the engine's push
    /// (many requests redone as one) is redone for up to 90 s of backoff instead; 0: no retries
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// A tag prefix ECR takes in a lifecycle rule: the start of a tag, never empty (which would
/// match every tag).
fn tag_prefix(value: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    match value {
        "" => Err("an empty prefix would expire every tagged image".into()),
        v if v.len() > 127 || !v.chars().all(valid) || v.starts_with(['.', '-']) => {
            Err(format!("`{v}` cannot start a tag (letters, digits, `_`, `.`, `-`; not first `.` or `-`)"))
        }
        v => Ok(v.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["imgpush", "-r", "x/y", "--password-file", "f"]).is_err(), "needs --username");
        assert!(Args::try_parse_from(["imgpush", "-u", "me", "--password-stdin"]).is_err(), "needs --image");
        assert!(Args::try_parse_from(["imgpush", "-u", "me"]).is_err(), "needs a password source");
        assert!(Args::try_parse_from(["imgpush", "-u", "me", "--password-stdin", "--image", "a:b"]).is_ok());
        assert!(Args::try_parse_from(["imgpush", "--keep-images", "0"]).is_err());
        assert!(Args::try_parse_from(["imgpush", "--expire-tag-prefix", "pr-"]).is_err(), "needs --keep-images");
        for bad in ["", "-pr", "pr/", "a b"] {
            assert!(
                Args::try_parse_from(["imgpush", "--keep-images", "5", "--expire-tag-prefix", bad]).is_err(),
                "{bad}"
            );
        }
        let both = Args::try_parse_from(["imgpush", "--keep-images", "5", "--expire-tag-prefix", "pr-"]).unwrap();
        assert_eq!(both.expire_tag_prefix, ["pr-"]);
        let both_on_stdin = ["imgpush", "-u", "me", "--password-stdin", "--image", "a:b", "-"];
        assert!(Args::try_parse_from(both_on_stdin).is_err(), "stdin holds the password or the document");
    }
}
