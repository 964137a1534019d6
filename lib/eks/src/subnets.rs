//! Checks made before anything is created: the subnets exist and span two zones or more, and
//! every node instance type is offered in each of those zones (a quota-like failure eksctl
//! users meet only when the node group fails half an hour in).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, LocationType};
use ekskit_aws::AwsResultExt;
use ekskit_core::InputError;

use crate::cli::Spec;

pub async fn check(ec2: &Client, spec: &Spec) -> anyhow::Result<()> {
    let found = ec2
        .describe_subnets()
        .filters(Filter::builder().name("subnet-id").set_values(Some(spec.subnet_ids.clone())).build())
        .send()
        .await
        .aws("reading the cluster's subnets")?;
    let zones: BTreeMap<&str, &str> =
        found.subnets().iter().filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?))).collect();
    let missing: Vec<&str> = spec.subnet_ids.iter().map(String::as_str).filter(|id| !zones.contains_key(id)).collect();
    if !missing.is_empty() {
        return Err(InputError::new(format!("subnets not found: {}", missing.join(", ")))
            .hint("check --subnet-ids (or the `vpc` key) and the region")
            .into());
    }
    let azs: BTreeSet<&str> = zones.values().copied().collect();
    if azs.len() < 2 {
        return Err(InputError::new(format!(
            "the subnets are all in {}; EKS needs two availability zones or more",
            azs.iter().next().unwrap_or(&"one zone")
        ))
        .hint("add a subnet in another zone")
        .into());
    }
    let offered = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(Filter::builder().name("instance-type").set_values(Some(spec.instance_types.clone())).build())
        .filters(
            Filter::builder().name("location").set_values(Some(azs.iter().map(|z| z.to_string()).collect())).build(),
        )
        .send()
        .await
        .aws("reading which zones offer the node instance types")?;
    let have: BTreeSet<(String, String)> = offered
        .instance_type_offerings()
        .iter()
        .filter_map(|o| Some((o.instance_type()?.as_str().to_owned(), o.location()?.to_owned())))
        .collect();
    let mut gaps = Vec::new();
    for t in &spec.instance_types {
        let lacking: Vec<&str> =
            azs.iter().copied().filter(|z| !have.contains(&(t.clone(), (*z).to_owned()))).collect();
        if !lacking.is_empty() {
            gaps.push(format!("{t} is not offered in {}", lacking.join(", ")));
        }
    }
    if !gaps.is_empty() {
        return Err(InputError::new(gaps.join("; "))
            .hint(
                "pick --instance-types offered in every zone of the subnets (aws ec2 describe-instance-type-offerings)",
            )
            .into());
    }
    Ok(())
}
