//! The tags each resource of the stack carries, and TagSpecifications to set them at creation.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use ekskit_core::stack::{AZ_TAG, ROLE_TAG, ownership_tags};

use crate::plan::Tier;

pub const TOOL: &str = "mkvpc";

/// On the VPC: the zones of the stack, in plan order, written when the VPC is created, so a
/// re-run without `--azs` (or one resuming a killed run) plans the same subnets.
pub const AZS_TAG: &str = "ekskit.io/azs";

/// Builds the tag set of one resource.
pub struct Tags {
    pairs: Vec<(String, String)>,
}

impl Tags {
    /// Ownership, role, `Name=<stack>-<suffix>`, and the zone for per-zone resources.
    pub fn new(stack: &str, role: &str, az: Option<&str>, name_suffix: &str) -> Self {
        let mut pairs = ownership_tags(stack, TOOL);
        pairs.push((ROLE_TAG.to_owned(), role.to_owned()));
        if let Some(az) = az {
            pairs.push((AZ_TAG.to_owned(), az.to_owned()));
        }
        pairs.push(("Name".to_owned(), format!("{stack}-{name_suffix}")));
        Self { pairs }
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// The tags Kubernetes looks for: load balancer placement and cluster discovery.
    pub fn kubernetes_subnet(self, stack: &str, tier: Tier) -> Self {
        let lb_role = match tier {
            Tier::Public => "kubernetes.io/role/elb",
            Tier::Private => "kubernetes.io/role/internal-elb",
        };
        self.with(lb_role, "1").with(format!("kubernetes.io/cluster/{stack}"), "shared")
    }

    pub fn to_tags(&self) -> Vec<Tag> {
        self.pairs.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
    }

    pub fn spec(&self, resource: ResourceType) -> TagSpecification {
        TagSpecification::builder().resource_type(resource).set_tags(Some(self.to_tags())).build()
    }

    /// Tags of `self` that `have` lacks or has with another value.
    pub fn missing_from(&self, have: &[Tag]) -> Vec<Tag> {
        self.to_tags()
            .into_iter()
            .filter(|want| !have.iter().any(|h| h.key() == want.key() && h.value() == want.value()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_tags_carry_ownership_role_zone_and_kubernetes_discovery() {
        let tags = Tags::new("demo", "subnet-public", Some("us-east-1a"), "public-us-east-1a")
            .kubernetes_subnet("demo", Tier::Public)
            .to_tags();
        let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
        assert_eq!(
            pairs,
            [
                ("ekskit.io/stack", "demo"),
                ("ekskit.io/managed-by", "mkvpc"),
                ("ekskit.io/role", "subnet-public"),
                ("ekskit.io/az", "us-east-1a"),
                ("Name", "demo-public-us-east-1a"),
                ("kubernetes.io/role/elb", "1"),
                ("kubernetes.io/cluster/demo", "shared"),
            ]
        );
    }

    #[test]
    fn missing_tags_are_the_absent_or_different_ones() {
        let want = Tags::new("demo", "vpc", None, "vpc");
        let have = vec![
            Tag::builder().key("ekskit.io/stack").value("demo").build(),
            Tag::builder().key("Name").value("renamed").build(),
        ];
        let missing: Vec<_> = want.missing_from(&have).into_iter().map(|t| t.key.unwrap()).collect();
        assert_eq!(missing, ["ekskit.io/managed-by", "ekskit.io/role", "Name"]);
    }
}
