//! `--repo`: tagbump works on a repository it fetches itself (a CodeBuild source without `.git`,
//! a GitOps tree on another branch or repository). What is checked before anything is fetched:
//! the URL (credentials never ride in it, so it can be shown as it is), the paths inside the
//! repository; and the temporary directory the repository lives in, removed on drop.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ekskit_core::InputError;
use tracing::{debug, info, warn};

/// A `--repo` value: what libgit2 is given, and what messages and the output show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// The URL handed to libgit2 (a local path made absolute).
    pub url: String,
    /// The URL as given, for messages and the `bump.repository` key.
    pub shown: String,
    /// A local path or `file://`: libgit2's local transport cannot fetch shallowly, and needs not.
    pub local: bool,
}

impl RepoUrl {
    /// Accepts `scheme://[user@]host/path` (https, http, ssh, git, file), scp-like
    /// `user@host:path`, and a local path. A password (or, over HTTP, any user part, where a
    /// token is often put) is refused: it would be stored and shown with the URL.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let refuse = |shown: String| {
            InputError::new(format!("the --repo URL {shown} carries credentials"))
                .hint("put the token in --token-env, --token-file or --token-secret (and the user in --token-user); they are never stored or shown")
        };
        if text.trim().is_empty() {
            return Err(InputError::new("--repo is empty").hint("pass the repository's URL or path"));
        }
        if let Some((scheme, rest)) = text.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "file" {
                return Ok(Self { url: text.to_owned(), shown: text.to_owned(), local: true });
            }
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            if let Some((userinfo, host)) = authority.rsplit_once('@') {
                let shown = format!("{scheme}://{host}{path}");
                if userinfo.contains(':') || scheme.starts_with("http") {
                    return Err(refuse(shown));
                }
            }
            return Ok(Self { url: text.to_owned(), shown: text.to_owned(), local: false });
        }
        // scp-like `[user@]host:path`: a user, never a password.
        let (user, host_path) = match text.split_once('@') {
            Some((user, rest)) if !user.contains('/') => (Some(user), rest),
            _ => (None, text),
        };
        if !text.starts_with(['.', '/'])
            && let Some((host, _)) = host_path.split_once(':')
            && !host.contains('/')
        {
            if user.is_some_and(|u| u.contains(':')) {
                return Err(refuse(host_path.to_owned()));
            }
            return Ok(Self { url: text.to_owned(), shown: text.to_owned(), local: false });
        }
        let path = Path::new(text);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map_err(|e| InputError::new(format!("the current directory: {e}")))?.join(path)
        };
        Ok(Self { url: absolute.to_string_lossy().into_owned(), shown: text.to_owned(), local: true })
    }
}

/// `path` as a path inside the repository: relative, without `..` (`./` parts dropped).
pub fn inside(path: &Path) -> Result<PathBuf, InputError> {
    let bad = || {
        InputError::new(format!("{} is not a path inside the repository", path.display()))
            .hint("with --repo, FILE and --from are relative to the repository's root, without `..`, e.g. deploy/environments/dev/kustomization.yaml")
    };
    let mut inside = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => inside.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    if inside.as_os_str().is_empty() || inside.to_str().is_none() {
        return Err(bad());
    }
    Ok(inside)
}

/// A new private directory under the system's temporary directory (`TMPDIR`), removed with
/// everything in it when dropped: on success, on error, and when Ctrl-C drops the run. A run
/// killed outright (SIGKILL, a runner lost) cannot remove its own: the next one sweeps it
/// ([`sweep`]).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `<prefix>-<pid>-<nanos>-<n>` under `TMPDIR`; the ones of this prefix whose process is
    /// gone are swept first.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let base = std::env::temp_dir();
        let dir = Self::new_in(&base, prefix)?;
        // The directory just made tells whom this process creates files as: the user whose
        // stale directories are this run's to sweep.
        if let Ok(meta) = std::fs::metadata(&dir.path) {
            sweep(&base, prefix, meta.uid());
        }
        Ok(dir)
    }

    fn new_in(base: &Path, prefix: &str) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut last = None;
        for _ in 0..16 {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{prefix}-{}-{nanos:x}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    debug!("working in {}", path.display());
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(ekskit_core::Hinted::new(
                        format!("creating a temporary directory in {}: {e}", base.display()),
                        "point TMPDIR at a writable directory",
                    )
                    .into());
                }
            }
        }
        Err(anyhow::anyhow!("creating a temporary directory in {}: {last:?}", base.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the directories `<prefix>-<pid>-…` directly under `base` that `uid` owns and whose
/// process is no longer running: what runs killed outright left behind. Where /proc is not
/// there to tell which processes run, nothing is swept. Anything else (other names, files,
/// symbolic links, other users' directories, live processes') is left alone.
pub fn sweep(base: &Path, prefix: &str, uid: u32) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| pid_in_name(n, prefix)) else { continue };
        if !owned_dir(&entry.path(), uid) || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => info!("removed {}, left by tagbump process {pid}, which is gone", entry.path().display()),
            // Another run swept it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("could not remove {}, left by process {pid}: {e}", entry.path().display()),
        }
    }
}

/// The pid in a name `<prefix>-<pid>-<rest>`, as [`TempDir::new_in`] makes them.
fn pid_in_name(name: &str, prefix: &str) -> Option<u32> {
    let (pid, rest) = name.strip_prefix(prefix)?.strip_prefix('-')?.split_once('-')?;
    if rest.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// A directory (not a link to one) that `uid` owns.
fn owned_dir(path: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

impl Drop for TempDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => debug!("removed {}", self.path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("could not remove the temporary clone {}: {e}; remove it by hand", self.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_as_given_and_credentials_in_them_refused() {
        for (text, local) in [
            ("https://git.example.org/acme/gitops.git", false),
            ("http://127.0.0.1:9419/r.git", false),
            ("ssh://git@git.example.org:2222/acme/gitops.git", false),
            ("git://127.0.0.1/r.git", false),
            ("git@github.com:acme/gitops.git", false),
            ("file:///srv/git/r.git", true),
            ("/srv/git/r.git", true),
        ] {
            let url = RepoUrl::parse(text).unwrap();
            assert_eq!((url.shown.as_str(), url.local), (text, local), "{text}");
            assert_eq!(url.url, text);
        }
        let relative = RepoUrl::parse("../r.git").unwrap();
        assert!(relative.local && Path::new(&relative.url).is_absolute() && relative.shown == "../r.git");
        assert!(RepoUrl::parse("./dir:with-colon").unwrap().local);

        for (text, shown) in [
            (
                "https://x-access-token:s3cr3t@git.example.org/acme/gitops.git",
                "https://git.example.org/acme/gitops.git",
            ),
            ("https://s3cr3t@github.com/acme/gitops.git", "https://github.com/acme/gitops.git"),
            ("ssh://git:s3cr3t@host/r.git", "ssh://host/r.git"),
            ("git:s3cr3t@host:r.git", "host:r.git"),
        ] {
            let e = RepoUrl::parse(text).unwrap_err();
            assert!(e.message.contains(shown), "{e:?}");
            assert!(!e.message.contains("s3cr3t") && !e.hint.unwrap().contains("s3cr3t"));
        }
        assert!(RepoUrl::parse("").is_err());
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        assert_eq!(inside(Path::new("deploy/dev/values.yaml")).unwrap(), Path::new("deploy/dev/values.yaml"));
        assert_eq!(inside(Path::new("./deploy/./values.yaml")).unwrap(), Path::new("deploy/values.yaml"));
        for bad in ["/etc/passwd", "../values.yaml", "deploy/../../x.yaml", "", "."] {
            assert!(inside(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_temporary_directory_goes_away_on_drop_even_when_full() {
        let dir = TempDir::new("tagbump-test").unwrap();
        let path = dir.path().to_path_buf();
        std::fs::create_dir_all(path.join("a/b")).unwrap();
        std::fs::write(path.join("a/b/c"), "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        let other = TempDir::new("tagbump-test").unwrap();
        assert_ne!(other.path(), path);
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn only_directories_of_gone_processes_of_the_prefix_and_user_are_swept() {
        use std::os::unix::fs::MetadataExt;
        let base = TempDir::new("tagbump-sweep").unwrap();
        let at = |name: &str| base.path().join(name);
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let (dead, live) = (gone.id(), std::process::id());
        let stale = at(&format!("x-{dead}-1f-0"));
        std::fs::create_dir_all(stale.join("objects/pack")).unwrap();
        std::fs::write(stale.join("objects/pack/p"), "x").unwrap();
        let kept = [
            format!("x-{live}-1f-0"),
            format!("y-{dead}-1f-0"),
            format!("xy-{dead}-1f-0"),
            format!("x-{dead}"),
            format!("x-{dead}-"),
            "x-abc-1f-0".to_owned(),
            "x--1f-0".to_owned(),
        ];
        for name in &kept {
            std::fs::create_dir(at(name)).unwrap();
        }
        std::fs::write(at(&format!("x-{dead}-file")), "not a directory").unwrap();
        std::fs::create_dir(at("target")).unwrap();
        std::os::unix::fs::symlink(at("target"), at(&format!("x-{dead}-link"))).unwrap();
        // Another user's: only root can make one; elsewhere that case is not tried.
        let theirs = at(&format!("x-{dead}-theirs"));
        std::fs::create_dir(&theirs).unwrap();
        let chowned = std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok();

        let uid = std::fs::metadata(base.path()).unwrap().uid();
        sweep(base.path(), "x", uid);
        assert!(!stale.exists(), "the directory of a gone process is swept");
        for name in kept.iter().map(String::as_str).chain(["target", &format!("x-{dead}-file")]) {
            assert!(at(name).exists(), "{name} is left alone");
        }
        assert!(at(&format!("x-{dead}-link")).symlink_metadata().is_ok(), "a link is left alone");
        assert_eq!(theirs.exists(), chowned, "kept when another user owns it, swept when this one does");
    }

    #[test]
    fn names_give_the_pid_only_in_the_shape_temporary_directories_have() {
        assert_eq!(pid_in_name("tagbump-4242-1f3a-0", "tagbump"), Some(4242));
        for name in ["tagbump-test-4242-1f-0", "tagbump-4242", "tagbump-4242-", "tagbump--1f-0", "tagbumpx-1-1f-0"] {
            assert_eq!(pid_in_name(name, "tagbump"), None, "{name}");
        }
    }
}
