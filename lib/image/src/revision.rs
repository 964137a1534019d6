//! What git says about the context: the commit (its 8-character short form is the image tag, as
//! the seed used), whether the work tree differs from it, where the source lives, and when the
//! commit was made (the `created` label: a build time would make every build a new image).

use std::path::Path;

use ekskit_core::InputError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub commit: String,
    pub short: String,
    pub dirty: bool,
    pub source: Option<String>,
    /// Commit time, RFC 3339.
    pub created: String,
    /// `git describe --tags` when a tag reaches the commit.
    pub version: Option<String>,
}

impl Revision {
    /// The tag: `abcdef12`, or `abcdef12-dirty` when the work tree has uncommitted changes.
    pub fn tag(&self) -> String {
        if self.dirty { format!("{}-dirty", self.short) } else { self.short.clone() }
    }
}

pub fn of(context: &Path) -> anyhow::Result<Revision> {
    let repo = git2::Repository::discover(context).map_err(|_| {
        InputError::new(format!(
            "{} is not in a git repository, so there is no revision to tag the image with",
            context.display()
        ))
        .hint("build from a git checkout, or pass --no-git with --tag")
    })?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        InputError::new(format!("the repository of {} has no commit: {}", context.display(), e.message()))
            .hint("commit first, or pass --no-git with --tag")
    })?;
    let commit = head.id().to_string();
    let mut options = git2::StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let dirty = !repo.statuses(Some(&mut options))?.is_empty();
    let source = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(without_credentials));
    let version = repo.describe(git2::DescribeOptions::new().describe_tags()).and_then(|d| d.format(None)).ok();
    Ok(Revision {
        short: commit[..8].to_owned(),
        commit,
        dirty,
        source,
        created: ekskit_core::time::rfc3339(head.time().seconds()),
        version,
    })
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
    use super::*;

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
            created: String::new(),
            version: None,
        };
        assert_eq!(r.tag(), "01234567-dirty");
    }
}
