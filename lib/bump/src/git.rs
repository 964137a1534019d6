//! The commit and the push, with git2. The edit is made on the blob in the branch tip's tree,
//! not on the work tree, so a push that loses a race is redone on the new remote tip: fetch,
//! edit the file as it is there, commit, push again, with bounded backoff. No commit is made when
//! the tag is already set. When pushing, the edit goes on the remote's tip alone: commits the
//! local branch holds beyond it are never pushed along, and a local branch with commits of the
//! user's own is never moved (one a failed tagbump push left behind is superseded and moved).
//!
//! With `--repo` the repository is a temporary bare one ([`Repo::ephemeral`]) that knows the
//! remote only by its URL (nothing is written to its config) and fetches only the branch's tip
//! (depth 1): the edit needs the tip's tree alone, and the redo after a lost race fetches the
//! new tip the same way.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ekskit_core::wait::{Backoff, GaveUp, Limit, Retry, retry_blocking};
use ekskit_core::{Hinted, InputError, Interrupted};
use git2::build::{CheckoutBuilder, TreeUpdateBuilder};
use git2::{
    AutotagOption, Cred, CredentialType, FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository, Signature,
};
use tracing::{debug, info, warn};

use crate::order::{self, Release};
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
    /// The pushed image's digest, written as an `Image-Digest:` trailer of the commit message.
    pub digest: Option<&'a str>,
    /// The file the tag was copied from (--from), named in the commit message.
    pub from: Option<&'a Path>,
    /// When the new tag's image was made (its OCI `created` label), written as an
    /// `Image-Created:` trailer: what `--forward-only` orders revision tags by.
    pub created: Option<&'a str>,
}

#[derive(Default)]
pub struct Options {
    pub branch: Option<String>,
    pub push: bool,
    pub remote: String,
    pub retries: u32,
    /// How long a remote may stall a connect, read or write ([`set_network_timeout`]).
    pub network_timeout: std::time::Duration,
    /// How long in all a fetch or push waits between retries of a failure a retry may fix
    /// ([`transient`]); zero: no retries.
    pub network_patience: Duration,
    pub author: Option<(String, String)>,
    pub credentials: Credentials,
    /// Keep the tag when the new one is an older release (see [`crate::order`]).
    pub forward_only: bool,
}

/// How long in all a fetch or push waits between its retries ([`Options::network_patience`]):
/// with [`NETWORK_BACKOFF`], twenty attempts, enough for a load balancer's bad minute; a
/// longer outage fails the step, and a re-run later picks up from the remote.
pub const NETWORK_PATIENCE: Duration = Duration::from_secs(60);

/// Short and many: an attempt is a whole fetch or push, several requests (a shallow fetch over
/// HTTP is four: the 401 that asks for the token, the refs, two negotiation rounds), and fails
/// when any one does, so a remote failing a quarter of its requests fails two thirds of them.
const NETWORK_BACKOFF: Backoff =
    Backoff { initial: Duration::from_millis(250), max: Duration::from_secs(4), factor: 2.0 };

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
    /// Why the tag was kept (`--forward-only` and an older release).
    pub refused: Option<String>,
}

/// The commits an attempt of [`Repo::bump_from`] starts from: the local branch's tip as it was
/// before, the remote's as last fetched, and the one the edit goes on.
#[derive(Clone, Copy)]
struct Tips {
    local: Option<Oid>,
    remote: Option<Oid>,
    base: Oid,
}

/// Why an attempt to push did not land: the remote moved (another attempt on its new tip may
/// land), or anything else.
enum Push {
    Rejected(String),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Push {
    fn from(e: anyhow::Error) -> Self {
        Push::Failed(e)
    }
}

impl std::fmt::Display for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Push::Rejected(why) => write!(f, "rejected ({why}); fetching and redoing the edit on the new tip"),
            Push::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

/// Why one fetch or push failed: libgit2's error, which a retry may fix ([`transient`]), or
/// anything else (a bad URL).
enum NetError {
    Git(git2::Error),
    Other(anyhow::Error),
}

impl From<git2::Error> for NetError {
    fn from(e: git2::Error) -> Self {
        NetError::Git(e)
    }
}

impl From<anyhow::Error> for NetError {
    fn from(e: anyhow::Error) -> Self {
        NetError::Other(e)
    }
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetError::Git(e) => f.write_str(e.message()),
            NetError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

pub struct Repo {
    repo: Repository,
    /// The file, relative to the work tree.
    relative: PathBuf,
    /// Set for `--repo`: the remote is this URL, not a named remote.
    direct: Option<Direct>,
}

/// The remote of a temporary repository, known only by its URL.
struct Direct {
    url: String,
    /// The URL as messages show it.
    shown: String,
    /// Fetch the tip alone (depth 1); off for local paths, whose transport cannot.
    shallow: bool,
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
        Ok(Self { repo, relative, direct: None })
    }

    /// A new bare repository in `dir` (an empty directory the caller removes) for `url`; the
    /// branch is fetched by [`Repo::fetch`] (shallowly when `shallow`), `relative` is the file
    /// inside it.
    pub fn ephemeral(dir: &Path, url: &str, shown: &str, shallow: bool, relative: PathBuf) -> anyhow::Result<Self> {
        let repo = Repository::init_bare(dir)
            .map_err(|e| anyhow::anyhow!("creating a repository in {}: {}", dir.display(), e.message()))?;
        let direct = Direct { url: url.to_owned(), shown: shown.to_owned(), shallow };
        Ok(Self { repo, relative, direct: Some(direct) })
    }

    /// The text of `path` in the commit `tip`; `None` when the commit has no such file.
    pub fn read(&self, tip: Oid, path: &Path) -> anyhow::Result<Option<String>> {
        let tree = self.repo.find_commit(tip)?.tree()?;
        let Ok(entry) = tree.get_path(path) else { return Ok(None) };
        let Ok(blob) = self.repo.find_blob(entry.id()) else {
            return Err(InputError::new(format!("{} is not a file", path.display())).into());
        };
        let text = String::from_utf8(blob.content().to_vec())
            .map_err(|_| InputError::new(format!("{} is not UTF-8 text", path.display())))?;
        Ok(Some(text))
    }

    /// The remote's default branch (its HEAD), to say where a missing branch could start from;
    /// `None` when the remote does not tell.
    pub fn remote_default_branch(&self, options: &Options) -> Option<String> {
        let mut remote = self.remote(options).ok()?;
        let callbacks = callbacks(&options.credentials);
        let connection = remote.connect_auth(git2::Direction::Fetch, Some(callbacks), None).ok()?;
        let head = connection.default_branch().ok()?;
        head.as_str().ok()?.strip_prefix("refs/heads/").map(str::to_owned)
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
        let remote_tip = if options.push { self.fetch(options, &branch)? } else { None };
        self.bump_from(change, options, &branch, remote_tip)
    }

    /// [`Repo::bump`] once the remote's tip of `branch` was fetched (`None`: it has no such branch).
    pub fn bump_from(
        &self,
        change: &Change<'_>,
        options: &Options,
        branch: &str,
        mut remote_tip: Option<Oid>,
    ) -> anyhow::Result<Outcome> {
        let branch = branch.to_owned();
        let local_ref = format!("refs/heads/{branch}");
        let local_tip = self.repo.refname_to_id(&local_ref).ok();
        // The commit goes on the remote's tip alone: what else the local branch holds is the
        // user's, never pushed along. Without --push (or a first push) it goes on the local tip.
        let mut base = match (local_tip, remote_tip) {
            (_, Some(r)) => r,
            (Some(l), None) => l,
            (None, None) => {
                return Err(InputError::new(format!(
                    "there is no branch {branch}, here or on {}",
                    self.label(options)
                ))
                .hint(format!(
                    "create it first (git switch -c {branch} && git push -u {} {branch}), or pass an existing --branch",
                    options.remote
                ))
                .into());
            }
        };
        let policy = Retry {
            backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(10), factor: 2.0 },
            limit: Limit::Retries(options.retries),
        };
        let attempt = |attempt| {
            if attempt > 1 {
                remote_tip = self.fetch(options, &branch)?;
                base = remote_tip.unwrap_or(base);
            }
            let tips = Tips { local: local_tip, remote: remote_tip, base };
            self.commit_and_push(change, options, &branch, tips, attempt)
        };
        let rejected = |e: &Push| matches!(e, Push::Rejected(_));
        match retry_blocking(&format!("push of {branch}"), policy, rejected, attempt) {
            Ok(outcome) => Ok(outcome),
            Err(GaveUp { error: Push::Failed(e), .. }) => Err(e),
            Err(GaveUp { error: Push::Rejected(rejection), attempts }) => Err(Hinted::new(
                format!("the remote kept rejecting the push of {branch} after {attempts} attempts: {rejection}"),
                "run the same command again; the edit is redone on the remote's newest commit",
            )
            .into()),
        }
    }

    /// One attempt of [`Repo::bump_from`]: the edit committed on `tips.base`, the branch moved
    /// to it, and pushed unless the remote already has it.
    fn commit_and_push(
        &self,
        change: &Change<'_>,
        options: &Options,
        branch: &str,
        tips: Tips,
        attempt: u32,
    ) -> Result<Outcome, Push> {
        let local_ref = format!("refs/heads/{branch}");
        let (old, commit, refused) = self.commit_on(tips.base, change, branch, options)?;
        let head = commit.unwrap_or(tips.base);
        if tips.local != Some(head) {
            self.follow(&local_ref, tips.local, head)?;
        }
        let outcome = |pushed| Outcome {
            old: old.clone(),
            commit: commit.map(|c| c.to_string()),
            branch: branch.to_owned(),
            pushed,
            attempts: attempt,
            refused: refused.clone(),
        };
        if !options.push || tips.remote == Some(head) {
            return Ok(outcome(false));
        }
        match self.push(options, head, branch)? {
            None => {
                info!("pushed {branch} to {} ({head})", self.label(options));
                Ok(outcome(true))
            }
            Some(rejection) => Err(Push::Rejected(rejection)),
        }
    }

    /// The edit as a commit on top of `base`; `None` when the tag is already set there, or
    /// (`--forward-only`) when the new tag is an older release, with the reason.
    fn commit_on(
        &self,
        base: Oid,
        change: &Change<'_>,
        branch: &str,
        options: &Options,
    ) -> anyhow::Result<(String, Option<Oid>, Option<String>)> {
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
            return Ok((target.value, None, None));
        }
        if options.forward_only
            && let Some(why) = self.older(base, &target.value, change)?
        {
            warn!("kept {} {} at {}: {why}", self.relative.display(), change.path, target.value);
            return Ok((target.value, None, Some(why)));
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
        let message = commit_message(change, &self.relative, &target.value);
        let commit = self.repo.commit(None, &signature, &signature, &message, &tree, &[&parent])?;
        info!("committed {commit} on {branch}: {} {} -> {}", change.image, target.value, change.new);
        Ok((target.value, Some(commit), None))
    }

    /// `Some(reason)` when `change.new` is an older release than `old`; an error (exit 2) when
    /// nothing orders the two. Creation times not given come from earlier bumps' trailers.
    fn older(&self, base: Oid, old: &str, change: &Change<'_>) -> anyhow::Result<Option<String>> {
        let old_created = self.created_in_history(base, old)?;
        let new_created = match change.created {
            Some(c) => Some(c.to_owned()),
            None => self.created_in_history(base, change.new)?,
        };
        let ordered = order::compare(
            Release { tag: old, created: old_created.as_deref() },
            Release { tag: change.new, created: new_created.as_deref() },
        );
        match ordered {
            Ok((Ordering::Less, how)) => Ok(Some(format!("{} is older than {old} ({how})", change.new))),
            Ok(_) => Ok(None),
            // The first bump with a creation time: the tag there was set some other way.
            Err(why) if old_created.is_none() && new_created.is_some() => {
                warn!("--forward-only: {why}; nothing to compare {} with, so it is set", change.new);
                Ok(None)
            }
            Err(why) => Err(InputError::new(format!("--forward-only cannot order the tags: {why}"))
                .hint(
                    "pipe imgbuild's output through (its image.created label), use semantic version tags, \
                     or drop --forward-only",
                )
                .into()),
        }
    }

    /// The `Image-Created:` trailer of the newest bump to `tag` in the history of `base`.
    fn created_in_history(&self, base: Oid, tag: &str) -> anyhow::Result<Option<String>> {
        let mut walk = self.repo.revwalk()?;
        walk.push(base)?;
        let subject_end = format!(" -> {tag}");
        // Bounded: a bump's history is read for its recent releases, not all of it.
        for oid in walk.take(500) {
            // A shallow clone's history ends early.
            let Some(commit) = oid.ok().and_then(|oid| self.repo.find_commit(oid).ok()) else { break };
            let Ok(message) = commit.message() else { continue };
            let bumped_to = message.lines().next().is_some_and(|s| s.ends_with(&subject_end));
            if let Some(created) = message.lines().find_map(|l| l.strip_prefix("Image-Created: "))
                && bumped_to
            {
                return Ok(Some(created.trim().to_owned()));
            }
        }
        Ok(None)
    }

    /// Moves the local branch to `head` when that loses nothing: it fast-forwards, or what it
    /// holds beyond `head` are commits of earlier tagbump runs whose push failed (superseded by
    /// this one). A branch with commits of the user's own is left as it is, with a warning.
    fn follow(&self, local_ref: &str, local: Option<Oid>, head: Oid) -> anyhow::Result<()> {
        if let Some(local) = local
            && local != head
            && !self.repo.graph_descendant_of(head, local)?
        {
            let own = self.commits_beyond(local, head)?;
            if own > 0 {
                warn!(
                    "{local_ref} holds {own} commit(s) that are not on the remote; they are left alone (not pushed) \
                     and the branch is not moved: rebase it on the remote when you want them there"
                );
                return Ok(());
            }
        }
        self.move_branch(local_ref, head)
    }

    /// How many commits of `local` that `head` lacks were not made by tagbump.
    fn commits_beyond(&self, local: Oid, head: Oid) -> anyhow::Result<usize> {
        let mut walk = self.repo.revwalk()?;
        walk.push(local)?;
        walk.hide(head)?;
        let mut others = 0;
        for oid in walk {
            let commit = self.repo.find_commit(oid?)?;
            if !commit.message().is_ok_and(|m| m.contains(TAGBUMP_MARK)) {
                others += 1;
            }
        }
        Ok(others)
    }

    /// Points the branch at `commit`; when it is checked out, the work tree and index follow
    /// (a safe checkout from the old HEAD, so nothing the user changed is overwritten).
    fn move_branch(&self, local_ref: &str, commit: Oid) -> anyhow::Result<()> {
        let checked_out =
            self.repo.head().ok().and_then(|h| h.name().ok().map(str::to_owned)).as_deref() == Some(local_ref);
        if checked_out && !self.repo.is_bare() {
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
    pub fn fetch(&self, options: &Options, branch: &str) -> anyhow::Result<Option<Oid>> {
        let tracking = format!("refs/remotes/{}/{branch}", options.remote);
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let depth =
            if self.direct.as_ref().is_some_and(|d| d.shallow) { "its tip alone, depth 1" } else { "all new commits" };
        debug!("fetching {branch} of {} ({depth})", self.label(options));
        let advertised = self.over_network(options, "fetching", || self.fetch_once(options, &refspec, branch))?;
        // The remote may have no such branch yet (a first push creates it).
        Ok(if advertised { self.repo.refname_to_id(&tracking).ok() } else { None })
    }

    /// One fetch of `refspec`, connect to end; whether the remote has `branch`.
    fn fetch_once(&self, options: &Options, refspec: &str, branch: &str) -> Result<bool, NetError> {
        let mut remote = self.remote(options)?;
        let mut fetch = FetchOptions::new();
        fetch.remote_callbacks(callbacks(&options.credentials));
        if let Some(direct) = &self.direct {
            // The branch alone, no tags; its tip alone over the network (a shallow clone).
            fetch.download_tags(AutotagOption::None);
            if direct.shallow {
                fetch.depth(1);
            }
        }
        remote.fetch(&[refspec], Some(&mut fetch), None)?;
        let wanted = format!("refs/heads/{branch}");
        Ok(remote.list().map(|heads| heads.iter().any(|h| h.name() == wanted)).unwrap_or(true))
    }

    /// Pushes the branch; `Some(reason)` when the remote refused it (a race lost).
    /// Pushes `commit` (by a ref of tagbump's own, not the local branch, which may hold more).
    fn push(&self, options: &Options, commit: Oid, branch: &str) -> anyhow::Result<Option<String>> {
        let source = "refs/tagbump/push";
        let mut staged = self.repo.reference(source, commit, true, "tagbump: the commit to push")?;
        // Pushed again after a lost answer, the same commit finds the remote already there: up
        // to date, not a second commit.
        let pushed = self.over_network(options, "pushing to", || self.push_once(options, source, branch));
        staged.delete()?;
        pushed
    }

    /// One push of `source` to `branch`, connect to end; `Some(reason)` when it was refused.
    fn push_once(&self, options: &Options, source: &str, branch: &str) -> Result<Option<String>, NetError> {
        let mut remote = self.remote(options)?;
        let mut rejected = None;
        let mut cbs = callbacks(&options.credentials);
        cbs.push_update_reference(|_, status| {
            rejected = status.map(str::to_owned);
            Ok(())
        });
        let mut push = PushOptions::new();
        push.remote_callbacks(cbs);
        let refspec = format!("{source}:refs/heads/{branch}");
        match remote.push(&[&refspec], Some(&mut push)) {
            Ok(()) => {}
            Err(e) if e.code() == git2::ErrorCode::NotFastForward || e.message().contains("non-fast-forward") => {
                return Ok(Some(e.message().to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        drop(push);
        Ok(rejected)
    }

    /// Runs `op` (one whole fetch or push) again after a failure a retry may fix ([`transient`]),
    /// with backoff, while less than `options.network_patience` was spent waiting: a forge's
    /// load balancer answers 502 now and then, and a dropped connection says nothing of whether
    /// the work was done, which a fetch or push redone finds out. `doing` words the errors.
    fn over_network<T>(
        &self,
        options: &Options,
        doing: &str,
        mut op: impl FnMut() -> Result<T, NetError>,
    ) -> anyhow::Result<T> {
        let label = self.label(options);
        let policy = Retry { backoff: NETWORK_BACKOFF, limit: Limit::Waited(options.network_patience) };
        let retried = |e: &NetError| matches!(e, NetError::Git(g) if transient(g));
        retry_blocking(&format!("{doing} {label}"), policy, retried, |_| op()).map_err(|gave_up| match gave_up.error {
            NetError::Git(e) => git_error(&e, doing, &label, gave_up.attempts),
            NetError::Other(e) => e,
        })
    }

    /// The remote as messages name it: the URL for `--repo`, else the remote's name.
    fn label(&self, options: &Options) -> String {
        self.direct.as_ref().map_or_else(|| options.remote.clone(), |d| d.shown.clone())
    }

    fn remote(&self, options: &Options) -> anyhow::Result<git2::Remote<'_>> {
        set_network_timeout(options.network_timeout);
        if let Some(direct) = &self.direct {
            // Anonymous: nothing is written to the repository's config.
            return self
                .repo
                .remote_anonymous(&direct.url)
                .map_err(|e| InputError::new(format!("{} is not a git URL: {}", direct.shown, e.message())).into());
        }
        self.repo.find_remote(&options.remote).map_err(|_| {
            InputError::new(format!("the repository has no remote `{}`", options.remote))
                .hint("pass --remote NAME")
                .into()
        })
    }
}

/// libgit2's socket timeouts (connect, and each read or write), which it keeps process-wide and
/// leaves unlimited by default: a remote that accepts the connection and then stalls would hold
/// a pipeline step until its runner's own timeout, hours later. Zero (as `Options::default()`
/// has) keeps libgit2's defaults.
pub fn set_network_timeout(timeout: std::time::Duration) {
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    if millis == 0 {
        return;
    }
    // SAFETY: these store two integers among libgit2's global options (no pointer is passed).
    // libgit2 reads them when a socket is opened or waits; a concurrent fetch in another thread
    // reads either the old or the new value.
    #[allow(unsafe_code)]
    unsafe {
        // Both fail only on a libgit2 built without these options (< 1.7); git2 bundles 1.9.
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis);
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
    }
}

/// How tagbump's commits say who made them; a local commit with it is tagbump's own.
const TAGBUMP_MARK: &str = "updated by tagbump";

/// The commit message: the change on the first line, then where it was made, where the tag came
/// from, and the image's digest as a trailer (`git log --format=%(trailers:key=Image-Digest)`).
fn commit_message(change: &Change<'_>, file: &Path, old: &str) -> String {
    let mut message =
        format!("{}: {old} -> {}\n\n{} {} {TAGBUMP_MARK}", change.image, change.new, file.display(), change.path);
    if let Some(from) = change.from {
        message += &format!(", copied from {}", from.display());
    }
    message += ".\n";
    let trailers: Vec<String> = [("Image-Digest", change.digest), ("Image-Created", change.created)]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| format!("{key}: {v}\n")))
        .collect();
    if !trailers.is_empty() {
        message += "\n";
        message += &trailers.concat();
    }
    message
}

/// Credentials handed to libgit2 when the remote asks, at most twice per kind, so a refused
/// token fails fast instead of looping.
fn callbacks(credentials: &Credentials) -> RemoteCallbacks<'_> {
    let mut cbs = RemoteCallbacks::new();
    let mut asked = 0;
    cbs.credentials(move |url, user_from_url, allowed| {
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
            // Asked after any redirect, so a remote that sends us to plain HTTP elsewhere gets nothing.
            if !ekskit_core::net::tls_or_loopback(url) {
                return Err(git2::Error::from_str(&format!("{PLAIN_HTTP} ({url})")));
            }
            return Cred::userpass_plaintext(&credentials.token_user, token);
        }
        Err(git2::Error::from_str("the remote asks for credentials and none were given"))
    });
    cbs
}

const PLAIN_HTTP: &str = "not sending the token over plain HTTP";

/// Failures a retry may fix: a 5xx or 429 from the forge or a load balancer in front of it, a
/// connection it closed or reset before answering (a restart, an idle timeout, a lost answer).
/// Not a refusal (401, 403, 404), a stall (the network timeout waited already), a connection
/// refused (nothing listens there), nor Ctrl-C (EINTR).
fn transient(e: &git2::Error) -> bool {
    let message = e.message();
    match e.class() {
        git2::ErrorClass::Http => {
            let status = message.strip_prefix("unexpected http status code: ").and_then(|s| s.trim().parse().ok());
            message == "unexpected EOF" || status.is_some_and(|s: u16| s == 429 || (500..600).contains(&s))
        }
        git2::ErrorClass::Net => ["Connection reset by peer", "Broken pipe"].iter().any(|m| message.ends_with(m)),
        _ => false,
    }
}

/// What a fetch or push that failed (after `attempts` tries) says, with a hint.
fn git_error(e: &git2::Error, doing: &str, remote: &str, attempts: u32) -> anyhow::Error {
    // With its timeouts set, libgit2 waits on sockets with poll(), which a signal interrupts
    // whatever SA_RESTART says, and it gives up with EINTR: that is the run's Ctrl-C (or
    // SIGTERM), not a remote failing, and ends as an interrupted run (130; a re-run resumes).
    if e.message().contains("Interrupted system call") {
        return anyhow::Error::new(Interrupted).context(format!("{doing} {remote}"));
    }
    let auth =
        e.class() == git2::ErrorClass::Http && e.message().contains("401") || e.message().contains("credentials");
    let stalled = e.message().contains("timed out") || e.message().contains("timeout");
    let hint = if e.message().starts_with(PLAIN_HTTP) {
        "use the remote's https:// URL (a token goes over plain HTTP only to this machine)"
    } else if auth {
        "give a token (--token-env, --token-file or --token-secret) or an SSH key that may push there"
    } else if stalled {
        "the remote stopped answering; re-run (nothing was pushed half-way), or raise --network-timeout"
    } else if transient(e) {
        "the remote (or a proxy in front of it) kept failing; run the same command again later: it finds what was pushed"
    } else {
        "check that the remote is reachable and the branch exists"
    };
    let tries = if attempts > 1 { format!(" after {attempts} attempts") } else { String::new() };
    Hinted::new(format!("{doing} {remote} failed{tries}: {}", e.message()), hint).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clone::TempDir;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

    /// A bare repository whose `main` holds `files`; returns it and the commit.
    fn remote(dir: &Path, files: &[(&str, &str)]) -> (Repository, Oid) {
        let repo = Repository::init_bare(dir).unwrap();
        let oid = commit(&repo, None, files);
        (repo, oid)
    }

    /// A commit on `main` with `files` changed, on top of `parent`.
    fn commit(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let parent = parent.map(|p| repo.find_commit(p).unwrap());
        let base = parent.as_ref().map(|p| p.tree().unwrap());
        let mut update = TreeUpdateBuilder::new();
        for (path, text) in files {
            update.upsert(*path, repo.blob(text.as_bytes()).unwrap(), git2::FileMode::Blob);
        }
        let empty = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let tree = repo.find_tree(update.create_updated(repo, base.as_ref().unwrap_or(&empty)).unwrap()).unwrap();
        let who = Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo.commit(None, &who, &who, "seed", &tree, &parents).unwrap();
        repo.reference("refs/heads/main", oid, true, "test").unwrap();
        oid
    }

    fn options() -> Options {
        Options {
            branch: Some("main".into()),
            push: true,
            remote: "origin".into(),
            retries: 2,
            author: Some(("CI Bot".into(), "ci@example.com".into())),
            credentials: Credentials::default(),
            ..Options::default()
        }
    }

    fn text_at(repo: &Repository, path: &str) -> String {
        let tip = repo.find_reference("refs/heads/main").unwrap().peel_to_commit().unwrap();
        let entry = tip.tree().unwrap().get_path(Path::new(path)).unwrap();
        String::from_utf8(repo.find_blob(entry.id()).unwrap().content().to_vec()).unwrap()
    }

    #[test]
    fn a_remote_that_accepts_and_then_stalls_fails_the_fetch_with_a_hint() {
        let work = TempDir::new("tagbump-stall").unwrap();
        // Accepts connections and never answers, as a hung git server or proxy does.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/r.git", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(4).collect();
            drop(held);
        });
        let options = Options { network_timeout: std::time::Duration::from_secs(1), ..options() };
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = work.path().join("clone");
        std::thread::spawn(move || {
            let repo = Repo::ephemeral(&dir, &url, "the stalled remote", true, "v.yaml".into()).unwrap();
            let _ = tx.send(repo.fetch(&options, "main").map(|_| ()).map_err(|e| said(&e)));
        });
        // Generous: without the timeout the fetch would never end; with it, it ends in about 1 s.
        let result = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the fetch ended");
        let error = result.expect_err("a stalled remote is an error");
        assert!(error.contains("fetching the stalled remote failed"), "{error}");
        assert!(error.contains("--network-timeout"), "{error}");
    }

    /// An HTTP server on 127.0.0.1 that answers the request of its n-th connection with the
    /// status `answers[n]` (`None`: it closes the connection unanswered, as when the answer is
    /// lost), and any later one with 404; its URL, and how many requests it read.
    fn flaky_server(answers: Vec<Option<&'static str>>) -> (String, Arc<AtomicUsize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/r.git", listener.local_addr().unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let counted = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let n = counted.fetch_add(1, AtomicOrdering::SeqCst);
                if let Some(status) = answers.get(n).copied().unwrap_or(Some("404 Not Found")) {
                    let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        });
        (url, seen)
    }

    /// An error as tagbump prints it: the message, then the hint.
    fn said(e: &anyhow::Error) -> String {
        match e.downcast_ref::<Hinted>() {
            Some(h) => format!("{}; {}", h.message, h.hint),
            None => format!("{e:#}"),
        }
    }

    #[test]
    fn a_fetch_is_redone_after_a_5xx_or_a_lost_answer_and_not_after_a_refusal() {
        let (url, seen) = flaky_server(vec![Some("502 Bad Gateway"), None, Some("503 Service Unavailable")]);
        let work = TempDir::new("tagbump-flaky").unwrap();
        let repo = Repo::ephemeral(&work.path().join("clone"), &url, "the remote", true, "v.yaml".into()).unwrap();
        let options = Options { network_patience: Duration::from_secs(30), ..options() };
        let error = said(&repo.fetch(&options, "main").unwrap_err());
        assert_eq!(seen.load(AtomicOrdering::SeqCst), 4, "three failures a retry may fix, then a 404 that ends it");
        assert!(
            error.contains("fetching the remote failed after 4 attempts: unexpected http status code: 404"),
            "{error}"
        );
    }

    #[test]
    fn a_remote_that_keeps_failing_is_given_up_on_once_the_patience_is_spent() {
        let (url, seen) = flaky_server(vec![Some("502 Bad Gateway"); 50]);
        let work = TempDir::new("tagbump-failing").unwrap();
        let repo = Repo::ephemeral(&work.path().join("clone"), &url, "the remote", true, "v.yaml".into()).unwrap();
        // Waits of 0.25 s, 0.5 s and 1 s, then more than 1 s was spent waiting.
        let options = Options { network_patience: Duration::from_secs(1), ..options() };
        let error = said(&repo.fetch(&options, "main").unwrap_err());
        assert_eq!(seen.load(AtomicOrdering::SeqCst), 4);
        assert!(error.contains("failed after 4 attempts: unexpected http status code: 502"), "{error}");
        assert!(error.contains("kept failing"), "{error}");
        // Without patience (a caller that wants none), one attempt.
        let error = said(&repo.fetch(&Options { network_patience: Duration::ZERO, ..options }, "main").unwrap_err());
        assert_eq!(seen.load(AtomicOrdering::SeqCst), 5);
        assert!(error.contains("fetching the remote failed: unexpected http status code: 502"), "{error}");
    }

    #[test]
    fn only_failures_a_retry_may_fix_are_retried() {
        let error = |class, message| git2::Error::new(git2::ErrorCode::GenericError, class, message);
        let (http, net) = (git2::ErrorClass::Http, git2::ErrorClass::Net);
        for (e, retried) in [
            (error(http, "unexpected http status code: 502"), true),
            (error(http, "unexpected http status code: 503"), true),
            (error(http, "unexpected http status code: 429"), true),
            (error(http, "unexpected EOF"), true),
            (error(net, "error receiving data from socket: Connection reset by peer"), true),
            (error(net, "error receiving data from socket: Broken pipe"), true),
            (error(http, "unexpected http status code: 404"), false),
            (error(http, "unexpected http status code: 403"), false),
            (error(http, "unexpected authentication failure"), false),
            (error(net, "could not read from socket: timed out"), false),
            (error(net, "error receiving data from socket: Interrupted system call"), false),
            (error(git2::ErrorClass::Os, "failed to connect to 127.0.0.1: Connection refused"), false),
            (error(git2::ErrorClass::Callback, "the remote asks for credentials and none were given"), false),
        ] {
            assert_eq!(transient(&e), retried, "{}", e.message());
        }
    }

    #[test]
    fn a_token_refused_over_plain_http_says_to_use_https() {
        let e = git2::Error::from_str(&format!("{PLAIN_HTTP} (http://git.example.org/r.git)"));
        assert!(!transient(&e), "not redone");
        let error = git_error(&e, "fetching", "http://git.example.org/r.git", 1);
        let hint = ekskit_core::errors::hint_of(&error).unwrap_or_default();
        assert!(hint.contains("https://"), "{error}: {hint}");
    }

    #[test]
    fn a_temporary_repository_fetches_by_url_pushes_and_redoes_a_lost_race() {
        let work = TempDir::new("tagbump-unit").unwrap();
        let (upstream, seed) = remote(&work.path().join("r.git"), &[("values.yaml", "image:\n  tag: v1\n")]);
        let url = work.path().join("r.git").to_string_lossy().into_owned();
        let relative = PathBuf::from("values.yaml");
        let repo = Repo::ephemeral(&work.path().join("clone"), &url, "r.git", false, relative.clone()).unwrap();
        let options = options();
        assert_eq!(repo.fetch(&options, "missing").unwrap(), None, "no such branch");
        let tip = repo.fetch(&options, "main").unwrap().unwrap();
        assert_eq!(tip, seed);
        assert_eq!(repo.read(tip, &relative).unwrap().unwrap(), "image:\n  tag: v1\n");
        assert_eq!(repo.read(tip, Path::new("nope.yaml")).unwrap(), None);

        // The remote moves between the fetch and the push: the push is redone on its new tip.
        let moved = commit(&upstream, Some(seed), &[("other.txt", "someone else's change\n")]);
        let path: YamlPath = "image.tag".parse().unwrap();
        let change = Change {
            file: &relative,
            path: &path,
            document: None,
            new: "v2",
            image: "comments",
            digest: Some("sha256:abcd"),
            from: Some(Path::new("dev/values.yaml")),
            created: None,
        };
        let outcome = repo.bump_from(&change, &options, "main", Some(tip)).unwrap();
        assert_eq!((outcome.pushed, outcome.attempts, outcome.old.as_str()), (true, 2, "v1"));
        assert_eq!(text_at(&upstream, "values.yaml"), "image:\n  tag: v2\n");
        assert_eq!(text_at(&upstream, "other.txt"), "someone else's change\n", "nothing of the race is lost");
        let head = upstream.find_reference("refs/heads/main").unwrap().peel_to_commit().unwrap();
        assert_eq!(head.parent_id(0).unwrap(), moved);
        assert_eq!(head.id().to_string(), outcome.commit.unwrap());
        assert_eq!(
            head.message().unwrap(),
            "comments: v1 -> v2\n\nvalues.yaml image.tag updated by tagbump, copied from dev/values.yaml.\n\nImage-Digest: sha256:abcd\n"
        );
        assert_eq!(head.author().name().ok(), Some("CI Bot"));

        // Run again: the tag is set, nothing is committed or pushed.
        let tip = repo.fetch(&options, "main").unwrap().unwrap();
        let again = repo.bump_from(&change, &options, "main", Some(tip)).unwrap();
        assert_eq!((again.commit, again.pushed, again.attempts), (None, false, 1));
        let config = std::fs::read_to_string(work.path().join("clone/config")).unwrap();
        assert!(!config.contains("remote") && !config.contains(&url), "the URL stays out of the config: {config}");
    }

    #[test]
    fn the_commit_message_names_the_change_its_source_and_digest() {
        let path: YamlPath = "image.tag".parse().unwrap();
        let plain = Change {
            file: Path::new("v.yaml"),
            path: &path,
            document: None,
            new: "v2",
            image: "app",
            digest: None,
            from: None,
            created: None,
        };
        assert_eq!(
            commit_message(&plain, Path::new("v.yaml"), "v1"),
            "app: v1 -> v2\n\nv.yaml image.tag updated by tagbump.\n"
        );
    }

    #[test]
    fn forward_only_keeps_the_newer_release_whichever_pushes_last() {
        let work = TempDir::new("tagbump-forward").unwrap();
        let (upstream, _) = remote(&work.path().join("r.git"), &[("values.yaml", "image:\n  tag: aaa1111\n")]);
        let url = work.path().join("r.git").to_string_lossy().into_owned();
        let relative = PathBuf::from("values.yaml");
        let repo = Repo::ephemeral(&work.path().join("clone"), &url, "r.git", false, relative.clone()).unwrap();
        let options = Options { forward_only: true, ..options() };
        let path: YamlPath = "image.tag".parse().unwrap();
        let release = |new, created| Change {
            file: &relative,
            path: &path,
            document: None,
            new,
            image: "comments",
            digest: None,
            from: None,
            created,
        };
        let bump = |change: &Change<'_>| {
            let tip = repo.fetch(&options, "main").unwrap();
            repo.bump_from(change, &options, "main", tip)
        };
        // The tag there has no known creation time: the first release with one is set.
        let newer = bump(&release("ccc3333", Some("2026-03-01T12:00:00Z"))).unwrap();
        assert_eq!((newer.refused.as_deref(), newer.pushed), (None, true));
        assert!(text_at(&upstream, "values.yaml").contains("ccc3333"), "set: {}", text_at(&upstream, "values.yaml"));
        // An older release that arrives last is kept out, with the reason.
        let late = bump(&release("bbb2222", Some("2026-03-01T11:00:00Z"))).unwrap();
        assert_eq!((late.commit.as_deref(), late.pushed), (None, false));
        assert!(late.refused.unwrap().contains("bbb2222 is older than ccc3333"));
        assert_eq!(text_at(&upstream, "values.yaml"), "image:\n  tag: ccc3333\n");
        // A newer one goes on; one without a creation time cannot be ordered (exit 2).
        let next = bump(&release("ddd4444", Some("2026-03-02T08:00:00Z"))).unwrap();
        assert!(next.pushed);
        let unknown = bump(&release("eee5555", None)).unwrap_err();
        assert!(unknown.downcast_ref::<InputError>().is_some(), "{unknown:#}");
        // Semantic versions need no times.
        let versions = bump(&release("1.2.0", None));
        assert!(versions.is_err(), "a revision and a version do not compare");
    }
}
