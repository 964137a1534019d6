//! Image references as Docker reads them: where the tag is, and what a tag may be. imgbuild,
//! imgpush and tagbump all take tags from each other's output, so they share these rules.

use crate::errors::InputError;

/// `127.0.0.1:5001/app:v1` → (`127.0.0.1:5001/app`, `v1`); the tag is after the last `/`, so a
/// registry port is never taken for one; no tag means `latest`, as in Docker.
pub fn split_tag(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[name_start..].rfind(':') {
        Some(i) => (&reference[..name_start + i], &reference[name_start + i + 1..]),
        None => (reference, "latest"),
    }
}

/// Tags: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
pub fn check_tag(tag: &str) -> Result<(), InputError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(InputError::new(format!("`{tag}` is not a valid image tag"))
            .hint("use up to 128 letters, digits, _ . and -"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("127.0.0.1:5001/app:v1"), ("127.0.0.1:5001/app", "v1"));
        assert_eq!(split_tag("127.0.0.1:5001/app"), ("127.0.0.1:5001/app", "latest"));
        assert_eq!(split_tag("app:v1"), ("app", "v1"));
    }

    #[test]
    fn tags() {
        for ok in ["abcdef12", "v1.2.3", "latest", "_x", "abcdef12-dirty"] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
