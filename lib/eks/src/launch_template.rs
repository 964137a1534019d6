//! The node group's launch template: IMDSv2 only, with a hop limit of 1, so a Pod (one hop
//! further than the node) cannot read the node role's credentials from the instance metadata
//! service. Without a launch template EKS sets the hop limit to 2 and every Pod could. It names no
//! AMI, instance type or security group: EKS fills those in as for a node group without one.
//! Instances and volumes carry the stack's ownership tags through it.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, LaunchTemplate, LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, Tag, TagSpecification,
};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::info;

use crate::TOOL;
use crate::names::bounded_name;

/// The metadata service answers one hop away: the node itself, not the Pods on it.
pub const HOP_LIMIT: i32 = 1;

/// `ekskit-<stack>-nodes`; launch template names allow 128 characters.
pub fn name(stack: &str) -> String {
    bounded_name(stack, "nodes", 128)
}

fn tags(stack: &str) -> Vec<Tag> {
    ownership_tags(stack, TOOL).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// What every instance of the node group starts with.
pub fn data(stack: &str) -> RequestLaunchTemplateData {
    let metadata = LaunchTemplateInstanceMetadataOptionsRequest::builder()
        .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
        .http_tokens(LaunchTemplateHttpTokensState::Required)
        .http_put_response_hop_limit(HOP_LIMIT)
        .build();
    let tagged =
        |kind| LaunchTemplateTagSpecificationRequest::builder().resource_type(kind).set_tags(Some(tags(stack))).build();
    RequestLaunchTemplateData::builder()
        .metadata_options(metadata)
        .tag_specifications(tagged(ResourceType::Instance))
        .tag_specifications(tagged(ResourceType::Volume))
        .build()
}

/// The stack's launch template when there is one; an error when one of that name is not ours.
pub async fn find(ec2: &Client, stack: &str) -> anyhow::Result<Option<LaunchTemplate>> {
    let name = name(stack);
    let out = ec2
        .describe_launch_templates()
        .filters(Filter::builder().name("launch-template-name").values(&name).build())
        .send()
        .await
        .aws(format!("reading launch template {name}"))?;
    let Some(found) = out.launch_templates().first() else { return Ok(None) };
    let ours = found.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack));
    if !ours {
        return Err(Hinted::new(
            format!("launch template {name} exists but does not carry {STACK_TAG}={stack}"),
            "it was not made by mkeks; delete or rename it, or pick another --name",
        )
        .into());
    }
    Ok(Some(found.clone()))
}

/// The launch template's id, created when missing. The client token makes a retry after a lost
/// answer return the template the first attempt made.
pub async fn ensure(ec2: &Client, stack: &str) -> anyhow::Result<String> {
    if let Some(id) = find(ec2, stack).await?.and_then(|t| t.launch_template_id) {
        return Ok(id);
    }
    let name = name(stack);
    info!("creating launch template {name} (IMDSv2 only, hop limit {HOP_LIMIT})");
    let created = ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(data(stack))
        .tag_specifications(
            TagSpecification::builder().resource_type(ResourceType::LaunchTemplate).set_tags(Some(tags(stack))).build(),
        )
        .client_token(bounded_name(stack, "nodes-lt", 64))
        .send()
        .await
        .aws(format!("creating launch template {name}"));
    match created {
        Ok(out) => out
            .launch_template
            .and_then(|t| t.launch_template_id)
            .ok_or_else(|| anyhow::anyhow!("creating launch template {name}: EC2 answered without the template's id")),
        // A killed run made it after this run looked: it is found by name now.
        Err(e) if aws_code(&e) == Some("InvalidLaunchTemplateName.AlreadyExistsException") => find(ec2, stack)
            .await?
            .and_then(|t| t.launch_template_id)
            .ok_or_else(|| anyhow::anyhow!("launch template {name} exists but cannot be read back; run mkeks again")),
        Err(e) => Err(e),
    }
}

/// Deletes the launch template (after the node group that uses it); returns whether there was one.
/// Someone else's template of that name is left alone.
pub async fn delete(ec2: &Client, stack: &str) -> anyhow::Result<bool> {
    let found = match find(ec2, stack).await {
        Err(e) if e.is::<Hinted>() => return Ok(false),
        other => other?,
    };
    let Some(id) = found.and_then(|t| t.launch_template_id) else { return Ok(false) };
    info!("deleting launch template {}", name(stack));
    let deleted = ec2.delete_launch_template().launch_template_id(&id).send().await;
    match deleted.aws(format!("deleting launch template {} ({id})", name(stack))) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("InvalidLaunchTemplateId.NotFound") => Ok(true),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_require_imdsv2_one_hop_away_and_carry_the_stack_tags() {
        let data = data("demo");
        let md = data.metadata_options().expect("metadata options are set");
        assert_eq!(md.http_tokens(), Some(&LaunchTemplateHttpTokensState::Required));
        assert_eq!(md.http_put_response_hop_limit(), Some(1));
        assert_eq!(md.http_endpoint(), Some(&LaunchTemplateInstanceMetadataEndpointState::Enabled));
        let kinds: Vec<_> = data.tag_specifications().iter().filter_map(|t| t.resource_type().cloned()).collect();
        assert_eq!(kinds, [ResourceType::Instance, ResourceType::Volume]);
        for spec in data.tag_specifications() {
            assert!(spec.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some("demo")));
        }
        // EKS refuses a launch template that names what the node group sets itself.
        assert!(data.iam_instance_profile().is_none() && data.image_id().is_none());
        assert!(data.network_interfaces().is_empty() && data.instance_type().is_none());
    }

    #[test]
    fn the_name_and_token_fit_ec2s_limits() {
        assert_eq!(name("demo"), "ekskit-demo-nodes");
        let long = "a".repeat(200);
        assert!(name(&long).len() <= 128);
        assert!(bounded_name(&long, "nodes-lt", 64).len() <= 64);
    }
}
