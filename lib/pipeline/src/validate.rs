//! The checks of single values that need no AWS call, so bad input exits 2 with nothing
//! changed; `flag` names where the value came from in the message.

use ekskit_core::InputError;

use crate::spec::{MAX_TRIGGER_PATHS, Provider};

/// A directory of deploy/environments: letters, digits, - and _.
pub fn validate_environment(name: &str, flag: &str) -> Result<(), InputError> {
    if !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(());
    }
    Err(InputError::new(format!("{flag} `{name}` is not a directory name"))
        .hint("use letters, digits, - and _, e.g. dev or prod (deploy/environments/<name>)"))
}

/// The https clone URL of the GitOps repository: a URL as given, or OWNER/NAME on the provider's
/// public host. GitHub Enterprise Server's host is not known here: it needs the URL.
pub fn gitops_repo_url(given: &str, provider: Provider, flag: &str) -> Result<String, InputError> {
    if given.contains("://") {
        validate_https_url(given, flag)?;
        return Ok(given.to_owned());
    }
    validate_repository(given, provider)
        .map_err(|e| InputError { message: e.message.replace("--repository", flag), ..e })?;
    let host = match provider {
        Provider::GitHub => "github.com",
        Provider::GitLab => "gitlab.com",
        Provider::Bitbucket => "bitbucket.org",
        Provider::GitHubEnterpriseServer => {
            return Err(InputError::new(format!(
                "{flag} {given}: the GitOps repository's URL is not known for a GitHub Enterprise Server"
            ))
            .hint("pass --gitops-repo https://HOST/OWNER/NAME.git"));
        }
    };
    Ok(format!("https://{host}/{given}.git"))
}

/// `https://host/path`, without credentials, query or fragment.
pub fn validate_https_url(url: &str, flag: &str) -> Result<(), InputError> {
    let hint = "pass the repository's https clone URL, e.g. https://github.com/acme/gitops.git";
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(InputError::new(format!("{flag} `{url}` is not an https URL")).hint(hint));
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.contains('@') {
        return Err(InputError::new(format!("{flag}: the URL carries credentials"))
            .hint("leave them out: the build reads the token from --token-secret"));
    }
    let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c));
    let path_ok = !path.trim_matches('/').is_empty()
        && !url.contains(|c: char| c.is_whitespace() || c.is_control() || "?#".contains(c));
    if !host_ok || !path_ok {
        return Err(InputError::new(format!("{flag} `{url}` is not a repository URL")).hint(hint));
    }
    Ok(())
}

/// Whether the clone URL is the repository OWNER/NAME, on whatever host: a match errs on the
/// side of refusing a GitOps target that would start the pipeline.
pub fn is_repository(url: &str, repository: &str) -> bool {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).to_ascii_lowercase();
    let repository = repository.to_ascii_lowercase();
    path == repository || path.ends_with(&format!("/{repository}"))
}

/// 1 to 8 globs, each a path inside the repository of at most 255 characters.
pub fn validate_trigger_paths(paths: &[String]) -> Result<(), InputError> {
    if paths.len() > MAX_TRIGGER_PATHS {
        return Err(InputError::new(format!(
            "{} --trigger-path patterns: CodePipeline takes at most {MAX_TRIGGER_PATHS} per trigger",
            paths.len()
        ))
        .hint("merge patterns, e.g. app/** instead of one per file under app/"));
    }
    if paths.is_empty() {
        return Err(InputError::new("`pipeline.trigger_paths` is empty").hint("pass --trigger-path GLOB, e.g. app/**"));
    }
    for path in paths {
        let ok = !path.trim().is_empty()
            && path.len() <= 255
            && !path.starts_with('/')
            && !path.chars().any(|c| c.is_control());
        if !ok {
            return Err(InputError::new(format!("--trigger-path `{path}` is not a glob of repository paths"))
                .hint("use a path from the repository root, at most 255 characters, e.g. app/** or buildspec.yml"));
        }
    }
    Ok(())
}

/// `owner/name` (GitHub, Bitbucket); GitLab also has `group/subgroup/name`.
pub fn validate_repository(repository: &str, provider: Provider) -> Result<(), InputError> {
    let parts: Vec<&str> = repository.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty() && !p.starts_with('.') && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let count_ok = if provider == Provider::GitLab { parts.len() >= 2 } else { parts.len() == 2 };
    if count_ok && parts.iter().all(part_ok) && !repository.ends_with(".git") {
        return Ok(());
    }
    Err(InputError::new(format!("--repository `{repository}` is not OWNER/NAME"))
        .hint("pass the repository's full name without host or .git, e.g. --repository acme/comments"))
}

/// An http(s) URL of a `.tar.gz`, without credentials (it is a plaintext project variable).
pub fn validate_tools_url(url: &str) -> Result<(), InputError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or_default();
        !host.is_empty() && !host.contains('@') && r.ends_with(".tar.gz") && !url.contains(char::is_whitespace)
    });
    if ok {
        return Ok(());
    }
    Err(InputError::new(format!("--tools-url `{url}` is not an http(s) URL of a .tar.gz"))
        .hint("pass the tools tarball's URL, e.g. a release asset ekskit-<version>-x86_64-unknown-linux-musl.tar.gz"))
}

/// The rules of `git check-ref-format` that a branch name can break.
pub fn validate_branch(branch: &str, flag: &str) -> Result<(), InputError> {
    let bad = branch.is_empty()
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.chars().any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c));
    if bad {
        return Err(InputError::new(format!("{flag} `{branch}` is not a valid git branch name")));
    }
    Ok(())
}

/// A path inside the repository: relative, no `..`, a YAML file.
pub fn validate_buildspec(path: &str) -> Result<(), InputError> {
    let hint = "pass the buildspec's path relative to the repository root, e.g. --buildspec buildspec.yml";
    let inside = !path.starts_with('/') && path.split('/').all(|p| !p.is_empty() && p != ".." && p != ".");
    if path.trim().is_empty() || !inside || path.contains(char::is_whitespace) {
        return Err(InputError::new(format!("--buildspec `{path}` is not a path inside the repository")).hint(hint));
    }
    if !(path.ends_with(".yml") || path.ends_with(".yaml")) {
        return Err(InputError::new(format!("--buildspec `{path}` is not a YAML file")).hint(hint));
    }
    Ok(())
}

/// ECR repository names: lower case components separated by `/`, `.`, `_` or `-`.
pub fn validate_ecr_repository(name: &str) -> Result<(), InputError> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
    };
    if name.len() <= 256 && name.split('/').all(component_ok) {
        return Ok(());
    }
    Err(InputError::new(format!("--ecr-repository `{name}` is not an ECR repository name"))
        .hint("use lower case letters, digits, and . _ - / between them, e.g. comments"))
}

/// `arn:<partition>:<service>:<region>:<12 digits>:<resource>...`
pub fn validate_arn(arn: &str, services: &[&str], resource: &str, flag: &str) -> Result<(), InputError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && services.contains(&parts[2])
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with(resource)
        && parts[5].len() > resource.len();
    if ok {
        return Ok(());
    }
    Err(InputError::new(format!("{flag} `{arn}` is not a {} ARN", services[0]))
        .hint(format!("pass the full ARN, arn:aws:{}:<region>:<account>:{resource}...", services[0])))
}
