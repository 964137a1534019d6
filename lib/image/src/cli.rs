//! imgbuild's flags.

use std::path::PathBuf;

use clap::Parser;
use ekskit_core::cli::{ExitCodes, GlobalArgs, StdinDash, after_help, path_not_dash};

const EXAMPLES: &str = "\
Examples:
  imgbuild app/                                   # app:<commit8>, through the Docker engine
  imgbuild app/ --name comments --tag comments:latest --build-arg BASE_IMAGE=local/debian:bookworm
  imgbuild app/ | imgpush --repository 127.0.0.1:5001/comments
  imgbuild app/ --name comments                   # in AWS CodeBuild from CodePipeline's CODE_ZIP (no .git):
                                                  # comments:<first 8 of $CODEBUILD_RESOLVED_SOURCE_VERSION>
  imgbuild /tmp/app --revision \"$(git rev-parse HEAD)\"   # a context copied out of the checkout

Output: the stdin document (kept whole) plus the `image` key; see schemas/image.schema.json.";

const EXIT_CODES: ExitCodes = ExitCodes {
    done: "built",
    failure: "failure",
    usage: "bad usage or input (nothing built)",
    interrupted: "interrupted",
    ..ExitCodes::DEFAULT
};

/// Build a container image through the Docker Engine API, tagged with the git revision.
///
/// Tars the context with `.dockerignore` applied, builds it with the engine's builder, tags it
/// `<name>:<first 8 characters of the commit>` (plus `-dirty` when the work tree has changes) and
/// labels it with the OCI revision, source, created and version from git, which it also passes as
/// the build args REVISION, SOURCE, CREATED and VERSION (--build-arg overrides them).
///
/// The commit comes from --revision; else HEAD of the git repository the context is in (a
/// shallow clone will do); else, with no repository (CodeBuild unzips CodePipeline's CODE_ZIP
/// source without .git), from CODEBUILD_RESOLVED_SOURCE_VERSION, else GITHUB_SHA. Without a
/// repository the tag is never -dirty, created is SOURCE_DATE_EPOCH when set (else left out, so
/// that the same context and commit make the same image), source comes from
/// CODEBUILD_SOURCE_REPO_URL or GITHUB_SERVER_URL/GITHUB_REPOSITORY, and there is no version
/// unless --label gives one. The `image.revision_source` output field says which was used.
#[derive(Debug, Parser)]
#[command(name = "imgbuild", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
pub struct Args {
    /// Build context directory
    // Not `-`: that is the stdin document's, after the context (`imgbuild . -`); a build context
    // on stdin (`docker build -`) is not supported.
    #[arg(value_name = "CONTEXT", default_value = ".", value_parser = path_not_dash)]
    pub context: PathBuf,

    /// Dockerfile, relative to the context
    #[arg(short = 'f', long = "file", value_name = "PATH", default_value = "Dockerfile")]
    pub dockerfile: String,

    /// Image name [default: the context directory's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Extra tags (NAME:TAG), besides <name>:<revision>; repeatable
    #[arg(short = 't', long = "tag", value_name = "NAME:TAG")]
    pub tags: Vec<String>,

    /// Build-time variables (KEY=VALUE); repeatable
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = key_value)]
    pub build_args: Vec<(String, String)>,

    /// Extra labels (KEY=VALUE); repeatable
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub labels: Vec<(String, String)>,

    /// Stage to build
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Platform, e.g. linux/amd64
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Images to use as cache sources; repeatable
    #[arg(long = "cache-from", value_name = "IMAGE")]
    pub cache_from: Vec<String>,

    /// Builder: BuildKit when the engine offers it, else the classic builder
    #[arg(long, value_enum, value_name = "BUILDER", default_value = "auto")]
    pub builder: crate::build::Builder,

    /// Seconds the engine may go without sending anything during the build before imgbuild
    /// gives up on it (a hung engine or a stalled connection would otherwise hold the run)
    #[arg(long, value_name = "SECONDS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,

    /// The commit the context holds (all 40 hex characters, 64 in a SHA-256 repository), when
    /// there is no git repository or to override HEAD [default: HEAD of the context's repository,
    /// else $CODEBUILD_RESOLVED_SOURCE_VERSION, else $GITHUB_SHA]
    #[arg(long, value_name = "COMMIT", conflicts_with = "no_git")]
    pub revision: Option<String>,

    /// Build without a revision: no revision tag or labels (needs --tag)
    #[arg(long, requires = "tags")]
    pub no_git: bool,

    /// Files the context sends that git does not track but a tracked file pins (e.g.
    /// `.wheels/**`, which a hashed requirements lock checks): they leave the tag clean.
    /// Any other untracked or ignored file sent makes it -dirty (.dockerignore patterns)
    #[arg(long, value_name = "GLOB")]
    pub untracked_ok: Vec<String>,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub global: GlobalArgs,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Docker's reference rules, enough to refuse what the engine would: lowercase name components.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid image name (lowercase letters, digits, . _ - and /)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_names_are_checked() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        let a = Args::try_parse_from(["imgbuild", "app", "--build-arg", "A=1", "-t", "x:y"]).unwrap();
        assert_eq!(a.build_args, [("A".to_owned(), "1".to_owned())]);
        assert!(Args::try_parse_from(["imgbuild", "--build-arg", "nope"]).is_err());
        assert!(Args::try_parse_from(["imgbuild", "--no-git"]).is_err(), "--no-git needs --tag");
        let no_git_with_revision = ["imgbuild", "--no-git", "-t", "x:1", "--revision", &"a".repeat(40)];
        assert!(Args::try_parse_from(no_git_with_revision).is_err(), "--no-git has no revision");
        let dash = Args::try_parse_from(["imgbuild", "app", "-"]).unwrap();
        assert_eq!((dash.context, dash.stdin.mode()), (PathBuf::from("app"), ekskit_core::document::Stdin::Always));
        assert!(Args::try_parse_from(["imgbuild", "-"]).is_err(), "`-` is not the context");
        assert!(check_name("127.0.0.1:5001/comments").is_ok());
        assert!(check_name("Comments").is_err());
    }
}
