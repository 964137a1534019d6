//! One run of a tool per stack at a time on this machine: two `mkvpc --name demo` started
//! together would both find nothing and both create a VPC. The lock is a file lock (flock), so
//! the OS drops it when a run ends or is killed and no stale lock is ever left. It does not
//! reach across machines (two CI runners); what a lost race leaves there, `--delete` removes.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use anyhow::Context;
use tracing::info;

/// Held for as long as it lives.
#[derive(Debug)]
pub struct StackLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock of `tool` on `stack` in `region`, waiting for another run that holds it.
/// Tools differ on purpose: `mkvpc | mkeks` on one stack run at the same time.
pub async fn acquire(tool: &str, region: &str, stack: &str) -> anyhow::Result<StackLock> {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the lock directory {}", dir.display()))?;
    let path = dir.join(format!("{tool}-{region}-{stack}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => return Ok(StackLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
    }
    info!("waiting for another {tool} run on stack {stack} in {region} to finish (lock {})", path.display());
    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await?
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(StackLock { _file: file, path })
}

/// `$XDG_RUNTIME_DIR/ekskit` (per user, in memory), else `~/.cache/ekskit/locks`, else a
/// directory in the system's temporary one.
fn lock_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(runtime) = env("XDG_RUNTIME_DIR") {
        return runtime.join("ekskit");
    }
    match env("HOME") {
        Some(home) => home.join(".cache/ekskit/locks"),
        None => std::env::temp_dir().join("ekskit-locks"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_run_waits_until_the_first_ends() {
        let stack = format!("lock-test-{}", std::process::id());
        let first = acquire("mktest", "us-east-1", &stack).await.unwrap();
        let waiting = tokio::spawn({
            let stack = stack.clone();
            async move { acquire("mktest", "us-east-1", &stack).await.map(|l| l.path) }
        });
        // Another tool, or another stack, does not wait.
        let other = acquire("mkother", "us-east-1", &stack).await.unwrap();
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second run waits while the first holds the lock");
        let path = first.path.clone();
        drop(first);
        assert_eq!(waiting.await.unwrap().unwrap(), path);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&other.path);
    }
}
