//! The EKS add-ons every cluster gets: networking (vpc-cni, kube-proxy), DNS (coredns), the
//! Pod Identity agent, and the EBS CSI driver (monitoring needs volumes) with its Pod Identity
//! role. Created when missing at EKS' default version, waited for until ACTIVE with the add-on's
//! health issues as the root cause, deleted before the cluster. vpc-cni enforces NetworkPolicies
//! (it does not by default), and a re-run turns that back on if it was turned off.

use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{Addon, AddonPodIdentityAssociations, AddonStatus, ResolveConflicts};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::stack::ownership_tags;
use ekskit_core::wait::{Backoff, Check, until};
pub use ekskit_model::cluster::ManagedAddonDoc;
use tracing::info;

use crate::TOOL;
use crate::health::{failure, issue_text};
use crate::iam::EBS_CSI_SERVICE_ACCOUNT;

/// The add-ons, in the order EKS wants them: networking before DNS.
pub const ADDONS: [&str; 5] = ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"];

/// Add-ons settle faster than clusters: look every 2 s at first, at most every 15 s.
fn backoff() -> Backoff {
    Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(15), factor: 1.5 }
}

pub async fn find(eks: &Client, cluster: &str, name: &str) -> anyhow::Result<Option<Addon>> {
    let out = eks.describe_addon().cluster_name(cluster).addon_name(name).send().await;
    match out.aws(format!("reading add-on {name} of {cluster}")) {
        Ok(out) => Ok(out.addon),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The settings mkeks holds an add-on to, merged into what else its configuration values say.
/// vpc-cni's node agent enforces NetworkPolicies only with `enableNetworkPolicy`; without it
/// every policy the add-ons and monstack write is accepted and ignored.
fn settings(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "vpc-cni" => &[("enableNetworkPolicy", "true")],
        _ => &[],
    }
}

/// The configuration values to send: `have` (JSON or YAML, as EKS accepts) with mkeks' settings
/// over it; None when `have` holds them already.
pub fn configuration(name: &str, have: Option<&str>) -> anyhow::Result<Option<String>> {
    let wanted = settings(name);
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut values = match have.map(str::trim).filter(|h| !h.is_empty()) {
        None => serde_json::Map::new(),
        Some(text) => match serde_yaml::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => anyhow::bail!(
                "add-on {name}: its configuration values are not a JSON or YAML object; mend them with \
                 aws eks update-addon --configuration-values, then run mkeks again"
            ),
        },
    };
    let missing = wanted.iter().filter(|(k, v)| values.get(*k).and_then(|x| x.as_str()) != Some(*v));
    let missing: Vec<_> = missing.collect();
    if missing.is_empty() {
        return Ok(None);
    }
    for (key, value) in missing {
        values.insert((*key).to_owned(), serde_json::Value::from(*value));
    }
    Ok(Some(serde_json::Value::Object(values).to_string()))
}

/// Puts an existing add-on's settings back; its status goes UPDATING, which the wait covers.
async fn reconfigure(eks: &Client, cluster: &str, addon: &Addon) -> anyhow::Result<()> {
    let name = addon.addon_name().unwrap_or_default();
    let Some(values) = configuration(name, addon.configuration_values())? else { return Ok(()) };
    info!("updating add-on {name}: {values}");
    // OVERWRITE: these settings are what mkeks declares; a hand edit of the fields they set is
    // what is being undone.
    eks.update_addon()
        .cluster_name(cluster)
        .addon_name(name)
        .configuration_values(values)
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .send()
        .await
        .aws(format!("updating the configuration of add-on {name} on {cluster}"))?;
    Ok(())
}

/// Creates the add-ons that are missing and puts back the settings of those that are there;
/// `ebs_csi_role` goes to the EBS CSI driver.
pub async fn ensure(eks: &Client, cluster: &str, ebs_csi_role: &str) -> anyhow::Result<()> {
    for name in ADDONS {
        if let Some(addon) = find(eks, cluster, name).await? {
            reconfigure(eks, cluster, &addon).await?;
            continue;
        }
        info!("creating add-on {name}");
        let association = (name == "aws-ebs-csi-driver").then(|| {
            vec![
                AddonPodIdentityAssociations::builder()
                    .service_account(EBS_CSI_SERVICE_ACCOUNT.1)
                    .role_arn(ebs_csi_role)
                    .build()
                    .expect("service account and role are set"),
            ]
        });
        let created = eks
            .create_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .set_pod_identity_associations(association)
            .set_configuration_values(configuration(name, None)?)
            .set_tags(Some(ownership_tags(cluster, TOOL).into_iter().collect()))
            .send()
            .await
            .aws(format!("creating add-on {name} on {cluster}"));
        match created {
            Ok(_) => {}
            Err(e) if aws_code(&e) == Some("ResourceInUseException") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits for every add-on to be ACTIVE; returns them for the output.
pub async fn wait_active(eks: &Client, cluster: &str, timeout: Duration) -> anyhow::Result<Vec<ManagedAddonDoc>> {
    let mut docs = Vec::new();
    for name in ADDONS {
        let addon = until(&format!("add-on {name}"), "ACTIVE", timeout, backoff(), || async {
            Ok::<_, anyhow::Error>(addon_state(find(eks, cluster, name).await?))
        })
        .await?;
        docs.push(ManagedAddonDoc {
            name: name.to_owned(),
            version: addon.addon_version().unwrap_or_default().to_owned(),
            status: addon.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        });
    }
    Ok(docs)
}

/// ACTIVE is ready; CREATE_FAILED and DEGRADED fail with the add-on's health issues.
pub fn addon_state(addon: Option<Addon>) -> Check<Addon> {
    let Some(a) = addon else { return Check::Failed("it disappeared".into()) };
    match a.status() {
        Some(AddonStatus::Active) => Check::Ready(a),
        Some(s @ (AddonStatus::CreateFailed | AddonStatus::Degraded | AddonStatus::UpdateFailed)) => {
            Check::Failed(health_failure(&a, s))
        }
        other => Check::Pending(other.map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into())),
    }
}

/// `STATUS: issue; issue` from the add-on's health, the AWS root cause.
fn health_failure(a: &Addon, status: &AddonStatus) -> String {
    let issues = a.health().map(|h| h.issues()).unwrap_or_default();
    failure(
        status.as_str(),
        issues.iter().map(|i| issue_text(i.code().map(|c| c.as_str()), i.message(), i.resource_ids())),
    )
}

/// Gone is done; DELETE_FAILED fails with the add-on's health issues.
fn deleted_state(addon: Option<Addon>) -> Check<()> {
    match addon {
        None => Check::Ready(()),
        Some(a) if a.status() == Some(&AddonStatus::DeleteFailed) => {
            Check::Failed(health_failure(&a, &AddonStatus::DeleteFailed))
        }
        Some(a) => Check::Pending(a.status().map(|s| s.as_str().to_owned()).unwrap_or_default()),
    }
}

/// Deletes every add-on and waits until they are gone; returns the names deleted.
pub async fn delete(eks: &Client, cluster: &str, timeout: Duration) -> anyhow::Result<Vec<String>> {
    let mut deleted = Vec::new();
    for name in ADDONS.iter().rev() {
        if find(eks, cluster, name).await?.is_none() {
            continue;
        }
        info!("deleting add-on {name}");
        match eks
            .delete_addon()
            .cluster_name(cluster)
            .addon_name(*name)
            .send()
            .await
            .aws(format!("deleting add-on {name}"))
        {
            Ok(_) => {}
            Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(e),
        }
        deleted.push((*name).to_owned());
    }
    for name in &deleted {
        until(&format!("add-on {name}"), "deleted", timeout, backoff(), || async {
            Ok::<_, anyhow::Error>(deleted_state(find(eks, cluster, name).await?))
        })
        .await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eks::types::{AddonHealth, AddonIssue, AddonIssueCode};

    #[test]
    fn vpc_cni_enforces_network_policies_and_keeps_the_users_other_settings() {
        let fresh = configuration("vpc-cni", None).unwrap().unwrap();
        assert_eq!(fresh, r#"{"enableNetworkPolicy":"true"}"#);
        let yaml = "env:\n  WARM_IP_TARGET: \"5\"\nenableNetworkPolicy: \"false\"\n";
        let merged: serde_json::Value =
            serde_json::from_str(&configuration("vpc-cni", Some(yaml)).unwrap().unwrap()).unwrap();
        assert_eq!(merged, serde_json::json!({"env": {"WARM_IP_TARGET": "5"}, "enableNetworkPolicy": "true"}));
        assert_eq!(configuration("vpc-cni", Some(r#"{"enableNetworkPolicy": "true"}"#)).unwrap(), None);
        assert_eq!(configuration("coredns", Some(r#"{"replicaCount": 3}"#)).unwrap(), None);
        assert_eq!(configuration("coredns", None).unwrap(), None);
        assert!(configuration("vpc-cni", Some("[1, 2]")).is_err());
    }

    #[test]
    fn degraded_add_ons_report_their_health_issues() {
        // As DescribeAddon reports coredns on a cluster whose nodes never came up.
        let degraded = Addon::builder()
            .addon_name("coredns")
            .status(AddonStatus::Degraded)
            .health(
                AddonHealth::builder()
                    .issues(
                        AddonIssue::builder()
                            .code(AddonIssueCode::InsufficientNumberOfReplicas)
                            .message("The add-on is unhealthy because it doesn't have the desired number of replicas.")
                            .build(),
                    )
                    .build(),
            )
            .build();
        match addon_state(Some(degraded)) {
            Check::Failed(why) => assert_eq!(
                why,
                "DEGRADED: InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas."
            ),
            other => panic!("{other:?}"),
        }
        let creating = Addon::builder().status(AddonStatus::Creating).build();
        assert!(matches!(addon_state(Some(creating)), Check::Pending(s) if s == "CREATING"));
    }

    #[test]
    fn a_failed_deletion_reports_the_add_on_health_issues() {
        let failed = Addon::builder()
            .addon_name("coredns")
            .status(AddonStatus::DeleteFailed)
            .health(
                AddonHealth::builder()
                    .issues(
                        AddonIssue::builder()
                            .code(AddonIssueCode::ClusterUnreachable)
                            .message("Unable to reach the cluster")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            deleted_state(Some(failed)),
            Check::Failed("DELETE_FAILED: ClusterUnreachable: Unable to reach the cluster".into())
        );
        let deleting = Addon::builder().status(AddonStatus::Deleting).build();
        assert_eq!(deleted_state(Some(deleting)), Check::Pending("DELETING".into()));
        assert_eq!(deleted_state(None), Check::Ready(()));
    }
}
