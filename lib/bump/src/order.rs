//! Which of two releases is newer, for `--forward-only`: by semantic version when both tags are
//! one (`1.4.2`, `v2.0.0-rc.1`, `1.20`), else by when their images were made (the OCI `created`
//! label imgbuild sets from the commit, recorded as an `Image-Created:` trailer of each bump).
//! A git revision tag says nothing about order on its own.

use std::cmp::Ordering;

/// What is known of one side: its tag and, when known, its image's creation time (RFC 3339).
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub tag: &'a str,
    pub created: Option<&'a str>,
}

/// How `new` compares with `old`, with the reason in words; `Err` when nothing orders them.
pub fn compare(old: Release<'_>, new: Release<'_>) -> Result<(Ordering, String), String> {
    if let (Some(a), Some(b)) = (Version::parse(old.tag), Version::parse(new.tag)) {
        return Ok((b.cmp(&a), "by semantic version".to_owned()));
    }
    match (old.created.and_then(utc), new.created.and_then(utc)) {
        (Some(a), Some(b)) => Ok((b.cmp(a), format!("by image creation time ({} vs {})", b, a))),
        _ => Err(format!(
            "`{}` and `{}` are not both semantic versions, and the creation time of {} is not known",
            old.tag,
            new.tag,
            if old.created.is_none() { old.tag } else { new.tag }
        )),
    }
}

/// RFC 3339 times in UTC (`2025-01-02T03:04:05Z`) compare as text; other forms are not trusted.
fn utc(time: &str) -> Option<&str> {
    let b = time.as_bytes();
    let shaped = time.len() >= 20
        && time.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    shaped.then_some(time)
}

/// A semantic version, leniently read: an optional `v`, one to three numbers, a pre-release.
#[derive(Debug, PartialEq, Eq)]
struct Version<'a> {
    core: [u64; 3],
    pre: Vec<&'a str>,
}

impl<'a> Version<'a> {
    fn parse(tag: &'a str) -> Option<Self> {
        let tag = tag.strip_prefix('v').unwrap_or(tag);
        let tag = tag.split_once('+').map_or(tag, |(v, _build)| v);
        let (core, pre) = match tag.split_once('-') {
            Some((core, pre)) => (core, pre.split('.').collect()),
            None => (tag, Vec::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut numbers = [0; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 18 {
                return None;
            }
            *slot = part.parse().ok()?;
        }
        // One bare number is a build counter or a year at best, and hex revisions are all
        // digits now and then: only dotted versions count.
        if parts.len() == 1 {
            return None;
        }
        Some(Version { core: numbers, pre })
    }
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_pre(&self.pre, &other.pre),
        })
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// SemVer 2.0 §11: numeric identifiers by value and below alphanumeric ones, which compare as
/// text; a longer list wins a tie.
fn compare_pre(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(old: &str, new: &str) -> Result<Ordering, String> {
        compare(Release { tag: old, created: None }, Release { tag: new, created: None }).map(|(o, _)| o)
    }

    #[test]
    fn semantic_versions_in_their_usual_spellings() {
        assert_eq!(tags("1.4.2", "1.10.0"), Ok(Ordering::Greater));
        assert_eq!(tags("v2.0.0", "v1.9.9"), Ok(Ordering::Less));
        assert_eq!(tags("1.20", "1.20.0"), Ok(Ordering::Equal));
        assert_eq!(tags("1.0.0-rc.1", "1.0.0"), Ok(Ordering::Greater));
        assert_eq!(tags("1.0.0-alpha.2", "1.0.0-alpha.10"), Ok(Ordering::Greater));
        assert_eq!(tags("1.0.0-alpha", "1.0.0-alpha.1"), Ok(Ordering::Greater));
        assert_eq!(tags("1.0.0-beta", "1.0.0-alpha"), Ok(Ordering::Less));
        assert_eq!(tags("1.0.0+build.5", "1.0.0+build.1"), Ok(Ordering::Equal));
    }

    #[test]
    fn revisions_need_the_creation_time() {
        assert!(tags("abc1234", "def5678").is_err());
        assert!(tags("1234567", "7654321").is_err(), "all-digit revisions are not versions");
        assert!(tags("1.2.3", "abc1234").is_err());
        let old = Release { tag: "abc1234", created: Some("2026-01-02T10:00:00Z") };
        let newer = Release { tag: "def5678", created: Some("2026-01-02T11:00:00Z") };
        assert_eq!(compare(old, newer).map(|(o, _)| o), Ok(Ordering::Greater));
        assert_eq!(compare(newer, old).map(|(o, _)| o), Ok(Ordering::Less));
        let local_time = Release { tag: "def5678", created: Some("2026-01-02T11:00:00+02:00") };
        assert!(compare(old, local_time).is_err(), "only UTC times compare as text");
        let unknown = Release { tag: "def5678", created: None };
        assert!(compare(old, unknown).unwrap_err().contains("def5678"));
    }
}
