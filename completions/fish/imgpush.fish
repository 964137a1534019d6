complete -c imgpush -s r -l repository -d 'Target repository: HOST[:PORT]/NAME, ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME, ecr:NAME or USER/NAME (Docker Hub) [default: `push.repository` from stdin]' -r
complete -c imgpush -l image -d 'Local image (name:tag or id) [default: `image.id` from stdin]' -r
complete -c imgpush -s t -l tag -d 'Tags to push; repeatable [default: the tags of the stdin image, or of --image]' -r
complete -c imgpush -l registry-endpoint -d 'Send the push to this registry endpoint (HOST:PORT) instead of the repository\'s own host: a mirror, a proxy, or the local stack standing in for ECR' -r
complete -c imgpush -s u -l username -d 'Registry user, with --password-file or --password-stdin (not for ECR)' -r
complete -c imgpush -l password-file -d 'File holding the registry password or token' -r -F
complete -c imgpush -l keep-images -d 'ECR: a lifecycle policy that expires untagged images but the newest N; tagged images only with --expire-tag-prefix, so the image a deployment runs is never expired' -r
complete -c imgpush -l expire-tag-prefix -d 'ECR, with --keep-images: also expire tagged images whose tags start with PREFIX, but the newest N (e.g. `pr-` for preview builds); repeatable' -r
complete -c imgpush -l retries -d 'Retries of each registry request on 408/429/5xx and reset connections; the engine\'s push (many requests redone as one) is redone for up to 90 s of backoff instead; 0: no retries' -r
complete -c imgpush -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c imgpush -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c imgpush -l password-stdin -d 'Read the registry password from stdin (then the image comes from --image, not stdin)'
complete -c imgpush -l dry-run -d 'Print what would be pushed and created, change nothing'
complete -c imgpush -l delete -d 'Delete the pushed tags from the repository (and an ECR repository imgpush created, once empty)'
complete -c imgpush -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c imgpush -s q -l quiet -d 'Only errors on stderr'
complete -c imgpush -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgpush -s V -l version -d 'Print version'
