complete -c kapply -s f -l filename -d 'Manifest file, directory (recursive), URL (https://; `#sha256=HEX` pins its content), or - for a YAML/JSON stream on stdin; repeatable' -r
complete -c kapply -s k -l kustomize -d 'Kustomize directory, rendered by `kustomize build` or `kubectl kustomize`; repeatable' -r -F
complete -c kapply -s n -l namespace -d 'Namespace for namespaced objects that name none [default: the kubeconfig context\'s, else `default`]' -r
complete -c kapply -l app -d 'App name: labels every object as a member of the ApplySet `kapply-<APP>`, for --prune' -r
complete -c kapply -l timeout -d 'Longest wait for everything to be ready (or gone, with --delete), e.g. 90s, 10m' -r
complete -c kapply -l concurrency -d 'Objects applied at the same time within a phase' -r
complete -c kapply -l kubeconfig -d 'Kubeconfig file [default: KUBECONFIG, else ~/.kube/config; the stdin `cluster` key wins over both]' -r -F
complete -c kapply -l context -d 'Kubeconfig context [default: its current context]' -r
complete -c kapply -l prune -d 'Delete members of the --app that are no longer in the input (never anything else)'
complete -c kapply -l force-conflicts -d 'Take over fields another field manager owns, instead of failing on the conflict'
complete -c kapply -l dry-run -d 'Server-side dry run: the server validates and defaults everything, nothing is stored'
complete -c kapply -l diff -d 'Print what would change (unified diff on stderr and in the document); exit 3 if anything would'
complete -c kapply -l delete -d 'Delete the objects the manifests name (and, with --app, every member of the app)'
complete -c kapply -l no-wait -d 'Do not wait for readiness after applying'
complete -c kapply -l wait-only -d 'Apply nothing: wait until the live objects hold every field the manifests set and are ready (a rollout made by someone else, e.g. Argo CD syncing a commit)'
complete -c kapply -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c kapply -s q -l quiet -d 'Only errors on stderr'
complete -c kapply -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kapply -s V -l version -d 'Print version'
