complete -c mkpipeline -s n -l name -d 'Stack name [default: `pipeline.stack`, `cluster.name` or `vpc.stack` from stdin]' -r
complete -c mkpipeline -l repository -d 'Repository the pipeline builds, as OWNER/NAME [default: `pipeline.repository` from stdin]' -r
complete -c mkpipeline -l branch -d 'Branch whose pushes start the pipeline [default: `pipeline.branch` from stdin, else main]' -r
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
complete -c mkpipeline -l gitops-branch -d 'Branch the build pushes the GitOps change to (buildspec GITOPS_BRANCH) [default: main]' -r
complete -c mkpipeline -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c mkpipeline -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c mkpipeline -l dry-run -d 'Print the plan as JSON (`plan.pipeline`) and change nothing'
complete -c mkpipeline -l delete -d 'Delete the pipeline, project, roles, connection (when mkpipeline made it) and bucket'
complete -c mkpipeline -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c mkpipeline -s q -l quiet -d 'Only errors on stderr'
complete -c mkpipeline -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mkpipeline -s V -l version -d 'Print version'
