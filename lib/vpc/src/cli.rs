//! mkvpc's flags, and how flags and the stdin document resolve into one [`Spec`].

use std::time::Duration;

use clap::Parser;
use ekskit_aws::AwsArgs;
use ekskit_core::cli::{Delete, DryRun, ExitCodes, GlobalArgs, StdinDash, Timeout, after_help, for_arg};
use ekskit_core::stack::validate_stack_name;
use ekskit_core::{Document, InputError};
use ipnet::Ipv4Net;

use crate::model::{EndpointKind, NatMode, VpcInput};
use crate::plan::{AzChoice, parse_vpc_cidr};

const EXAMPLES: &str = "\
Examples:
  mkvpc --name demo                                 # 3 zones, one NAT gateway
  mkvpc --name demo --nat ha --endpoints s3,ecr,sts # NAT per zone, private access to ECR/S3/STS
  mkvpc --name demo --azs us-east-1a,us-east-1b --cidr 10.20.0.0/16
  mkvpc --name demo --dry-run | jq .plan.vpc.actions
  mkvpc --name demo | mkeks | jq .cluster           # the document flows on
  mkvpc --delete < demo.json                        # stack and region from the document

Output: the stdin document (kept whole) plus the `vpc` key; see schemas/vpc.schema.json.";

const EXIT_CODES: ExitCodes =
    ExitCodes { failure: "failure (nothing half-made that a re-run does not finish)", ..ExitCodes::DEFAULT };

/// Create, converge or delete the VPC an EKS cluster runs in.
///
/// Creates a VPC with a public and a private subnet per availability zone, an internet
/// gateway, NAT gateway(s) with Elastic IPs, route tables and optional VPC endpoints, all
/// tagged `ekskit.io/stack=<name>`. Re-running converges: it finds its resources by tag and
/// creates only what is missing. Reads the JSON document from stdin when piped, writes it to
/// stdout with the `vpc` key added; logs go to stderr.
#[derive(Debug, Parser)]
#[command(name = "mkvpc", version, after_help = after_help(EXAMPLES, EXIT_CODES))]
#[command(mut_args(for_arg("dry_run", |a| a.help("Print the plan as JSON (`plan.vpc`) and change nothing"))))]
#[command(mut_args(for_arg("delete", |a| a
    .help("Delete everything the stack owns, first what Kubernetes left in the VPC")
    .conflicts_with_all(["cidr", "azs", "endpoints"]))))]
#[command(mut_args(for_arg("timeout", |a| a
    .help("Longest wait for one resource to change state (e.g. 10m, 90s)")
    .default_value("15m"))))]
pub struct Args {
    /// Stack name; tags every resource and names the cluster later [default: `vpc.stack` from stdin]
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,

    /// VPC IPv4 CIDR, /16 to /28 [default: 10.0.0.0/16]
    #[arg(long, value_name = "CIDR")]
    pub cidr: Option<String>,

    /// Availability zones: a count, or zone names/IDs separated by commas [default: 3, fewer where the region has fewer]
    #[arg(long, value_name = "N|ZONES")]
    pub azs: Option<String>,

    /// NAT gateways for the private subnets [default: `vpc.nat` from stdin, else single]
    #[arg(long, value_enum, value_name = "MODE")]
    pub nat: Option<NatMode>,

    /// VPC endpoints to add, separated by commas [default: those in `vpc.endpoints` from stdin]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub endpoints: Option<Vec<EndpointKind>>,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub delete: Delete,

    #[command(flatten)]
    pub timeout: Timeout,

    #[command(flatten)]
    pub stdin: StdinDash,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub lease: ekskit_aws::lease::LeaseArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// The resolved request: flags over the stdin document over defaults, all validated.
#[derive(Debug, Clone)]
pub struct Spec {
    pub stack: String,
    pub cidr: Ipv4Net,
    pub azs: AzChoice,
    pub nat: NatMode,
    pub endpoints: Vec<EndpointKind>,
    pub timeout: Duration,
}

impl Spec {
    pub fn resolve(args: &Args, input: &VpcInput) -> Result<Self, InputError> {
        let stack = args.name.clone().or_else(|| input.stack.clone()).ok_or_else(|| {
            InputError::new("no stack name").hint("pass --name NAME, or pipe a document that has `vpc.stack`")
        })?;
        validate_stack_name(&stack)?;
        let cidr_text = args.cidr.as_deref().or(input.cidr.as_deref()).unwrap_or("10.0.0.0/16");
        let cidr = parse_vpc_cidr(cidr_text)?;
        let azs = match &args.azs {
            Some(text) => AzChoice::parse(text)?,
            None => AzChoice::Default,
        };
        let from_doc = || {
            let services = input.endpoints.iter().flatten();
            services.filter_map(|e| EndpointKind::from_service(&e.service)).collect::<Vec<_>>()
        };
        let mut endpoints = args.endpoints.clone().unwrap_or_else(from_doc);
        endpoints.sort();
        endpoints.dedup();
        let nat = args.nat.or(input.nat).unwrap_or(NatMode::Single);
        Ok(Self { stack, cidr, azs, nat, endpoints, timeout: args.timeout.limit })
    }
}

/// Reads the `vpc` key of the document, if any, checking its shape.
pub fn vpc_input(doc: &Document) -> Result<VpcInput, InputError> {
    Ok(doc.get::<VpcInput>("vpc")?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EndpointRef;

    fn args(line: &str) -> Args {
        Args::try_parse_from(std::iter::once("mkvpc").chain(line.split_whitespace())).unwrap()
    }

    #[test]
    fn flags_override_the_document() {
        let input =
            VpcInput { stack: Some("from-doc".into()), cidr: Some("10.9.0.0/16".into()), ..VpcInput::default() };
        let spec = Spec::resolve(&args("--name demo"), &input).unwrap();
        assert_eq!(spec.stack, "demo");
        assert_eq!(spec.cidr.to_string(), "10.9.0.0/16");
        let spec = Spec::resolve(&args("--cidr 10.1.0.0/16"), &input).unwrap();
        assert_eq!((spec.stack.as_str(), spec.cidr.to_string().as_str()), ("from-doc", "10.1.0.0/16"));
    }

    #[test]
    fn nat_and_endpoints_default_to_the_document() {
        let input = VpcInput {
            stack: Some("demo".into()),
            nat: Some(NatMode::Ha),
            endpoints: Some(vec![
                EndpointRef { service: "com.amazonaws.us-east-1.ecr.api".into() },
                EndpointRef { service: "com.amazonaws.us-east-1.ecr.dkr".into() },
            ]),
            ..VpcInput::default()
        };
        let spec = Spec::resolve(&args(""), &input).unwrap();
        assert_eq!((spec.nat, spec.endpoints), (NatMode::Ha, vec![EndpointKind::Ecr]));
        let spec = Spec::resolve(&args("--nat none --endpoints s3"), &input).unwrap();
        assert_eq!((spec.nat, spec.endpoints), (NatMode::None, vec![EndpointKind::S3]));
    }

    #[test]
    fn a_name_is_required() {
        let err = Spec::resolve(&args(""), &VpcInput::default()).unwrap_err();
        assert_eq!(err.message, "no stack name");
    }

    #[test]
    fn endpoints_parse_as_a_list() {
        let spec = Spec::resolve(&args("-n d --endpoints sts,s3 --endpoints s3"), &VpcInput::default()).unwrap();
        assert_eq!(spec.endpoints, [EndpointKind::S3, EndpointKind::Sts]);
    }

    #[test]
    fn delete_excludes_what_only_creating_uses() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["mkvpc", "--delete", "--cidr", "10.0.0.0/16"]).is_err());
        assert_eq!(args("--delete -").timeout.limit, Duration::from_secs(900));
    }

    #[test]
    fn unknown_nat_modes_are_usage_errors() {
        let err = Args::try_parse_from(["mkvpc", "--nat", "double"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
