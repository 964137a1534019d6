//! The AWS tools (mkvpc, mkeks with an add-on, mkpipeline) against the emulator, each in a
//! region of its own; the inventory is everything the region holds (and IAM's and S3's global
//! names that carry the stack).

use std::collections::BTreeMap;

use ekskit_tests::faults::{Service, Upstream};
use ekskit_tests::{aws_config, block_on, ok_json, run_tool, stack_env, unique_stack};

use super::{Subject, check, place};

pub(super) fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

/// A subject whose only service is the emulator, in `region`.
fn subject(
    tool: &'static str,
    region: &'static str,
    stack: &str,
    create: &[&str],
    stdin: Option<String>,
    cleanup: &[&str],
) -> Subject {
    let owned = stack.to_owned();
    Subject {
        tool,
        env: env(),
        services: vec![(Upstream::Http(env()["AWS_ENDPOINT_URL"].clone()), Service::Aws)],
        aim: Box::new(move |cmd, fronts| {
            cmd.env("AWS_ENDPOINT_URL", &fronts[0]).args(["--region", region]);
        }),
        stdin: Box::new(move |_| stdin.clone()),
        create: create.iter().map(|a| a.to_string()).collect(),
        cleanup: Some(cleanup.iter().map(|a| a.to_string()).collect()),
        reset: None,
        normalize: super::as_is,
        inventory: Box::new(move || inventory(region, &owned)),
    }
}

#[test]
fn mkvpc_killed_at_any_request_converges_and_deletes_to_nothing() {
    let stack = unique_stack("chaos").to_lowercase();
    let create = ["--name", &stack, "--nat", "single", "--endpoints", "s3,sts"];
    let region = place("eu-north-1", "eu-south-1");
    check(subject("mkvpc", region, &stack, &create, None, &["--delete", "--name", &stack]));
}

#[test]
fn mkeks_killed_at_any_request_converges_and_deletes_to_nothing() {
    let (stack, region) = (unique_stack("chaos").to_lowercase(), place("eu-west-3", "eu-central-2"));
    let vpc = run_tool("mkvpc", env(), &["--name", &stack, "--nat", "none", "--region", region], None);
    let vpc = ok_json("mkvpc", &vpc);
    let create = ["--addon", "external-secrets"];
    check(subject("mkeks", region, &stack, &create, Some(vpc.to_string()), &["--delete"]));
    let deleted = run_tool("mkvpc", env(), &["--delete", "--name", &stack, "--region", region], None);
    ok_json("mkvpc --delete", &deleted);
}

#[test]
fn mkpipeline_killed_at_any_request_converges_and_deletes_to_nothing() {
    let stack = unique_stack("chs").to_lowercase();
    let region = place("ap-northeast-2", "af-south-1");
    let secret = format!("arn:aws:secretsmanager:{region}:123456789012:secret:gitops-token-AbCdEf");
    let create = ["--name", &stack, "--repository", "acme/comments", "--token-secret", &secret];
    check(subject("mkpipeline", region, &stack, &create, None, &["--delete", "--name", &stack]));
}

/// Everything the subject's services hold in its region (and IAM's and S3's global names that
/// carry the stack), as `kind id` lines, `untagged` appended where the stack's tag is missing.
fn inventory(region: &str, stack: &str) -> Vec<String> {
    let config = aws_config(env(), region);
    let mut found = block_on(async {
        let mut found = ec2_inventory(&aws_sdk_ec2::Client::new(&config), stack).await;
        found.extend(kms_inventory(&aws_sdk_kms::Client::new(&config), stack).await);
        found.extend(eks_inventory(&aws_sdk_eks::Client::new(&config)).await);
        found.extend(iam_inventory(&aws_sdk_iam::Client::new(&config), stack).await);
        found.extend(pipeline_inventory(&config, stack).await);
        found
    });
    found.sort();
    found
}

fn mark(kind: &str, id: &str, tagged: bool) -> String {
    format!("{kind} {id}{}", if tagged { "" } else { " untagged" })
}

fn ec2_tagged(tags: &[aws_sdk_ec2::types::Tag], stack: &str) -> bool {
    tags.iter().any(|t| t.key() == Some("ekskit.io/stack") && t.value() == Some(stack))
}

/// Everything outside the region's default VPC.
async fn ec2_inventory(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let ours: Vec<&str> =
        vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)).filter_map(|v| v.vpc_id()).collect();
    for v in vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)) {
        found.push(mark("vpc", v.vpc_id().unwrap(), ec2_tagged(v.tags(), stack)));
    }
    let in_ours = |vpc: Option<&str>| vpc.is_some_and(|v| ours.contains(&v));
    for s in ec2.describe_subnets().send().await.unwrap().subnets() {
        if in_ours(s.vpc_id()) {
            found.push(mark("subnet", s.subnet_id().unwrap(), ec2_tagged(s.tags(), stack)));
        }
    }
    for i in ec2.describe_internet_gateways().send().await.unwrap().internet_gateways() {
        let default = i.attachments().iter().any(|a| !in_ours(a.vpc_id())) && !i.attachments().is_empty();
        if !default {
            found.push(mark("igw", i.internet_gateway_id().unwrap(), ec2_tagged(i.tags(), stack)));
        }
    }
    for n in ec2.describe_nat_gateways().send().await.unwrap().nat_gateways() {
        if n.state().map(|s| s.as_str()) != Some("deleted") {
            found.push(mark("nat", n.nat_gateway_id().unwrap(), ec2_tagged(n.tags(), stack)));
        }
    }
    for a in ec2.describe_addresses().send().await.unwrap().addresses() {
        found.push(mark("eip", a.allocation_id().unwrap(), ec2_tagged(a.tags(), stack)));
    }
    for r in ec2.describe_route_tables().send().await.unwrap().route_tables() {
        if in_ours(r.vpc_id()) {
            found.push(mark("rtb", r.route_table_id().unwrap(), ec2_tagged(r.tags(), stack)));
        }
    }
    for e in ec2.describe_vpc_endpoints().send().await.unwrap().vpc_endpoints() {
        if e.state().map(|s| s.as_str().to_ascii_lowercase()) != Some("deleted".into()) {
            found.push(mark("vpce", e.vpc_endpoint_id().unwrap(), ec2_tagged(e.tags(), stack)));
        }
    }
    for g in ec2.describe_security_groups().send().await.unwrap().security_groups() {
        if in_ours(g.vpc_id()) {
            found.push(mark("sg", g.group_id().unwrap(), ec2_tagged(g.tags(), stack)));
        }
    }
    for n in ec2.describe_network_interfaces().send().await.unwrap().network_interfaces() {
        if in_ours(n.vpc_id()) {
            found.push(mark("eni", n.network_interface_id().unwrap(), ec2_tagged(n.tag_set(), stack)));
        }
    }
    for t in ec2.describe_launch_templates().send().await.unwrap().launch_templates() {
        found.push(mark("launch-template", t.launch_template_id().unwrap(), ec2_tagged(t.tags(), stack)));
    }
    found
}

/// Keys not pending deletion, and the aliases that are not AWS's own.
async fn kms_inventory(kms: &aws_sdk_kms::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    for key in kms.list_keys().limit(1000).send().await.unwrap().keys() {
        let id = key.key_id().unwrap();
        let meta = kms.describe_key().key_id(id).send().await.unwrap().key_metadata.unwrap();
        if meta.key_state() == Some(&aws_sdk_kms::types::KeyState::PendingDeletion) {
            continue;
        }
        let tags = kms.list_resource_tags().key_id(id).send().await.unwrap();
        let tagged = tags.tags().iter().any(|t| t.tag_key() == "ekskit.io/stack" && t.tag_value() == stack);
        found.push(mark("kms-key", id, tagged));
    }
    for alias in kms.list_aliases().send().await.unwrap().aliases() {
        let name = alias.alias_name().unwrap_or_default();
        if !name.starts_with("alias/aws/") {
            found.push(format!("kms-alias {name}"));
        }
    }
    found
}

async fn eks_inventory(eks: &aws_sdk_eks::Client) -> Vec<String> {
    let mut found = Vec::new();
    for cluster in eks.list_clusters().send().await.unwrap().clusters() {
        found.push(format!("cluster {cluster}"));
        for ng in eks.list_nodegroups().cluster_name(cluster).send().await.unwrap().nodegroups() {
            found.push(format!("node-group {ng}"));
        }
        for addon in eks.list_addons().cluster_name(cluster).send().await.unwrap().addons() {
            found.push(format!("addon {addon}"));
        }
        let associations = eks.list_pod_identity_associations().cluster_name(cluster).send().await.unwrap();
        for a in associations.associations() {
            found.push(format!("pod-identity {}", a.service_account().unwrap_or_default()));
        }
        for entry in eks.list_access_entries().cluster_name(cluster).send().await.unwrap().access_entries() {
            found.push(format!("access-entry {entry}"));
        }
    }
    found
}

/// IAM is global: roles, instance profiles and policies named for the stack, and OIDC providers
/// tagged with it.
async fn iam_inventory(iam: &aws_sdk_iam::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut roles = iam.list_roles().into_paginator().items().send();
    while let Some(role) = roles.next().await {
        let role = role.unwrap();
        if role.role_name().contains(stack) {
            let tags = iam.list_role_tags().role_name(role.role_name()).send().await.unwrap();
            let tagged = tags.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack);
            found.push(mark("iam-role", role.role_name(), tagged));
            let policies = iam.list_role_policies().role_name(role.role_name()).send().await.unwrap();
            for p in policies.policy_names() {
                found.push(format!("iam-inline-policy {}/{p}", role.role_name()));
            }
        }
    }
    let profiles = iam.list_instance_profiles().send().await.unwrap();
    for p in profiles.instance_profiles().iter().filter(|p| p.instance_profile_name().contains(stack)) {
        found.push(format!("instance-profile {}", p.instance_profile_name()));
    }
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    for p in policies.policies().iter().filter_map(|p| p.policy_name()).filter(|n| n.contains(stack)) {
        found.push(format!("iam-policy {p}"));
    }
    for provider in iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list() {
        let arn = provider.arn().unwrap_or_default();
        let tags = iam.list_open_id_connect_provider_tags().open_id_connect_provider_arn(arn).send().await;
        if tags.is_ok_and(|t| t.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack)) {
            found.push(format!("oidc-provider {arn}"));
        }
    }
    found
}

/// S3 buckets named for the stack, and the region's CodeBuild projects, pipelines and
/// connections.
async fn pipeline_inventory(config: &aws_config::SdkConfig, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let s3 = aws_sdk_s3::Client::new(config);
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        if b.name().is_some_and(|n| n.contains(stack)) {
            found.push(format!("s3-bucket {}", b.name().unwrap()));
        }
    }
    let cb = aws_sdk_codebuild::Client::new(config);
    for p in cb.list_projects().send().await.unwrap().projects() {
        found.push(format!("codebuild-project {p}"));
    }
    let cp = aws_sdk_codepipeline::Client::new(config);
    for p in cp.list_pipelines().send().await.unwrap().pipelines() {
        found.push(format!("pipeline {}", p.name().unwrap_or_default()));
    }
    let cc = aws_sdk_codeconnections::Client::new(config);
    for c in cc.list_connections().send().await.unwrap().connections() {
        found.push(format!("connection {}", c.connection_name().unwrap_or_default()));
    }
    found
}
