complete -c mkpipeline -s n -l name -d 'Stack name [default: `pipeline.stack`, `cluster.name` or `vpc.stack` from stdin]' -r
complete -c mkpipeline -l repository -d 'Repository the pipeline builds, as OWNER/NAME [default: `pipeline.repository` from stdin]' -r
complete -c mkpipeline -l branch -d 'Branch whose pushes (changing a --trigger-path) start the pipeline [default: `pipeline.branch` from stdin, else main]' -r
complete -c mkpipeline -l provider -d 'Git provider of a new connection' -r -f -a "GitHub\t''
GitLab\t''
Bitbucket\t''
GitHubEnterpriseServer\t''"
complete -c mkpipeline -l host-arn -d 'CodeConnections host of a GitHub Enterprise Server connection' -r
complete -c mkpipeline -l connection-arn -d 'Use this existing connection instead of creating one (it is never deleted)' -r
complete -c mkpipeline -l buildspec -d 'Path of the buildspec in the repository [default: buildspec.yml]' -r
complete -c mkpipeline -l image -d 'CodeBuild image [default: aws/codebuild/amazonlinux-x86_64-standard:5.0]' -r
complete -c mkpipeline -l compute-type -d 'CodeBuild compute type [default: medium]' -r -f -a "small\t'3 GB, 2 vCPUs'
medium\t'7 GB, 4 vCPUs'
large\t'15 GB, 8 vCPUs'
2xlarge\t'145 GB, 72 vCPUs'"
complete -c mkpipeline -l ecr-repository -d 'ECR repository the build pushes to (buildspec REPOSITORY) [default: `push.ecr.name` from stdin, else comments]' -r
complete -c mkpipeline -l token-secret -d 'Secrets Manager secret holding the GitOps push token (buildspec GITOPS_TOKEN_SECRET)' -r
complete -c mkpipeline -l environment -d 'Environment whose kustomization the build bumps (buildspec ENVIRONMENT) [default: dev]' -r
complete -c mkpipeline -l gitops-repo -d 'Repository the build pushes the GitOps change to (buildspec GITOPS_REPO_URL): OWNER/NAME on the same provider, or a full https clone URL (needed for GitHubEnterpriseServer) [default: `pipeline.gitops_repo` from stdin, else --repository]' -r
complete -c mkpipeline -l gitops-branch -d 'Branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH); never --branch of the same repository [default: `pipeline.gitops_branch` from stdin, else gitops]' -r
complete -c mkpipeline -l trigger-path -d 'Glob of the files whose change on --branch starts the pipeline; repeat for more, at most 8; replaces the defaults [default: `pipeline.trigger_paths` from stdin, else app/**, buildspec.yml (the --buildspec path), scripts/install-tools]' -r
complete -c mkpipeline -l tools-url -d 'The ekskit tools\' release tarball the builds install instead of compiling them (buildspec EKSKIT_TOOLS_URL; `make dist` makes it, a release publishes it; SHA256SUMS beside it is checked) [default: `pipeline.tools_url` from stdin]' -r
complete -c mkpipeline -l promote-to -d 'After the build, a manual approval, then a promotion of the release to this environment (buildspec-promote.yml in its own CodeBuild project) [default: `pipeline.promotion.environment` from stdin, else no promotion]' -r
complete -c mkpipeline -l promote-branch -d 'GitOps branch the promotion pushes to; not --gitops-branch [default: `pipeline.promotion.branch` from stdin, else <gitops-branch>-<ENV>]' -r
complete -c mkpipeline -l promote-token-secret -d 'Secrets Manager secret holding the promotion\'s git push token; not --token-secret, so the token that bumps dev cannot bump the promoted environment [default: `pipeline.promotion.token_secret` from stdin]' -r
complete -c mkpipeline -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c mkpipeline -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c mkpipeline -l lease -d 'Also hold a lease in S3 for the run, so runs on other machines (CI runners) on the same stack take turns; the bucket must exist' -r
complete -c mkpipeline -l lease-ttl -d 'How long a lease outlives its holder\'s last renewal: a killed run\'s lease is taken over after this' -r
complete -c mkpipeline -l dry-run -d 'Print the plan as JSON (`plan.pipeline`) and change nothing'
complete -c mkpipeline -l delete -d 'Delete the pipeline, projects, roles, connection (when mkpipeline made it) and bucket'
complete -c mkpipeline -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c mkpipeline -s q -l quiet -d 'Only errors on stderr'
complete -c mkpipeline -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mkpipeline -s V -l version -d 'Print version'
