//! The stack's objects: the manifests in assets/ with their placeholders filled, the
//! ConfigMaps made from the Prometheus, Alertmanager and Grafana files, volumes claimed when
//! there is a StorageClass, and the Grafana admin Secret; each object belongs to a
//! [`Component`] (its `app.kubernetes.io/name` label), and components left out take their
//! objects, and what points at them, along.

use std::collections::BTreeSet;

use serde_json::{Value, json};

const MANIFESTS: &str = include_str!("../assets/manifests.yaml");
const PROMETHEUS: &str = include_str!("../assets/prometheus.yml");
const RULES: &str = include_str!("../assets/rules.yml");
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

pub use ekskit_model::monitoring::Component;

/// What monstack knows of a component beyond its name (in `ekskit_model`): its image, its
/// objects, and what prometheus.yml says of it.
pub trait ComponentExt: Sized {
    /// The pinned image it runs.
    fn image(self) -> &'static str;
    /// The component an object belongs to, by its `app.kubernetes.io/name` label; `None` for
    /// what the whole stack shares (the Namespace).
    fn of(object: &Value) -> Option<Self>;
    /// The paragraphs of prometheus.yml that point at it (by their first line that is not a
    /// comment), dropped when it is left out.
    fn prometheus_paragraphs(self) -> &'static [&'static str];
}

impl ComponentExt for Component {
    fn image(self) -> &'static str {
        IMAGES.iter().find(|(c, _)| *c == self.version_key()).map(|(_, i)| *i).unwrap_or_default()
    }

    fn of(object: &Value) -> Option<Component> {
        let label = object["metadata"]["labels"]["app.kubernetes.io/name"].as_str()?;
        Component::ALL.into_iter().find(|c| c.name() == label)
    }

    fn prometheus_paragraphs(self) -> &'static [&'static str] {
        match self {
            Component::Alertmanager => &["alerting:", "  - job_name: alertmanager"],
            Component::KubeStateMetrics => &["  - job_name: kube-state-metrics"],
            Component::NodeExporter => &["  - job_name: node-exporter"],
            Component::Prometheus | Component::Grafana => &[],
        }
    }
}

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
    /// Components not applied (`--without`); never Prometheus.
    pub left_out: BTreeSet<Component>,
    /// The API server serves EKS' scheduler and controller manager metrics
    /// (metrics.eks.amazonaws.com): prometheus.yml gets their jobs.
    pub eks_control_plane: bool,
}

/// What node exporter's namespace adds to the stack's.
pub const NODE_NAMESPACE_SUFFIX: &str = "-node-exporter";

/// The jobs of EKS' scheduler and controller manager, by their first line in prometheus.yml.
const EKS_CONTROL_PLANE_JOBS: [&str; 2] =
    ["  - job_name: eks-kube-scheduler", "  - job_name: eks-kube-controller-manager"];

impl Settings {
    /// Whether `component` is part of the stack this run makes.
    pub fn runs(&self, component: Component) -> bool {
        !self.left_out.contains(&component)
    }

    /// node exporter's namespace: its own, as it needs Pod Security's privileged profile and
    /// the stack's namespace enforces restricted.
    pub fn node_namespace(&self) -> String {
        format!("{}{NODE_NAMESPACE_SUFFIX}", self.namespace)
    }

    /// The components this run makes, in [`Component::ALL`] order.
    pub fn components(&self) -> Vec<Component> {
        Component::ALL.into_iter().filter(|c| self.runs(*c)).collect()
    }
}

fn fill(text: &str, pairs: &[(&str, &str)]) -> String {
    pairs.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("${{{k}}}"), v))
}

/// prometheus.yml for `settings`: without the scrape jobs (and, for Alertmanager, the alerting
/// section) of the components left out, so nothing points at a Service that is not there, and
/// without EKS' control-plane jobs where the API server does not serve them.
pub fn prometheus_config(settings: &Settings) -> String {
    let cluster = serde_json::to_string(&settings.cluster).unwrap_or_default();
    let node_namespace = settings.node_namespace();
    let pairs =
        [("namespace", settings.namespace.as_str()), ("node_namespace", &node_namespace), ("cluster", &cluster)];
    let text = fill(PROMETHEUS, &pairs);
    let mut dropped: Vec<&str> = settings.left_out.iter().flat_map(|c| c.prometheus_paragraphs()).copied().collect();
    if !settings.eks_control_plane {
        dropped.extend(EKS_CONTROL_PLANE_JOBS);
    }
    if dropped.is_empty() {
        return text;
    }
    text.split("\n\n")
        .filter(|paragraph| {
            let first = paragraph.lines().find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty());
            !first.is_some_and(|l| dropped.contains(&l.trim_end()))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The alert and recording rules, linking the runbooks.
pub fn rules(settings: &Settings) -> String {
    fill(RULES, &[("runbooks", settings.runbooks.trim_end_matches('/'))])
}

/// Every object of the stack but those of the components left out, in no particular order
/// (kapply's phases order them).
pub fn objects(settings: &Settings) -> anyhow::Result<Vec<Value>> {
    let mut pairs: Vec<(String, String)> = vec![
        ("namespace".into(), settings.namespace.clone()),
        ("node_namespace".into(), settings.node_namespace()),
        ("retention".into(), settings.retention.clone()),
    ];
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
    let (prometheus, alertmanager, grafana) = (Component::Prometheus, Component::Alertmanager, Component::Grafana);
    objects.push(config_map(ns, "prometheus-config", prometheus, &[("prometheus.yml", &prometheus_config(settings))]));
    objects.push(config_map(ns, "prometheus-rules", prometheus, &[("rules.yml", &rules(settings))]));
    objects.push(config_map(ns, "alertmanager-config", alertmanager, &[("alertmanager.yml", ALERTMANAGER)]));
    objects.push(config_map(
        ns,
        "grafana-datasources",
        grafana,
        &[("datasources.yml", &fill(DATASOURCES, &[("namespace", ns)]))],
    ));
    objects.push(config_map(ns, "grafana-dashboard-providers", grafana, &[("dashboards.yml", DASHBOARD_PROVIDERS)]));
    objects.push(config_map(ns, "grafana-dashboards", grafana, DASHBOARDS));
    if let Some(class) = &settings.storage_class {
        for (deployment, size) in VOLUMES {
            claim_volume(&mut objects, ns, deployment, size, class);
        }
    }
    if let Some(password) = &settings.admin_password {
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "grafana-admin", "namespace": ns, "labels": label(grafana.name())},
            "type": "Opaque",
            "stringData": {"admin-user": "admin", "admin-password": password},
        }));
    }
    objects.retain(|o| Component::of(o).is_none_or(|c| settings.runs(c)));
    roll_on_config(&mut objects);
    Ok(objects)
}

/// The annotation on a pod template holding the digest of the ConfigMaps its Pods mount.
pub const CONFIG_DIGEST: &str = "ekskit.io/config-sha256";

/// Puts on every Deployment's pod template the digest of the ConfigMaps it mounts, so a run
/// that changes one rolls the Pods that read it (Prometheus, Alertmanager and Grafana read their
/// files only at start; a reload endpoint would let anyone in the cluster stop Prometheus).
fn roll_on_config(objects: &mut [Value]) {
    use sha2::{Digest, Sha256};
    let data: std::collections::BTreeMap<String, String> = objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .filter_map(|o| Some((o["metadata"]["name"].as_str()?.to_owned(), o["data"].to_string())))
        .collect();
    for deployment in objects.iter_mut().filter(|o| o["kind"] == "Deployment") {
        let template = &mut deployment["spec"]["template"];
        let mounted: BTreeSet<&str> = template["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["configMap"]["name"].as_str())
            .collect();
        if mounted.is_empty() {
            continue;
        }
        let mut digest = Sha256::new();
        for name in mounted {
            digest.update(format!("{name}\n{}\n", data.get(name).map_or("", String::as_str)));
        }
        let digest = format!("{:x}", digest.finalize());
        template["metadata"]["annotations"][CONFIG_DIGEST] = Value::String(digest);
    }
}

fn label(component: &str) -> Value {
    json!({"app.kubernetes.io/name": component})
}

fn config_map(namespace: &str, name: &str, component: Component, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> =
        data.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": label(component.name())},
        "data": data,
    })
}

/// Adds `<deployment>-data` (the Deployment's component) and mounts it where the Deployment had
/// its emptyDir `data`.
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
        "metadata": {"name": claim, "namespace": namespace, "labels": label(deployment)},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "resources": {"requests": {"storage": size}}},
    }));
}

/// The objects as one multi-document YAML, for --render.
pub fn to_yaml(objects: &[Value]) -> anyhow::Result<String> {
    let mut out = String::from("# Written by monstack --render.");
    if objects.iter().any(|o| Component::of(o) == Some(Component::Grafana)) {
        out.push_str(
            " The Grafana admin password is not here: create the Secret\n# grafana-admin (key admin-password) in the namespace before applying.",
        );
    }
    out.push('\n');
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
            left_out: BTreeSet::new(),
            eks_control_plane: true,
        }
    }

    fn without(components: &[Component]) -> Settings {
        Settings { left_out: components.iter().copied().collect(), ..settings(Some("gp3")) }
    }

    fn names(objects: &[Value]) -> BTreeSet<String> {
        objects
            .iter()
            .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
            .collect()
    }

    /// Every subset of the components that may be left out (all but Prometheus).
    fn every_selection() -> Vec<Vec<Component>> {
        let optional = &Component::ALL[1..];
        (0..1u32 << optional.len())
            .map(|bits| optional.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, c)| *c).collect())
            .collect()
    }

    fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    /// The digest of the ConfigMaps a Deployment's Pods mount, on its pod template.
    fn config_digest(objects: &[Value], deployment: &str) -> String {
        let template = &find(objects, "Deployment", deployment)["spec"]["template"];
        template["metadata"]["annotations"][CONFIG_DIGEST].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_changed_configuration_rolls_the_pods_that_read_it_and_only_those() {
        let all = objects(&settings(None)).unwrap();
        assert_eq!(config_digest(&all, "prometheus"), config_digest(&objects(&settings(None)).unwrap(), "prometheus"));
        // Without Alertmanager, Prometheus' configuration loses its alerting: its Pods roll.
        let fewer = objects(&without(&[Component::Alertmanager])).unwrap();
        assert_ne!(config_digest(&all, "prometheus"), config_digest(&fewer, "prometheus"));
        assert_eq!(config_digest(&all, "grafana"), config_digest(&fewer, "grafana"));
        let kube_state_metrics = &find(&all, "Deployment", "kube-state-metrics")["spec"]["template"];
        assert!(kube_state_metrics["metadata"].get("annotations").is_none(), "it mounts no ConfigMap");
        // Nothing can stop or reload Prometheus over HTTP.
        assert!(!to_yaml(&all).unwrap().contains("--web.enable-lifecycle"));
    }

    #[test]
    fn only_what_must_reaches_the_stacks_pods() {
        let all = objects(&settings(None)).unwrap();
        let deny = find(&all, "NetworkPolicy", "default-deny-ingress");
        assert_eq!((deny["spec"]["podSelector"].clone(), deny["spec"].get("ingress")), (json!({}), None));
        let admits = |name: &str| -> Vec<String> {
            let policy = find(&all, "NetworkPolicy", name);
            let from = &policy["spec"]["ingress"][0]["from"];
            from.as_array()
                .map(|f| {
                    f.iter().map(|p| p["podSelector"]["matchLabels"]["app.kubernetes.io/name"].to_string()).collect()
                })
                .unwrap_or_else(|| vec!["anyone".to_owned()])
        };
        assert_eq!(admits("prometheus"), ["\"grafana\""]);
        assert_eq!(admits("alertmanager"), ["\"prometheus\""]);
        assert_eq!(admits("kube-state-metrics"), ["\"prometheus\""]);
        assert_eq!(admits("grafana"), ["anyone"]);
        // Each Deployment's Pods have a policy of their own naming one of their ports.
        for deployment in all.iter().filter(|o| o["kind"] == "Deployment") {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let policy = find(&all, "NetworkPolicy", name);
            let ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"].to_string();
            for port in policy["spec"]["ingress"][0]["ports"].as_array().unwrap() {
                assert!(ports.contains(&format!("\"{}\"", port["port"].as_str().unwrap())), "{name}: {ports}");
            }
        }
        let left_out = objects(&without(&[Component::Grafana])).unwrap();
        assert!(!names(&left_out).contains("NetworkPolicy grafana"));
    }

    #[test]
    fn kube_state_metrics_reads_no_secret() {
        let all = objects(&settings(None)).unwrap();
        let role = find(&all, "ClusterRole", "monitoring-kube-state-metrics");
        let resources: Vec<&str> = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_array().unwrap().iter().filter_map(Value::as_str))
            .collect();
        assert!(!resources.contains(&"secrets"), "{resources:?}");
        let args = find(&all, "Deployment", "kube-state-metrics")["spec"]["template"]["spec"]["containers"][0]["args"]
            .to_string();
        let listed = args.split("--resources=").nth(1).unwrap().split('"').next().unwrap();
        for resource in listed.split(',') {
            assert!(resources.contains(&resource), "--resources names {resource}, which its role does not grant");
        }
    }

    #[test]
    fn prometheus_reads_kubelet_metrics_without_nodes_proxy() {
        let all = objects(&settings(None)).unwrap();
        let role = find(&all, "ClusterRole", "monitoring-prometheus").to_string();
        assert!(!role.contains("nodes/proxy") && role.contains("nodes/metrics"), "{role}");
        let config = prometheus_config(&settings(None));
        assert!(!config.contains("/proxy/"), "no scrape through the API server's node proxy: {config}");
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
    fn every_object_but_the_namespace_belongs_to_a_component() {
        for o in objects(&settings(Some("gp3"))).unwrap() {
            match Component::of(&o) {
                Some(_) => {}
                None => assert_eq!(o["kind"], "Namespace", "{} has no component label", o["metadata"]["name"]),
            }
        }
        assert_eq!(Component::KubeStateMetrics.image(), IMAGES[2].1);
        assert!(Component::ALL.iter().all(|c| !c.image().is_empty()));
    }

    #[test]
    fn a_component_left_out_takes_its_objects_and_nothing_else() {
        let all = objects(&settings(Some("gp3"))).unwrap();
        for gone in &Component::ALL[1..] {
            let kept = objects(&without(&[*gone])).unwrap();
            assert!(kept.iter().all(|o| Component::of(o) != Some(*gone)), "{gone} left something");
            let expected: BTreeSet<String> =
                names(&all.iter().filter(|o| Component::of(o) != Some(*gone)).cloned().collect::<Vec<_>>());
            assert_eq!(names(&kept), expected, "without {gone}");
        }
        let kept = names(&objects(&without(&[Component::Grafana])).unwrap());
        for name in ["Secret grafana-admin", "ConfigMap grafana-dashboards", "PersistentVolumeClaim grafana-data"] {
            assert!(names(&all).contains(name) && !kept.contains(name), "{name}");
        }
        assert!(!to_yaml(&objects(&without(&[Component::Grafana])).unwrap()).unwrap().contains("grafana-admin"));
    }

    /// Pruning what is left out never takes what is kept: every Secret, ConfigMap, volume claim,
    /// service account and role a kept object uses is kept, the Namespace always stays, and
    /// Prometheus scrapes and alerts nothing that is left out.
    #[test]
    fn what_is_kept_uses_only_what_is_kept() {
        for left_out in every_selection() {
            let kept = objects(&without(&left_out)).unwrap();
            let have = names(&kept);
            assert!(have.contains("Namespace monitoring"), "{left_out:?}");
            let mut uses = Vec::new();
            for o in &kept {
                let pod = &o["spec"]["template"]["spec"];
                for v in pod["volumes"].as_array().into_iter().flatten() {
                    uses.extend(v["configMap"]["name"].as_str().map(|n| format!("ConfigMap {n}")));
                    uses.extend(
                        v["persistentVolumeClaim"]["claimName"].as_str().map(|n| format!("PersistentVolumeClaim {n}")),
                    );
                }
                for e in pod["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["env"].as_array().into_iter().flatten())
                {
                    uses.extend(e["valueFrom"]["secretKeyRef"]["name"].as_str().map(|n| format!("Secret {n}")));
                }
                uses.extend(pod["serviceAccountName"].as_str().map(|n| format!("ServiceAccount {n}")));
                uses.extend(o["roleRef"]["name"].as_str().map(|n| format!("ClusterRole {n}")));
                for s in o["subjects"].as_array().into_iter().flatten() {
                    uses.extend(s["name"].as_str().map(|n| format!("ServiceAccount {n}")));
                }
            }
            assert!(uses.len() > 5);
            for used in uses {
                assert!(have.contains(&used), "without {left_out:?}: {used} is used but not kept");
            }
            let config: Value = serde_yaml::from_str(&prometheus_config(&without(&left_out))).unwrap();
            let jobs: Vec<&str> =
                config["scrape_configs"].as_array().unwrap().iter().map(|j| j["job_name"].as_str().unwrap()).collect();
            for c in &Component::ALL[1..4] {
                assert_eq!(jobs.contains(&c.name()), !left_out.contains(c), "without {left_out:?}: jobs {jobs:?}");
            }
            assert!(jobs.contains(&"kubernetes-pods") && jobs.contains(&"prometheus"), "{jobs:?}");
            assert_eq!(config["alerting"].is_null(), left_out.contains(&Component::Alertmanager), "{left_out:?}");
            assert_eq!(config["rule_files"].as_array().map(Vec::len), Some(1), "the rules stay");
        }
        // Nothing left out: the file as written, comments and all.
        let whole = prometheus_config(&settings(None));
        let pairs =
            [("namespace", "monitoring"), ("node_namespace", "monitoring-node-exporter"), ("cluster", "\"demo\"")];
        assert_eq!(whole, fill(PROMETHEUS, &pairs));
    }

    #[test]
    fn eks_control_plane_jobs_only_where_the_api_server_serves_them() {
        let jobs = |eks: bool| {
            let config = prometheus_config(&Settings { eks_control_plane: eks, ..without(&[Component::Grafana]) });
            let config: Value = serde_yaml::from_str(&config).unwrap();
            let names: Vec<String> = config["scrape_configs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["job_name"].as_str().unwrap().to_owned())
                .collect();
            names
        };
        let eks = jobs(true);
        assert!(eks.contains(&"eks-kube-scheduler".into()) && eks.contains(&"eks-kube-controller-manager".into()));
        let elsewhere = jobs(false);
        assert!(!elsewhere.iter().any(|j| j.starts_with("eks-")), "{elsewhere:?}");
        assert_eq!(eks.len(), elsewhere.len() + 2, "only those two go");
        // Prometheus may read them either way (RBAC for an API group that is not there is inert).
        let role = objects(&settings(None))
            .unwrap()
            .into_iter()
            .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "monitoring-prometheus")
            .unwrap();
        let rule = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["apiGroups"][0] == "metrics.eks.amazonaws.com")
            .unwrap();
        assert_eq!(rule["resources"], serde_json::json!(["ksh/metrics", "kcm/metrics"]));
        assert_eq!(rule["verbs"], serde_json::json!(["get"]));
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
