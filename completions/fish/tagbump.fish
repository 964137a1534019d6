complete -c tagbump -l path -d 'Path of the tag, e.g. image.tag, images[name=registry.k8s.io/app].newTag (dots inside [...] are part of the name), labels."app.kubernetes.io/version" (a quoted key) [default: image.tag; images[name=IMAGE].newTag in a kustomization.yaml]' -r
complete -c tagbump -l image -d 'Image name, for the commit message and kustomization images [default: from stdin]' -r
complete -c tagbump -s t -l tag -d 'The new tag [default: the tag in --from FILE2, else `push.tags[0]`, else the tag of `image.tags[0]`, from stdin]' -r
complete -c tagbump -l from -d 'Copy the tag from FILE2, at the same path as in FILE: a promotion (dev\'s kustomization into prod\'s). With --repo, FILE2 is in the same repository and branch. The stdin `push` and `image` keys are then ignored' -r -F
complete -c tagbump -l document -d 'Which YAML document of the file, counted from 0, when several have the path' -r
complete -c tagbump -s b -l branch -d 'Branch to commit on [default: the checked-out one]; with --repo, the branch fetched and pushed (required)' -r
complete -c tagbump -l repo -d 'Work on this repository instead of the clone FILE is in: its --branch is fetched into a temporary directory, edited, pushed (--push; or --dry-run) and removed. https://, http://, ssh://, git@host:path, file:// or a local path, without credentials in it' -r
complete -c tagbump -l remote -d 'Remote to push to' -r
complete -c tagbump -l retries -d 'Attempts after the first when the push is rejected because the remote moved' -r
complete -c tagbump -l network-timeout -d 'Seconds a git remote may take to accept the connection, and then to send or take each piece of data, before the fetch or push fails (a stalled remote would hold the pipeline)' -r
complete -c tagbump -l author -d 'Commit author, "Name <email>" [default: GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, else git config]' -r
complete -c tagbump -l token-env -d 'Environment variable holding the push token' -r
complete -c tagbump -l token-file -d 'File holding the push token' -r -F
complete -c tagbump -l token-secret -d 'AWS Secrets Manager secret (ARN or name) holding the token, as text or JSON {"token": ...}' -r
complete -c tagbump -l token-user -d 'User name sent with the token over HTTPS' -r
complete -c tagbump -l ssh-key -d 'SSH private key for ssh:// remotes [default: the SSH agent]' -r -F
complete -c tagbump -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c tagbump -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c tagbump -l push -d 'Push the commit; a rejected push is redone on the remote\'s new tip'
complete -c tagbump -l forward-only -d 'Keep the tag when the new one is an older release: by semantic version, else by image creation time (imgbuild\'s `created` label, kept in each bump\'s Image-Created trailer). A race between two releases then ends on the newer one, whichever pushes last'
complete -c tagbump -l dry-run -d 'Print the diff it would make; write nothing'
complete -c tagbump -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c tagbump -s q -l quiet -d 'Only errors on stderr'
complete -c tagbump -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tagbump -s V -l version -d 'Print version'
