//! When an object is ready, by kind: the rules of `kubectl rollout status`, kstatus and kapp.
//!
//! Every rule first asks that the controller has seen the latest spec (`status.observedGeneration`
//! caught up with `metadata.generation`), then looks at the kind's own counts or conditions. States
//! that can never become ready without a change (a Job `Failed`, a Deployment past its progress
//! deadline, a Pod `Failed`) are `Failed` so the wait stops at once instead of at the timeout.

use ekskit_core::wait::Check;
use serde_json::Value;

pub type Readiness = Check<()>;

/// Readiness of `obj`, an object of `kind` in API `group`, as last read from the server.
pub fn check(group: &str, kind: &str, obj: &Value) -> Readiness {
    let status = &obj["status"];
    if let Some(pending) = generation_lag(obj) {
        return pending;
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => daemonset(status),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => {
            counts(&[("available", int(status, "availableReplicas"))], replicas(obj))
        }
        ("batch", "Job") => job(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(status),
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
    let ready = counts(&[("ready", int(status, "readyReplicas")), ("updated", int(status, "updatedReplicas"))], want);
    if ready != Check::Ready(()) {
        return ready;
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
    let want = int(status, "desiredNumberScheduled");
    counts(&[("updated", int(status, "updatedNumberScheduled")), ("available", int(status, "numberAvailable"))], want)
}

fn job(obj: &Value) -> Readiness {
    let status = &obj["status"];
    if let Some(c) = condition(status, "Failed").filter(|c| c["status"] == "True") {
        return Check::Failed(format!("Job failed: {}", reason(c)));
    }
    if condition_is(status, "Complete", "True") {
        return Check::Ready(());
    }
    if obj["spec"]["suspend"] == true {
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
    if condition_is(status, "Established", "True") {
        Check::Ready(())
    } else {
        Check::Pending("not Established yet".into())
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
}
