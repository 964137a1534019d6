//! `vpc`, written by mkvpc: everything it created, by zone and tier; `plan.vpc` (with
//! `--dry-run`) and `deleted.vpc` (with `--delete`). [`VpcRef`] is what mkeks reads of it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deleted::Deleted;
use crate::plan::PlannedAction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum NatMode {
    /// One NAT gateway for all private subnets (cheapest; one zone's outage cuts egress).
    Single,
    /// One NAT gateway per zone (survives a zone outage; costs a gateway per zone).
    Ha,
    /// No NAT: private subnets have no route to the internet (use VPC endpoints).
    None,
}

impl NatMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NatMode::Single => "single",
            NatMode::Ha => "ha",
            NatMode::None => "none",
        }
    }
}

/// VPC endpoints mkvpc can add so nodes reach AWS without NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// S3 gateway endpoint (free; image layers from ECR come from S3).
    S3,
    /// ECR API and ECR Docker interface endpoints.
    Ecr,
    /// STS interface endpoint (Pod Identity and IRSA token exchange).
    Sts,
}

impl EndpointKind {
    /// The service name suffixes behind this choice: `com.amazonaws.<region>.<suffix>`.
    pub fn services(self) -> &'static [&'static str] {
        match self {
            EndpointKind::S3 => &["s3"],
            EndpointKind::Ecr => &["ecr.api", "ecr.dkr"],
            EndpointKind::Sts => &["sts"],
        }
    }
}

/// `vpc`: everything mkvpc created, by zone and tier, for the next tool (mkeks) and for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VpcDoc {
    /// The ekskit stack that owns the VPC (`ekskit.io/stack` tag).
    pub stack: String,
    pub region: String,
    pub id: String,
    pub cidr: String,
    /// Zone names, in the order subnets were planned.
    pub azs: Vec<String>,
    pub nat: NatMode,
    pub subnets: Subnets,
    pub internet_gateway: String,
    pub nat_gateways: Vec<NatGatewayDoc>,
    pub route_tables: RouteTables,
    pub endpoints: Vec<EndpointDoc>,
    /// The security group of the interface endpoints, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_security_group: Option<String>,
    /// The ownership tags every resource of the stack carries.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subnets {
    pub public: Vec<SubnetDoc>,
    pub private: Vec<SubnetDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubnetDoc {
    pub id: String,
    pub az: String,
    pub az_id: String,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NatGatewayDoc {
    pub id: String,
    pub az: String,
    pub subnet_id: String,
    pub allocation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RouteTables {
    pub public: String,
    pub private: Vec<PrivateRouteTable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrivateRouteTable {
    pub id: String,
    pub az: String,
    /// The NAT gateway its default route goes to; absent with `--nat none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointDoc {
    /// Full service name, e.g. `com.amazonaws.us-east-1.s3`.
    pub service: String,
    pub id: String,
    /// `Gateway` or `Interface`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// What mkvpc reads of a `vpc` key it finds on stdin (its own earlier output): enough to
/// re-run or delete the same stack without repeating the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VpcInput {
    pub stack: Option<String>,
    pub region: Option<String>,
    pub cidr: Option<String>,
    pub nat: Option<NatMode>,
    pub endpoints: Option<Vec<EndpointRef>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EndpointRef {
    pub service: String,
}

impl EndpointKind {
    /// The choice behind a full service name such as `com.amazonaws.us-east-1.ecr.dkr`.
    pub fn from_service(service: &str) -> Option<Self> {
        [EndpointKind::S3, EndpointKind::Ecr, EndpointKind::Sts]
            .into_iter()
            .find(|k| k.services().iter().any(|s| service.ends_with(&format!(".{s}"))))
    }
}

/// `plan.vpc`: what `--dry-run` found and would do, changing nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    pub stack: String,
    pub region: String,
    /// `create` (converge to the flags) or `delete`.
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatMode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointKind>,
    pub actions: Vec<PlannedAction>,
}

/// `deleted.vpc`: what `--delete` removed, each resource by kind and id.
pub type DeletedDoc = Deleted<Removed>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Removed {
    pub kind: String,
    pub id: String,
}

/// What mkeks reads of `vpc`: the stack (the cluster's default name) and the private subnets
/// the cluster runs in. Only these fields, so mkeks needs nothing else of mkvpc.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VpcRef {
    pub stack: String,
    pub id: String,
    pub subnets: SubnetsRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubnetsRef {
    pub private: Vec<SubnetRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubnetRef {
    pub id: String,
    pub az: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vpc_document_validates_against_its_schema() {
        let doc = VpcDoc {
            stack: "demo".into(),
            region: "us-east-1".into(),
            id: "vpc-1".into(),
            cidr: "10.0.0.0/16".into(),
            azs: vec!["us-east-1a".into()],
            nat: NatMode::Single,
            subnets: Subnets { public: vec![], private: vec![] },
            internet_gateway: "igw-1".into(),
            nat_gateways: vec![],
            route_tables: RouteTables { public: "rtb-1".into(), private: vec![] },
            endpoints: vec![],
            endpoint_security_group: None,
            tags: BTreeMap::new(),
        };
        let schema = serde_json::to_value(schemars::schema_for!(VpcDoc)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&serde_json::to_value(&doc).unwrap()));
        assert!(!validator.is_valid(&serde_json::json!({"id": 5})));
    }
}
