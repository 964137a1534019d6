//! The keys monstack writes (`monitoring`, `deleted.monitoring`) and their schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringDoc {
    pub namespace: String,
    /// The `cluster` label on every series.
    pub cluster: String,
    pub services: Vec<ServiceDoc>,
    pub persistence: PersistenceDoc,
    /// Component → pinned image.
    pub versions: BTreeMap<String, String>,
    pub grafana_admin: GrafanaAdminDoc,
    /// Objects by what happened to them (`created`, `configured`, `unchanged`, `pruned`).
    pub objects: BTreeMap<String, usize>,
    /// Every object answered ready (false on a dry run, which waits for nothing).
    pub ready: bool,
    pub dry_run: bool,
    /// With --render: the file written; nothing was applied.
    pub rendered: Option<String>,
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

pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("monitoring.schema.json", schemars::schema_for!(MonitoringDoc)),
        ("deleted.monitoring.schema.json", schemars::schema_for!(DeletedDoc)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas match the types. `UPDATE_SCHEMAS=1 cargo test` rewrites them.
    #[test]
    fn committed_schemas_match_the_types() {
        ekskit_core::schemas::assert_committed(env!("CARGO_MANIFEST_DIR"), schemas());
    }
}
