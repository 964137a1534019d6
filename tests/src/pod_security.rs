//! Pod Security Standards' `restricted` profile, checked on rendered objects: what the API
//! server's admission would refuse in a namespace labelled `enforce: restricted`, found before a
//! Pod is ever made. The rules are Kubernetes' (pod-security-standards, v1.25+ restricted).

use serde_json::Value;

/// Volume types the restricted profile allows.
const VOLUMES: [&str; 8] =
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// The pod spec of a workload object (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
/// CronJob); None for anything else.
fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "Pod" => Some(&object["spec"]),
        "CronJob" => Some(&object["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some(&object["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// Every breach of `restricted` in `objects`, as `Kind/name: what`; empty when they all meet it.
pub fn restricted_violations(objects: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    for object in objects {
        let Some(spec) = pod_spec(object) else { continue };
        let name =
            format!("{}/{}", object["kind"].as_str().unwrap_or(""), object["metadata"]["name"].as_str().unwrap_or(""));
        for what in pod_violations(spec) {
            found.push(format!("{name}: {what}"));
        }
    }
    found
}

fn pod_violations(spec: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[host] == true {
            found.push(format!("{host} is set"));
        }
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let kind = volume.as_object().and_then(|v| v.keys().find(|k| *k != "name")).map(String::as_str);
        if !kind.is_some_and(|k| VOLUMES.contains(&k)) {
            found.push(format!("volume {} is {}", volume["name"], kind.unwrap_or("of no type")));
        }
    }
    let pod = &spec["securityContext"];
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|field| spec[*field].as_array().into_iter().flatten());
    for c in containers {
        let name = c["name"].as_str().unwrap_or("");
        for what in container_violations(pod, &c["securityContext"]) {
            found.push(format!("container {name}: {what}"));
        }
        if c["ports"].as_array().into_iter().flatten().any(|p| p["hostPort"].as_i64().is_some_and(|h| h != 0)) {
            found.push(format!("container {name}: a hostPort"));
        }
    }
    found
}

fn container_violations(pod: &Value, sc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if sc["privileged"] == true {
        found.push("privileged".into());
    }
    if sc["allowPrivilegeEscalation"] != false {
        found.push("allowPrivilegeEscalation is not false".into());
    }
    let drop = sc["capabilities"]["drop"].as_array().into_iter().flatten();
    if !drop.clone().any(|d| d == "ALL") {
        found.push("capabilities do not drop ALL".into());
    }
    let added = sc["capabilities"]["add"].as_array().into_iter().flatten();
    for cap in added.filter(|a| *a != "NET_BIND_SERVICE") {
        found.push(format!("adds capability {cap}"));
    }
    let either = |field: &str| if sc[field].is_null() { &pod[field] } else { &sc[field] };
    if either("runAsNonRoot") != true {
        found.push("runAsNonRoot is not true".into());
    }
    if either("runAsUser") == 0 {
        found.push("runs as user 0".into());
    }
    let seccomp = either("seccompProfile")["type"].as_str();
    if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
        found.push("seccompProfile is not RuntimeDefault or Localhost".into());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(pod: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": pod}}})
    }

    #[test]
    fn a_pod_that_meets_restricted_has_no_violation_and_each_breach_is_named() {
        let good = json!({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "containers": [{"name": "app", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]}}}});
        assert_eq!(restricted_violations(&[good, json!({"kind": "Service"})]), Vec::<String>::new());

        let bad = deployment(json!({
            "hostNetwork": true,
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "containers": [{"name": "exporter", "ports": [{"containerPort": 9100, "hostPort": 9100}],
                            "securityContext": {"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}}}]}));
        assert_eq!(
            restricted_violations(&[bad]),
            [
                "Deployment/web: hostNetwork is set",
                "Deployment/web: volume \"root\" is hostPath",
                "Deployment/web: container exporter: allowPrivilegeEscalation is not false",
                "Deployment/web: container exporter: capabilities do not drop ALL",
                "Deployment/web: container exporter: adds capability \"SYS_ADMIN\"",
                "Deployment/web: container exporter: runAsNonRoot is not true",
                "Deployment/web: container exporter: runs as user 0",
                "Deployment/web: container exporter: seccompProfile is not RuntimeDefault or Localhost",
                "Deployment/web: container exporter: a hostPort",
            ]
        );
    }
}
