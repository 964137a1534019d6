//! mkpipeline's flags, and the entry that resolves them with the stdin document into one
//! [`Spec`] (its steps are in [`crate::resolve`]). Every check that needs no AWS call happens
//! there, so bad input exits 2 with nothing changed.

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, after_help, for_arg};
use ekskit_core::{Document, InputError};

use crate::input::Input;
use crate::resolve::{self, GitopsGiven, Promoting, PromotionFlags};
use crate::spec::{ComputeType, DEFAULT_GITOPS_BRANCH, Provider, Spec};

const EXAMPLES: &str = "\
Examples:
  mkpipeline --name demo --repository acme/comments \\
      --token-secret arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf
  mkeks < demo.json | mkpipeline --repository acme/comments --token-secret ARN   # stack from stdin
  mkpipeline --gitops-repo acme/gitops --gitops-branch main < demo.json  # GitOps in another repo
  mkpipeline --promote-to prod --promote-token-secret PROD_TOKEN_ARN < demo.json
        # after Build: Approve-prod (manual), then Promote-prod pushing to branch gitops-prod
  mkpipeline --trigger-path 'app/**' --trigger-path Dockerfile < demo.json  # what starts it
  mkpipeline --dry-run < demo.json | jq .plan.pipeline   # what a run would create, keep or update
  jq 'del(.pipeline.promotion)' demo.json | mkpipeline   # drop the promotion, its project, role
  mkpipeline --delete < demo.json   # pipeline, projects, roles, connection, bucket

A release never starts the next: the pipeline starts on pushes to --branch that change a file
matching --trigger-path (default app/**, buildspec.yml, scripts/install-tools), and the build pushes
its GitOps change (deploy/environments/<env>/kustomization.yaml) to --gitops-branch (default
gitops) of --gitops-repo. That push is on another branch and touches no trigger path, so it never
starts the pipeline. mkpipeline refuses a GitOps target equal to the watched branch of the watched
repository (exit 2).

With --promote-to ENV, every release waits at a manual approval (Approve-ENV, in the console or
`aws codepipeline put-approval-result`), then a second CodeBuild project runs buildspec-promote.yml
with the build's release.json ($CODEBUILD_SRC_DIR_BuildOutput/release.json) and pushes to
--promote-branch with the token of --promote-token-secret. Each project's role reads only its own
token's secret: the token that bumps dev cannot bump ENV.

A new CodeConnections connection is PENDING until someone completes the handshake with the
provider in the AWS console (Developer Tools > Settings > Connections); until then the pipeline's
Source stage fails. --connection-arn uses an existing connection instead (never deleted).

Output: the stdin document (kept whole) plus the `pipeline` key; see schemas/pipeline.schema.json.";

/// Create, converge or delete the release pipeline of a repository.
///
/// Creates an S3 artifact bucket, a CodeConnections connection to the git provider, IAM roles
/// for CodeBuild and CodePipeline, a CodeBuild project running the repository's buildspec.yml,
/// and a CodePipeline (V2) whose Source stage follows a branch and whose Build stage runs the
/// project; with --promote-to, a manual approval and a promotion project with its own role.
/// Everything carries `ekskit.io/stack=<name>`; re-running converges.
#[derive(Debug, Parser)]
#[command(name = "mkpipeline", version, after_help = after_help(EXAMPLES, ExitCodes::DEFAULT))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print the plan as JSON (`plan.pipeline`) and change nothing"))))]
#[command(mut_args(for_arg("delete", |a| a
    .help("Delete the pipeline, projects, roles, connection (when mkpipeline made it) and bucket"))))]
pub struct Args {
    /// Stack name [default: `pipeline.stack`, `cluster.name` or `vpc.stack` from stdin]
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,

    /// Repository the pipeline builds, as OWNER/NAME [default: `pipeline.repository` from stdin]
    #[arg(long, value_name = "OWNER/NAME")]
    pub repository: Option<String>,

    /// Branch whose pushes (changing a --trigger-path) start the pipeline [default:
    /// `pipeline.branch` from stdin, else main]
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

    /// Repository the build pushes the GitOps change to (buildspec GITOPS_REPO_URL): OWNER/NAME
    /// on the same provider, or a full https clone URL (needed for GitHubEnterpriseServer)
    /// [default: `pipeline.gitops_repo` from stdin, else --repository]
    #[arg(long, value_name = "OWNER/NAME|URL")]
    pub gitops_repo: Option<String>,

    /// Branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH); never --branch of
    /// the same repository [default: `pipeline.gitops_branch` from stdin, else gitops]
    #[arg(long, value_name = "BRANCH")]
    pub gitops_branch: Option<String>,

    /// Glob of the files whose change on --branch starts the pipeline; repeat for more, at most 8;
    /// replaces the defaults [default: `pipeline.trigger_paths` from stdin, else app/**,
    /// buildspec.yml (the --buildspec path), scripts/install-tools]
    #[arg(long = "trigger-path", value_name = "GLOB")]
    pub trigger_paths: Vec<String>,

    /// The ekskit tools' release tarball the builds install instead of compiling them (buildspec
    /// EKSKIT_TOOLS_URL; `make dist` makes it, a release publishes it; SHA256SUMS beside it is
    /// checked) [default: `pipeline.tools_url` from stdin]
    #[arg(long, value_name = "URL")]
    pub tools_url: Option<String>,

    /// After the build, a manual approval, then a promotion of the release to this environment
    /// (buildspec-promote.yml in its own CodeBuild project) [default:
    /// `pipeline.promotion.environment` from stdin, else no promotion]
    #[arg(long, value_name = "ENV")]
    pub promote_to: Option<String>,

    /// GitOps branch the promotion pushes to; not --gitops-branch [default:
    /// `pipeline.promotion.branch` from stdin, else <gitops-branch>-<ENV>]
    #[arg(long, value_name = "BRANCH")]
    pub promote_branch: Option<String>,

    /// Secrets Manager secret holding the promotion's git push token; not --token-secret, so the
    /// token that bumps dev cannot bump the promoted environment [default:
    /// `pipeline.promotion.token_secret` from stdin]
    #[arg(long, value_name = "ARN")]
    pub promote_token_secret: Option<String>,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub lease: ekskit_aws::lease::LeaseArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Resolves mkpipeline's [`Spec`], a type of `ekskit_model`, from the flags and the document.
pub trait ResolveSpec: Sized {
    /// Each value from its flag, else the stdin document (an earlier run's `pipeline` key, then
    /// the stack's other keys), else its default; each checked by a step of [`crate::resolve`].
    fn resolve(args: &Args, doc: &Document) -> Result<Self, InputError>;
}

impl ResolveSpec for Spec {
    fn resolve(args: &Args, doc: &Document) -> Result<Spec, InputError> {
        let Input { earlier, stack, ecr_name } = Input::read(doc)?;
        let (provider, deleting) = (args.provider, args.delete.on);
        let name = resolve::stack_name(args.name.clone().or(earlier.stack).or(stack))?;
        let repository = resolve::repository(args.repository.clone().or(earlier.repository), provider, deleting)?;
        let branch = resolve::branch(args.branch.clone().or(earlier.branch), "main", "--branch")?;
        let gitops_branch = args.gitops_branch.clone().or(earlier.gitops_branch);
        let gitops_branch = resolve::branch(gitops_branch, DEFAULT_GITOPS_BRANCH, "--gitops-branch")?;
        let given = GitopsGiven {
            flag: args.gitops_repo.clone(),
            earlier_url: earlier.gitops_repo_url,
            earlier_repo: earlier.gitops_repo,
        };
        let gitops = resolve::gitops_target(given, repository.as_deref(), provider, deleting)?;
        let gitops_url = gitops.as_ref().map(|(_, url)| url.as_str());
        let same_repository = resolve::gitops_apart(repository.as_deref(), gitops_url, &branch, &gitops_branch)?;
        let (gitops_repo, gitops_repo_url) = gitops.unzip();
        let connection = resolve::connection(args.connection_arn.as_deref(), provider, args.host_arn.as_deref())?;
        let buildspec = resolve::buildspec(args.buildspec.clone().or(earlier.buildspec))?;
        let trigger_paths = resolve::trigger_paths(&args.trigger_paths, earlier.trigger_paths, &buildspec)?;
        let tools_url = resolve::tools_url(args.tools_url.clone().or(earlier.tools_url))?;
        let project = earlier.project.unwrap_or_default();
        let image = resolve::image(args.image.clone().or(project.image))?;
        let compute_type = resolve::compute_type(args.compute_type, project.compute_type)?;
        let ecr_repository =
            resolve::ecr_repository(args.ecr_repository.clone().or(earlier.ecr_repository).or(ecr_name))?;
        let token_secret = resolve::token_secret(args.token_secret.clone().or(earlier.token_secret), deleting)?;
        let environment = resolve::environment(args.environment.clone().or(earlier.environment))?;
        let promoting = Promoting {
            environment: &environment,
            gitops_branch: &gitops_branch,
            branch: &branch,
            same_repository,
            token_secret: token_secret.as_deref(),
            deleting,
        };
        let promotion = resolve::promotion(args.promotion_flags(), earlier.promotion.unwrap_or_default(), &promoting)?;
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
            gitops_repo,
            gitops_repo_url,
            gitops_branch,
            trigger_paths,
            promotion,
            tools_url,
        })
    }
}

impl Args {
    fn promotion_flags(&self) -> PromotionFlags {
        PromotionFlags {
            to: self.promote_to.clone(),
            branch: self.promote_branch.clone(),
            token_secret: self.promote_token_secret.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["mkpipeline", "--provider", "github"]).is_err());
        assert!(Args::try_parse_from(["mkpipeline", "--provider", "GitLab", "--compute-type", "2xlarge"]).is_ok());
    }
}
