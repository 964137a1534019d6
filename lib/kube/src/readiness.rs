//! When an object is ready, by kind: the rules of `kubectl rollout status`, kstatus and kapp.
//!
//! Every rule first asks that the object is not being deleted and that the controller has seen the
//! latest spec (`status.observedGeneration` caught up with `metadata.generation`); then come the
//! conditions kstatus made standard for any kind (`Stalled=True` fails, `Reconciling=True` is not
//! ready yet); then the kind's own counts or conditions. States that can never become ready
//! without a change (a Job `Failed`, a Deployment past its progress deadline, a Pod `Failed`) are
//! `Failed` so the wait stops at once instead of at the timeout.

use ekskit_core::wait::Check;
use serde_json::Value;

pub type Readiness = Check<()>;

/// Readiness of `obj`, an object of `kind` in API `group`, as last read from the server.
pub fn check(group: &str, kind: &str, obj: &Value) -> Readiness {
    let status = &obj["status"];
    if let Some(early) = being_deleted(group, kind, obj).or_else(|| generation_lag(obj)).or_else(|| standard(status)) {
        return early;
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => daemonset(status),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replicaset(obj),
        ("batch", "Job") => job(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(status),
        ("apiregistration.k8s.io", "APIService") => apiservice(status),
        ("certificates.k8s.io", "CertificateSigningRequest") => csr(status),
        ("policy", "PodDisruptionBudget") if status["observedGeneration"].is_null() => {
            Check::Pending("not yet seen by the disruption controller".into())
        }
        ("", "PersistentVolume") => match status["phase"].as_str() {
            Some("Available" | "Bound" | "Released") => Check::Ready(()),
            Some("Failed") => {
                Check::Failed(format!("volume Failed: {}", status["message"].as_str().unwrap_or("see its events")))
            }
            phase => Check::Pending(format!("volume {}", phase.unwrap_or("Pending"))),
        },
        ("", "Service") => service(obj),
        ("", "PersistentVolumeClaim") => match status["phase"].as_str() {
            Some("Bound") => Check::Ready(()),
            Some("Lost") => Check::Failed("claim Lost: its volume is gone".into()),
            phase => Check::Pending(format!("claim {}", phase.unwrap_or("Pending"))),
        },
        ("", "Pod") => pod(status),
        ("", "Namespace") => match status["phase"].as_str() {
            Some("Terminating") => Check::Failed("namespace is Terminating; wait for it to go, then re-run".into()),
            _ => Check::Ready(()),
        },
        ("argoproj.io", "Application") => argo_application(status),
        _ => ready_condition(status),
    }
}

/// An object with a deletionTimestamp goes away once its finalizers are done: the applied
/// version will not stay. (Namespaces have a rule of their own, by phase.)
fn being_deleted(group: &str, kind: &str, obj: &Value) -> Option<Readiness> {
    let deleting = obj["metadata"]["deletionTimestamp"].is_string() && (group, kind) != ("", "Namespace");
    deleting.then(|| {
        let finalizers: Vec<&str> =
            obj["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let held = if finalizers.is_empty() { String::new() } else { format!(", held by {}", finalizers.join(", ")) };
        Check::Failed(format!("being deleted{held}; wait until it is gone, then re-run"))
    })
}

/// kstatus' conditions for any kind: `Stalled=True` cannot heal by waiting, `Reconciling=True` is
/// work in progress, whatever the kind's own rule would say.
fn standard(status: &Value) -> Option<Readiness> {
    if let Some(c) = condition(status, "Stalled").filter(|c| c["status"] == "True") {
        return Some(Check::Failed(format!("Stalled: {}", reason(c))));
    }
    let c = condition(status, "Reconciling").filter(|c| c["status"] == "True")?;
    Some(Check::Pending(format!("Reconciling: {}", reason(c))))
}

/// Kinds that have no status to wait for, so their readiness needs nothing but metadata (being
/// deleted or not): what kapply reads of them before applying is their metadata alone.
pub fn needs_no_status(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "ConfigMap" | "Secret" | "ServiceAccount" | "LimitRange")
            | ("rbac.authorization.k8s.io" | "admissionregistration.k8s.io", _)
            | ("networking.k8s.io", "NetworkPolicy" | "IngressClass")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("storage.k8s.io", "StorageClass")
            | ("node.k8s.io", "RuntimeClass")
    )
}

fn generation_lag(obj: &Value) -> Option<Readiness> {
    let generation = obj["metadata"]["generation"].as_i64()?;
    let observed = obj["status"]["observedGeneration"].as_i64()?;
    (observed < generation)
        .then(|| Check::Pending(format!("controller has not seen generation {generation} yet (at {observed})")))
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(0)
}

fn replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

fn condition_is(status: &Value, kind: &str, value: &str) -> bool {
    condition(status, kind).is_some_and(|c| c["status"] == value)
}

fn reason(c: &Value) -> String {
    let reason = c["reason"].as_str().unwrap_or_default();
    let message = c["message"].as_str().unwrap_or_default();
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_owned(),
        _ => message.to_owned(),
    }
}

/// Pending with "N of M <what>" for the first count short of `want`.
fn counts(have: &[(&str, i64)], want: i64) -> Readiness {
    match have.iter().find(|(_, n)| *n < want) {
        Some((what, n)) => Check::Pending(format!("{n} of {want} {what}")),
        None => Check::Ready(()),
    }
}

fn deployment(obj: &Value) -> Readiness {
    let status = &obj["status"];
    if let Some(c) = condition(status, "Progressing")
        && c["status"] == "False"
        && c["reason"] == "ProgressDeadlineExceeded"
    {
        return Check::Failed(reason(c));
    }
    if status["observedGeneration"].is_null() {
        return Check::Pending("not yet seen by the deployment controller".into());
    }
    let want = replicas(obj);
    let updated = int(status, "updatedReplicas");
    let total = int(status, "replicas");
    if updated >= want && total > updated {
        return Check::Pending(format!("{} old replicas pending termination", total - updated));
    }
    match counts(&[("updated", updated), ("available", int(status, "availableReplicas"))], want) {
        Check::Pending(state) => Check::Pending(with_condition(state, status, "Available")),
        other => other,
    }
}

fn with_condition(state: String, status: &Value, kind: &str) -> String {
    match condition(status, kind).filter(|c| c["status"] != "True") {
        Some(c) => format!("{state} ({})", reason(c)),
        None => state,
    }
}

fn statefulset(obj: &Value) -> Readiness {
    let status = &obj["status"];
    if status["observedGeneration"].is_null() {
        return Check::Pending("not yet seen by the statefulset controller".into());
    }
    if obj["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return Check::Ready(());
    }
    let want = replicas(obj);
    let total = int(status, "replicas");
    if total > want {
        return Check::Pending(format!("{} replicas pending termination", total - want));
    }
    let ready = counts(&[("ready", int(status, "readyReplicas"))], want);
    if ready != Check::Ready(()) {
        return ready;
    }
    // A partitioned rolling update stops on purpose at the ordinals below the partition.
    if let Some(partition) = obj["spec"]["updateStrategy"]["rollingUpdate"]["partition"].as_i64() {
        return counts(&[("updated", int(status, "updatedReplicas"))], (want - partition).max(0));
    }
    let updated = counts(&[("updated", int(status, "updatedReplicas"))], want);
    if updated != Check::Ready(()) {
        return updated;
    }
    match (status["currentRevision"].as_str(), status["updateRevision"].as_str()) {
        (Some(current), Some(update)) if current != update => {
            Check::Pending(format!("rolling from revision {current} to {update}"))
        }
        _ => Check::Ready(()),
    }
}

fn daemonset(status: &Value) -> Readiness {
    if status["observedGeneration"].is_null() {
        return Check::Pending("not yet seen by the daemonset controller".into());
    }
    let Some(want) = status["desiredNumberScheduled"].as_i64() else {
        return Check::Pending("the daemonset controller has not counted its nodes yet".into());
    };
    counts(&[("updated", int(status, "updatedNumberScheduled")), ("available", int(status, "numberAvailable"))], want)
}

fn replicaset(obj: &Value) -> Readiness {
    let status = &obj["status"];
    let state = counts(&[("available", int(status, "availableReplicas"))], replicas(obj));
    match (state, condition(status, "ReplicaFailure").filter(|c| c["status"] == "True")) {
        // Pods it cannot create (quota, admission): say why, it may heal once that is fixed.
        (Check::Pending(state), Some(c)) => Check::Pending(format!("{state} ({})", reason(c))),
        (state, _) => state,
    }
}

fn job(obj: &Value) -> Readiness {
    let status = &obj["status"];
    if let Some(c) = condition(status, "Failed").filter(|c| c["status"] == "True") {
        return Check::Failed(format!("Job failed: {}", reason(c)));
    }
    if condition_is(status, "Complete", "True") {
        return Check::Ready(());
    }
    if obj["spec"]["suspend"] == true || condition_is(status, "Suspended", "True") {
        return Check::Ready(()); // suspended on purpose: nothing will run until someone resumes it
    }
    let want = obj["spec"]["completions"].as_i64().unwrap_or(1);
    Check::Pending(format!(
        "{} of {want} succeeded, {} active, {} failed",
        int(status, "succeeded"),
        int(status, "active"),
        int(status, "failed")
    ))
}

fn crd(status: &Value) -> Readiness {
    if let Some(c) = condition(status, "NamesAccepted").filter(|c| c["status"] == "False") {
        return Check::Failed(format!("names not accepted: {}", reason(c)));
    }
    match condition(status, "Established") {
        Some(c) if c["status"] == "True" => Check::Ready(()),
        Some(c) if c["status"] == "False" && c["reason"] != "Installing" => {
            Check::Failed(format!("not Established: {}", reason(c)))
        }
        _ => Check::Pending("not Established yet".into()),
    }
}

/// An aggregated API is served once the aggregator has reached its Service and checked its
/// discovery; until then every request to its group fails.
fn apiservice(status: &Value) -> Readiness {
    match condition(status, "Available") {
        Some(c) if c["status"] == "True" => Check::Ready(()),
        Some(c) => Check::Pending(format!("Available={}: {}", c["status"].as_str().unwrap_or("Unknown"), reason(c))),
        None => Check::Pending("not yet checked by the aggregator".into()),
    }
}

/// A certificate request is done once approved and signed; denied or failed ones never will be.
fn csr(status: &Value) -> Readiness {
    for failed in ["Denied", "Failed"] {
        if let Some(c) = condition(status, failed).filter(|c| c["status"] == "True") {
            return Check::Failed(format!("{failed}: {}", reason(c)));
        }
    }
    match (condition_is(status, "Approved", "True"), status["certificate"].is_string()) {
        (true, true) => Check::Ready(()),
        (true, false) => Check::Pending("approved, not signed yet".into()),
        _ => Check::Pending("waiting for approval (`kubectl certificate approve`)".into()),
    }
}

fn service(obj: &Value) -> Readiness {
    if obj["spec"]["type"] != "LoadBalancer" {
        return Check::Ready(());
    }
    let ingress = obj["status"]["loadBalancer"]["ingress"].as_array();
    if ingress.is_some_and(|i| !i.is_empty()) {
        Check::Ready(())
    } else {
        Check::Pending("load balancer has no ingress address yet".into())
    }
}

fn pod(status: &Value) -> Readiness {
    match status["phase"].as_str() {
        Some("Succeeded") => Check::Ready(()),
        Some("Failed") => {
            Check::Failed(format!("Pod failed: {}", status["reason"].as_str().unwrap_or("see its events")))
        }
        Some("Running") if condition_is(status, "Ready", "True") => Check::Ready(()),
        phase => {
            let waiting = status["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| c["state"]["waiting"]["reason"].as_str());
            let phase = phase.unwrap_or("Pending");
            Check::Pending(waiting.map_or_else(|| phase.to_owned(), |w| format!("{phase}, container {w}")))
        }
    }
}

fn argo_application(status: &Value) -> Readiness {
    let sync = status["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = status["health"]["status"].as_str().unwrap_or("Unknown");
    if sync == "Synced" && health == "Healthy" {
        Check::Ready(())
    } else {
        Check::Pending(format!("sync {sync}, health {health}"))
    }
}

/// Kinds without a rule of their own: ready unless they carry a `Ready` condition that is not True.
fn ready_condition(status: &Value) -> Readiness {
    match condition(status, "Ready") {
        Some(c) if c["status"] != "True" => Check::Pending(format!("Ready={}: {}", c["status"], reason(c))),
        _ => Check::Ready(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn deployments_need_the_new_generation_updated_and_available() {
        let lagging = deploy(json!({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}));
        assert!(matches!(check("apps", "Deployment", &lagging), Check::Pending(s) if s.contains("generation 2")));
        let rolling =
            deploy(json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}));
        assert_eq!(check("apps", "Deployment", &rolling), Check::Pending("1 old replicas pending termination".into()));
        let unavailable =
            deploy(json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 0,
            "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]}));
        assert_eq!(
            check("apps", "Deployment", &unavailable),
            Check::Pending("0 of 2 available (MinimumReplicasUnavailable)".into())
        );
        let done =
            deploy(json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}));
        assert_eq!(check("apps", "Deployment", &done), Check::Ready(()));
    }

    #[test]
    fn failures_that_cannot_heal_fail_fast() {
        let stuck = deploy(json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}));
        assert!(
            matches!(check("apps", "Deployment", &stuck), Check::Failed(s) if s.starts_with("ProgressDeadlineExceeded"))
        );
        let job = json!({"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            check("batch", "Job", &job),
            Check::Failed("Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit".into())
        );
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(check("batch", "Job", &done), Check::Ready(()));
        assert!(matches!(check("", "Pod", &json!({"status": {"phase": "Failed"}})), Check::Failed(_)));
    }

    #[test]
    fn crds_services_claims_daemonsets_and_argo_applications() {
        let est = json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(check("apiextensions.k8s.io", "CustomResourceDefinition", &est), Check::Ready(()));
        assert!(matches!(check("apiextensions.k8s.io", "CustomResourceDefinition", &json!({})), Check::Pending(_)));
        let lb = json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}});
        assert!(matches!(check("", "Service", &lb), Check::Pending(_)));
        assert_eq!(check("", "Service", &json!({"spec": {"type": "ClusterIP"}})), Check::Ready(()));
        assert_eq!(
            check("", "PersistentVolumeClaim", &json!({"status": {"phase": "Pending"}})),
            Check::Pending("claim Pending".into())
        );
        let ds = json!({"status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 1}});
        assert_eq!(check("apps", "DaemonSet", &ds), Check::Pending("1 of 3 available".into()));
        let app = json!({"status": {"sync": {"status": "Synced"}, "health": {"status": "Progressing"}}});
        assert_eq!(check("argoproj.io", "Application", &app), Check::Pending("sync Synced, health Progressing".into()));
        assert_eq!(check("", "ConfigMap", &json!({"data": {}})), Check::Ready(()));
    }

    #[test]
    fn kinds_without_a_status_are_judged_by_their_metadata() {
        let meta = json!({"metadata": {"name": "x", "generation": 3}});
        for (group, kind) in [("", "ConfigMap"), ("rbac.authorization.k8s.io", "ClusterRole"), ("", "ServiceAccount")] {
            assert!(needs_no_status(group, kind));
            assert_eq!(check(group, kind, &meta), Check::Ready(()));
        }
        let going = json!({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert!(matches!(check("", "ConfigMap", &going), Check::Failed(_)));
        assert!(!needs_no_status("apps", "Deployment") && !needs_no_status("", "Service"));
    }

    #[test]
    fn apiservices_need_available_and_the_reason_is_said() {
        let unavailable = json!({"status": {"conditions": [{"type": "Available", "status": "False",
            "reason": "MissingEndpoints", "message": "endpoints for service/api in \"x\" have no addresses"}]}});
        assert_eq!(
            check("apiregistration.k8s.io", "APIService", &unavailable),
            Check::Pending(
                "Available=False: MissingEndpoints: endpoints for service/api in \"x\" have no addresses".into()
            )
        );
        assert!(matches!(check("apiregistration.k8s.io", "APIService", &json!({})), Check::Pending(_)));
        let local = json!({"status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(check("apiregistration.k8s.io", "APIService", &local), Check::Ready(()));
    }

    #[test]
    fn stalled_fails_and_reconciling_waits_whatever_the_kind() {
        let stalled = json!({"status": {"conditions": [{"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad"}]}});
        assert_eq!(check("example.com", "Widget", &stalled), Check::Failed("Stalled: InvalidSpec: bad".into()));
        let busy =
            json!({"status": {"conditions": [{"type": "Reconciling", "status": "True", "reason": "Progressing"}]}});
        assert_eq!(check("example.com", "Widget", &busy), Check::Pending("Reconciling: Progressing".into()));
        let done = json!({"status": {"conditions": [{"type": "Reconciling", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(check("example.com", "Widget", &done), Check::Ready(()));
        let going =
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["example.com/cleanup"]}});
        assert!(
            matches!(check("", "ConfigMap", &going), Check::Failed(s) if s.contains("held by example.com/cleanup"))
        );
    }

    #[test]
    fn volumes_budgets_partitions_certificates_and_uninstallable_crds() {
        assert_eq!(check("", "PersistentVolume", &json!({"status": {"phase": "Available"}})), Check::Ready(()));
        assert!(matches!(check("", "PersistentVolume", &json!({"status": {"phase": "Failed"}})), Check::Failed(_)));
        let pdb = json!({"metadata": {"generation": 1}, "status": {}});
        assert!(matches!(check("policy", "PodDisruptionBudget", &pdb), Check::Pending(_)));
        let seen = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1}});
        assert_eq!(check("policy", "PodDisruptionBudget", &seen), Check::Ready(()));

        // Partition 2 of 3: only ordinal 2 is updated, and that is the goal.
        let sts = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}},
            "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1,
            "currentRevision": "a", "updateRevision": "b"}});
        assert_eq!(check("apps", "StatefulSet", &sts), Check::Ready(()));
        let shrinking =
            json!({"spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2}});
        assert_eq!(check("apps", "StatefulSet", &shrinking), Check::Pending("1 replicas pending termination".into()));

        let denied = json!({"status": {"conditions": [{"type": "Denied", "status": "True", "reason": "Policy"}]}});
        assert_eq!(
            check("certificates.k8s.io", "CertificateSigningRequest", &denied),
            Check::Failed("Denied: Policy".into())
        );
        let issued = json!({"status": {"certificate": "LS0t", "conditions": [{"type": "Approved", "status": "True"}]}});
        assert_eq!(check("certificates.k8s.io", "CertificateSigningRequest", &issued), Check::Ready(()));

        let refused =
            json!({"status": {"conditions": [{"type": "Established", "status": "False", "reason": "NotAccepted"}]}});
        assert!(matches!(check("apiextensions.k8s.io", "CustomResourceDefinition", &refused), Check::Failed(_)));
        let installing =
            json!({"status": {"conditions": [{"type": "Established", "status": "False", "reason": "Installing"}]}});
        assert!(matches!(check("apiextensions.k8s.io", "CustomResourceDefinition", &installing), Check::Pending(_)));
        let quota = json!({"spec": {"replicas": 1}, "status": {"conditions": [{"type": "ReplicaFailure", "status": "True",
            "reason": "FailedCreate", "message": "exceeded quota"}]}});
        assert_eq!(
            check("apps", "ReplicaSet", &quota),
            Check::Pending("0 of 1 available (FailedCreate: exceeded quota)".into())
        );
    }
}
