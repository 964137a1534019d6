//! The stack's objects: the manifests in assets/ with their placeholders filled, the
//! ConfigMaps made from the Prometheus, Alertmanager and Grafana files, volumes claimed when
//! there is a StorageClass, and the Grafana admin Secret.

use serde_json::{Value, json};

const MANIFESTS: &str = include_str!("../assets/manifests.yaml");
const PROMETHEUS: &str = include_str!("../assets/prometheus.yml");
const RULES: &str = include_str!("../assets/rules.yml");
const RULES_TESTS: &str = include_str!("../assets/rules.test.yml");
const ALERTMANAGER: &str = include_str!("../assets/alertmanager.yml");
const DATASOURCES: &str = include_str!("../assets/grafana-datasources.yml");
const DASHBOARD_PROVIDERS: &str = include_str!("../assets/grafana-dashboards.yml");
pub const DASHBOARDS: &[(&str, &str)] = &[
    ("cluster.json", include_str!("../assets/dashboards/cluster.json")),
    ("comments.json", include_str!("../assets/dashboards/comments.json")),
];

/// Pinned upstream releases: (component, image).
pub const IMAGES: &[(&str, &str)] = &[
    ("prometheus", "quay.io/prometheus/prometheus:v3.5.0"),
    ("alertmanager", "quay.io/prometheus/alertmanager:v0.28.1"),
    ("kube_state_metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0"),
    ("node_exporter", "quay.io/prometheus/node-exporter:v1.9.1"),
    ("grafana", "docker.io/grafana/grafana:12.1.0"),
];

/// The volumes claimed when there is a StorageClass: (Deployment, size).
pub const VOLUMES: &[(&str, &str)] = &[("prometheus", "20Gi"), ("alertmanager", "1Gi"), ("grafana", "5Gi")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub namespace: String,
    pub cluster: String,
    pub retention: String,
    pub runbooks: String,
    /// Claim volumes of this StorageClass; `None`: emptyDir.
    pub storage_class: Option<String>,
    /// Include the Grafana admin Secret with this password (never in rendered files).
    pub admin_password: Option<String>,
}

fn fill(text: &str, pairs: &[(&str, &str)]) -> String {
    pairs.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("${{{k}}}"), v))
}

/// prometheus.yml for `settings`.
pub fn prometheus_config(settings: &Settings) -> String {
    let cluster = serde_json::to_string(&settings.cluster).unwrap_or_default();
    fill(PROMETHEUS, &[("namespace", &settings.namespace), ("cluster", &cluster)])
}

/// The alert and recording rules, linking the runbooks.
pub fn rules(settings: &Settings) -> String {
    fill(RULES, &[("runbooks", settings.runbooks.trim_end_matches('/'))])
}

/// promtool unit tests of [`rules`], expecting the same runbook links.
pub fn rules_tests(settings: &Settings) -> String {
    fill(RULES_TESTS, &[("runbooks", settings.runbooks.trim_end_matches('/'))])
}

/// Every object of the stack, in no particular order (kapply's phases order them).
pub fn objects(settings: &Settings) -> anyhow::Result<Vec<Value>> {
    let mut pairs: Vec<(String, String)> =
        vec![("namespace".into(), settings.namespace.clone()), ("retention".into(), settings.retention.clone())];
    pairs.extend(IMAGES.iter().map(|(c, i)| (format!("image.{c}"), (*i).to_owned())));
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let text = fill(MANIFESTS, &refs);
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    let ns = settings.namespace.as_str();
    objects.push(config_map(ns, "prometheus-config", &[("prometheus.yml", &prometheus_config(settings))]));
    objects.push(config_map(ns, "prometheus-rules", &[("rules.yml", &rules(settings))]));
    objects.push(config_map(ns, "alertmanager-config", &[("alertmanager.yml", ALERTMANAGER)]));
    objects.push(config_map(
        ns,
        "grafana-datasources",
        &[("datasources.yml", &fill(DATASOURCES, &[("namespace", ns)]))],
    ));
    objects.push(config_map(ns, "grafana-dashboard-providers", &[("dashboards.yml", DASHBOARD_PROVIDERS)]));
    objects.push(config_map(ns, "grafana-dashboards", DASHBOARDS));
    if let Some(class) = &settings.storage_class {
        for (deployment, size) in VOLUMES {
            claim_volume(&mut objects, ns, deployment, size, class);
        }
    }
    if let Some(password) = &settings.admin_password {
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "grafana-admin", "namespace": ns},
            "type": "Opaque",
            "stringData": {"admin-user": "admin", "admin-password": password},
        }));
    }
    Ok(objects)
}

fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> =
        data.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// Adds `<deployment>-data` and mounts it where the Deployment had its emptyDir `data`.
fn claim_volume(objects: &mut Vec<Value>, namespace: &str, deployment: &str, size: &str, class: &str) {
    let claim = format!("{deployment}-data");
    for o in objects.iter_mut().filter(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == deployment) {
        if let Some(volumes) = o["spec"]["template"]["spec"]["volumes"].as_array_mut() {
            for v in volumes.iter_mut().filter(|v| v["name"] == "data") {
                *v = json!({"name": "data", "persistentVolumeClaim": {"claimName": claim}});
            }
        }
    }
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim, "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "resources": {"requests": {"storage": size}}},
    }));
}

/// The objects as one multi-document YAML, for --render.
pub fn to_yaml(objects: &[Value]) -> anyhow::Result<String> {
    let mut out = String::from(
        "# Written by monstack --render. The Grafana admin password is not here: create the Secret\n# grafana-admin (key admin-password) in the namespace before applying.\n",
    );
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(o)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(storage: Option<&str>) -> Settings {
        Settings {
            namespace: "monitoring".into(),
            cluster: "demo".into(),
            retention: "15d".into(),
            runbooks: "https://example.invalid/runbooks/".into(),
            storage_class: storage.map(str::to_owned),
            admin_password: Some("pw".into()),
        }
    }

    fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn every_placeholder_is_filled() {
        let objects = objects(&settings(None)).unwrap();
        let text = serde_json::to_string(&objects).unwrap();
        assert!(!text.contains("${"), "{text}");
        assert_eq!(
            find(&objects, "Deployment", "prometheus")["spec"]["template"]["spec"]["containers"][0]["image"],
            IMAGES[0].1
        );
        assert!(prometheus_config(&settings(None)).contains("cluster: \"demo\""));
        assert!(rules(&settings(None)).contains("runbook_url: https://example.invalid/runbooks/KubeNodeNotReady.md"));
    }

    #[test]
    fn volumes_are_claimed_only_with_a_storage_class() {
        let without = objects(&settings(None)).unwrap();
        assert!(!without.iter().any(|o| o["kind"] == "PersistentVolumeClaim"));
        let with = objects(&settings(Some("gp3"))).unwrap();
        let claim = find(&with, "PersistentVolumeClaim", "prometheus-data");
        assert_eq!(claim["spec"]["storageClassName"], "gp3");
        let volumes = &find(&with, "Deployment", "grafana")["spec"]["template"]["spec"]["volumes"];
        assert!(volumes.as_array().unwrap().iter().any(|v| v["persistentVolumeClaim"]["claimName"] == "grafana-data"));
    }

    #[test]
    fn the_admin_secret_is_only_there_when_given() {
        let mut s = settings(None);
        assert!(objects(&s).unwrap().iter().any(|o| o["kind"] == "Secret"));
        s.admin_password = None;
        assert!(!objects(&s).unwrap().iter().any(|o| o["kind"] == "Secret"));
        assert!(!to_yaml(&objects(&s).unwrap()).unwrap().contains("admin-password:"));
    }
}
