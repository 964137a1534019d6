//! mkpipeline's flags, and how flags and the stdin document resolve into one [`Spec`]. Every
//! check that needs no AWS call happens here, so bad input exits 2 with nothing changed.

use clap::{Parser, ValueEnum};
use ekskit_aws::AwsArgs;
use ekskit_core::cli::GlobalArgs;
use ekskit_core::stack::validate_stack_name;
use ekskit_core::{Document, InputError};
use serde::{Deserialize, Serialize};

pub const DEFAULT_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";

const EXAMPLES: &str = "\
Examples:
  mkpipeline --name demo --repository acme/comments \\
      --token-secret arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf
  mkeks < demo.json | mkpipeline --repository acme/comments --token-secret ARN   # stack from the document
  mkpipeline --dry-run < demo.json | jq .plan.pipeline   # what a run would create, keep or update
  mkpipeline --delete < demo.json                        # pipeline, project, roles, connection, bucket

A new CodeConnections connection is PENDING until someone completes the handshake with the
provider in the AWS console (Developer Tools > Settings > Connections); until then the pipeline's
Source stage fails. --connection-arn uses an existing connection instead (never deleted).

Output: the stdin document (kept whole) plus the `pipeline` key; see schemas/pipeline.schema.json.
Exit codes: 0 done, 1 failure (re-run to finish), 2 bad usage or input (nothing changed),
130 interrupted (re-run to resume).";

/// Create, converge or delete the release pipeline of a repository.
///
/// Creates an S3 artifact bucket, a CodeConnections connection to the git provider, IAM roles
/// for CodeBuild and CodePipeline, a CodeBuild project running the repository's buildspec.yml,
/// and a CodePipeline (V2) whose Source stage follows a branch and whose Build stage runs the
/// project. Everything carries `ekskit.io/stack=<name>`; re-running converges.
#[derive(Debug, Parser)]
#[command(name = "mkpipeline", version, after_help = EXAMPLES)]
pub struct Args {
    /// Stack name [default: `pipeline.stack`, `cluster.name` or `vpc.stack` from stdin]
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,

    /// Repository the pipeline builds, as OWNER/NAME [default: `pipeline.repository` from stdin]
    #[arg(long, value_name = "OWNER/NAME")]
    pub repository: Option<String>,

    /// Branch whose pushes start the pipeline [default: `pipeline.branch` from stdin, else main]
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Git provider of a new connection
    #[arg(long, value_enum, default_value_t = Provider::GitHub)]
    pub provider: Provider,

    /// CodeConnections host of a GitHub Enterprise Server connection
    #[arg(long, value_name = "ARN")]
    pub host_arn: Option<String>,

    /// Use this existing connection instead of creating one (it is never deleted)
    #[arg(long, value_name = "ARN", conflicts_with = "host_arn")]
    pub connection_arn: Option<String>,

    /// Path of the buildspec in the repository [default: buildspec.yml]
    #[arg(long, value_name = "PATH")]
    pub buildspec: Option<String>,

    /// CodeBuild image [default: aws/codebuild/amazonlinux-x86_64-standard:5.0]
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// CodeBuild compute type [default: medium]
    #[arg(long, value_enum)]
    pub compute_type: Option<ComputeType>,

    /// ECR repository the build pushes to (buildspec REPOSITORY) [default: `push.ecr.name` from stdin, else comments]
    #[arg(long, value_name = "NAME")]
    pub ecr_repository: Option<String>,

    /// Secrets Manager secret holding the GitOps push token (buildspec GITOPS_TOKEN_SECRET)
    #[arg(long, value_name = "ARN")]
    pub token_secret: Option<String>,

    /// Environment whose kustomization the build bumps (buildspec ENVIRONMENT) [default: dev]
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,

    /// Branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH) [default: main]
    #[arg(long, value_name = "BRANCH")]
    pub gitops_branch: Option<String>,

    /// Print the plan as JSON (`plan.pipeline`) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Delete the pipeline, project, roles, connection (when mkpipeline made it) and bucket
    #[arg(long)]
    pub delete: bool,

    /// Read the document from stdin even when it is a terminal
    #[arg(value_name = "-", value_parser = clap::builder::PossibleValuesParser::new(["-"]))]
    pub stdin: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Provider {
    #[value(name = "GitHub")]
    GitHub,
    #[value(name = "GitLab")]
    GitLab,
    #[value(name = "Bitbucket")]
    Bitbucket,
    #[value(name = "GitHubEnterpriseServer")]
    GitHubEnterpriseServer,
}

impl Provider {
    pub fn aws_name(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Bitbucket => "Bitbucket",
            Provider::GitHubEnterpriseServer => "GitHubEnterpriseServer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComputeType {
    /// 3 GB, 2 vCPUs
    Small,
    /// 7 GB, 4 vCPUs
    Medium,
    /// 15 GB, 8 vCPUs
    Large,
    /// 145 GB, 72 vCPUs
    #[value(name = "2xlarge")]
    #[serde(rename = "2xlarge")]
    X2large,
}

impl ComputeType {
    pub const ALL: [ComputeType; 4] =
        [ComputeType::Small, ComputeType::Medium, ComputeType::Large, ComputeType::X2large];

    pub fn from_aws_name(name: &str) -> Option<ComputeType> {
        ComputeType::ALL.into_iter().find(|c| c.aws_name() == name)
    }

    pub fn aws_name(self) -> &'static str {
        match self {
            ComputeType::Small => "BUILD_GENERAL1_SMALL",
            ComputeType::Medium => "BUILD_GENERAL1_MEDIUM",
            ComputeType::Large => "BUILD_GENERAL1_LARGE",
            ComputeType::X2large => "BUILD_GENERAL1_2XLARGE",
        }
    }
}

/// The connection: one mkpipeline makes (and deletes), or one given by ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionSpec {
    Create { provider: Provider, host_arn: Option<String> },
    Existing { arn: String },
}

/// Everything mkpipeline needs to know, resolved from flags, the document and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Spec {
    pub name: String,
    /// OWNER/NAME; absent only with --delete.
    pub repository: Option<String>,
    pub branch: String,
    pub connection: ConnectionSpec,
    pub buildspec: String,
    pub image: String,
    pub compute_type: ComputeType,
    pub ecr_repository: String,
    /// ARN of the GitOps token's secret; absent only with --delete.
    pub token_secret: Option<String>,
    pub environment: String,
    pub gitops_branch: String,
}

/// What the stdin document may say about the pipeline from an earlier run.
#[derive(Debug, Clone, Default, Deserialize)]
struct PipelineInput {
    stack: Option<String>,
    repository: Option<String>,
    branch: Option<String>,
    token_secret: Option<String>,
    ecr_repository: Option<String>,
    buildspec: Option<String>,
    environment: Option<String>,
    gitops_branch: Option<String>,
    project: Option<ProjectInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ProjectInput {
    image: Option<String>,
    compute_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Named {
    name: Option<String>,
    stack: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct PushInput {
    ecr: Option<Named>,
}

impl Spec {
    pub fn resolve(args: &Args, doc: &Document) -> Result<Spec, InputError> {
        let earlier: PipelineInput = doc.get("pipeline")?.unwrap_or_default();
        let cluster: Option<Named> = doc.get("cluster")?;
        let vpc: Option<Named> = doc.get("vpc")?;
        let push: Option<PushInput> = doc.get("push")?;
        let name = args
            .name
            .clone()
            .or(earlier.stack)
            .or_else(|| cluster.and_then(|c| c.name))
            .or_else(|| vpc.and_then(|v| v.stack))
            .ok_or_else(|| {
                InputError::new("no stack name")
                    .hint("pass --name, or pipe the document from mkvpc or mkeks (`cluster.name` names the stack)")
            })?;
        validate_stack_name(&name)?;
        let needed = |what: &str, flag: &str, hint: &str| {
            InputError::new(format!("no {what} for the pipeline")).hint(format!("pass {flag} ({hint})"))
        };
        let repository = args.repository.clone().or(earlier.repository);
        match &repository {
            Some(r) => validate_repository(r, args.provider)?,
            None if !args.delete => return Err(needed("repository", "--repository OWNER/NAME", "e.g. acme/comments")),
            None => {}
        }
        let branch = args.branch.clone().or(earlier.branch).unwrap_or_else(|| "main".into());
        validate_branch(&branch, "--branch")?;
        let gitops_branch = args.gitops_branch.clone().or(earlier.gitops_branch).unwrap_or_else(|| "main".into());
        validate_branch(&gitops_branch, "--gitops-branch")?;
        let connection = match (&args.connection_arn, args.provider, &args.host_arn) {
            (Some(arn), _, _) => {
                validate_arn(arn, &["codeconnections", "codestar-connections"], "connection/", "--connection-arn")?;
                ConnectionSpec::Existing { arn: arn.clone() }
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
                ConnectionSpec::Create { provider, host_arn: Some(host.clone()) }
            }
            (None, provider, None) => ConnectionSpec::Create { provider, host_arn: None },
        };
        let buildspec = args.buildspec.clone().or(earlier.buildspec).unwrap_or_else(|| "buildspec.yml".into());
        validate_buildspec(&buildspec)?;
        let project = earlier.project.unwrap_or_default();
        let image = args.image.clone().or(project.image).unwrap_or_else(|| DEFAULT_IMAGE.into());
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            return Err(InputError::new(format!("--image `{image}` is not an image name")));
        }
        let compute_type = match (args.compute_type, project.compute_type) {
            (Some(c), _) => c,
            (None, Some(name)) => ComputeType::from_aws_name(&name).ok_or_else(|| {
                InputError::new(format!(
                    "`pipeline.project.compute_type` {name} is not a compute type mkpipeline knows"
                ))
                .hint("pass --compute-type")
            })?,
            (None, None) => ComputeType::Medium,
        };
        let ecr_repository = args
            .ecr_repository
            .clone()
            .or(earlier.ecr_repository)
            .or_else(|| push.and_then(|p| p.ecr).and_then(|e| e.name))
            .unwrap_or_else(|| "comments".into());
        validate_ecr_repository(&ecr_repository)?;
        let token_secret = args.token_secret.clone().or(earlier.token_secret);
        match &token_secret {
            Some(arn) => validate_arn(arn, &["secretsmanager"], "secret:", "--token-secret")?,
            None if !args.delete => {
                return Err(needed(
                    "GitOps token secret",
                    "--token-secret ARN",
                    "the Secrets Manager secret buildspec.yml reads the git push token from",
                ));
            }
            None => {}
        }
        let environment = args.environment.clone().or(earlier.environment).unwrap_or_else(|| "dev".into());
        let env_ok =
            !environment.is_empty() && environment.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !env_ok {
            return Err(InputError::new(format!("--environment `{environment}` is not a directory name"))
                .hint("use letters, digits, - and _, e.g. dev (deploy/environments/<name>)"));
        }
        Ok(Spec {
            name,
            repository,
            branch,
            connection,
            buildspec,
            image,
            compute_type,
            ecr_repository,
            token_secret,
            environment,
            gitops_branch,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf";

    fn resolve(argv: &[&str], doc: &str) -> Result<Spec, InputError> {
        let mut all = vec!["mkpipeline"];
        all.extend_from_slice(argv);
        let args = Args::try_parse_from(all).unwrap();
        Spec::resolve(&args, &Document::parse(doc).unwrap())
    }

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["mkpipeline", "--provider", "github"]).is_err());
        assert!(Args::try_parse_from(["mkpipeline", "--provider", "GitLab", "--compute-type", "2xlarge"]).is_ok());
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
            &["--environment", "../prod"],
            &["--name", "1demo"],
        ] {
            assert!(with(extra).is_err(), "{extra:?}");
        }
        assert!(with(&["--provider", "GitLab", "--repository", "group/sub/name"]).is_ok());
        let ghes = with(&[
            "--provider",
            "GitHubEnterpriseServer",
            "--host-arn",
            "arn:aws:codeconnections:us-east-1:123456789012:host/h-1",
        ])
        .unwrap();
        assert!(matches!(ghes.connection, ConnectionSpec::Create { host_arn: Some(_), .. }));
        let existing = with(&["--connection-arn", "arn:aws:codestar-connections:us-east-1:123456789012:connection/x"]);
        assert!(matches!(existing.unwrap().connection, ConnectionSpec::Existing { .. }));
    }
}
