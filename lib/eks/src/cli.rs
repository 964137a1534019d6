//! mkeks' flags, and how flags and the stdin document resolve into one [`Spec`].

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, Timeout, after_help, for_arg};
use ekskit_core::stack::validate_stack_name;
use ekskit_core::{Document, InputError};
use ekskit_model::vpc::VpcRef;
use serde::Deserialize;

use crate::addons::{self, Addon, AddonsSpec};
pub use ekskit_model::cluster::{AmiType, EndpointAccess, Scaling, Spec};

/// EKS standard support in late 2026 is 1.35–1.37; 1.35 is the oldest still fully supported.
pub const DEFAULT_VERSION: &str = "1.35";
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

    /// Kubernetes version, e.g. 1.35 [default: `cluster.version` from stdin, else 1.35]
    #[arg(long = "version", value_name = "X.Y")]
    pub kubernetes_version: Option<String>,

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

    /// Where the API endpoint answers
    #[arg(long, value_enum, default_value_t = EndpointAccess::Both)]
    pub endpoint_access: EndpointAccess,

    /// CIDRs allowed to reach the public endpoint [default: 0.0.0.0/0]
    #[arg(long, value_delimiter = ',', value_name = "CIDRS")]
    pub public_access_cidrs: Option<Vec<String>>,

    /// Do not create a KMS key for envelope encryption of Secrets
    #[arg(long)]
    pub no_secrets_encryption: bool,

    /// Set up an add-on's AWS side: IAM role, Pod Identity association and what else it needs
    /// (repeatable; kept on later runs). With --delete: delete only these add-ons' AWS side
    #[arg(long = "addon", value_enum, value_name = "NAME")]
    pub addons: Vec<Addon>,

    /// cert-manager: the Route53 hosted zone DNS-01 challenges are answered in [default: any zone
    /// of the account, TXT _acme-challenge records only]
    #[arg(long, value_name = "ID")]
    pub hosted_zone_id: Option<String>,

    /// external-secrets: the Secrets Manager name prefix it may read [default: ekskit/<name>/]
    #[arg(long, value_name = "PREFIX")]
    pub secrets_prefix: Option<String>,

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

/// What the stdin document may say about the cluster from an earlier run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterInput {
    pub name: Option<String>,
    pub version: Option<String>,
    pub region: Option<String>,
    /// `cluster.addons` of an earlier run: an object keyed by add-on name (documents from before
    /// add-ons had the EKS managed add-ons there, as a list: ignored).
    pub addons: Option<serde_json::Value>,
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
        Ok(Spec {
            version,
            subnet_ids,
            instance_types: args.instance_types.clone().unwrap_or_else(|| vec![DEFAULT_INSTANCE_TYPE.into()]),
            nodes: args.nodes.unwrap_or(Scaling::DEFAULT),
            ami_type: args.ami_type,
            endpoint_access: args.endpoint_access,
            public_access_cidrs: args.public_access_cidrs.clone().unwrap_or_else(|| vec!["0.0.0.0/0".into()]),
            secrets_encryption: !args.no_secrets_encryption,
            addons: resolve_addons(args, earlier.addons.as_ref().and_then(|a| a.as_object()), &name)?,
            name,
        })
    }
}

/// The add-ons: `--addon` plus those of the document (a re-run keeps them); with --delete only
/// the flags name what to delete. cert-manager's zone and external-secrets' prefix likewise.
fn resolve_addons(
    args: &Args,
    earlier: Option<&serde_json::Map<String, serde_json::Value>>,
    stack: &str,
) -> Result<AddonsSpec, InputError> {
    let mut set: std::collections::BTreeSet<Addon> = args.addons.iter().copied().collect();
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
    let secrets_prefix = args
        .secrets_prefix
        .clone()
        .or_else(|| earlier_field(Addon::ExternalSecrets, "secrets_prefix"))
        .unwrap_or_else(|| format!("ekskit/{stack}/"));
    addons::check_secrets_prefix(&secrets_prefix)?;
    Ok(AddonsSpec { addons: set, hosted_zone_id, secrets_prefix })
}

/// `1.35` and the like: major 1, a minor EKS could offer.
pub fn validate_version(version: &str) -> Result<(), InputError> {
    let minor = version.strip_prefix("1.").and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(m) if (23..100).contains(&m) && !version.ends_with('.') => Ok(()),
        _ => Err(InputError::new(format!("--version `{version}` is not a Kubernetes version like 1.35"))
            .hint("EKS standard support in late 2026: 1.35, 1.36, 1.37")),
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
