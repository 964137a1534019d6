//! The Kubernetes tools (kapply with an ApplySet, monstack) against the stack's API server,
//! reached as an EKS cluster document reaches it: the proxy serves TLS with a certificate the
//! cluster's CA signs, and the tools send their signed EKS token through it. Each run works in a
//! namespace of its own; the inventory is what that namespace holds, the namespace itself and
//! the cluster-scoped objects named for it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use ekskit_tests::faults::{Service, Upstream};
use ekskit_tests::{kubectl, runnable_image, stack_env, unique_stack, write_file};
use serde_json::{Value, json};

use super::{Fronts, Subject, check, place};

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "docker", "registry", "base", "images", "kube", "node", "prometheus"])
}

/// The API server behind a TLS front whose certificate the stack's CA signs.
fn api_server() -> (Upstream, Service) {
    let ca = PathBuf::from(&env()["EKSKIT_KUBE_CA"]);
    let ca_key = ca.with_file_name("ca.key");
    (Upstream::Https { url: env()["EKSKIT_KUBE_SERVER"].clone(), ca, ca_key }, Service::Kube)
}

/// What mkeks prints, with the endpoint at the proxy.
fn cluster_document(fronts: &Fronts) -> Option<String> {
    let ca = std::fs::read(&env()["EKSKIT_KUBE_CA"]).unwrap();
    let doc = json!({"cluster": {
        "name": env()["EKSKIT_KUBE_CLUSTER"], "endpoint": fronts[0], "region": "us-east-1",
        "certificate_authority": base64::engine::general_purpose::STANDARD.encode(ca)}});
    Some(doc.to_string())
}

/// A tool reaching the cluster through the document only: no kubeconfig, a HOME of its own.
fn subject(
    tool: &'static str,
    ns: &str,
    create: Vec<String>,
    cleanup: Vec<String>,
    cluster_scoped: &'static str,
) -> Subject {
    let home = std::env::temp_dir().join(format!("chaos-home-{ns}"));
    std::fs::create_dir_all(&home).unwrap();
    let owned = ns.to_owned();
    Subject {
        tool,
        env: env(),
        services: vec![api_server()],
        aim: Box::new(move |cmd, _| {
            cmd.env_remove("KUBECONFIG").env("HOME", &home);
        }),
        stdin: Box::new(cluster_document),
        create,
        cleanup: Some(cleanup),
        reset: None,
        normalize,
        inventory: Box::new(move || inventory(&owned, cluster_scoped)),
    }
}

#[test]
fn kapply_killed_at_any_request_converges_and_deletes_to_nothing() {
    let ns = unique_stack(place("chaos-kapply", "chs-kapply")).to_lowercase();
    let dir = std::env::temp_dir().join(format!("chaos-{ns}"));
    write_file(&dir, "app.yaml", &app(&ns));
    let d = dir.to_str().unwrap().to_owned();
    let create = ["-f", &d, "--app", "chaos", "-n", &ns, "--prune", "--timeout", "3m"];
    let delete = ["-f", &d, "--app", "chaos", "-n", &ns, "--delete"];
    let to_vec = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    check(subject("kapply", &ns, to_vec(&create), to_vec(&delete), "clusterrole"));
}

#[test]
fn monstack_killed_at_any_request_converges_and_deletes_to_nothing() {
    let ns = unique_stack(place("chaos-mon", "chs-mon")).to_lowercase();
    // Grafana's image is not built here (README). node-exporter runs on the host's network
    // (port 9100): a second one on the stack's single node, beside the monstack module's test
    // running at the same time, would stay Pending. Everything else runs on the node.
    let create = ["--namespace", &ns, "--without", "grafana", "--without", "node-exporter", "--timeout", "5m"];
    let delete = ["--namespace", &ns, "--delete"];
    let to_vec = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Namespaces too: node exporter's (<ns>-node-exporter) is the stack's as well.
    let cluster_scoped = "clusterrole,clusterrolebinding,namespace";
    check(subject("monstack", &ns, to_vec(&create), to_vec(&delete), cluster_scoped));
}

/// A small app: its namespace, a ConfigMap, a Secret, a ServiceAccount with a Role, a
/// Deployment the stack's node really runs, and its Service.
fn app(ns: &str) -> String {
    let image = &runnable_image(env(), "kapply-test")[0];
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{level: info}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: {ns}}}\nstringData: {{token: not-a-secret}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: web, namespace: {ns}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: web, namespace: {ns}}}\n\
         rules: [{{apiGroups: [''], resources: [configmaps], verbs: [get]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: web, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: web}}\n\
         subjects: [{{kind: ServiceAccount, name: web, namespace: {ns}}}]\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    \
         spec:\n      serviceAccountName: web\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        \
         image: {image}\n        command: [sh, -c, \"trap 'exit 0' TERM; sleep infinity & wait\"]\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}\n"
    )
}

/// The namespace, what it holds (but what Kubernetes itself puts in every namespace and what
/// controllers make from the objects: Pods, ReplicaSets, endpoints), and the cluster-scoped
/// objects of `cluster_scoped` kinds whose name starts with the namespace's, as `Kind/name`.
fn inventory(ns: &str, cluster_scoped: &str) -> Vec<String> {
    let kinds = "configmaps,secrets,serviceaccounts,services,deployments,daemonsets,statefulsets,roles,rolebindings,\
                 networkpolicies,persistentvolumeclaims,jobs,poddisruptionbudgets";
    let mut found = Vec::new();
    let exists = kubectl(env(), &["get", "namespace", ns, "-o", "json"]);
    if exists.status.success() {
        let phase = serde_json::from_slice::<Value>(&exists.stdout).unwrap()["status"]["phase"].clone();
        found.push(format!("Namespace/{ns} {}", phase.as_str().unwrap_or_default()));
        found.extend(names(&["get", kinds, "-n", ns, "-o", "json"], |_| true));
    }
    found.extend(names(&["get", cluster_scoped, "-o", "json"], |name| name.starts_with(ns)));
    found.retain(|line| !line.starts_with("ConfigMap/kube-root-ca.crt") && !line.starts_with("ServiceAccount/default"));
    found.sort();
    found
}

/// `Kind/name` of the items a `kubectl get -o json` lists, where `keep` takes the name.
fn names(args: &[&str], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let out = kubectl(env(), args);
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|o| {
            (o["kind"].as_str().unwrap_or_default().to_owned(), o["metadata"]["name"].as_str().unwrap_or_default())
        })
        .filter(|(_, name)| keep(name))
        .map(|(kind, name)| format!("{kind}/{name}"))
        .collect()
}

/// A further run reports `unchanged` where the first one `created` (kapply per object, monstack
/// as counts), and takes its own time: what must be equal is everything else (the objects, their
/// readiness, the components, the server, the app).
fn normalize(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            map.remove("action");
            map.remove("duration_seconds");
            // monstack's count of objects by action ({"created": 18}, then {"unchanged": 18}).
            if map.get("objects").is_some_and(Value::is_object) {
                map.remove("objects");
            }
            map.values_mut().for_each(normalize);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}
