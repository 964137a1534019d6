//! mkeks' flags, and how flags and the stdin document resolve into one [`Spec`].

use std::collections::BTreeSet;

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, Timeout, after_help, for_arg};
use ekskit_core::stack::validate_stack_name;
use ekskit_core::{Document, InputError};
use ekskit_model::vpc::VpcRef;
use serde::Deserialize;

use crate::addons::{self, Addon, AddonsSpec};
use crate::capability;
use ekskit_model::cluster::ArgoCdSpec;
pub use ekskit_model::cluster::{AmiType, EndpointAccess, Scaling, Spec};

/// The version of a new cluster when EKS cannot be asked which it offers (versions.rs).
pub const DEFAULT_VERSION: &str = "1.36";
pub const DEFAULT_INSTANCE_TYPE: &str = "m7i.large";

const EXAMPLES: &str = "\
Examples:
  mkvpc --name demo | mkeks                         # cluster in the VPC's private subnets
  mkvpc --name demo | mkeks --nodes 2:3:6 --instance-types m7i.large,m6i.large
  mkeks --name demo --subnet-ids subnet-a,subnet-b  # an existing VPC
  mkeks --addon aws-load-balancer-controller --addon karpenter < demo.json
  mkeks --addon cert-manager --hosted-zone-id Z0123456789ABC < demo.json
  mkeks --delete --addon karpenter < demo.json      # that add-on's AWS side only
  mkeks --dry-run < demo.json | jq .plan.cluster    # the fully defaulted plan
  mkeks --upgrade --dry-run < demo.json             # each step of an upgrade to the newest version
  mkeks --upgrade --to 1.36 < demo.json             # control plane, add-ons, node group; resumable
  mkeks --deletion-protection < prod.json           # EKS refuses to delete it until lifted
  mkeks --delete < demo.json                        # node group, cluster, roles, key

Output: the stdin document (kept whole) plus the `cluster` key; see schemas/cluster.schema.json.";

/// Create, converge or delete an EKS cluster for a VPC.
///
/// Creates the cluster and node IAM roles, a KMS key for secrets encryption, the cluster in the
/// VPC's private subnets with control plane logging, and one managed node group; waits until
/// they are ACTIVE. Everything carries `ekskit.io/stack=<name>`; re-running converges.
#[derive(Debug, Parser)]
// `--version` is the Kubernetes version, as in eksctl; mkeks' own version is `-V`.
#[command(name = "mkeks", version, disable_version_flag = true)]
#[command(after_help = after_help(EXAMPLES, ExitCodes::DEFAULT))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print the plan as JSON (`plan.cluster`) and change nothing"))))]
#[command(mut_args(for_arg("delete", |a| a.help("Delete the node group, the cluster, its roles and its key"))))]
#[command(mut_args(for_arg("timeout", |a| a
    .help("Longest wait for one resource to change state (e.g. 25m)")
    .default_value("25m"))))]
pub struct Args {
    /// Print mkeks' version
    #[arg(short = 'V', long = "tool-version", action = clap::ArgAction::Version)]
    pub tool_version: (),

    /// Cluster name [default: `vpc.stack` from stdin]
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,

    /// Kubernetes version, e.g. 1.36 [default: `cluster.version` from stdin, else the cluster's,
    /// else the newest EKS offers in standard support]
    #[arg(long = "version", value_name = "X.Y")]
    pub kubernetes_version: Option<String>,

    /// Upgrade the cluster, one minor at a time: upgrade insights, control plane, managed add-ons
    /// (to EKS' default for each minor), node groups (rolled); a killed upgrade resumes when run
    /// again. With --dry-run: every step, in order
    #[arg(long, conflicts_with_all = ["delete", "kubernetes_version"])]
    pub upgrade: bool,

    /// With --upgrade: the version to end at [default: the newest EKS offers in standard support]
    #[arg(long, value_name = "X.Y", requires = "upgrade")]
    pub to: Option<String>,

    /// With --upgrade: go on past upgrade insights in ERROR, and roll nodes even where a
    /// PodDisruptionBudget forbids evicting their Pods
    #[arg(long, requires = "upgrade")]
    pub force: bool,

    /// Subnets for the control plane and nodes [default: the private subnets of `vpc`]
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub subnet_ids: Option<Vec<String>>,

    /// Node instance types, separated by commas [default: m7i.large]
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub instance_types: Option<Vec<String>>,

    /// Node group size as MIN:DESIRED:MAX [default: 2:2:4]
    #[arg(long, value_name = "MIN:DESIRED:MAX", value_parser = Scaling::parse)]
    pub nodes: Option<Scaling>,

    /// Node AMI family
    #[arg(long, value_enum, default_value_t = AmiType::Al2023)]
    pub ami_type: AmiType,

    /// Where the API endpoint answers [default: both with --public-access-cidrs, else private]
    #[arg(long, value_enum)]
    pub endpoint_access: Option<EndpointAccess>,

    /// CIDRs that may reach the public endpoint, e.g. 203.0.113.7/32 (0.0.0.0/0: anyone); without
    /// them the endpoint answers only inside the VPC
    #[arg(long, value_delimiter = ',', value_name = "CIDRS")]
    pub public_access_cidrs: Option<Vec<String>>,

    /// Turn on EKS deletion protection (for a prod cluster): EKS, and mkeks --delete, refuse to
    /// delete the cluster until it is lifted [default: off for a new cluster; an existing one keeps
    /// its own]
    #[arg(long, conflicts_with = "no_deletion_protection")]
    pub deletion_protection: bool,

    /// Lift EKS deletion protection (then --delete may delete the cluster)
    #[arg(long)]
    pub no_deletion_protection: bool,

    /// EKS Auto Mode: EKS runs the nodes (its built-in general-purpose and system node pools),
    /// block storage and load balancing; no managed node group or add-ons. Kept by re-runs
    #[arg(long, conflicts_with_all = ["nodes", "instance_types"])]
    pub auto_mode: bool,

    /// An EKS Capability to set up: argocd, EKS' managed Argo CD (users sign in through IAM
    /// Identity Center: needs --idc-instance-arn). Kept on later runs; --delete deletes it
    #[arg(long = "capability", value_enum, value_name = "NAME")]
    pub capabilities: Vec<CapabilityName>,

    /// argocd: the IAM Identity Center instance users sign in with (`aws sso-admin list-instances`)
    #[arg(long, value_name = "ARN")]
    pub idc_instance_arn: Option<String>,

    /// argocd: the Identity Center instance's region [default: the cluster's]
    #[arg(long, value_name = "REGION")]
    pub idc_region: Option<String>,

    /// argocd: an Argo CD role for an Identity Center user or group, ROLE:TYPE:ID with ROLE admin,
    /// editor or viewer and TYPE user or group (repeatable)
    #[arg(long = "argocd-rbac", value_name = "ROLE:TYPE:ID")]
    pub argocd_rbac: Vec<String>,

    /// Do not create a KMS key for envelope encryption of Secrets
    #[arg(long)]
    pub no_secrets_encryption: bool,

    /// Set up an add-on's AWS side: IAM role, Pod Identity association and what else it needs
    /// (repeatable; kept on later runs). With --delete: delete only these add-ons' AWS side
    #[arg(long = "addon", value_enum, value_name = "NAME")]
    pub addons: Vec<Addon>,

    /// cert-manager: the Route53 hosted zone DNS-01 challenges are answered in (it or
    /// --any-hosted-zone is needed with --addon cert-manager)
    #[arg(long, value_name = "ID")]
    pub hosted_zone_id: Option<String>,

    /// cert-manager without a zone: let it write TXT _acme-challenge records in every hosted zone
    /// of the account (kept by re-runs from the document)
    #[arg(long, conflicts_with = "hosted_zone_id")]
    pub any_hosted_zone: bool,

    /// external-secrets: the Secrets Manager name prefix it may read [default: ekskit/<name>/]
    #[arg(long, value_name = "PREFIX")]
    pub secrets_prefix: Option<String>,

    /// external-secrets: a namespace that gets a SecretStore of its own, reading only
    /// <PREFIX><NAMESPACE>/ (repeatable or comma-separated; replaces the earlier list)
    /// [default: the document's, else argocd,comments-dev,comments-prod]
    #[arg(long = "secrets-namespace", value_name = "NAMESPACE", value_delimiter = ',')]
    pub secrets_namespaces: Vec<String>,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub timeout: Timeout,

    /// Merge the cluster into this kubeconfig (its user runs `aws eks get-token`; no token is stored)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub lease: ekskit_aws::lease::LeaseArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// `--capability`: the EKS Capabilities mkeks sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CapabilityName {
    /// EKS' managed Argo CD
    Argocd,
}

/// What the stdin document may say about the cluster from an earlier run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterInput {
    pub name: Option<String>,
    pub version: Option<String>,
    pub region: Option<String>,
    /// `cluster.addons` of an earlier run: an object keyed by add-on name (documents from before
    /// add-ons had the EKS managed add-ons there, as a list: ignored).
    pub addons: Option<serde_json::Value>,
    /// `cluster.auto_mode` of an earlier run: there when the cluster runs in Auto Mode.
    pub auto_mode: Option<serde_json::Value>,
    /// `cluster.capabilities` of an earlier run, by name.
    pub capabilities: Option<serde_json::Value>,
}

/// The version the user asked for: --version, else the document's `cluster.version`.
pub fn asked_version(args: &Args, doc: &Document) -> Result<Option<String>, InputError> {
    let earlier: ClusterInput = doc.get("cluster")?.unwrap_or_default();
    Ok(args.kubernetes_version.clone().or(earlier.version))
}

/// Resolves mkeks' [`Spec`], a type of `ekskit_model`, from the flags and the document.
pub trait ResolveSpec: Sized {
    fn resolve(args: &Args, doc: &Document) -> Result<Self, InputError>;
}

impl ResolveSpec for Spec {
    fn resolve(args: &Args, doc: &Document) -> Result<Spec, InputError> {
        let vpc: Option<VpcRef> = doc.get("vpc")?;
        let earlier: ClusterInput = doc.get("cluster")?.unwrap_or_default();
        let name =
            args.name.clone().or(earlier.name).or_else(|| vpc.as_ref().map(|v| v.stack.clone())).ok_or_else(|| {
                InputError::new("no cluster name")
                    .hint("pass --name, or pipe the document from mkvpc (its `vpc.stack` names the cluster)")
            })?;
        validate_stack_name(&name)?;
        // Settled once EKS is asked (versions.rs): the newest it offers, or the cluster's own.
        let version = args.kubernetes_version.clone().or(earlier.version).unwrap_or_else(|| DEFAULT_VERSION.into());
        validate_version(&version)?;
        let subnet_ids = match (&args.subnet_ids, &vpc) {
            (Some(ids), _) => ids.clone(),
            (None, Some(v)) => {
                let zones: std::collections::BTreeSet<&str> = v.subnets.private.iter().map(|s| s.az.as_str()).collect();
                if zones.len() < 2 {
                    return Err(InputError::new(format!(
                        "the private subnets of vpc {} are in {} availability zone(s); EKS needs at least two",
                        v.id,
                        zones.len()
                    ))
                    .hint("re-create the VPC with mkvpc --azs 2 (or more)"));
                }
                v.subnets.private.iter().map(|s| s.id.clone()).collect()
            }
            // Deleting finds everything by name; it needs no subnets.
            (None, None) if args.delete.on => Vec::new(),
            (None, None) => {
                return Err(InputError::new("no subnets for the cluster")
                    .hint("pipe the document from mkvpc (`mkvpc --name demo | mkeks`), or pass --subnet-ids"));
            }
        };
        if subnet_ids.iter().any(|id| !id.starts_with("subnet-")) {
            return Err(InputError::new(format!(
                "--subnet-ids {} holds something that is not a subnet id",
                subnet_ids.join(",")
            )));
        }
        let (endpoint_access, public_access_cidrs) = endpoint(args)?;
        Ok(Spec {
            version,
            subnet_ids,
            instance_types: args.instance_types.clone().unwrap_or_else(|| vec![DEFAULT_INSTANCE_TYPE.into()]),
            nodes: args.nodes.unwrap_or(Scaling::DEFAULT),
            ami_type: args.ami_type,
            endpoint_access,
            public_access_cidrs,
            secrets_encryption: !args.no_secrets_encryption,
            deletion_protection: match (args.deletion_protection, args.no_deletion_protection) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            addons: resolve_addons(args, earlier.addons.as_ref().and_then(|a| a.as_object()), &name)?,
            auto_mode: args.auto_mode || earlier.auto_mode.is_some(),
            argocd: resolve_argocd(args, earlier.capabilities.as_ref().and_then(|c| c.get(capability::ARGOCD)))?,
            name,
        })
        .and_then(|spec| if args.delete.on { Ok(spec) } else { check_auto_mode(&spec).map(|()| spec) })
    }
}

/// Where the API endpoint answers and who may reach its public side: public only for the CIDRs
/// the user names (a public endpoint open to anyone is asked for with 0.0.0.0/0, not a default).
fn endpoint(args: &Args) -> Result<(EndpointAccess, Vec<String>), InputError> {
    let cidrs = args.public_access_cidrs.clone();
    for cidr in cidrs.iter().flatten() {
        if cidr.parse::<ipnet::Ipv4Net>().is_err() {
            return Err(InputError::new(format!("--public-access-cidrs: `{cidr}` is not an IPv4 CIDR"))
                .hint("e.g. 203.0.113.7/32 for one address, 0.0.0.0/0 for anyone"));
        }
    }
    match (args.endpoint_access, cidrs) {
        (None | Some(EndpointAccess::Private), None) => Ok((EndpointAccess::Private, Vec::new())),
        (None, Some(cidrs)) => Ok((EndpointAccess::Both, cidrs)),
        (Some(EndpointAccess::Private), Some(_)) => {
            Err(InputError::new("--public-access-cidrs is for a public endpoint; --endpoint-access private has none")
                .hint("leave out --endpoint-access (both), or --public-access-cidrs"))
        }
        (Some(access), Some(cidrs)) => Ok((access, cidrs)),
        (Some(_), None) => Err(InputError::new("a public endpoint needs the CIDRs that may reach it")
            .hint("pass --public-access-cidrs, e.g. your address as 203.0.113.7/32 (0.0.0.0/0 opens it to anyone)")),
    }
}

/// The add-ons: `--addon` plus those of the document (a re-run keeps them); with --delete only
/// the flags name what to delete. cert-manager's zone and external-secrets' prefix likewise.
fn resolve_addons(
    args: &Args,
    earlier: Option<&serde_json::Map<String, serde_json::Value>>,
    stack: &str,
) -> Result<AddonsSpec, InputError> {
    let mut set: BTreeSet<Addon> = args.addons.iter().copied().collect();
    let earlier_field = |addon: Addon, key: &str| {
        earlier.and_then(|m| m.get(addon.name())).and_then(|a| a.get(key)).and_then(|v| v.as_str()).map(str::to_owned)
    };
    if !args.delete.on {
        for name in earlier.map(|m| m.keys().collect::<Vec<_>>()).unwrap_or_default() {
            let addon = Addon::parse(name).ok_or_else(|| {
                InputError::new(format!("`cluster.addons` of the document names an unknown add-on `{name}`"))
                    .hint("known: aws-load-balancer-controller, cert-manager, external-secrets, cluster-autoscaler, karpenter")
            })?;
            set.insert(addon);
        }
    }
    let hosted_zone_id = match args.hosted_zone_id.as_deref() {
        Some(id) => Some(addons::parse_hosted_zone(id)?),
        None => earlier_field(Addon::CertManager, "hosted_zone_id").filter(|id| !id.is_empty()),
    };
    if hosted_zone_id.is_some() && !set.contains(&Addon::CertManager) && !args.delete.on {
        return Err(InputError::new("--hosted-zone-id is for cert-manager, which is not set up")
            .hint("add --addon cert-manager"));
    }
    // A document whose cert-manager has an empty zone was made with any zone: a re-run keeps it.
    let any_hosted_zone = hosted_zone_id.is_none()
        && (args.any_hosted_zone || earlier_field(Addon::CertManager, "hosted_zone_id").is_some_and(|z| z.is_empty()));
    if args.any_hosted_zone && !set.contains(&Addon::CertManager) && !args.delete.on {
        return Err(InputError::new("--any-hosted-zone is for cert-manager, which is not set up")
            .hint("add --addon cert-manager"));
    }
    if set.contains(&Addon::CertManager) && hosted_zone_id.is_none() && !any_hosted_zone && !args.delete.on {
        return Err(InputError::new("cert-manager needs the Route53 hosted zone it answers DNS-01 challenges in")
            .hint(
                "pass --hosted-zone-id with the zone's id (`aws route53 list-hosted-zones`), or --any-hosted-zone \
                 to let it write TXT _acme-challenge records in every zone of the account",
            ));
    }
    let secrets_prefix = args
        .secrets_prefix
        .clone()
        .or_else(|| earlier_field(Addon::ExternalSecrets, "secrets_prefix"))
        .unwrap_or_else(|| format!("ekskit/{stack}/"));
    addons::check_secrets_prefix(&secrets_prefix)?;
    if !args.secrets_namespaces.is_empty() && !set.contains(&Addon::ExternalSecrets) && !args.delete.on {
        return Err(InputError::new("--secrets-namespace is for external-secrets, which is not set up")
            .hint("add --addon external-secrets"));
    }
    let earlier_stores = earlier
        .and_then(|m| m.get(Addon::ExternalSecrets.name()))
        .and_then(|a| a.get("secret_stores"))
        .and_then(|s| s.as_object())
        .map(|s| s.keys().cloned().collect::<BTreeSet<_>>());
    let secret_namespaces = match &args.secrets_namespaces[..] {
        [] => earlier_stores,
        given => Some(given.iter().map(|n| n.trim().to_owned()).collect()),
    };
    for namespace in secret_namespaces.iter().flatten() {
        addons::secret_stores::check_namespace(namespace)?;
    }
    Ok(AddonsSpec { addons: set, hosted_zone_id, any_hosted_zone, secrets_prefix, secret_namespaces })
}

/// EKS' managed Argo CD: `--capability argocd` and its flags, else the earlier document's (a
/// re-run keeps it); None when neither asks for it.
fn resolve_argocd(args: &Args, earlier: Option<&serde_json::Value>) -> Result<Option<ArgoCdSpec>, InputError> {
    if args.delete.on {
        return Ok(None);
    }
    let asked = args.capabilities.contains(&CapabilityName::Argocd) || earlier.is_some();
    if !asked {
        if args.idc_instance_arn.is_some() || args.idc_region.is_some() || !args.argocd_rbac.is_empty() {
            return Err(InputError::new(
                "--idc-instance-arn, --idc-region and --argocd-rbac are for the argocd capability",
            )
            .hint("add --capability argocd"));
        }
        return Ok(None);
    }
    let field = |key: &str| earlier.and_then(|e| e.get(key));
    let text = |key: &str| field(key).and_then(|v| v.as_str()).map(str::to_owned);
    let idc_instance_arn = args.idc_instance_arn.clone().or_else(|| text("idc_instance_arn")).ok_or_else(|| {
        InputError::new("--capability argocd needs the IAM Identity Center instance its users sign in with")
            .hint("pass --idc-instance-arn (`aws sso-admin list-instances`); EKS' Argo CD has no local users")
    })?;
    capability::check_idc_instance(&idc_instance_arn)?;
    let rbac = match &args.argocd_rbac[..] {
        [] => field("rbac")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect(),
        given => given.to_vec(),
    };
    let mut rbac = rbac.iter().map(|r| capability::parse_rbac(r)).collect::<Result<Vec<_>, _>>()?;
    rbac.sort();
    rbac.dedup();
    let idc_region = args.idc_region.clone().or_else(|| text("idc_region"));
    Ok(Some(ArgoCdSpec { idc_instance_arn, idc_region, rbac }))
}

/// Auto Mode launches and scales the nodes itself: an add-on that does it too would fight it.
pub fn check_auto_mode(spec: &Spec) -> Result<(), InputError> {
    let scalers = [Addon::Karpenter, Addon::ClusterAutoscaler];
    match scalers.iter().find(|a| spec.auto_mode && spec.addons.addons.contains(a)) {
        Some(addon) => {
            Err(InputError::new(format!("--addon {} scales nodes, which EKS Auto Mode does itself", addon.name()))
                .hint("leave out the add-on, or --auto-mode (a managed node group)"))
        }
        None => Ok(()),
    }
}

/// `1.35` and the like: major 1, a minor EKS could offer.
pub fn validate_version(version: &str) -> Result<(), InputError> {
    let minor = version.strip_prefix("1.").and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(m) if (23..100).contains(&m) && !version.ends_with('.') => Ok(()),
        _ => Err(InputError::new(format!("--version `{version}` is not a Kubernetes version like 1.35"))
            .hint("`aws eks describe-cluster-versions` lists the ones EKS offers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert_eq!(Args::try_parse_from(["mkeks", "-"]).unwrap().timeout.limit, std::time::Duration::from_secs(1500));
        let a = Args::try_parse_from(["mkeks", "--version", "1.36", "--nodes", "1:2:3"]).unwrap();
        assert_eq!(a.kubernetes_version.as_deref(), Some("1.36"));
        assert!(Args::try_parse_from(["mkeks", "--nodes", "3:1:2"]).is_err());
    }

    #[test]
    fn cert_manager_needs_a_zone_or_any_zone_and_a_document_keeps_any_zone() {
        let args =
            |extra: &[&str]| Args::try_parse_from([&["mkeks", "--addon", "cert-manager"], extra].concat()).unwrap();
        let err = resolve_addons(&args(&[]), None, "demo").unwrap_err();
        assert!(err.to_string().contains("needs the Route53 hosted zone"), "{err}");
        let any = resolve_addons(&args(&["--any-hosted-zone"]), None, "demo").unwrap();
        assert!(any.any_hosted_zone && any.hosted_zone_id.is_none());
        let one = resolve_addons(&args(&["--hosted-zone-id", "Z0ABC"]), None, "demo").unwrap();
        assert_eq!((one.any_hosted_zone, one.hosted_zone_id.as_deref()), (false, Some("Z0ABC")));
        // A re-run from the output of an any-zone run (cert-manager's zone empty) keeps it.
        let earlier = serde_json::json!({"cert-manager": {"hosted_zone_id": ""}});
        let plain = Args::try_parse_from(["mkeks"]).unwrap();
        let again = resolve_addons(&plain, earlier.as_object(), "demo").unwrap();
        assert!(again.any_hosted_zone && again.addons.contains(&Addon::CertManager));
        let zoned = serde_json::json!({"cert-manager": {"hosted_zone_id": "Z0ABC"}});
        assert!(!resolve_addons(&plain, zoned.as_object(), "demo").unwrap().any_hosted_zone);
    }

    #[test]
    fn the_endpoint_is_private_unless_the_user_names_who_may_reach_it() {
        let resolve = |args: &[&str]| endpoint(&Args::try_parse_from([&["mkeks"], args].concat()).unwrap());
        assert_eq!(resolve(&[]).unwrap(), (EndpointAccess::Private, vec![]));
        let mine = resolve(&["--public-access-cidrs", "203.0.113.7/32"]).unwrap();
        assert_eq!(mine, (EndpointAccess::Both, vec!["203.0.113.7/32".to_owned()]));
        let public = resolve(&["--endpoint-access", "public", "--public-access-cidrs", "0.0.0.0/0"]).unwrap();
        assert_eq!(public.0, EndpointAccess::Public);
        assert!(resolve(&["--endpoint-access", "both"]).unwrap_err().to_string().contains("needs the CIDRs"));
        assert!(resolve(&["--endpoint-access", "private", "--public-access-cidrs", "0.0.0.0/0"]).is_err());
        for bad in ["203.0.113.7", "203.0.113.7/33", "example.com/32", "::/0"] {
            assert!(resolve(&["--public-access-cidrs", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_sizes_and_versions() {
        assert_eq!(Scaling::parse("1:2:3").unwrap(), Scaling { min: 1, desired: 2, max: 3 });
        assert_eq!(Scaling::parse("0:0:1").unwrap(), Scaling { min: 0, desired: 0, max: 1 });
        for bad in ["3:1:2", "1:2", "a:b:c", "0:0:0", "-1:0:1", "1:2:3:4"] {
            assert!(Scaling::parse(bad).is_err(), "{bad}");
        }
        assert!(validate_version("1.35").is_ok());
        for bad in ["1.35.1", "v1.35", "2.0", "1.", "latest", "1.5"] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
    }
}
