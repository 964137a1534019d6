//! The Kubernetes versions EKS offers, from DescribeClusterVersions: a new cluster gets the newest
//! in standard support unless --version names another, and a version EKS does not offer is
//! refused before anything is made, naming the ones it does. Where the API cannot be asked (an
//! identity without eks:DescribeClusterVersions), the built-in default stands in, with a warning.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::VersionStatus;
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::InputError;
use tracing::warn;

use crate::cli::DEFAULT_VERSION;

/// One version EKS offers for new clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub version: String,
    /// In standard support (else extended support, at a higher price).
    pub standard: bool,
}

/// What EKS offers, or None when it cannot be asked.
pub async fn offered(eks: &Client) -> anyhow::Result<Option<Vec<Offered>>> {
    let mut pages = eks.describe_cluster_versions().cluster_type("eks").into_paginator().send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page.aws("listing the Kubernetes versions EKS offers") {
            Ok(page) => page,
            Err(e) if matches!(aws_code(&e), Some("AccessDeniedException" | "UnknownOperationException")) => {
                warn!("cannot ask EKS which Kubernetes versions it offers ({e:#}); assuming {DEFAULT_VERSION}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        for v in page.cluster_versions() {
            let status = v.version_status();
            if status == Some(&VersionStatus::Unsupported) {
                continue;
            }
            if let Some(version) = v.cluster_version() {
                found.push(Offered {
                    version: version.to_owned(),
                    standard: status == Some(&VersionStatus::StandardSupport),
                });
            }
        }
    }
    found.sort_by_key(|o| minor(&o.version));
    Ok(Some(found))
}

/// The version for a new cluster: `asked` when EKS offers it, else the newest in standard support.
pub fn choose(offered: Option<&[Offered]>, asked: Option<&str>) -> Result<String, InputError> {
    let Some(offered) = offered.filter(|o| !o.is_empty()) else {
        return Ok(asked.unwrap_or(DEFAULT_VERSION).to_owned());
    };
    let names = || offered.iter().map(|o| o.version.as_str()).collect::<Vec<_>>().join(", ");
    match asked {
        Some(v) if offered.iter().any(|o| o.version == v) => {
            if offered.iter().any(|o| o.version == v && !o.standard) {
                warn!("Kubernetes {v} is in EKS' extended support, which costs six times as much per cluster hour");
            }
            Ok(v.to_owned())
        }
        Some(v) => Err(InputError::new(format!("EKS does not offer Kubernetes {v} for new clusters"))
            .hint(format!("pass one it offers: --version {}", names()))),
        None => Ok(offered.iter().rev().find(|o| o.standard).unwrap_or(&offered[offered.len() - 1]).version.clone()),
    }
}

/// `1.36` → 36, for ordering; anything else sorts first.
pub fn minor(version: &str) -> u32 {
    version.strip_prefix("1.").and_then(|m| m.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(version: &str, standard: bool) -> Offered {
        Offered { version: version.into(), standard }
    }

    #[test]
    fn a_new_cluster_gets_the_newest_standard_version_or_one_eks_offers() {
        let list = [offer("1.33", false), offer("1.34", false), offer("1.35", true), offer("1.36", true)];
        assert_eq!(choose(Some(&list), None).unwrap(), "1.36");
        assert_eq!(choose(Some(&list), Some("1.34")).unwrap(), "1.34", "extended support, with a warning");
        let refused = choose(Some(&list), Some("1.31")).unwrap_err();
        assert_eq!(refused.message, "EKS does not offer Kubernetes 1.31 for new clusters");
        assert!(refused.hint.as_deref().unwrap_or_default().contains("1.33, 1.34, 1.35, 1.36"), "{refused:?}");
        // EKS could not be asked: the default, or what the user asked for, unchecked.
        assert_eq!(choose(None, None).unwrap(), DEFAULT_VERSION);
        assert_eq!(choose(None, Some("1.35")).unwrap(), "1.35");
        assert_eq!(minor("1.9"), 9);
        assert!(minor("1.10") > minor("1.9"), "versions order by minor, not as text");
    }
}
