//! Karpenter's AWS side besides its controller role: the role of the nodes it launches, with an
//! EC2_LINUX access entry so they can join; the SQS interruption queue and the four EventBridge
//! rules that feed it (spot interruptions, rebalance recommendations, instance state changes,
//! AWS Health scheduled changes); and the `karpenter.sh/discovery` tag on the cluster's subnets
//! and security group, which the EC2NodeClass selects by. All owned and deleted by mkeks.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::info;

use super::Account;
use crate::access;
use crate::iam::{self, RoleKind};
use crate::model::PlannedAction;
use crate::names::bounded_name;
use crate::{Clients, TOOL};

/// The tag Karpenter's EC2NodeClass selects subnets and security groups by.
pub const DISCOVERY_TAG: &str = "karpenter.sh/discovery";

/// The events Karpenter acts on: (rule suffix, source, detail-type).
const RULES: [(&str, &str, &str); 4] = [
    ("karpenter-health", "aws.health", "AWS Health Event"),
    ("karpenter-spot", "aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("karpenter-rebalance", "aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("karpenter-state", "aws.ec2", "EC2 Instance State-change Notification"),
];
const TARGET_ID: &str = "karpenter-interruption-queue";

pub fn queue_name(stack: &str) -> String {
    bounded_name(stack, "karpenter", 80)
}

fn rule_name(stack: &str, suffix: &str) -> String {
    bounded_name(stack, suffix, 64)
}

/// What the Karpenter entry of `cluster.addons` and its policy need.
pub struct KarpenterSide {
    pub queue_name: String,
    pub queue_arn: String,
    pub node_role_arn: String,
}

pub async fn ensure(
    aws: &Clients,
    stack: &str,
    account: &Account,
    subnets: &[String],
    security_group: Option<&str>,
) -> anyhow::Result<KarpenterSide> {
    let trust = iam::Trust { account, cluster: stack, auto_mode: false };
    let node_role_arn = iam::ensure(&aws.iam, stack, RoleKind::KarpenterNode, &trust).await?;
    ensure_access_entry(&aws.eks, stack, &node_role_arn).await?;
    let (queue_name, queue_arn) = ensure_queue(&aws.sqs, stack, account).await?;
    for (suffix, source, detail_type) in RULES {
        ensure_rule(&aws.events, stack, &rule_name(stack, suffix), source, detail_type, &queue_arn).await?;
    }
    let mut resources = subnets.to_vec();
    resources.extend(security_group.map(str::to_owned));
    if !resources.is_empty() {
        let tag = aws_sdk_ec2::types::Tag::builder().key(DISCOVERY_TAG).value(stack).build();
        aws.ec2
            .create_tags()
            .set_resources(Some(resources))
            .tags(tag)
            .send()
            .await
            .aws(format!("tagging the subnets and security group of {stack} with {DISCOVERY_TAG}"))?;
    }
    Ok(KarpenterSide { queue_name, queue_arn, node_role_arn })
}

/// The ARNs of the stack's four EventBridge rules (on the default bus).
fn rule_arns(stack: &str, account: &Account) -> Vec<String> {
    let prefix = format!("arn:{}:events:{}:{}:rule/", account.partition, account.region, account.id);
    RULES.iter().map(|(suffix, ..)| format!("{prefix}{}", rule_name(stack, suffix))).collect()
}

/// EventBridge may send only from the stack's own rules (SourceArn, as EventBridge documents for
/// an SQS target), not from any rule of any account that names the queue. SQS's own principal
/// stays as in Karpenter's template.
fn queue_policy(queue_arn: &str, rules: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "KarpenterInterruptionQueue",
        "Statement": [
            {"Sid": "EventBridgeSends", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": queue_arn,
             "Condition": {"ArnEquals": {"aws:SourceArn": rules}}},
            {"Sid": "SqsSends", "Effect": "Allow", "Principal": {"Service": "sqs.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": queue_arn},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    })
    .to_string()
}

fn queue_attributes(queue_arn: &str, rules: &[String]) -> HashMap<QueueAttributeName, String> {
    HashMap::from([
        // Interruption notices are worth nothing after minutes: keep them five.
        (QueueAttributeName::MessageRetentionPeriod, "300".to_owned()),
        (QueueAttributeName::SqsManagedSseEnabled, "true".to_owned()),
        (QueueAttributeName::Policy, queue_policy(queue_arn, rules)),
    ])
}

async fn find_queue(sqs: &aws_sdk_sqs::Client, stack: &str) -> anyhow::Result<Option<String>> {
    let name = queue_name(stack);
    let url = match sqs.get_queue_url().queue_name(&name).send().await.aws(format!("looking up SQS queue {name}")) {
        Ok(out) => out.queue_url.unwrap_or_default(),
        Err(e) if matches!(aws_code(&e), Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let tags = sqs.list_queue_tags().queue_url(&url).send().await.aws(format!("reading the tags of {name}"))?;
    if tags.tags().and_then(|t| t.get(STACK_TAG)).map(String::as_str) != Some(stack) {
        return Err(Hinted::new(
            format!("SQS queue {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that queue",
        )
        .into());
    }
    Ok(Some(url))
}

async fn ensure_queue(sqs: &aws_sdk_sqs::Client, stack: &str, account: &Account) -> anyhow::Result<(String, String)> {
    let name = queue_name(stack);
    let arn = format!("arn:{}:sqs:{}:{}:{name}", account.partition, account.region, account.id);
    let attributes = queue_attributes(&arn, &rule_arns(stack, account));
    match find_queue(sqs, stack).await? {
        Some(url) => {
            sqs.set_queue_attributes()
                .queue_url(url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .aws(format!("updating SQS queue {name}"))?;
        }
        None => {
            info!("creating SQS queue {name}");
            sqs.create_queue()
                .queue_name(&name)
                .set_attributes(Some(attributes))
                .set_tags(Some(ownership_tags(stack, TOOL).into_iter().collect()))
                .send()
                .await
                .aws(format!("creating SQS queue {name}"))?;
        }
    }
    Ok((name, arn))
}

async fn rule_is_ours(events: &aws_sdk_eventbridge::Client, stack: &str, name: &str) -> anyhow::Result<Option<bool>> {
    let rule = match events.describe_rule().name(name).send().await.aws(format!("reading EventBridge rule {name}")) {
        Ok(out) => out,
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let tags = events
        .list_tags_for_resource()
        .resource_arn(rule.arn().unwrap_or_default())
        .send()
        .await
        .aws(format!("reading the tags of EventBridge rule {name}"))?;
    Ok(Some(tags.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack)))
}

async fn ensure_rule(
    events: &aws_sdk_eventbridge::Client,
    stack: &str,
    name: &str,
    source: &str,
    detail_type: &str,
    queue_arn: &str,
) -> anyhow::Result<()> {
    let existed = match rule_is_ours(events, stack, name).await? {
        Some(false) => {
            return Err(Hinted::new(
                format!("EventBridge rule {name} exists but does not carry {STACK_TAG}={stack}"),
                "it belongs to something else: pick another --name, or delete or tag that rule",
            )
            .into());
        }
        Some(true) => true,
        None => false,
    };
    if !existed {
        info!("creating EventBridge rule {name}");
    }
    let pattern = serde_json::json!({"source": [source], "detail-type": [detail_type]}).to_string();
    let tags: Vec<aws_sdk_eventbridge::types::Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| aws_sdk_eventbridge::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()?;
    // PutRule and PutTargets replace what is there: the same call creates and converges.
    events
        .put_rule()
        .name(name)
        .event_pattern(pattern)
        .description(format!("{detail_type} to Karpenter of ekskit stack {stack}"))
        .set_tags((!existed).then_some(tags))
        .send()
        .await
        .aws(format!("putting EventBridge rule {name}"))?;
    let target = aws_sdk_eventbridge::types::Target::builder().id(TARGET_ID).arn(queue_arn).build()?;
    events
        .put_targets()
        .rule(name)
        .targets(target)
        .send()
        .await
        .aws(format!("pointing EventBridge rule {name} at the interruption queue"))?;
    Ok(())
}

async fn ensure_access_entry(eks: &aws_sdk_eks::Client, stack: &str, role: &str) -> anyhow::Result<()> {
    if access::find(eks, stack, role).await?.is_none() {
        access::create(eks, stack, role, Some("EC2_LINUX")).await?;
    }
    Ok(())
}

/// Deletes everything [`ensure`] made except the controller role; returns `kind name` of each.
pub async fn delete(aws: &Clients, stack: &str, cluster_exists: bool) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    for (suffix, ..) in RULES {
        let name = rule_name(stack, suffix);
        if rule_is_ours(&aws.events, stack, &name).await? != Some(true) {
            continue;
        }
        info!("deleting EventBridge rule {name}");
        aws.events
            .remove_targets()
            .rule(&name)
            .ids(TARGET_ID)
            .send()
            .await
            .aws(format!("removing the target of EventBridge rule {name}"))?;
        aws.events.delete_rule().name(&name).send().await.aws(format!("deleting EventBridge rule {name}"))?;
        gone.push(format!("event-rule {name}"));
    }
    if let Some(url) =
        find_queue(&aws.sqs, stack).await.or_else(|e| if e.is::<Hinted>() { Ok(None) } else { Err(e) })?
    {
        info!("deleting SQS queue {}", queue_name(stack));
        aws.sqs.delete_queue().queue_url(url).send().await.aws(format!("deleting SQS queue {}", queue_name(stack)))?;
        gone.push(format!("sqs-queue {}", queue_name(stack)));
    }
    let node = RoleKind::KarpenterNode;
    let role = if cluster_exists { iam::find(&aws.iam, stack, node).await.ok().flatten() } else { None };
    if let Some(role) = role
        && access::find(&aws.eks, stack, &role).await?.is_some()
    {
        aws.eks
            .delete_access_entry()
            .cluster_name(stack)
            .principal_arn(&role)
            .send()
            .await
            .aws(format!("deleting the access entry of {role}"))?;
        gone.push(format!("access-entry {}", node.role_name(stack)));
    }
    if iam::delete(&aws.iam, stack, node).await? {
        gone.push(format!("iam-role {}", node.role_name(stack)));
    }
    gone.extend(untag_discovery(&aws.ec2, stack).await?);
    Ok(gone)
}

/// Removes `karpenter.sh/discovery=<stack>` from every subnet and security group carrying it.
async fn untag_discovery(ec2: &aws_sdk_ec2::Client, stack: &str) -> anyhow::Result<Vec<String>> {
    let filter = aws_sdk_ec2::types::Filter::builder().name(format!("tag:{DISCOVERY_TAG}")).values(stack).build();
    let subnets = ec2.describe_subnets().filters(filter.clone()).send().await.aws("finding Karpenter's subnets")?;
    let groups =
        ec2.describe_security_groups().filters(filter).send().await.aws("finding Karpenter's security groups")?;
    let mut ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    ids.extend(groups.security_groups().iter().filter_map(|g| g.group_id().map(str::to_owned)));
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tag = aws_sdk_ec2::types::Tag::builder().key(DISCOVERY_TAG).value(stack).build();
    ec2.delete_tags()
        .set_resources(Some(ids.clone()))
        .tags(tag)
        .send()
        .await
        .aws(format!("removing {DISCOVERY_TAG}={stack}"))?;
    Ok(ids.into_iter().map(|id| format!("discovery-tag {id}")).collect())
}

/// The dry-run steps for Karpenter's parts besides its controller role.
pub async fn plan(aws: &Clients, stack: &str, cluster_exists: bool) -> anyhow::Result<Vec<PlannedAction>> {
    let step = |keep: bool, kind: &str, name: String| PlannedAction::create_or_keep(keep, kind, &name, None);
    let node = RoleKind::KarpenterNode;
    let role = iam::find(&aws.iam, stack, node).await?;
    let mut steps = vec![step(role.is_some(), "iam-role", node.role_name(stack))];
    let entry = match (&role, cluster_exists) {
        (Some(arn), true) => access::find(&aws.eks, stack, arn).await?.is_some(),
        _ => false,
    };
    steps.push(step(entry, "access-entry", node.role_name(stack)));
    steps.push(step(find_queue(&aws.sqs, stack).await?.is_some(), "sqs-queue", queue_name(stack)));
    for (suffix, ..) in RULES {
        let name = rule_name(stack, suffix);
        steps.push(step(rule_is_ours(&aws.events, stack, &name).await? == Some(true), "event-rule", name));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_the_queue_only_takes_events_over_tls() {
        let long = "k".repeat(64);
        assert!(queue_name(&long).len() <= 80);
        for (suffix, ..) in RULES {
            assert!(rule_name(&long, suffix).len() <= 64, "{suffix}");
        }
        let arn = "arn:aws:sqs:eu-west-1:000000000000:ekskit-demo-karpenter";
        let account = Account { partition: "aws".into(), region: "eu-west-1".into(), id: "000000000000".into() };
        let rules = rule_arns("demo", &account);
        let policy: serde_json::Value = serde_json::from_str(&queue_policy(arn, &rules)).unwrap();
        assert_eq!(policy["Statement"][0]["Action"], "sqs:SendMessage");
        assert_eq!(policy["Statement"][0]["Resource"], arn);
        let sources = &policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"];
        assert_eq!(sources.as_array().unwrap().len(), 4);
        assert_eq!(sources[0], "arn:aws:events:eu-west-1:000000000000:rule/ekskit-demo-karpenter-health");
        assert_eq!(policy["Statement"][2]["Effect"], "Deny");
        assert_eq!(queue_attributes(arn, &rules)[&QueueAttributeName::MessageRetentionPeriod], "300");
    }
}
