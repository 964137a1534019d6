//! The revision the image is built from: its commit (the 8-character short form is the image
//! tag, as the seed used), whether the work tree differs from it, where the source lives, and
//! when the commit was made (the `created` label: a build time would make every build a new
//! image).
//!
//! The commit comes from, in order: `--revision`; HEAD of the git repository the context is in;
//! with no repository (AWS CodeBuild unzips CodePipeline's CODE_ZIP source without `.git`), the
//! CI system's variable: `CODEBUILD_RESOLVED_SOURCE_VERSION`, then `GITHUB_SHA`. Without a
//! repository nothing says whether the files differ from the commit (not dirty) or when it was
//! made (`SOURCE_DATE_EPOCH` when set, else no `created` at all), nor which tag reaches it (no
//! version); the source URL comes from the CI system's variables.

use std::path::Path;

use ekskit_core::InputError;
use tracing::{info, warn};

pub use crate::model::RevisionSource;

/// CodeBuild's commit for git sources (CodeCommit, GitHub, Bitbucket) and CodePipeline.
pub const CODEBUILD_VERSION: &str = "CODEBUILD_RESOLVED_SOURCE_VERSION";
/// CodeBuild's clone URL of the source (`s3://…` for S3 and pipeline artifacts).
pub const CODEBUILD_REPO_URL: &str = "CODEBUILD_SOURCE_REPO_URL";
pub const GITHUB_SHA: &str = "GITHUB_SHA";
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// Reproducible builds' timestamp (reproducible-builds.org/specs/source-date-epoch).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The environment, as a lookup: `std::env::var` in the tool, a map in the tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub commit: String,
    pub short: String,
    pub dirty: bool,
    pub source: Option<String>,
    /// Commit time (or SOURCE_DATE_EPOCH), RFC 3339; none when unknown.
    pub created: Option<String>,
    /// `git describe --tags` when a tag reaches the commit, else the tag; none without a
    /// repository (--label org.opencontainers.image.version=… gives one).
    pub version: Option<String>,
    pub from: RevisionSource,
}

impl Revision {
    /// The tag: `abcdef12`, or `abcdef12-dirty` when the work tree has uncommitted changes.
    pub fn tag(&self) -> String {
        if self.dirty { format!("{}-dirty", self.short) } else { self.short.clone() }
    }

    /// The image holds what the commit does not: the tag (and a version that was the tag) says so.
    pub fn mark_dirty(&mut self) {
        let was = self.tag();
        self.dirty = true;
        if self.version.as_deref() == Some(was.as_str()) {
            self.version = Some(self.tag());
        }
    }
}

/// Of `files` (paths relative to `context`, as the context tar holds them), those git does not
/// track in the repository that holds `context`: new or ignored. None without a repository
/// (a CI system's checkout without `.git` has nothing to compare with).
pub fn untracked(context: &Path, files: &[String]) -> anyhow::Result<Vec<String>> {
    let Ok(repo) = git2::Repository::discover(context) else { return Ok(Vec::new()) };
    let Some(workdir) = repo.workdir().and_then(|w| w.canonicalize().ok()) else { return Ok(Vec::new()) };
    let Ok(prefix) = context.strip_prefix(&workdir) else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for file in files {
        let status = repo
            .status_file(&prefix.join(file))
            .map_err(|e| anyhow::anyhow!("asking git about {file} of {}: {}", context.display(), e.message()))?;
        if status.intersects(git2::Status::WT_NEW | git2::Status::IGNORED) {
            found.push(file.clone());
        }
    }
    Ok(found)
}

/// A full commit id, lowercased: 40 hexadecimal characters, or 64 in a SHA-256 repository.
pub fn commit_id(text: &str) -> Option<String> {
    let text = text.trim();
    ((text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// The revision of `context` (`shown` is how the user wrote it, for messages), from `flag`
/// (--revision), git or `env`, in that order; logs which one it used.
pub fn of(context: &Path, shown: &Path, flag: Option<&str>, env: Env<'_>) -> anyhow::Result<Revision> {
    let flag = flag
        .map(|f| {
            commit_id(f).ok_or_else(|| {
                InputError::new(format!("--revision {f:?} is not a full commit id")).hint(
                    "pass all 40 hexadecimal characters (64 in a SHA-256 repository), e.g. --revision \"$(git rev-parse HEAD)\"",
                )
            })
        })
        .transpose()?;
    let revision = match git2::Repository::discover(context) {
        Ok(repo) => from_repo(&repo, shown, flag, env)?,
        Err(e) if e.code() == git2::ErrorCode::NotFound => without_repo(shown, flag, env)?,
        Err(e) => match flag {
            Some(commit) => {
                warn!("cannot open the git repository of {}: {}; using --revision alone", shown.display(), e.message());
                info!(
                    "revision {}… from --revision (unreadable git repository at {})",
                    short(&commit),
                    shown.display()
                );
                revision_without_repo(commit, RevisionSource::Flag, env)?
            }
            None => {
                return Err(InputError::new(format!(
                    "cannot open the git repository of {}: {}",
                    shown.display(),
                    e.message()
                ))
                .hint("fix the repository (git status says what is wrong), or pass --revision COMMIT")
                .into());
            }
        },
    };
    Ok(revision)
}

fn from_repo(repo: &git2::Repository, shown: &Path, flag: Option<String>, env: Env<'_>) -> anyhow::Result<Revision> {
    let at = repo.workdir().unwrap_or_else(|| repo.path()).display().to_string();
    let at = at.trim_end_matches('/');
    let head = repo.head().and_then(|h| h.peel_to_commit());
    let source = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(without_credentials));
    let Some(commit) = flag else {
        let head = head.map_err(|e| {
            InputError::new(format!("the repository of {} has no commit: {}", shown.display(), e.message()))
                .hint("commit first, or pass --revision COMMIT (or --no-git with --tag)")
        })?;
        let dirty = work_tree_changed(repo, &head, true)?;
        info!(
            "revision {}… from git (HEAD of the repository at {at}{})",
            short(&head.id().to_string()),
            if dirty { ", with uncommitted changes" } else { "" }
        );
        return Ok(of_commit(&head, dirty, source, RevisionSource::Git));
    };
    let head_id = head.as_ref().ok().map(|h| h.id().to_string());
    let is_head = head_id.as_deref() == Some(commit.as_str());
    if let Some(head_id) = head_id.as_deref().filter(|_| !is_head) {
        warn!(
            "--revision {}… is not HEAD ({}…) of the repository at {at}: the image is tagged and labelled with --revision",
            short(&commit),
            short(head_id)
        );
    }
    let found = git2::Oid::from_str(&commit).ok().and_then(|oid| repo.find_commit(oid).ok());
    match found {
        Some(c) => {
            let dirty = work_tree_changed(repo, &c, is_head)?;
            info!(
                "revision {}… from --revision ({} in the repository at {at}{})",
                short(&commit),
                if is_head { "HEAD" } else { "a commit" },
                if dirty { ", with changes in the work tree" } else { "" }
            );
            Ok(of_commit(&c, dirty, source, RevisionSource::Flag))
        }
        None => {
            // Not in this (possibly shallow) clone: nothing to compare with or date it by.
            info!("revision {}… from --revision (not a commit of the repository at {at})", short(&commit));
            let r = revision_without_repo(commit, RevisionSource::Flag, env)?;
            Ok(Revision { source: source.or(r.source), ..r })
        }
    }
}

/// What git knows of `commit`.
fn of_commit(commit: &git2::Commit<'_>, dirty: bool, source: Option<String>, from: RevisionSource) -> Revision {
    let id = commit.id().to_string();
    let described =
        commit.as_object().describe(git2::DescribeOptions::new().describe_tags()).and_then(|d| d.format(None)).ok();
    let mut revision = Revision {
        short: short(&id).to_owned(),
        commit: id,
        dirty,
        source,
        created: Some(ekskit_core::time::rfc3339(commit.time().seconds())),
        version: described,
        from,
    };
    revision.version = revision.version.take().or_else(|| Some(revision.tag()));
    revision
}

/// Whether tracked files differ from `commit`: `git status` for HEAD, a diff of its tree with
/// the index and work tree for another commit.
fn work_tree_changed(repo: &git2::Repository, commit: &git2::Commit<'_>, is_head: bool) -> anyhow::Result<bool> {
    if is_head {
        let mut options = git2::StatusOptions::new();
        options.include_untracked(false).include_ignored(false);
        Ok(!repo.statuses(Some(&mut options))?.is_empty())
    } else {
        let diff = repo.diff_tree_to_workdir_with_index(Some(&commit.tree()?), None)?;
        Ok(diff.deltas().len() > 0)
    }
}

fn without_repo(shown: &Path, flag: Option<String>, env: Env<'_>) -> anyhow::Result<Revision> {
    let why = format!("no git repository at {}", shown.display());
    let (commit, from) = if let Some(commit) = flag {
        (commit, RevisionSource::Flag)
    } else if let Some(commit) = env_commit(
        env,
        CODEBUILD_VERSION,
        &why,
        "CodeBuild sets it to the commit only for git sources (CodePipeline, CodeCommit, GitHub, Bitbucket), not for S3; pass --revision COMMIT",
    )? {
        (commit, RevisionSource::CodeBuild)
    } else if let Some(commit) =
        env_commit(env, GITHUB_SHA, &why, "build from the actions/checkout work tree, or pass --revision COMMIT")?
    {
        (commit, RevisionSource::GitHub)
    } else {
        return Err(InputError::new(format!(
            "{} is not in a git repository, so there is no revision to tag the image with",
            shown.display()
        ))
        .hint(format!(
            "build from a git checkout, pass --revision COMMIT, or set {CODEBUILD_VERSION} or {GITHUB_SHA} \
             (CodeBuild and GitHub Actions set them); or pass --no-git with --tag"
        ))
        .into());
    };
    info!("revision {}… from {} ({why})", short(&commit), from.shown());
    revision_without_repo(commit, from, env)
}

/// A commit nothing else is known of: not dirty (nothing to compare with), created at
/// SOURCE_DATE_EPOCH or unknown, no version, the source from the CI system's variables.
fn revision_without_repo(commit: String, from: RevisionSource, env: Env<'_>) -> anyhow::Result<Revision> {
    Ok(Revision {
        short: short(&commit).to_owned(),
        source: source_from_env(env, from),
        created: source_date_epoch(env)?,
        commit,
        dirty: false,
        version: None,
        from,
    })
}

/// The first 8 characters of a commit id.
fn short(commit: &str) -> &str {
    &commit[..8.min(commit.len())]
}

/// A variable that is set and not empty.
/// The commit in the variable `name`, when it is set; refused when it is not a commit id.
fn env_commit(env: Env<'_>, name: &str, why: &str, hint: &str) -> Result<Option<String>, InputError> {
    let Some(value) = var(env, name) else { return Ok(None) };
    let refused = || InputError::new(format!("{name} is {value:?}, not a commit id, and there is {why}")).hint(hint);
    commit_id(&value).map(Some).ok_or_else(refused)
}

fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The repository URL CodeBuild or GitHub Actions names, credentials removed; CodeBuild's
/// `s3://` locations (S3 sources, pipeline artifacts) are not where the source lives.
fn source_from_env(env: Env<'_>, from: RevisionSource) -> Option<String> {
    let codebuild = var(env, CODEBUILD_REPO_URL).filter(|url| !url.starts_with("s3://"));
    let github = match (var(env, GITHUB_SERVER_URL), var(env, GITHUB_REPOSITORY)) {
        (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
        _ => None,
    };
    let url = if from == RevisionSource::GitHub { github.or(codebuild) } else { codebuild.or(github) };
    url.as_deref().map(without_credentials)
}

/// SOURCE_DATE_EPOCH as RFC 3339; a value that is not a number of seconds is refused, as the
/// specification asks.
fn source_date_epoch(env: Env<'_>) -> anyhow::Result<Option<String>> {
    let Some(value) = var(env, SOURCE_DATE_EPOCH) else { return Ok(None) };
    match value.parse::<i64>() {
        Ok(secs) if secs >= 0 && value.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(ekskit_core::time::rfc3339(secs)))
        }
        _ => Err(InputError::new(format!("{SOURCE_DATE_EPOCH} is {value:?}, not a number of seconds since 1970"))
            .hint(format!("set it to a Unix time, e.g. {SOURCE_DATE_EPOCH}=$(git log -1 --format=%ct), or unset it"))
            .into()),
    }
}

/// `https://user:token@host/repo` → `https://host/repo`: labels are public.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &url[..scheme + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";
    const B: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| (*v).to_owned())
    }

    /// An empty directory outside any repository, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(prefix: &str) -> Dir {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos:x}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            assert!(git2::Repository::discover(&dir).is_err(), "{} is inside a repository", dir.display());
            Dir(dir)
        }

        /// Makes it a repository with one commit of `a.txt` and returns the commit.
        fn commit(&self) -> String {
            let repo = git2::Repository::init(&self.0).unwrap();
            std::fs::write(self.0.join("a.txt"), "a").unwrap();
            let mut index = repo.index().unwrap();
            index.add_path(Path::new("a.txt")).unwrap();
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let who = git2::Signature::new("t", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
            repo.commit(Some("HEAD"), &who, &who, "init", &tree, &[]).unwrap().to_string()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn resolve(dir: &Dir, flag: Option<&str>, vars: &[(&str, &str)]) -> anyhow::Result<Revision> {
        of(&dir.0, Path::new("ctx/"), flag, &env_of(vars))
    }

    fn exit_code(result: anyhow::Result<Revision>) -> (u8, String) {
        let err = result.unwrap_err();
        (ekskit_core::errors::exit_code(&err), ekskit_core::errors::render("imgbuild", &err))
    }

    #[test]
    fn commit_ids_are_full_hex_sha1_or_sha256() {
        assert_eq!(commit_id(A).as_deref(), Some(A));
        assert_eq!(commit_id(&A.to_uppercase()).as_deref(), Some(A), "lowercased");
        assert!(commit_id(&"a".repeat(64)).is_some());
        for bad in ["", "0123abcd", &A[..39], &format!("{A}0"), &A.replace('0', "g"), "HEAD", "main"] {
            assert_eq!(commit_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn without_a_repository_the_flag_then_codebuild_then_github() {
        let dir = Dir::new("rev-none");
        let both = [(CODEBUILD_VERSION, A), (GITHUB_SHA, B)];
        let r = resolve(&dir, Some(B), &both).unwrap();
        assert_eq!((r.commit.as_str(), r.from), (B, RevisionSource::Flag));

        let r = resolve(&dir, None, &both).unwrap();
        assert_eq!((r.commit.as_str(), r.short.as_str(), r.from), (A, "01234567", RevisionSource::CodeBuild));
        assert_eq!(r.tag(), "01234567", "never dirty: nothing to compare with");
        assert_eq!((r.created.as_deref(), r.version.as_deref(), r.source.as_deref()), (None, None, None));

        let r = resolve(&dir, None, &[(CODEBUILD_VERSION, ""), (GITHUB_SHA, B)]).unwrap();
        assert_eq!((r.commit.as_str(), r.from), (B, RevisionSource::GitHub), "an empty variable is unset");

        let (code, text) = exit_code(resolve(&dir, None, &[]));
        assert_eq!(code, 2);
        assert!(text.contains("ctx/ is not in a git repository"), "{text}");
        for hint in ["--revision", CODEBUILD_VERSION, GITHUB_SHA, "--no-git"] {
            assert!(text.contains(hint), "{hint} in {text}");
        }
    }

    #[test]
    fn a_variable_or_flag_that_is_not_a_commit_is_refused() {
        let dir = Dir::new("rev-bad");
        // An S3 source's object version: refused, not passed over for GITHUB_SHA.
        let (code, text) =
            exit_code(resolve(&dir, None, &[(CODEBUILD_VERSION, "3HL4kqtJlcpXroDTDmJ"), (GITHUB_SHA, B)]));
        assert_eq!(code, 2);
        assert!(
            text.contains("CODEBUILD_RESOLVED_SOURCE_VERSION is \"3HL4kqtJlcpXroDTDmJ\", not a commit id"),
            "{text}"
        );
        assert_eq!(exit_code(resolve(&dir, None, &[(GITHUB_SHA, "main")])).0, 2);
        let (code, text) = exit_code(resolve(&dir, Some("0123abcd"), &[(CODEBUILD_VERSION, A)]));
        assert_eq!(code, 2);
        assert!(text.contains("--revision \"0123abcd\" is not a full commit id") && text.contains("hint:"), "{text}");
    }

    #[test]
    fn created_is_source_date_epoch_and_the_source_the_ci_systems_url_without_credentials() {
        let dir = Dir::new("rev-env");
        let r = resolve(
            &dir,
            None,
            &[
                (CODEBUILD_VERSION, A),
                (CODEBUILD_REPO_URL, "https://bot:tok@git.example.com/o/r.git"),
                (SOURCE_DATE_EPOCH, "1700000000"),
            ],
        )
        .unwrap();
        assert_eq!(r.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(r.source.as_deref(), Some("https://git.example.com/o/r.git"));
        let r = resolve(&dir, None, &[(CODEBUILD_VERSION, A), (CODEBUILD_REPO_URL, "s3://bucket/pipeline/src.zip")]);
        assert_eq!(r.unwrap().source, None, "a pipeline artifact is not a source repository");
        let github = [(GITHUB_SHA, B), (GITHUB_SERVER_URL, "https://github.com"), (GITHUB_REPOSITORY, "o/r")];
        assert_eq!(resolve(&dir, None, &github).unwrap().source.as_deref(), Some("https://github.com/o/r"));
        let (code, text) = exit_code(resolve(&dir, None, &[(GITHUB_SHA, B), (SOURCE_DATE_EPOCH, "yesterday")]));
        assert_eq!(code, 2);
        assert!(text.contains("SOURCE_DATE_EPOCH"), "{text}");
    }

    #[test]
    fn files_sent_that_git_does_not_track_are_found_new_or_ignored() {
        let dir = Dir::new("rev-untracked");
        dir.commit();
        std::fs::create_dir_all(dir.0.join("sub/.wheels")).unwrap();
        std::fs::write(dir.0.join(".gitignore"), "sub/.wheels/\n").unwrap();
        for f in ["sub/.wheels/x.whl", "sub/new.txt"] {
            std::fs::write(dir.0.join(f), f).unwrap();
        }
        let root = dir.0.canonicalize().unwrap();
        let files = ["a.txt", ".gitignore", "sub/.wheels/x.whl", "sub/new.txt"].map(String::from);
        assert_eq!(untracked(&root, &files).unwrap(), [".gitignore", "sub/.wheels/x.whl", "sub/new.txt"]);
        // A context below the repository's root: paths relative to the context.
        let sub = root.join("sub");
        assert_eq!(untracked(&sub, &[".wheels/x.whl".into(), "new.txt".into()]).unwrap(), [".wheels/x.whl", "new.txt"]);
        let mut r = resolve(&dir, None, &[]).unwrap();
        let clean = r.tag();
        r.mark_dirty();
        assert_eq!((r.tag(), r.version.clone()), (format!("{clean}-dirty"), Some(format!("{clean}-dirty"))));
        let outside = Dir::new("rev-untracked-none");
        assert!(untracked(&outside.0, &files).unwrap().is_empty(), "no repository, nothing to compare with");
    }

    #[test]
    fn in_a_repository_git_beats_the_variables_and_the_flag_beats_git() {
        let dir = Dir::new("rev-git");
        let head = dir.commit();
        let vars = [(CODEBUILD_VERSION, A), (GITHUB_SHA, B), (SOURCE_DATE_EPOCH, "1")];
        let r = resolve(&dir, None, &vars).unwrap();
        assert_eq!((r.commit.as_str(), r.from, r.dirty), (head.as_str(), RevisionSource::Git, false));
        assert_eq!(r.created.as_deref(), Some("2023-11-14T22:13:20Z"), "the commit's time");

        let r = resolve(&dir, Some(&head), &vars).unwrap();
        assert_eq!((r.commit.as_str(), r.from), (head.as_str(), RevisionSource::Flag));
        assert_eq!(r.created.as_deref(), Some("2023-11-14T22:13:20Z"), "a commit of the repository: its time");

        // Not a commit of this repository: what --revision says, dated by SOURCE_DATE_EPOCH.
        let r = resolve(&dir, Some(A), &vars).unwrap();
        assert_eq!((r.commit.as_str(), r.from, r.dirty), (A, RevisionSource::Flag, false));
        assert_eq!(r.created.as_deref(), Some("1970-01-01T00:00:01Z"));

        std::fs::write(dir.0.join("a.txt"), "changed").unwrap();
        assert!(resolve(&dir, None, &[]).unwrap().dirty);
        assert!(resolve(&dir, Some(&head), &[]).unwrap().dirty, "compared with the flag's commit");
    }

    #[test]
    fn credentials_never_reach_labels() {
        assert_eq!(
            without_credentials("https://x-token:ghp_secret@example.com/o/r.git"),
            "https://example.com/o/r.git"
        );
        assert_eq!(without_credentials("git@example.com:o/r.git"), "git@example.com:o/r.git");
        let r = Revision {
            commit: "0123456789abcdef".into(),
            short: "01234567".into(),
            dirty: true,
            source: None,
            created: None,
            version: None,
            from: RevisionSource::Git,
        };
        assert_eq!(r.tag(), "01234567-dirty");
    }
}
