//! The commit and the push, with git2. The edit is made on the blob in the branch tip's tree,
//! not on the work tree, so a push that loses a race is redone on the new remote tip: fetch,
//! edit the file as it is there, commit, push again, with bounded backoff. No commit is made when
//! the tag is already set; a local commit a failed push left behind is pushed by the next run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ekskit_core::{Hinted, InputError};
use git2::build::{CheckoutBuilder, TreeUpdateBuilder};
use git2::{Cred, CredentialType, FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository, Signature};
use tracing::{info, warn};

use crate::path::YamlPath;
use crate::yaml;

/// What to change, and how to record it.
pub struct Change<'a> {
    pub file: &'a Path,
    pub path: &'a YamlPath,
    pub document: Option<usize>,
    pub new: &'a str,
    /// Names the image in the commit message.
    pub image: &'a str,
}

#[derive(Default)]
pub struct Options {
    pub branch: Option<String>,
    pub push: bool,
    pub remote: String,
    pub retries: u32,
    pub author: Option<(String, String)>,
    pub credentials: Credentials,
}

/// Where push credentials come from; never printed, never written to `.git/config`.
#[derive(Default)]
pub struct Credentials {
    pub token: Option<String>,
    pub token_user: String,
    pub ssh_key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub old: String,
    pub commit: Option<String>,
    pub branch: String,
    pub pushed: bool,
    pub attempts: u32,
}

pub struct Repo {
    repo: Repository,
    /// The file, relative to the work tree.
    relative: PathBuf,
}

impl Repo {
    pub fn open(file: &Path) -> anyhow::Result<Self> {
        let absolute = file.canonicalize().map_err(|e| InputError::new(format!("{}: {e}", file.display())))?;
        let dir = absolute.parent().unwrap_or(Path::new("/"));
        let repo = Repository::discover(dir).map_err(|_| {
            InputError::new(format!("{} is not in a git repository", file.display()))
                .hint("tagbump commits its edit: run it in a clone")
        })?;
        let workdir = repo.workdir().ok_or_else(|| InputError::new("the repository is bare"))?.canonicalize()?;
        let relative = absolute.strip_prefix(&workdir)?.to_path_buf();
        Ok(Self { repo, relative })
    }

    /// The branch to commit on: `--branch`, else the checked-out one.
    pub fn branch(&self, wanted: Option<&str>) -> anyhow::Result<String> {
        if let Some(b) = wanted {
            return Ok(b.to_owned());
        }
        let head =
            self.repo.head().map_err(|e| InputError::new(format!("the repository has no HEAD: {}", e.message())))?;
        if !head.is_branch() {
            return Err(InputError::new("HEAD is detached, so there is no branch to commit on")
                .hint("pass --branch")
                .into());
        }
        Ok(head.shorthand().unwrap_or_default().to_owned())
    }

    /// Refuses to work over uncommitted edits of the file: they would be neither kept nor lost cleanly.
    pub fn check_clean(&self) -> anyhow::Result<()> {
        let status = self.repo.status_file(&self.relative).unwrap_or(git2::Status::CURRENT);
        if status.intersects(
            git2::Status::WT_MODIFIED | git2::Status::INDEX_MODIFIED | git2::Status::WT_NEW | git2::Status::INDEX_NEW,
        ) {
            return Err(InputError::new(format!("{} has uncommitted changes", self.relative.display()))
                .hint("commit or stash them first; tagbump commits only its own edit")
                .into());
        }
        Ok(())
    }

    pub fn relative(&self) -> &Path {
        &self.relative
    }

    /// Commits the change on the branch (and pushes it, with retries on a lost race).
    pub fn bump(&self, change: &Change<'_>, options: &Options) -> anyhow::Result<Outcome> {
        let branch = self.branch(options.branch.as_deref())?;
        let local_ref = format!("refs/heads/{branch}");
        let mut remote_tip = if options.push { self.fetch(options, &branch)? } else { None };
        let local_tip = self.repo.refname_to_id(&local_ref).ok();
        let mut base = match (local_tip, remote_tip) {
            (Some(l), Some(r)) if l == r || self.repo.graph_descendant_of(l, r)? => l,
            (_, Some(r)) => r,
            (Some(l), None) => l,
            (None, None) => {
                return Err(InputError::new(format!("there is no branch {branch}, here or on {}", options.remote))
                    .hint(format!("create it first (git switch -c {branch} && git push -u {} {branch}), or pass an existing --branch", options.remote))
                    .into());
            }
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=options.retries + 1 {
            let (old, commit) = self.commit_on(base, change, &branch, options)?;
            let head = commit.unwrap_or(base);
            if commit.is_some() || local_tip != Some(head) {
                self.move_branch(&local_ref, head)?;
            }
            let outcome = |pushed| Outcome {
                old: old.clone(),
                commit: commit.map(|c| c.to_string()),
                branch: branch.clone(),
                pushed,
                attempts: attempt,
            };
            if !options.push || remote_tip == Some(head) {
                return Ok(outcome(false));
            }
            match self.push(options, &branch)? {
                None => {
                    info!("pushed {branch} to {} ({head})", options.remote);
                    return Ok(outcome(true));
                }
                Some(rejection) if attempt <= options.retries => {
                    warn!(
                        "push of {branch} rejected ({rejection}); fetching and redoing the edit on the new tip in {delay:?}"
                    );
                    tokio::task::block_in_place(|| std::thread::sleep(delay));
                    delay = (delay * 2).min(Duration::from_secs(10));
                    remote_tip = self.fetch(options, &branch)?;
                    base = remote_tip.unwrap_or(base);
                }
                Some(rejection) => {
                    return Err(Hinted::new(
                        format!("the remote kept rejecting the push of {branch} after {attempt} attempts: {rejection}"),
                        "run the same command again; the edit is redone on the remote's newest commit",
                    )
                    .into());
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// The edit as a commit on top of `base`; `None` when the tag is already set there.
    fn commit_on(
        &self,
        base: Oid,
        change: &Change<'_>,
        branch: &str,
        options: &Options,
    ) -> anyhow::Result<(String, Option<Oid>)> {
        let parent = self.repo.find_commit(base)?;
        let tree = parent.tree()?;
        let entry = tree.get_path(&self.relative).map_err(|_| {
            InputError::new(format!("{} is not in the commit {base} of {branch}", self.relative.display()))
                .hint("commit the file first")
        })?;
        let blob = self.repo.find_blob(entry.id())?;
        let text = std::str::from_utf8(blob.content())
            .map_err(|_| InputError::new(format!("{} is not UTF-8 text", self.relative.display())))?;
        let target = yaml::locate(text, change.path, change.document)
            .map_err(|e| InputError::new(format!("{}: {e}", self.relative.display())))?;
        if target.holds(change.new) {
            info!("{} {} is already {}; nothing to commit", self.relative.display(), change.path, change.new);
            return Ok((target.value, None));
        }
        let edited = yaml::edit(text, &target, change.new)
            .map_err(|e| InputError::new(format!("{}: {e}", self.relative.display())))?;
        let blob = self.repo.blob(edited.as_bytes())?;
        let mut update = TreeUpdateBuilder::new();
        update.upsert(
            self.relative.to_string_lossy().as_ref(),
            blob,
            if entry.filemode() == 0o100755 { git2::FileMode::BlobExecutable } else { git2::FileMode::Blob },
        );
        let tree = self.repo.find_tree(update.create_updated(&self.repo, &tree)?)?;
        let signature = self.signature(options)?;
        let message = format!(
            "{}: {} -> {}\n\n{} {} updated by tagbump.\n",
            change.image,
            target.value,
            change.new,
            self.relative.display(),
            change.path
        );
        let commit = self.repo.commit(None, &signature, &signature, &message, &tree, &[&parent])?;
        info!("committed {commit} on {branch}: {} {} -> {}", change.image, target.value, change.new);
        Ok((target.value, Some(commit)))
    }

    /// Points the branch at `commit`; when it is checked out, the work tree and index follow
    /// (a safe checkout from the old HEAD, so nothing the user changed is overwritten).
    fn move_branch(&self, local_ref: &str, commit: Oid) -> anyhow::Result<()> {
        let checked_out =
            self.repo.head().ok().and_then(|h| h.name().ok().map(str::to_owned)).as_deref() == Some(local_ref);
        if checked_out {
            let tree = self.repo.find_commit(commit)?.into_object();
            self.repo.checkout_tree(&tree, Some(CheckoutBuilder::new().safe()))?;
        }
        self.repo.reference(local_ref, commit, true, "tagbump")?;
        Ok(())
    }

    fn signature(&self, options: &Options) -> anyhow::Result<Signature<'static>> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (name, email) = match (&options.author, env("GIT_AUTHOR_NAME"), env("GIT_AUTHOR_EMAIL")) {
            (Some((n, e)), _, _) => (n.clone(), e.clone()),
            (None, Some(n), Some(e)) => (n, e),
            _ => match self.repo.signature() {
                Ok(s) => return Ok(s.to_owned()),
                Err(_) => ("tagbump".to_owned(), "tagbump@ekskit.invalid".to_owned()),
            },
        };
        Ok(Signature::now(&name, &email)?)
    }

    /// Fetches the branch; returns the remote's tip, `None` when the remote has no such branch.
    fn fetch(&self, options: &Options, branch: &str) -> anyhow::Result<Option<Oid>> {
        let mut remote = self.remote(options)?;
        let tracking = format!("refs/remotes/{}/{branch}", options.remote);
        let mut fetch = FetchOptions::new();
        fetch.remote_callbacks(callbacks(&options.credentials));
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        remote.fetch(&[&refspec], Some(&mut fetch), None).map_err(|e| git_error(&e, "fetching", &options.remote))?;
        // The remote may have no such branch yet (a first push creates it).
        let advertised =
            remote.list().map(|heads| heads.iter().any(|h| h.name() == format!("refs/heads/{branch}"))).unwrap_or(true);
        Ok(if advertised { self.repo.refname_to_id(&tracking).ok() } else { None })
    }

    /// Pushes the branch; `Some(reason)` when the remote refused it (a race lost).
    fn push(&self, options: &Options, branch: &str) -> anyhow::Result<Option<String>> {
        let mut remote = self.remote(options)?;
        let mut rejected = None;
        let mut cbs = callbacks(&options.credentials);
        cbs.push_update_reference(|_, status| {
            rejected = status.map(str::to_owned);
            Ok(())
        });
        let mut push = PushOptions::new();
        push.remote_callbacks(cbs);
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        match remote.push(&[&refspec], Some(&mut push)) {
            Ok(()) => {}
            Err(e) if e.code() == git2::ErrorCode::NotFastForward || e.message().contains("non-fast-forward") => {
                return Ok(Some(e.message().to_owned()));
            }
            Err(e) => return Err(git_error(&e, "pushing to", &options.remote)),
        }
        drop(push);
        Ok(rejected)
    }

    fn remote(&self, options: &Options) -> anyhow::Result<git2::Remote<'_>> {
        self.repo.find_remote(&options.remote).map_err(|_| {
            InputError::new(format!("the repository has no remote `{}`", options.remote))
                .hint("pass --remote NAME")
                .into()
        })
    }
}

/// Credentials handed to libgit2 when the remote asks, at most twice per kind, so a refused
/// token fails fast instead of looping.
fn callbacks(credentials: &Credentials) -> RemoteCallbacks<'_> {
    let mut cbs = RemoteCallbacks::new();
    let mut asked = 0;
    cbs.credentials(move |_url, user_from_url, allowed| {
        asked += 1;
        if asked > 2 {
            return Err(git2::Error::from_str("the remote refused the credentials"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = user_from_url.unwrap_or("git");
            return match &credentials.ssh_key {
                Some(key) => Cred::ssh_key(user, None, key, None),
                None => Cred::ssh_key_from_agent(user),
            };
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(token) = &credentials.token
        {
            return Cred::userpass_plaintext(&credentials.token_user, token);
        }
        Err(git2::Error::from_str("the remote asks for credentials and none were given"))
    });
    cbs
}

fn git_error(e: &git2::Error, doing: &str, remote: &str) -> anyhow::Error {
    let auth =
        e.class() == git2::ErrorClass::Http && e.message().contains("401") || e.message().contains("credentials");
    let hint = if auth {
        "give a token (--token-env, --token-file or --token-secret) or an SSH key that may push there"
    } else {
        "check that the remote is reachable and the branch exists"
    };
    Hinted::new(format!("{doing} {remote} failed: {}", e.message()), hint).into()
}
