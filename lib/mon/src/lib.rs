//! monstack: Prometheus, Alertmanager, kube-state-metrics, node exporter and Grafana for a
//! cluster, applied with kapply's code (phases, server-side apply, readiness, ApplySet).
//!
//! - [`stack`]: the objects from assets/ (manifests, Prometheus configuration and rules with
//!   their promtool tests, Grafana provisioning and dashboards); [`model`]: the JSON keys

pub mod cli;
pub mod model;
pub mod stack;

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use ekskit_core::document::Stdin;
use ekskit_core::output::emit;
use ekskit_core::{Document, InputError};
use ekskit_kube::manifests::Manifest;
use ekskit_kube::model::ApplyDoc;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use kube::api::ListParams;
use tracing::info;

use crate::cli::Args;
use crate::model::{DeletedDoc, GrafanaAdminDoc, MonitoringDoc, PersistenceDoc, ServiceDoc};
use crate::stack::Settings;

/// The ApplySet monstack's objects belong to.
pub const APP: &str = "monstack";

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = Document::from_stdin(Stdin::WhenPiped)?;
    check_namespace(&args.namespace)?;
    check_retention(&args.retention)?;
    let cluster_name = match &args.cluster_name {
        Some(n) => n.clone(),
        None => doc
            .get::<serde_json::Value>("cluster")?
            .and_then(|c| c["name"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "kubernetes".into()),
    };
    let mut settings = Settings {
        namespace: args.namespace.clone(),
        cluster: cluster_name,
        retention: args.retention.clone(),
        runbooks: args.runbooks.clone(),
        storage_class: if args.no_persistence { None } else { args.storage_class.clone() },
        admin_password: None,
    };

    if let Some(dir) = &args.render {
        let reason = match &settings.storage_class {
            Some(c) => format!("--storage-class {c}"),
            None => "no --storage-class given to --render".into(),
        };
        let path = render(dir, &settings)?;
        let mut out = report(&settings, reason, &BTreeMap::new(), false, false);
        out.rendered = Some(path);
        doc.set("monitoring", &out)?;
        return emit(&doc);
    }

    let cluster = ekskit_kube::cluster::connect(&args.cluster, &doc).await?;
    let kapply = kapply_args(&args);
    if args.delete {
        let applied = ekskit_kube::execute(&kapply, &cluster, manifests(&settings)?).await?;
        doc.remove("monitoring");
        doc.set_nested(
            "deleted",
            "monitoring",
            &DeletedDoc { namespace: args.namespace.clone(), objects: counts(&applied) },
        )?;
        return emit(&doc);
    }
    let reason = persistence(&cluster.client, &args, &mut settings).await?;
    settings.admin_password = Some(admin_password(&cluster.client, &args.namespace).await?);
    let applied = ekskit_kube::execute(&kapply, &cluster, manifests(&settings)?).await?;
    let ready = !args.dry_run && applied.objects.iter().all(|o| o.ready != Some(false));
    let out = report(&settings, reason, &counts(&applied), ready, args.dry_run);
    info!(
        "monitoring stack in {}: Grafana on svc/grafana:3000 (user admin, password in Secret grafana-admin)",
        args.namespace
    );
    doc.set("monitoring", &out)?;
    emit(&doc)
}

/// kapply's settings for the stack: one ApplySet, pruned, waited for.
fn kapply_args(args: &Args) -> ekskit_kube::cli::Args {
    ekskit_kube::cli::Args {
        files: Vec::new(),
        kustomize: Vec::new(),
        namespace: Some(args.namespace.clone()),
        app: Some(APP.to_owned()),
        prune: !args.delete,
        force_conflicts: false,
        dry_run: args.dry_run,
        diff: false,
        delete: args.delete,
        timeout: args.timeout,
        no_wait: false,
        wait_only: false,
        concurrency: 16,
        cluster: args.cluster.clone(),
        global: args.global.clone(),
    }
}

fn manifests(settings: &Settings) -> anyhow::Result<Vec<Manifest>> {
    Ok(stack::objects(settings)?
        .into_iter()
        .enumerate()
        .map(|(i, object)| Manifest { origin: format!("monstack#{}", i + 1), object })
        .collect())
}

fn render(dir: &std::path::Path, settings: &Settings) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).map_err(|e| InputError::new(format!("--render {}: {e}", dir.display())))?;
    let path = dir.join("monstack.yaml");
    std::fs::write(&path, stack::to_yaml(&stack::objects(settings)?)?)?;
    info!("wrote {}", path.display());
    Ok(path.display().to_string())
}

/// Volumes: --no-persistence, else --storage-class (which must exist), else the cluster's
/// default StorageClass (EBS CSI's on EKS), else none. Returns why, for the output.
async fn persistence(client: &kube::Client, args: &Args, settings: &mut Settings) -> anyhow::Result<String> {
    if args.no_persistence {
        return Ok("--no-persistence".into());
    }
    let classes: Api<StorageClass> = Api::all(client.clone());
    let list = classes
        .list(&ListParams::default())
        .await
        .map_err(|e| ekskit_kube::errors::kube_error(e, "listing StorageClasses"))?;
    if let Some(wanted) = &args.storage_class {
        if !list.items.iter().any(|c| c.metadata.name.as_deref() == Some(wanted)) {
            return Err(InputError::new(format!("there is no StorageClass {wanted}"))
                .hint("pass an existing class, or --no-persistence")
                .into());
        }
        return Ok(format!("--storage-class {wanted}"));
    }
    let default = list.items.iter().find(|c| {
        c.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            .map(String::as_str)
            == Some("true")
    });
    Ok(match default.and_then(|c| c.metadata.name.clone()) {
        Some(name) => {
            let reason = format!("default StorageClass {name}");
            settings.storage_class = Some(name);
            reason
        }
        None if list.items.is_empty() => "no StorageClass in the cluster: emptyDir, data is lost with the Pod".into(),
        None => "no default StorageClass: emptyDir (pass --storage-class to claim volumes)".into(),
    })
}

/// The Grafana admin password: the one in the Secret when it exists (so a re-run changes
/// nothing), else a new random one. It is never output.
async fn admin_password(client: &kube::Client, namespace: &str) -> anyhow::Result<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let existing = secrets
        .get_opt("grafana-admin")
        .await
        .map_err(|e| ekskit_kube::errors::kube_error(e, format!("reading Secret {namespace}/grafana-admin")))?;
    if let Some(password) = existing.and_then(|s| s.data).and_then(|d| d.get("admin-password").cloned()) {
        return Ok(String::from_utf8_lossy(&password.0).into_owned());
    }
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn counts(applied: &ApplyDoc) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in &applied.objects {
        let action =
            serde_json::to_value(o.action).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        *counts.entry(action).or_insert(0) += 1;
    }
    counts
}

fn report(
    settings: &Settings,
    reason: String,
    objects: &BTreeMap<String, usize>,
    ready: bool,
    dry_run: bool,
) -> MonitoringDoc {
    let ns = &settings.namespace;
    let services = [("grafana", 3000), ("prometheus", 9090), ("alertmanager", 9093)]
        .into_iter()
        .map(|(name, port)| ServiceDoc {
            name: name.into(),
            port,
            port_forward: format!("kubectl -n {ns} port-forward svc/{name} {port}:{port}"),
        })
        .collect();
    let volumes = match &settings.storage_class {
        Some(_) => stack::VOLUMES.iter().map(|(d, size)| (format!("{d}-data"), (*size).to_owned())).collect(),
        None => BTreeMap::new(),
    };
    MonitoringDoc {
        namespace: ns.clone(),
        cluster: settings.cluster.clone(),
        services,
        persistence: PersistenceDoc {
            enabled: settings.storage_class.is_some(),
            storage_class: settings.storage_class.clone(),
            reason,
            volumes,
        },
        versions: stack::IMAGES.iter().map(|(c, i)| ((*c).to_owned(), (*i).to_owned())).collect(),
        grafana_admin: GrafanaAdminDoc {
            user: "admin".into(),
            secret: format!("{ns}/grafana-admin"),
            read_with: format!(
                "kubectl -n {ns} get secret grafana-admin -o jsonpath='{{.data.admin-password}}' | base64 -d"
            ),
        },
        objects: objects.clone(),
        ready,
        dry_run,
        rendered: None,
    }
}

fn check_namespace(name: &str) -> Result<(), InputError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(InputError::new(format!("`{name}` is not a namespace name")).hint("use lowercase letters, digits and -"))
    }
}

/// Prometheus durations: `15d`, `12h`, `1w`, `90d`.
fn check_retention(text: &str) -> Result<(), InputError> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    if !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && ["s", "m", "h", "d", "w", "y"].contains(&unit)
    {
        Ok(())
    } else {
        Err(InputError::new(format!("--retention `{text}` is not a duration")).hint("write it like 15d, 12h or 4w"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations() {
        assert!(check_namespace("monitoring").is_ok());
        assert!(check_namespace("Monitoring").is_err());
        assert!(check_retention("15d").is_ok());
        assert!(check_retention("15").is_err());
        assert!(check_retention("d").is_err());
    }
}
