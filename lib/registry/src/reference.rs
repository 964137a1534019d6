//! Where an image goes: `--repository` parsed by Docker's reference rules, with Amazon ECR
//! recognised by its host (`<account>.dkr.ecr.<region>.amazonaws.com`) or asked for by name
//! (`ecr:comments`, in the account of the credentials).

use ekskit_core::InputError;

/// Docker Hub as people write it, as its API is reached, and as credentials are stored for it.
const HUB: &str = "docker.io";
const HUB_API: &str = "registry-1.docker.io";
const HUB_CREDENTIALS: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `127.0.0.1:5001`, `docker.io`, `123456789012.dkr.ecr.us-east-1.amazonaws.com`; empty for
    /// `ecr:NAME` until the ECR API says which registry it is.
    pub host: String,
    /// `comments`, `library/python`, `team/comments`.
    pub path: String,
    /// Set when the repository is in Amazon ECR.
    pub ecr: Option<Ecr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecr {
    /// From the host; `None` for `ecr:NAME` (the caller's account).
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Repository {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let bad = |why: &str| {
            InputError::new(format!("--repository `{text}` is not a repository reference: {why}")).hint(
                "use HOST[:PORT]/NAME (e.g. 127.0.0.1:5001/comments), \
                 ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME, ecr:NAME, or USER/NAME on Docker Hub",
            )
        };
        if let Some(name) = text.strip_prefix("ecr:") {
            check_path(name).map_err(|w| bad(&w))?;
            return Ok(Self {
                host: String::new(),
                path: name.to_owned(),
                ecr: Some(Ecr { account: None, region: None }),
            });
        }
        if text.contains("://") {
            return Err(bad("leave out the scheme"));
        }
        if text.contains('@') {
            return Err(bad("a digest is not a repository"));
        }
        let (host, path) = match text.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (HUB.to_owned(), text.to_owned()),
        };
        check_host(&host).map_err(|w| bad(&w))?;
        if path.rsplit('/').next().is_some_and(|last| last.contains(':')) {
            return Err(bad("it names a tag; give tags with --tag"));
        }
        check_path(&path).map_err(|w| bad(&w))?;
        let path = if host == HUB && !path.contains('/') { format!("library/{path}") } else { path };
        let ecr = ecr_host(&host).map(|(account, region)| Ecr { account: Some(account), region: Some(region) });
        Ok(Self { host, path, ecr })
    }

    /// How people write it: `127.0.0.1:5001/comments`, `docker.io/team/comments`.
    pub fn uri(&self) -> String {
        format!("{}/{}", self.host, self.path)
    }

    /// The host that serves the registry API.
    pub fn api_host(&self) -> &str {
        if self.host == HUB { HUB_API } else { &self.host }
    }

    /// The key of this registry in the Docker config's `auths` and credential helpers.
    pub fn credentials_key(&self) -> &str {
        if self.host == HUB { HUB_CREDENTIALS } else { &self.host }
    }
}

/// `(account, region)` of an ECR registry host.
pub fn ecr_host(host: &str) -> Option<(String, String)> {
    let rest = host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let (account, rest) = rest.split_once('.')?;
    let region = rest.strip_prefix("dkr.ecr.").or_else(|| rest.strip_prefix("dkr.ecr-fips."))?;
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let region_ok =
        !region.is_empty() && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (account_ok && region_ok).then(|| (account.to_owned(), region.to_owned()))
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("`{port}` is not a port"));
    }
    let ok = !name.is_empty()
        && name.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok { Ok(()) } else { Err(format!("`{host}` is not a registry host")) }
}

/// Path components: lowercase letters and digits, separated by `.`, `_`, `__` or dashes.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository name is empty".into());
    }
    if path.len() > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    for part in path.split('/') {
        let chars_ok = part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        let ends_ok = part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !chars_ok || !ends_ok || part.contains("..") || part.contains("___") {
            return Err(format!(
                "`{part}` is not a valid name component (lowercase letters, digits, and . _ - between them)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_and_names() {
        let local = Repository::parse("127.0.0.1:5001/comments").unwrap();
        assert_eq!(
            (local.host.as_str(), local.path.as_str(), local.ecr.is_none()),
            ("127.0.0.1:5001", "comments", true)
        );
        let hub = Repository::parse("python").unwrap();
        assert_eq!(
            (hub.uri().as_str(), hub.api_host(), hub.credentials_key()),
            ("docker.io/library/python", HUB_API, HUB_CREDENTIALS)
        );
        assert_eq!(Repository::parse("team/comments").unwrap().uri(), "docker.io/team/comments");
        assert_eq!(Repository::parse("localhost/a/b").unwrap().host, "localhost");
        let ecr = Repository::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/comments").unwrap();
        assert_eq!(ecr.ecr, Some(Ecr { account: Some("123456789012".into()), region: Some("eu-west-1".into()) }));
        let by_name = Repository::parse("ecr:comments").unwrap();
        assert_eq!((by_name.path.as_str(), by_name.ecr.unwrap().account), ("comments", None));
    }

    #[test]
    fn unknown_formats_are_refused_with_the_reason() {
        for (bad, why) in [
            ("https://127.0.0.1:5001/comments", "scheme"),
            ("127.0.0.1:5001/comments:v1", "tag"),
            ("127.0.0.1:5001/Comments", "component"),
            ("127.0.0.1:5001/", "empty"),
            ("127.0.0.1:99999/comments", "port"),
            ("a//b", "component"),
            ("comments@sha256:abc", "digest"),
            ("ecr:", "empty"),
            ("", "empty"),
        ] {
            let err = Repository::parse(bad).unwrap_err();
            assert!(err.message.contains(why), "{bad}: {}", err.message);
        }
        assert!(ecr_host("12345.dkr.ecr.us-east-1.amazonaws.com").is_none());
    }
}
