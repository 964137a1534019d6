//! `monitoring`, written by monstack (`deleted.monitoring` with `--delete`), and the
//! [`Component`]s of the stack it names.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringDoc {
    pub namespace: String,
    /// The `cluster` label on every series.
    pub cluster: String,
    /// Every component (prometheus, alertmanager, kube-state-metrics, node-exporter, grafana):
    /// what became of it in this run.
    #[schemars(schema_with = "components_schema")]
    pub components: BTreeMap<Component, ComponentDoc>,
    /// The Services of the components that run (no grafana when it is left out).
    pub services: Vec<ServiceDoc>,
    pub persistence: PersistenceDoc,
    /// Pinned image of each component that runs (keys `prometheus`, `alertmanager`,
    /// `kube_state_metrics`, `node_exporter`, `grafana`).
    pub versions: BTreeMap<String, String>,
    /// Where the Grafana admin password is; null when grafana is left out (no Secret is made).
    pub grafana_admin: Option<GrafanaAdminDoc>,
    /// Objects by what happened to them (`created`, `configured`, `unchanged`, `pruned`); the
    /// objects of a component left out are pruned if an earlier run made them.
    pub objects: BTreeMap<String, usize>,
    /// Every component asked for (all but those left out) is ready (false on a dry run, which
    /// waits for nothing, and with --render).
    pub ready: bool,
    pub dry_run: bool,
    /// With --render: the file written; nothing was applied.
    pub rendered: Option<String>,
}

/// One component in a run. A component asked for that does not become ready fails the run
/// (exit 1, naming it and why), so a document never holds one stuck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComponentDoc {
    pub state: ComponentState,
    /// Applied and every object of it ready (only in state `running`).
    pub ready: bool,
    /// Why it is not running: `--without grafana`, `--dry-run: …`, `--render: …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ComponentState {
    /// Applied, and every object of it ready.
    #[serde(rename = "running")]
    Running,
    /// `--without`: not applied; its objects were pruned if an earlier run made them.
    #[serde(rename = "left out")]
    LeftOut,
    /// `--dry-run`: the server checked its objects; nothing was applied or waited for.
    #[serde(rename = "dry run")]
    DryRun,
    /// `--render`: written to the file; nothing was applied.
    #[serde(rename = "rendered")]
    Rendered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceDoc {
    pub name: String,
    pub port: u16,
    /// e.g. `kubectl -n monitoring port-forward svc/grafana 3000:3000`, then http://localhost:3000
    pub port_forward: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersistenceDoc {
    pub enabled: bool,
    pub storage_class: Option<String>,
    /// Why: `default StorageClass gp2`, `--storage-class gp3`, `no StorageClass in the cluster`, …
    pub reason: String,
    /// PersistentVolumeClaim → size, when enabled.
    pub volumes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GrafanaAdminDoc {
    pub user: String,
    /// The Secret (`<namespace>/grafana-admin`, key admin-password); the password is never output.
    pub secret: String,
    pub read_with: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedDoc {
    pub namespace: String,
    /// Objects by what happened to them (`deleted`, `absent`).
    pub objects: BTreeMap<String, usize>,
}

/// `components`: an object with every component's name as a key, and no other key.
fn components_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let component = generator.subschema_for::<ComponentDoc>().to_value();
    let names: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
    let properties: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|n| ((*n).to_owned(), component.clone())).collect();
    schemars::json_schema!({
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": false,
    })
}

/// A part of the stack: its Deployment or DaemonSet and everything only it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// Scrapes and stores the metrics, evaluates the alerts; everything else hangs off it
    Prometheus,
    /// Receives the alerts Prometheus fires
    Alertmanager,
    /// Metrics about the Kubernetes objects (Pods, nodes, volumes)
    KubeStateMetrics,
    /// Metrics about each node (a DaemonSet)
    NodeExporter,
    /// Dashboards over Prometheus
    Grafana,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::Prometheus,
        Component::Alertmanager,
        Component::KubeStateMetrics,
        Component::NodeExporter,
        Component::Grafana,
    ];

    /// The name used by `--without`, the document and the `app.kubernetes.io/name` label.
    pub fn name(self) -> &'static str {
        match self {
            Component::Prometheus => "prometheus",
            Component::Alertmanager => "alertmanager",
            Component::KubeStateMetrics => "kube-state-metrics",
            Component::NodeExporter => "node-exporter",
            Component::Grafana => "grafana",
        }
    }

    /// Its key in `monitoring.versions` (and in monstack's pinned images).
    pub fn version_key(self) -> &'static str {
        match self {
            Component::KubeStateMetrics => "kube_state_metrics",
            Component::NodeExporter => "node_exporter",
            other => other.name(),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
