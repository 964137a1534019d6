complete -c mkeks -s n -l name -d 'Cluster name [default: `vpc.stack` from stdin]' -r
complete -c mkeks -l version -d 'Kubernetes version, e.g. 1.36 [default: `cluster.version` from stdin, else the cluster\'s, else the newest EKS offers in standard support]' -r
complete -c mkeks -l to -d 'With --upgrade: the version to end at [default: the newest EKS offers in standard support]' -r
complete -c mkeks -l subnet-ids -d 'Subnets for the control plane and nodes [default: the private subnets of `vpc`]' -r
complete -c mkeks -l instance-types -d 'Node instance types, separated by commas [default: m7i.large]' -r
complete -c mkeks -l nodes -d 'Node group size as MIN:DESIRED:MAX [default: 2:2:4]' -r
complete -c mkeks -l ami-type -d 'Node AMI family' -r -f -a "al2023\t'Amazon Linux 2023, x86_64'
bottlerocket\t'Bottlerocket, x86_64'"
complete -c mkeks -l endpoint-access -d 'Where the API endpoint answers [default: both with --public-access-cidrs, else private]' -r -f -a "public\t''
private\t''
both\t''"
complete -c mkeks -l public-access-cidrs -d 'CIDRs that may reach the public endpoint, e.g. 203.0.113.7/32 (0.0.0.0/0: anyone); without them the endpoint answers only inside the VPC' -r
complete -c mkeks -l capability -d 'An EKS Capability to set up: argocd, EKS\' managed Argo CD (users sign in through IAM Identity Center: needs --idc-instance-arn). Kept on later runs; --delete deletes it' -r -f -a "argocd\t'EKS\' managed Argo CD'"
complete -c mkeks -l idc-instance-arn -d 'argocd: the IAM Identity Center instance users sign in with (`aws sso-admin list-instances`)' -r
complete -c mkeks -l idc-region -d 'argocd: the Identity Center instance\'s region [default: the cluster\'s]' -r
complete -c mkeks -l argocd-rbac -d 'argocd: an Argo CD role for an Identity Center user or group, ROLE:TYPE:ID with ROLE admin, editor or viewer and TYPE user or group (repeatable)' -r
complete -c mkeks -l addon -d 'Set up an add-on\'s AWS side: IAM role, Pod Identity association and what else it needs (repeatable; kept on later runs). With --delete: delete only these add-ons\' AWS side' -r -f -a "aws-load-balancer-controller\t'Gateway API and Service load balancers through ALB/NLB'
cert-manager\t'Certificates from ACME, with Route53 DNS-01'
external-secrets\t'Kubernetes Secrets from AWS Secrets Manager, read-only under a prefix'
cluster-autoscaler\t'Node group scaling, by auto-discovery tags'
karpenter\t'Node provisioning, with an interruption queue'"
complete -c mkeks -l hosted-zone-id -d 'cert-manager: the Route53 hosted zone DNS-01 challenges are answered in (it or --any-hosted-zone is needed with --addon cert-manager)' -r
complete -c mkeks -l secrets-prefix -d 'external-secrets: the Secrets Manager name prefix it may read [default: ekskit/<name>/]' -r
complete -c mkeks -l secrets-namespace -d 'external-secrets: a namespace that gets a SecretStore of its own, reading only <PREFIX><NAMESPACE>/ (repeatable or comma-separated; replaces the earlier list) [default: the document\'s, else argocd,comments-dev,comments-prod]' -r
complete -c mkeks -l timeout -d 'Longest wait for one resource to change state (e.g. 25m)' -r
complete -c mkeks -l kubeconfig -d 'Merge the cluster into this kubeconfig (its user runs `aws eks get-token`; no token is stored)' -r -F
complete -c mkeks -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c mkeks -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c mkeks -l lease -d 'Also hold a lease in S3 for the run, so runs on other machines (CI runners) on the same stack take turns; the bucket must exist' -r
complete -c mkeks -l lease-ttl -d 'How long a lease outlives its holder\'s last renewal: a killed run\'s lease is taken over after this' -r
complete -c mkeks -s V -l tool-version -d 'Print mkeks\' version'
complete -c mkeks -l upgrade -d 'Upgrade the cluster, one minor at a time: upgrade insights, control plane, managed add-ons (to EKS\' default for each minor), node groups (rolled); a killed upgrade resumes when run again. With --dry-run: every step, in order'
complete -c mkeks -l force -d 'With --upgrade: go on past upgrade insights in ERROR, and roll nodes even where a PodDisruptionBudget forbids evicting their Pods'
complete -c mkeks -l deletion-protection -d 'Turn on EKS deletion protection (for a prod cluster): EKS, and mkeks --delete, refuse to delete the cluster until it is lifted [default: off for a new cluster; an existing one keeps its own]'
complete -c mkeks -l no-deletion-protection -d 'Lift EKS deletion protection (then --delete may delete the cluster)'
complete -c mkeks -l auto-mode -d 'EKS Auto Mode: EKS runs the nodes (its built-in general-purpose and system node pools), block storage and load balancing; no managed node group or add-ons. Kept by re-runs'
complete -c mkeks -l no-secrets-encryption -d 'Do not create a KMS key for envelope encryption of Secrets'
complete -c mkeks -l any-hosted-zone -d 'cert-manager without a zone: let it write TXT _acme-challenge records in every hosted zone of the account (kept by re-runs from the document)'
complete -c mkeks -l dry-run -d 'Print the plan as JSON (`plan.cluster`) and change nothing'
complete -c mkeks -l delete -d 'Delete the node group, the cluster, its roles and its key'
complete -c mkeks -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c mkeks -s q -l quiet -d 'Only errors on stderr'
complete -c mkeks -s h -l help -d 'Print help (see more with \'--help\')'
