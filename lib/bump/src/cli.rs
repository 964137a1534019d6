//! tagbump's flags.

use std::path::PathBuf;

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::InputError;
use ekskit_core::cli::{DryRun, ExitCodes, GlobalArgs, StdinDash, after_help, for_arg, path_not_dash};

const EXAMPLES: &str = "\
Examples:
  imgbuild app/ | imgpush -r ecr:comments | tagbump deploy/environments/dev/values.yaml --push
  tagbump deploy/charts/comments/values.yaml --tag 0123abcd              # image.tag, commit only
  tagbump deploy/environments/prod/kustomization.yaml --image comments --tag v1.4.0 --push
  tagbump values.yaml --path app.image.tag --tag 1.20 --dry-run          # the diff, nothing written
  tagbump deploy/environments/prod/kustomization.yaml --push \\
      --from deploy/environments/dev/kustomization.yaml            # promotion: dev's tag to prod
  # AWS CodeBuild (a source zip without .git): tagbump clones the GitOps branch itself
  imgbuild app/ | imgpush -r ecr:comments | tagbump deploy/environments/dev/kustomization.yaml \\
      --repo https://git.example.org/acme/gitops.git --branch gitops --push --token-secret ARN

The new tag comes from --tag, else --from (the tag at the same path in FILE2: a promotion),
else the stdin `push` (imgpush) or `image` (imgbuild) key; with --from the stdin keys are
ignored. The stdin `push.digest` goes into the commit message as an `Image-Digest:` trailer.

With --repo, tagbump fetches the tip of --branch into a temporary directory (depth 1), edits
FILE there (a path from the repository's root), commits, pushes and removes the directory, also
on errors and on Ctrl-C; one that a run killed outright left behind, the next run removes.
A fetch or push that the remote answers with a 5xx or 429, or whose connection drops before the
answer, is redone with backoff for up to a minute; a re-run finds the tag pushed and commits
nothing. Credentials, for the push and the --repo fetch: a token from
--token-env (default GIT_TOKEN when set), --token-file or --token-secret (AWS Secrets Manager),
or an SSH key (--ssh-key, else the SSH agent). They are never printed and never written into a
git config; a --repo URL must not carry them.

Output: the stdin document (kept whole) plus the `bump` key; see schemas/bump.schema.json.";

const EXIT_CODES: ExitCodes = ExitCodes {
    done: "committed (or already set)",
    failure: "failure",
    usage: "bad usage or input (the file untouched)",
    ..ExitCodes::DEFAULT
};

/// Set an image tag in a YAML file in place, commit it and push it.
///
/// Only the tag's bytes change: comments, blank lines, key order, quoting, anchors and line
/// endings stay as they were. The tag is kept a string. A push that loses a race is redone on
/// the remote's new tip.
#[derive(Debug, Parser)]
#[command(name = "tagbump", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print the diff it would make; write nothing"))))]
pub struct Args {
    /// The YAML file: Helm values, a kustomization.yaml, or any YAML with --path; with --repo, a
    /// path from the repository's root
    // Not `-`: that is the stdin document's, after FILE (`tagbump FILE -`).
    #[arg(value_name = "FILE", value_parser = path_not_dash)]
    pub file: PathBuf,

    /// Path of the tag, e.g. image.tag, images[name=registry.k8s.io/app].newTag (dots inside [...]
    /// are part of the name), labels."app.kubernetes.io/version" (a quoted key) [default:
    /// image.tag; images[name=IMAGE].newTag in a kustomization.yaml]
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,

    /// Image name, for the commit message and kustomization images [default: from stdin]
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// The new tag [default: the tag in --from FILE2, else `push.tags[0]`, else the tag of
    /// `image.tags[0]`, from stdin]
    #[arg(short = 't', long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Copy the tag from FILE2, at the same path as in FILE: a promotion (dev's kustomization into
    /// prod's). With --repo, FILE2 is in the same repository and branch. The stdin `push` and
    /// `image` keys are then ignored
    #[arg(long, value_name = "FILE2", conflicts_with = "tag")]
    pub from: Option<PathBuf>,

    /// Which YAML document of the file, counted from 0, when several have the path
    #[arg(long, value_name = "N")]
    pub document: Option<usize>,

    /// Branch to commit on [default: the checked-out one]; with --repo, the branch fetched and
    /// pushed (required)
    #[arg(short = 'b', long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Work on this repository instead of the clone FILE is in: its --branch is fetched into a
    /// temporary directory, edited, pushed (--push; or --dry-run) and removed. https://, http://,
    /// ssh://, git@host:path, file:// or a local path, without credentials in it
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,

    /// Push the commit; a rejected push is redone on the remote's new tip
    #[arg(long)]
    pub push: bool,

    /// Remote to push to
    #[arg(long, value_name = "NAME", default_value = "origin", conflicts_with = "repo")]
    pub remote: String,

    /// Attempts after the first when the push is rejected because the remote moved
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// Seconds a git remote may take to accept the connection, and then to send or take each
    /// piece of data, before the fetch or push fails (a stalled remote would hold the pipeline)
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub network_timeout: u32,

    /// Keep the tag when the new one is an older release: by semantic version, else by image
    /// creation time (imgbuild's `created` label, kept in each bump's Image-Created trailer).
    /// A race between two releases then ends on the newer one, whichever pushes last
    #[arg(long)]
    pub forward_only: bool,

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

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Args {
    /// What clap cannot say: --repo wants a branch, and a push (its clone is removed, so an
    /// unpushed commit would be lost) or a dry run.
    pub fn check(&self) -> Result<(), InputError> {
        if self.repo.is_none() {
            return Ok(());
        }
        if self.branch.is_none() {
            return Err(InputError::new("--repo needs --branch: the branch to fetch, edit and push")
                .hint("pass --branch, e.g. --branch main or --branch gitops"));
        }
        if !self.push && !self.dry_run.on {
            return Err(InputError::new(
                "--repo needs --push: the temporary clone is removed afterwards, so an unpushed commit would be lost",
            )
            .hint("add --push, or --dry-run to see the diff"));
        }
        Ok(())
    }
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
        assert!(Args::try_parse_from(["tagbump", "-"]).is_err(), "`-` is not FILE");
        let dash = Args::try_parse_from(["tagbump", "v.yaml", "-"]).unwrap();
        assert_eq!(dash.stdin.mode(), ekskit_core::document::Stdin::Always);
    }

    #[test]
    fn repo_wants_a_branch_and_a_push_and_from_excludes_tag() {
        let parse = |args: &[&str]| Args::try_parse_from([&["tagbump", "v.yaml"], args].concat());
        let url = "https://git.example.org/acme/gitops.git";
        assert!(parse(&["--repo", url, "--branch", "gitops", "--push"]).unwrap().check().is_ok());
        assert!(parse(&["--repo", url, "-b", "gitops", "--dry-run"]).unwrap().check().is_ok());
        let no_branch = parse(&["--repo", url, "--push"]).unwrap().check().unwrap_err();
        assert!(no_branch.message.contains("--branch"), "{no_branch:?}");
        let no_push = parse(&["--repo", url, "--branch", "gitops"]).unwrap().check().unwrap_err();
        assert!(no_push.message.contains("--push") && no_push.hint.unwrap().contains("--dry-run"));
        assert!(parse(&["--branch", "gitops"]).unwrap().check().is_ok(), "without --repo, nothing changes");
        assert!(parse(&["--repo", url, "--branch", "b", "--push", "--remote", "upstream"]).is_err());
        assert_eq!(parse(&["--repo", url, "-b", "b", "--push"]).unwrap().remote, "origin");

        let from = parse(&["--from", "dev/kustomization.yaml"]).unwrap();
        assert_eq!(from.from.as_deref(), Some(std::path::Path::new("dev/kustomization.yaml")));
        assert!(parse(&["--from", "dev.yaml", "--tag", "v1"]).is_err());
    }
}
