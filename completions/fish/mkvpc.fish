complete -c mkvpc -s n -l name -d 'Stack name; tags every resource and names the cluster later [default: `vpc.stack` from stdin]' -r
complete -c mkvpc -l cidr -d 'VPC IPv4 CIDR, /16 to /28 [default: 10.0.0.0/16]' -r
complete -c mkvpc -l azs -d 'Availability zones: a count, or zone names/IDs separated by commas [default: 3, fewer where the region has fewer]' -r
complete -c mkvpc -l nat -d 'NAT gateways for the private subnets [default: `vpc.nat` from stdin, else single]' -r -f -a "single\t'One NAT gateway for all private subnets (cheapest; one zone\'s outage cuts egress)'
ha\t'One NAT gateway per zone (survives a zone outage; costs a gateway per zone)'
none\t'No NAT: private subnets have no route to the internet (use VPC endpoints)'"
complete -c mkvpc -l endpoints -d 'VPC endpoints to add, separated by commas [default: those in `vpc.endpoints` from stdin]' -r -f -a "s3\t'S3 gateway endpoint (free; image layers from ECR come from S3)'
ecr\t'ECR API and ECR Docker interface endpoints'
sts\t'STS interface endpoint (Pod Identity and IRSA token exchange)'"
complete -c mkvpc -l timeout -d 'Longest wait for one resource to change state (e.g. 10m, 90s)' -r
complete -c mkvpc -l region -d 'AWS region [default: from the stdin document, then AWS_REGION, then the profile]' -r
complete -c mkvpc -l profile -d 'Named profile from the AWS config files [default: AWS_PROFILE, then `default`]' -r
complete -c mkvpc -l lease -d 'Also hold a lease in S3 for the run, so runs on other machines (CI runners) on the same stack take turns; the bucket must exist' -r
complete -c mkvpc -l lease-ttl -d 'How long a lease outlives its holder\'s last renewal: a killed run\'s lease is taken over after this' -r
complete -c mkvpc -l dry-run -d 'Print the plan as JSON (`plan.vpc`) and change nothing'
complete -c mkvpc -l delete -d 'Delete everything the stack owns, first what Kubernetes left in the VPC'
complete -c mkvpc -s v -l verbose -d 'More log detail on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c mkvpc -s q -l quiet -d 'Only errors on stderr'
complete -c mkvpc -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mkvpc -s V -l version -d 'Print version'
