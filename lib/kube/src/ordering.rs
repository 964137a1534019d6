//! The order objects are applied in. Within a phase objects go concurrently; a phase starts
//! when the one before it is applied (and, for CRDs, `Established`), so custom resources never
//! meet a missing CRD and Pods never meet a missing ServiceAccount or ConfigMap.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Namespaces, CRDs and other cluster-wide definitions everything else may refer to.
    Definitions,
    /// Roles and bindings, before the workloads that run under them.
    Rbac,
    /// ConfigMaps, Secrets, ServiceAccounts, storage and policy objects workloads mount or need.
    Config,
    /// Everything else: workloads, Services, custom resources.
    Workloads,
    /// Admission webhooks last: their backing Services must exist before they intercept anything.
    Webhooks,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Definitions, Phase::Rbac, Phase::Config, Phase::Workloads, Phase::Webhooks];

    /// The phase of an object by its API group (without version) and kind.
    pub fn of(group: &str, kind: &str) -> Phase {
        match (group, kind) {
            ("", "Namespace")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("storage.k8s.io", "StorageClass")
            | ("node.k8s.io", "RuntimeClass") => Phase::Definitions,
            ("rbac.authorization.k8s.io", _) => Phase::Rbac,
            ("", "ConfigMap" | "Secret" | "ServiceAccount" | "LimitRange" | "ResourceQuota" | "PersistentVolume")
            | ("", "PersistentVolumeClaim")
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "NetworkPolicy") => Phase::Config,
            ("admissionregistration.k8s.io", _) => Phase::Webhooks,
            _ => Phase::Workloads,
        }
    }

    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Definitions => "definitions",
            Phase::Rbac => "rbac",
            Phase::Config => "config",
            Phase::Workloads => "workloads",
            Phase::Webhooks => "webhooks",
        }
    }

    /// The reverse, for deleting: workloads before what they use, namespaces and CRDs last.
    pub fn delete_order() -> impl Iterator<Item = Phase> {
        Self::ALL.into_iter().rev()
    }
}

/// Kinds whose readiness takes a controller's work (Pods to start), worth applying first.
pub fn starts_rollout(group: &str, kind: &str) -> bool {
    matches!((group, kind), ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job"))
}

/// `apps/v1` → `apps`; `v1` → `` (the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_then_rbac_then_config_then_workloads_and_custom_resources() {
        let mut objs = [
            ("stable.example.com", "CronTab"),
            ("apps", "Deployment"),
            ("", "ConfigMap"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
            ("", "Namespace"),
        ];
        objs.sort_by_key(|(g, k)| Phase::of(g, k));
        let kinds: Vec<&str> = objs.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ClusterRoleBinding",
                "ConfigMap",
                "CronTab",
                "Deployment",
                "ValidatingWebhookConfiguration"
            ]
        );
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
    }
}
