//! The steps of `ResolveSpec::resolve` (cli.rs): each takes a value
//! as given (the flag, else the stdin document), fills in its default and checks it, so bad input
//! exits 2 with nothing changed. The steps run in the order the spec's fields were always checked
//! in, so the first of several mistakes is the one reported.

use ekskit_core::InputError;
use ekskit_core::stack::validate_stack_name;

use crate::input::PromotionInput;
use crate::spec::{
    ComputeType, ConnectionSpec, DEFAULT_GITOPS_BRANCH, DEFAULT_IMAGE, Promotion, Provider, default_trigger_paths,
};
use crate::validate::{
    gitops_repo_url, is_repository, validate_arn, validate_branch, validate_buildspec, validate_ecr_repository,
    validate_environment, validate_https_url, validate_repository, validate_tools_url, validate_trigger_paths,
};

/// A value a run cannot do without (only `--delete` can).
fn needed(what: &str, flag: &str, hint: &str) -> InputError {
    InputError::new(format!("no {what} for the pipeline")).hint(format!("pass {flag} ({hint})"))
}

pub(crate) fn stack_name(given: Option<String>) -> Result<String, InputError> {
    let name = given.ok_or_else(|| {
        InputError::new("no stack name")
            .hint("pass --name, or pipe the document from mkvpc or mkeks (`cluster.name` names the stack)")
    })?;
    validate_stack_name(&name)?;
    Ok(name)
}

/// The watched repository, OWNER/NAME; absent only when deleting.
pub(crate) fn repository(
    given: Option<String>,
    provider: Provider,
    deleting: bool,
) -> Result<Option<String>, InputError> {
    match &given {
        Some(r) => validate_repository(r, provider)?,
        None if !deleting => return Err(needed("repository", "--repository OWNER/NAME", "e.g. acme/comments")),
        None => {}
    }
    Ok(given)
}

pub(crate) fn branch(given: Option<String>, default: &str, flag: &str) -> Result<String, InputError> {
    let branch = given.unwrap_or_else(|| default.into());
    validate_branch(&branch, flag)?;
    Ok(branch)
}

/// Where the GitOps change may be pushed, as given: the flag, else an earlier run's resolved
/// URL (with the repository it was resolved from), else an earlier run's repository.
#[derive(Debug, Clone, Default)]
pub(crate) struct GitopsGiven {
    pub flag: Option<String>,
    pub earlier_url: Option<String>,
    pub earlier_repo: Option<String>,
}

/// The GitOps repository, as given and as its https clone URL; else the watched repository's.
/// Deleting needs none of it, so then a bad one is no error.
pub(crate) fn gitops_target(
    given: GitopsGiven,
    repository: Option<&str>,
    provider: Provider,
    deleting: bool,
) -> Result<Option<(String, String)>, InputError> {
    let target = match (given.flag, given.earlier_url, given.earlier_repo) {
        (Some(flag), _, _) => gitops_repo_url(&flag, provider, "--gitops-repo").map(|u| Some((flag, u))),
        // What an earlier run resolved: the URL needs no --provider again.
        (None, Some(url), repo) => {
            validate_https_url(&url, "`pipeline.gitops_repo_url`").map(|()| Some((repo.unwrap_or(url.clone()), url)))
        }
        (None, None, Some(repo)) => gitops_repo_url(&repo, provider, "`pipeline.gitops_repo`").map(|u| Some((repo, u))),
        (None, None, None) => match repository {
            Some(r) => gitops_repo_url(r, provider, "--repository").map(|u| Some((r.to_owned(), u))),
            None => Ok(None),
        },
    };
    if deleting { Ok(target.unwrap_or_default()) } else { target }
}

/// Refuses a GitOps push to the watched branch of the watched repository: every release would
/// start the next. Returns whether the GitOps repository is the watched one.
pub(crate) fn gitops_apart(
    repository: Option<&str>,
    gitops_url: Option<&str>,
    branch: &str,
    gitops_branch: &str,
) -> Result<bool, InputError> {
    let same_repository = match (repository, gitops_url) {
        (Some(r), Some(url)) => is_repository(url, r),
        _ => false,
    };
    if same_repository && gitops_branch == branch {
        return Err(InputError::new(format!(
            "the GitOps change would be pushed to branch {branch} of {}, the branch the pipeline watches: \
             every release would start the next",
            repository.unwrap_or_default()
        ))
        .hint(format!(
            "push it elsewhere: --gitops-branch {DEFAULT_GITOPS_BRANCH} (the default), or --gitops-repo OWNER/NAME of another repository"
        )));
    }
    Ok(same_repository)
}

pub(crate) fn connection(
    connection_arn: Option<&str>,
    provider: Provider,
    host_arn: Option<&str>,
) -> Result<ConnectionSpec, InputError> {
    Ok(match (connection_arn, provider, host_arn) {
        (Some(arn), _, _) => {
            validate_arn(arn, &["codeconnections", "codestar-connections"], "connection/", "--connection-arn")?;
            ConnectionSpec::Existing { arn: arn.to_owned() }
        }
        (None, Provider::GitHubEnterpriseServer, None) => {
            return Err(InputError::new("a GitHub Enterprise Server connection needs its host")
                .hint("create the host in the console (Developer Tools > Settings > Hosts) and pass --host-arn"));
        }
        (None, provider, Some(host)) => {
            if provider != Provider::GitHubEnterpriseServer {
                return Err(InputError::new("--host-arn is only for --provider GitHubEnterpriseServer"));
            }
            validate_arn(host, &["codeconnections", "codestar-connections"], "host/", "--host-arn")?;
            ConnectionSpec::Create { provider, host_arn: Some(host.to_owned()) }
        }
        (None, provider, None) => ConnectionSpec::Create { provider, host_arn: None },
    })
}

pub(crate) fn buildspec(given: Option<String>) -> Result<String, InputError> {
    let buildspec = given.unwrap_or_else(|| "buildspec.yml".into());
    validate_buildspec(&buildspec)?;
    Ok(buildspec)
}

/// The flags' globs replace the earlier run's, which replace the defaults (never merged).
pub(crate) fn trigger_paths(
    flags: &[String],
    earlier: Option<Vec<String>>,
    buildspec: &str,
) -> Result<Vec<String>, InputError> {
    let paths =
        if flags.is_empty() { earlier.unwrap_or_else(|| default_trigger_paths(buildspec)) } else { flags.to_vec() };
    validate_trigger_paths(&paths)?;
    Ok(paths)
}

pub(crate) fn tools_url(given: Option<String>) -> Result<Option<String>, InputError> {
    if let Some(url) = &given {
        validate_tools_url(url)?;
    }
    Ok(given)
}

pub(crate) fn image(given: Option<String>) -> Result<String, InputError> {
    let image = given.unwrap_or_else(|| DEFAULT_IMAGE.into());
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        return Err(InputError::new(format!("--image `{image}` is not an image name")));
    }
    Ok(image)
}

/// The flag, else an earlier run's project (which holds CodeBuild's name for it), else medium.
pub(crate) fn compute_type(flag: Option<ComputeType>, earlier: Option<String>) -> Result<ComputeType, InputError> {
    match (flag, earlier) {
        (Some(c), _) => Ok(c),
        (None, Some(name)) => ComputeType::from_aws_name(&name).ok_or_else(|| {
            InputError::new(format!("`pipeline.project.compute_type` {name} is not a compute type mkpipeline knows"))
                .hint("pass --compute-type")
        }),
        (None, None) => Ok(ComputeType::Medium),
    }
}

pub(crate) fn ecr_repository(given: Option<String>) -> Result<String, InputError> {
    let name = given.unwrap_or_else(|| "comments".into());
    validate_ecr_repository(&name)?;
    Ok(name)
}

/// The GitOps token's secret; absent only when deleting.
pub(crate) fn token_secret(given: Option<String>, deleting: bool) -> Result<Option<String>, InputError> {
    match &given {
        Some(arn) => validate_arn(arn, &["secretsmanager"], "secret:", "--token-secret")?,
        None if !deleting => {
            return Err(needed(
                "GitOps token secret",
                "--token-secret ARN",
                "the Secrets Manager secret buildspec.yml reads the git push token from",
            ));
        }
        None => {}
    }
    Ok(given)
}

pub(crate) fn environment(given: Option<String>) -> Result<String, InputError> {
    let environment = given.unwrap_or_else(|| "dev".into());
    validate_environment(&environment, "--environment")?;
    Ok(environment)
}

/// The promotion's flags (`--promote-to`, `--promote-branch`, `--promote-token-secret`).
#[derive(Debug, Clone, Default)]
pub(crate) struct PromotionFlags {
    pub to: Option<String>,
    pub branch: Option<String>,
    pub token_secret: Option<String>,
}

/// What the promotion's checks compare with.
pub(crate) struct Promoting<'a> {
    pub environment: &'a str,
    pub gitops_branch: &'a str,
    pub branch: &'a str,
    /// Whether the GitOps repository is the watched one.
    pub same_repository: bool,
    pub token_secret: Option<&'a str>,
    pub deleting: bool,
}

/// The promotion: the flags, else an earlier run's; none when neither names an environment.
pub(crate) fn promotion(
    flags: PromotionFlags,
    earlier: PromotionInput,
    with: &Promoting<'_>,
) -> Result<Option<Promotion>, InputError> {
    let Some(environment) = flags.to.or(earlier.environment) else {
        if flags.branch.is_some() || flags.token_secret.is_some() {
            return Err(InputError::new("--promote-branch and --promote-token-secret are for a promotion")
                .hint("pass --promote-to ENV as well, e.g. --promote-to prod"));
        }
        return Ok(None);
    };
    promotion_environment(&environment, with)?;
    let branch = promotion_branch(flags.branch.or(earlier.branch), &environment, with)?;
    let token_secret = promotion_token(flags.token_secret.or(earlier.token_secret), &environment, &branch, with)?;
    Ok(Some(Promotion { environment, branch, token_secret }))
}

/// Another environment than the one every release bumps.
fn promotion_environment(environment: &str, with: &Promoting<'_>) -> Result<(), InputError> {
    validate_environment(environment, "--promote-to")?;
    if environment == with.environment {
        return Err(InputError::new(format!(
            "--promote-to {environment} is the environment every release already bumps (--environment)"
        ))
        .hint("promote to another environment, e.g. --promote-to prod"));
    }
    Ok(())
}

/// A branch neither the releases' GitOps pushes nor the pipeline's trigger use.
fn promotion_branch(given: Option<String>, environment: &str, with: &Promoting<'_>) -> Result<String, InputError> {
    let branch = given.unwrap_or_else(|| format!("{}-{environment}", with.gitops_branch));
    validate_branch(&branch, "--promote-branch")?;
    if branch == with.gitops_branch {
        return Err(InputError::new(format!(
            "the promotion to {environment} would push to {branch}, the GitOps branch of every release (--gitops-branch)"
        ))
        .hint(format!("pass another --promote-branch, e.g. {}-{environment}", with.gitops_branch)));
    }
    if with.same_repository && branch == with.branch {
        return Err(InputError::new(format!(
            "the promotion to {environment} would push to {branch}, the branch the pipeline watches"
        ))
        .hint(format!("pass another --promote-branch, e.g. {}-{environment}", with.gitops_branch)));
    }
    Ok(branch)
}

/// A token of its own (absent only when deleting): the one that bumps every release must not
/// be able to bump the promoted environment.
fn promotion_token(
    given: Option<String>,
    environment: &str,
    branch: &str,
    with: &Promoting<'_>,
) -> Result<Option<String>, InputError> {
    match &given {
        Some(arn) => validate_arn(arn, &["secretsmanager"], "secret:", "--promote-token-secret")?,
        None if !with.deleting => {
            return Err(InputError::new(format!("no token secret for the promotion to {environment}")).hint(format!(
                "pass --promote-token-secret ARN: a Secrets Manager secret with a token that may push to {branch}, \
                 not the --token-secret one"
            )));
        }
        None => {}
    }
    if given.is_some() && given.as_deref() == with.token_secret {
        return Err(InputError::new(format!(
            "--promote-token-secret is the --token-secret: the token that bumps every release could bump {environment} too"
        ))
        .hint(format!("store a second token, one that may push to {branch}, in its own secret and pass its ARN")));
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use ekskit_core::{Document, InputError};

    use crate::cli::{Args, ResolveSpec};
    use crate::spec::{ComputeType, ConnectionSpec, Promotion, Provider, Spec};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf";
    const PROD_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-prod-token-GhIjKl";

    fn resolve(argv: &[&str], doc: &str) -> Result<Spec, InputError> {
        let mut all = vec!["mkpipeline"];
        all.extend_from_slice(argv);
        let args = Args::try_parse_from(all).unwrap();
        Spec::resolve(&args, &Document::parse(doc).unwrap())
    }

    #[test]
    fn the_document_names_the_stack_and_flags_win() {
        let doc = r#"{"vpc": {"stack": "from-vpc"}, "cluster": {"name": "from-cluster"}, "push": {"ecr": {"name": "shop/api"}}}"#;
        let spec = resolve(&["--repository", "acme/comments", "--token-secret", SECRET], doc).unwrap();
        assert_eq!(spec.name, "from-cluster");
        assert_eq!(spec.ecr_repository, "shop/api");
        assert_eq!(spec.branch, "main");
        assert_eq!(spec.connection, ConnectionSpec::Create { provider: Provider::GitHub, host_arn: None });
        let spec = resolve(&["-n", "flag", "--repository", "acme/comments", "--token-secret", SECRET], doc).unwrap();
        assert_eq!(spec.name, "flag");
        // A re-run fed its own output needs no flags.
        let again = r#"{"pipeline": {"stack": "p", "repository": "a/b", "branch": "dev", "token_secret": "SECRET"}}"#;
        let spec = resolve(&[], &again.replace("SECRET", SECRET)).unwrap();
        assert_eq!((spec.name.as_str(), spec.branch.as_str()), ("p", "dev"));
        let built = r#"{"pipeline": {"stack": "p", "repository": "a/b", "token_secret": "SECRET", "buildspec": "ci/b.yml",
            "environment": "prod", "gitops_branch": "gitops", "project": {"image": "img:1", "compute_type": "BUILD_GENERAL1_LARGE"}}}"#;
        let spec = resolve(&[], &built.replace("SECRET", SECRET)).unwrap();
        assert_eq!(spec.compute_type, ComputeType::Large);
        assert_eq!((spec.image.as_str(), spec.buildspec.as_str()), ("img:1", "ci/b.yml"));
        assert_eq!((spec.environment.as_str(), spec.gitops_branch.as_str()), ("prod", "gitops"));
        let spec = resolve(&["--compute-type", "small"], &built.replace("SECRET", SECRET)).unwrap();
        assert_eq!(spec.compute_type, ComputeType::Small);
    }

    #[test]
    fn the_gitops_target_defaults_apart_from_the_watched_branch() {
        let base = ["--name", "demo", "--repository", "acme/comments", "--token-secret", SECRET];
        let spec = resolve(&base, "{}").unwrap();
        assert_eq!(spec.gitops_repo.as_deref(), Some("acme/comments"));
        assert_eq!(spec.gitops_repo_url.as_deref(), Some("https://github.com/acme/comments.git"));
        assert_eq!(spec.gitops_branch, "gitops");
        assert_eq!(spec.trigger_paths, ["app/**", "buildspec.yml", "scripts/install-tools"]);
        assert_eq!(spec.promotion, None);
        // Another repository may take the GitOps change on its main.
        let other = resolve(&[&base[..], &["--gitops-repo", "acme/gitops", "--gitops-branch", "main"]].concat(), "{}");
        assert_eq!(other.unwrap().gitops_repo_url.as_deref(), Some("https://github.com/acme/gitops.git"));
        for (provider, repo, url) in [
            ("GitLab", "group/sub/gitops", "https://gitlab.com/group/sub/gitops.git"),
            ("Bitbucket", "acme/gitops", "https://bitbucket.org/acme/gitops.git"),
        ] {
            let spec = resolve(&[&base[..], &["--provider", provider, "--gitops-repo", repo]].concat(), "{}").unwrap();
            assert_eq!(spec.gitops_repo_url.as_deref(), Some(url));
        }
        let custom = resolve(&[&base[..], &["--buildspec", "ci/release.yml"]].concat(), "{}").unwrap();
        assert_eq!(custom.trigger_paths, ["app/**", "ci/release.yml", "scripts/install-tools"]);
        let paths = resolve(&[&base[..], &["--trigger-path", "src/**", "--trigger-path", "Dockerfile"]].concat(), "{}");
        assert_eq!(paths.unwrap().trigger_paths, ["src/**", "Dockerfile"]);
        let eight: Vec<String> = (0..8).flat_map(|i| ["--trigger-path".to_owned(), format!("p{i}/**")]).collect();
        let eight: Vec<&str> = eight.iter().map(String::as_str).collect();
        assert_eq!(resolve(&[&base[..], &eight].concat(), "{}").unwrap().trigger_paths.len(), 8);
        let err = resolve(&[&base[..], &eight, &["--trigger-path", "p8/**"]].concat(), "{}").unwrap_err();
        assert!(err.message.contains("at most 8"), "{err:?}");
        // An earlier run's output whose GitOps branch is the watched one (the old default) is
        // refused, with the way out.
        let old = r#"{"pipeline": {"stack": "p", "repository": "acme/comments", "branch": "main", "gitops_branch": "main",
            "token_secret": "SECRET"}}"#;
        let err = resolve(&[], &old.replace("SECRET", SECRET)).unwrap_err();
        assert!(err.message.contains("every release would start the next"), "{err:?}");
        assert!(err.hint.unwrap().contains("--gitops-branch gitops"));
        assert!(resolve(&["--gitops-branch", "gitops"], &old.replace("SECRET", SECRET)).is_ok());
    }

    #[test]
    fn a_promotion_has_its_own_branch_and_token_and_comes_back_from_the_document() {
        let base = ["--name", "demo", "--repository", "acme/comments", "--token-secret", SECRET];
        let spec =
            resolve(&[&base[..], &["--promote-to", "prod", "--promote-token-secret", PROD_SECRET]].concat(), "{}")
                .unwrap();
        let promotion = spec.promotion.clone().unwrap();
        assert_eq!(
            promotion,
            Promotion {
                environment: "prod".into(),
                branch: "gitops-prod".into(),
                token_secret: Some(PROD_SECRET.into())
            }
        );
        let err = resolve(&[&base[..], &["--promote-to", "prod", "--promote-token-secret", SECRET]].concat(), "{}")
            .unwrap_err();
        assert!(err.message.contains("could bump prod"), "{err:?}");
        let err = resolve(&[&base[..], &["--promote-to", "prod"]].concat(), "{}").unwrap_err();
        assert!(err.message.contains("no token secret for the promotion"), "{err:?}");
        // What a run writes, read back: no flags needed; flags still win.
        let out = r#"{"pipeline": {"stack": "p", "repository": "acme/comments", "token_secret": "SECRET",
            "gitops_repo": "acme/gitops", "gitops_repo_url": "https://github.com/acme/gitops.git", "gitops_branch": "main",
            "trigger_paths": ["app/**"],
            "promotion": {"environment": "prod", "branch": "prod", "token_secret": "PROD", "role": "r", "project": {}}}}"#;
        let out = out.replace("SECRET", SECRET).replace("PROD\"", &format!("{PROD_SECRET}\""));
        let spec = resolve(&[], &out).unwrap();
        assert_eq!(spec.gitops_repo.as_deref(), Some("acme/gitops"));
        assert_eq!(spec.gitops_repo_url.as_deref(), Some("https://github.com/acme/gitops.git"));
        assert_eq!(spec.trigger_paths, ["app/**"]);
        let promotion = spec.promotion.unwrap();
        assert_eq!((promotion.environment.as_str(), promotion.branch.as_str()), ("prod", "prod"));
        assert_eq!(promotion.token_secret.as_deref(), Some(PROD_SECRET));
        let spec = resolve(&["--promote-branch", "release-prod", "--trigger-path", "src/**"], &out).unwrap();
        assert_eq!(spec.promotion.unwrap().branch, "release-prod");
        assert_eq!(spec.trigger_paths, ["src/**"]);
        // --delete needs neither the promotion's token nor a GitOps URL.
        let spec = resolve(&["--delete", "--name", "demo", "--promote-to", "prod"], "{}").unwrap();
        assert_eq!(spec.promotion.unwrap().token_secret, None);
        let ghes = ["--delete", "--name", "d", "--repository", "a/b", "--provider", "GitHubEnterpriseServer"];
        let ghes = [&ghes[..], &["--host-arn", "arn:aws:codeconnections:us-east-1:123456789012:host/h-1"]].concat();
        assert_eq!(resolve(&ghes, "{}").unwrap().gitops_repo_url, None);
    }

    #[test]
    fn delete_needs_only_the_name() {
        let spec = resolve(&["--delete", "--name", "demo"], "{}").unwrap();
        assert_eq!(spec.repository, None);
        assert!(resolve(&["--name", "demo", "--token-secret", SECRET], "{}").is_err());
        assert!(resolve(&["--name", "demo", "--repository", "a/b"], "{}").is_err());
        assert!(resolve(&["--repository", "a/b", "--token-secret", SECRET], "{}").is_err());
    }

    #[test]
    fn bad_input_is_refused() {
        let base = ["--name", "demo", "--repository", "acme/comments", "--token-secret", SECRET];
        // `extra` replaces the base's value of a flag it repeats.
        let with = |extra: &[&str]| {
            let mut argv = base.to_vec();
            for pair in extra.chunks(2) {
                match argv.iter().position(|a| *a == pair[0]) {
                    Some(i) => argv[i + 1] = pair[1],
                    None => argv.extend_from_slice(pair),
                }
            }
            resolve(&argv, "{}")
        };
        assert!(with(&[]).is_ok());
        for extra in [
            &["--repository", "acme"][..],
            &["--repository", "https://github.com/acme/comments"],
            &["--repository", "acme/comments.git"],
            &["--repository", "a/b/c"],
            &["--branch", "feat..x"],
            &["--branch", "x.lock"],
            &["--buildspec", "../buildspec.yml"],
            &["--buildspec", "/abs.yml"],
            &["--buildspec", "buildspec.json"],
            &["--buildspec", ""],
            &["--token-secret", "gitops-token"],
            &["--token-secret", "arn:aws:ssm:us-east-1:123456789012:parameter/x"],
            &["--ecr-repository", "Comments"],
            &["--connection-arn", "arn:aws:codeconnections:us-east-1:12345:connection/x"],
            &["--provider", "GitHubEnterpriseServer"],
            &["--host-arn", "arn:aws:codeconnections:us-east-1:123456789012:host/h-1"],
            &["--tools-url", "ftp://example.org/ekskit.tar.gz"],
            &["--tools-url", "https://user:pw@example.org/ekskit.tar.gz"],
            &["--tools-url", "https://example.org/ekskit.zip"],
            &["--environment", "../prod"],
            &["--name", "1demo"],
            // The GitOps push would start the pipeline.
            &["--gitops-branch", "main"],
            &["--gitops-repo", "acme/comments", "--gitops-branch", "main"],
            &["--gitops-repo", "ACME/Comments", "--gitops-branch", "main"],
            &["--gitops-repo", "https://github.com/acme/comments.git", "--gitops-branch", "main"],
            &["--gitops-repo", "https://github.com/acme/comments/", "--gitops-branch", "main"],
            &["--gitops-repo", "http://github.com/acme/gitops.git"],
            &["--gitops-repo", "git@github.com:acme/gitops.git"],
            &["--gitops-repo", "https://x-access-token:tok@github.com/acme/gitops.git"],
            &["--gitops-repo", "https://github.com/"],
            &["--gitops-repo", "acme"],
            &["--gitops-branch", "a..b"],
            // Promotion without its own token, to the same place, or half given.
            &["--promote-to", "prod"],
            &["--promote-to", "prod", "--promote-token-secret", SECRET],
            &["--promote-to", "prod", "--promote-token-secret", "prod-token"],
            &["--promote-to", "dev", "--promote-token-secret", PROD_SECRET],
            &["--promote-to", "../prod", "--promote-token-secret", PROD_SECRET],
            &["--promote-to", "prod", "--promote-token-secret", PROD_SECRET, "--promote-branch", "gitops"],
            &["--promote-to", "prod", "--promote-token-secret", PROD_SECRET, "--promote-branch", "main"],
            &["--promote-branch", "gitops-prod"],
            &["--promote-token-secret", PROD_SECRET],
            &["--trigger-path", "/app/**"],
            &["--trigger-path", ""],
        ] {
            assert!(with(extra).is_err(), "{extra:?}");
        }
        assert!(with(&["--provider", "GitLab", "--repository", "group/sub/name"]).is_ok());
        let ghes = [
            "--provider",
            "GitHubEnterpriseServer",
            "--host-arn",
            "arn:aws:codeconnections:us-east-1:123456789012:host/h-1",
        ];
        let err = with(&ghes).unwrap_err();
        assert!(err.message.contains("GitHub Enterprise Server"), "{err:?}");
        assert_eq!(err.hint.as_deref(), Some("pass --gitops-repo https://HOST/OWNER/NAME.git"));
        let ghes = with(&[&ghes[..], &["--gitops-repo", "https://git.example.com/acme/gitops.git"]].concat()).unwrap();
        assert!(matches!(ghes.connection, ConnectionSpec::Create { host_arn: Some(_), .. }));
        assert_eq!(ghes.gitops_repo_url.as_deref(), Some("https://git.example.com/acme/gitops.git"));
        let existing = with(&["--connection-arn", "arn:aws:codestar-connections:us-east-1:123456789012:connection/x"]);
        assert!(matches!(existing.unwrap().connection, ConnectionSpec::Existing { .. }));
    }
}
