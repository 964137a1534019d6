complete -c imgbuild -s f -l file -d 'Dockerfile, relative to the context' -r
complete -c imgbuild -l name -d 'Image name [default: the context directory\'s name]' -r
complete -c imgbuild -s t -l tag -d 'Extra tags (NAME:TAG), besides <name>:<revision>; repeatable' -r
complete -c imgbuild -l build-arg -d 'Build-time variables (KEY=VALUE); repeatable' -r
complete -c imgbuild -l label -d 'Extra labels (KEY=VALUE); repeatable' -r
complete -c imgbuild -l target -d 'Stage to build' -r
complete -c imgbuild -l platform -d 'Platform, e.g. linux/amd64' -r
complete -c imgbuild -l cache-from -d 'Images to use as cache sources; repeatable' -r
complete -c imgbuild -l builder -d 'Builder: BuildKit when the engine offers it, else the classic builder' -r -f -a "auto\t'BuildKit when the engine offers it, else classic'
buildkit\t''
classic\t''"
complete -c imgbuild -l idle-timeout -d 'Seconds the engine may go without sending anything during the build before imgbuild gives up on it (a hung engine or a stalled connection would otherwise hold the run)' -r
complete -c imgbuild -l revision -d 'The commit the context holds (all 40 hex characters, 64 in a SHA-256 repository), when there is no git repository or to override HEAD [default: HEAD of the context\'s repository, else $CODEBUILD_RESOLVED_SOURCE_VERSION, else $GITHUB_SHA]' -r
complete -c imgbuild -l untracked-ok -d 'Files the context sends that git does not track but a tracked file pins (e.g. `.wheels/**`, which a hashed requirements lock checks): they leave the tag clean. Any other untracked or ignored file sent makes it -dirty (.dockerignore patterns)' -r
complete -c imgbuild -l no-git -d 'Build without a revision: no revision tag or labels (needs --tag)'
complete -c imgbuild -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c imgbuild -s q -l quiet -d 'Only errors on stderr'
complete -c imgbuild -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -s V -l version -d 'Print version'
