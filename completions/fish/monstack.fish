complete -c monstack -s n -l namespace -d 'Namespace of the stack' -r
complete -c monstack -l render -d 'Write the manifests into DIR instead of applying them (no Secret: create grafana-admin yourself)' -r -F
complete -c monstack -l storage-class -d 'StorageClass for the Prometheus, Alertmanager and Grafana volumes [default: the cluster\'s default class; none: emptyDir]' -r
complete -c monstack -l retention -d 'How long Prometheus keeps samples' -r
complete -c monstack -l runbooks -d 'Base URL of the runbooks the alerts link to' -r
complete -c monstack -l cluster-name -d 'The cluster label on every series [default: `cluster.name` from stdin, else the kube context\'s cluster]' -r
complete -c monstack -l without -d 'Leave a component out: its objects are not applied, and are deleted if an earlier run applied them (repeatable; prometheus, which the others hang off, cannot be left out)' -r -f -a "prometheus\t'Scrapes and stores the metrics, evaluates the alerts; everything else hangs off it'
alertmanager\t'Receives the alerts Prometheus fires'
kube-state-metrics\t'Metrics about the Kubernetes objects (Pods, nodes, volumes)'
node-exporter\t'Metrics about each node (a DaemonSet)'
grafana\t'Dashboards over Prometheus'"
complete -c monstack -l timeout -d 'Longest wait for the stack to become ready' -r
complete -c monstack -l kubeconfig -d 'Kubeconfig file [default: KUBECONFIG, else ~/.kube/config; the stdin `cluster` key wins over both]' -r -F
complete -c monstack -l context -d 'Kubeconfig context [default: its current context]' -r
complete -c monstack -l no-persistence -d 'Keep data in emptyDir volumes even when a StorageClass exists'
complete -c monstack -l dry-run -d 'Print what would be applied; change nothing'
complete -c monstack -l delete -d 'Delete everything monstack made (the namespace included)'
complete -c monstack -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c monstack -s q -l quiet -d 'Only errors on stderr'
complete -c monstack -s h -l help -d 'Print help (see more with \'--help\')'
complete -c monstack -s V -l version -d 'Print version'
