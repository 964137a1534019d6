//! monstack: Prometheus, Alertmanager, kube-state-metrics, node exporter and Grafana for a
//! cluster, applied with kapply's code (phases, server-side apply, readiness, ApplySet).
//!
//! - [`stack`]: the objects from assets/ (manifests, Prometheus configuration and rules with
//!   their promtool tests, Grafana provisioning and dashboards); [`model`]: the JSON keys

/// The exec plugin the kubeconfig for a `cluster` document runs (`monstack --eks-token`).
pub use ekskit_kube::eks_token;
pub mod cli;
pub mod model;
pub mod stack;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::Duration;

use base64::Engine;
use ekskit_core::output::emit;
use ekskit_core::wait::human;
use ekskit_core::{Document, Hinted, InputError};
use ekskit_kube::cluster::Cluster;
use ekskit_kube::manifests::Manifest;
use ekskit_kube::resolve::{Kinds, Object};
use ekskit_kube::{ApplyOptions, ClusterOptions};
use ekskit_model::apply::ApplyDoc;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use kube::api::ListParams;
use kube::discovery::Discovery;
use tracing::info;

use crate::cli::Args;
use crate::model::{
    ComponentDoc, ComponentState, DeletedDoc, GrafanaAdminDoc, MonitoringDoc, PersistenceDoc, ServiceDoc,
};
use crate::stack::{Component, ComponentExt, Settings};

/// The ApplySet monstack's objects belong to.
pub const APP: &str = "monstack";

pub async fn run(args: Args) -> anyhow::Result<()> {
    let left_out = left_out(&args.without)?;
    let mut doc = Document::from_stdin(args.stdin.mode())?;
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
        left_out,
        // Settled from the API server's groups once connected; --render goes by the document.
        eks_control_plane: eks_by_document(&doc)?,
    };

    if let Some(dir) = &args.render {
        let reason = match &settings.storage_class {
            Some(c) => format!("--storage-class {c}"),
            None => "no --storage-class given to --render".into(),
        };
        let path = render(dir, &settings)?;
        let asked = not_ready(ComponentState::Rendered, format!("--render: written to {path}; nothing applied"));
        let mut out = report(&settings, reason, &BTreeMap::new(), asked, false);
        out.rendered = Some(path);
        doc.set("monitoring", &out)?;
        return emit(&doc);
    }

    let cluster = ekskit_kube::cluster::connect(&ClusterOptions::from(&args.cluster), &doc).await?;
    let kapply = kapply_options(&args);
    if args.delete.on {
        let applied = ekskit_kube::execute(&kapply, &cluster, manifests(&settings)?).await?;
        doc.remove("monitoring");
        doc.set_nested(
            "deleted",
            "monitoring",
            &DeletedDoc { namespace: args.namespace.clone(), objects: counts(&applied) },
        )?;
        return emit(&doc);
    }
    let reason = persistence(&cluster.client, args.no_persistence, &mut settings).await?;
    settings.eks_control_plane = serves_eks_metrics(&cluster.client).await?;
    if settings.runs(Component::Grafana) {
        settings.admin_password = Some(admin_password(&cluster.client, &args.namespace).await?);
    }
    let applied = ekskit_kube::execute(&kapply, &cluster, manifests(&settings)?).await?;
    let asked = if args.dry_run.on {
        not_ready(ComponentState::DryRun, "--dry-run: the server checked its objects; nothing applied".into())
    } else {
        wait_components(&cluster, &settings, args.timeout.limit).await?;
        ComponentDoc { state: ComponentState::Running, ready: true, reason: None }
    };
    let out = report(&settings, reason, &counts(&applied), asked, args.dry_run.on);
    let ns = &args.namespace;
    if settings.runs(Component::Grafana) {
        info!("monitoring stack in {ns}: Grafana on svc/grafana:3000 (user admin, password in Secret grafana-admin)");
    } else {
        info!("monitoring stack in {ns}: Prometheus on svc/prometheus:9090 (no Grafana: left out)");
    }
    doc.set("monitoring", &out)?;
    emit(&doc)
}

/// The components `--without` leaves out: any but Prometheus, which every other one hangs off.
/// The API group through which EKS (Kubernetes 1.28+) serves its scheduler's and controller
/// manager's metrics.
const EKS_METRICS_GROUP: &str = "metrics.eks.amazonaws.com";

/// Whether the API server serves EKS' control-plane metrics.
async fn serves_eks_metrics(client: &kube::Client) -> anyhow::Result<bool> {
    let groups = ekskit_kube::errors::idempotent("listing API groups", || client.list_api_groups())
        .await
        .map_err(|e| ekskit_kube::errors::kube_error(e, "listing the API groups"))?;
    let served = groups.groups.iter().any(|g| g.name == EKS_METRICS_GROUP);
    if served {
        info!("the API server serves {EKS_METRICS_GROUP}: Prometheus scrapes EKS' scheduler and controller manager");
    }
    Ok(served)
}

/// For --render, which asks no API server: a cluster mkeks made (an EKS ARN) at 1.28 or later.
fn eks_by_document(doc: &Document) -> anyhow::Result<bool> {
    let Some(cluster) = doc.get::<serde_json::Value>("cluster")? else { return Ok(false) };
    let eks = cluster["arn"].as_str().is_some_and(|a| a.starts_with("arn:") && a.split(':').nth(2) == Some("eks"));
    let minor = cluster["version"].as_str().and_then(|v| v.strip_prefix("1.")).and_then(|m| m.parse::<u32>().ok());
    Ok(eks && minor.is_some_and(|m| m >= 28))
}

fn left_out(without: &[Component]) -> Result<BTreeSet<Component>, InputError> {
    if without.contains(&Component::Prometheus) {
        let others: Vec<&str> = Component::ALL[1..].iter().map(|c| c.name()).collect();
        return Err(InputError::new(
            "--without prometheus: the rest of the stack hangs off Prometheus (it scrapes the exporters, fires the alerts, and is Grafana's datasource)",
        )
        .hint(format!(
            "leave out only {}; to remove the whole stack, use --delete",
            others.join(", ")
        )));
    }
    Ok(without.iter().copied().collect())
}

fn not_ready(state: ComponentState, reason: String) -> ComponentDoc {
    ComponentDoc { state, ready: false, reason: Some(reason) }
}

/// Waits, side by side, for each component that runs to be ready by kapply's rules; every
/// component that cannot be within `timeout` is named in the error, with why and what to do.
async fn wait_components(cluster: &Cluster, settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let manifests = manifests(settings)?;
    let discovery = ekskit_kube::errors::idempotent("discovering the API", || {
        Discovery::new(cluster.client.clone()).run_aggregated()
    })
    .await
    .map_err(|e| ekskit_kube::errors::kube_error(e, format!("discovering the API of {}", cluster.server)))?;
    let kinds = Kinds::new(discovery, &manifests);
    // The stack's own manifests name their namespaces: the stack's, and node exporter's.
    let objects = ekskit_kube::resolve::resolve(manifests, &kinds, &settings.namespace, false)?;
    let components = settings.components();
    let names: Vec<&str> = components.iter().map(|c| c.name()).collect();
    info!("waiting up to {} for {} to be ready", human(timeout), names.join(", "));
    let waits = components.iter().map(|&component| {
        let own: Vec<&Object> = objects.iter().filter(|o| Component::of(&o.body) == Some(component)).collect();
        async move { (component, ekskit_kube::waiting::wait_ready(&cluster.client, &own, timeout).await) }
    });
    let mut stuck = Vec::new();
    for (component, outcome) in futures::future::join_all(waits).await {
        match outcome {
            Ok(()) => {}
            // kapply's readiness: the objects not ready and why (`container x ImagePullBackOff`).
            Err(e) if e.downcast_ref::<Hinted>().is_some() => stuck.push((component, e.to_string())),
            Err(e) => return Err(e.context(format!("waiting for {component} to be ready"))),
        }
    }
    if stuck.is_empty() { Ok(()) } else { Err(not_running(settings, &stuck).into()) }
}

/// The error for components asked for that did not become ready: each with why, what is
/// ready, and what to do (make the image pullable, fix what is named, or leave it out).
fn not_running(settings: &Settings, stuck: &[(Component, String)]) -> Hinted {
    let names: Vec<&str> = stuck.iter().map(|(c, _)| c.name()).collect();
    let ready: Vec<&str> =
        settings.components().into_iter().map(Component::name).filter(|c| !names.contains(c)).collect();
    let ready = if ready.is_empty() { String::new() } else { format!(" (ready: {})", ready.join(", ")) };
    let message = match stuck {
        [(one, why)] => format!("{one} is not ready{ready}: {why}"),
        _ => {
            let why: Vec<String> = stuck.iter().map(|(c, why)| format!("{c}: {why}")).collect();
            format!("{} are not ready{ready}: {}", and_list(&names), why.join("; "))
        }
    };
    let images: Vec<&str> = stuck.iter().map(|(c, _)| c.image()).collect();
    // Prometheus cannot be left out: the others hang off it.
    let optional: Vec<String> =
        names.iter().filter(|n| **n != Component::Prometheus.name()).map(|n| format!("--without {n}")).collect();
    let leave_out = if optional.is_empty() {
        String::new()
    } else {
        format!("; or leave {} out: {}", if optional.len() == 1 { "it" } else { "them" }, optional.join(" "))
    };
    Hinted::new(
        message,
        format!(
            "a Pod that cannot pull its image ({}) needs it built and pushed where the nodes pull from; `kubectl -n {} describe pods -l 'app.kubernetes.io/name in ({})'` says more{leave_out}; then re-run monstack",
            images.join(", "),
            settings.namespace,
            names.join(","),
        ),
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// kapply's settings for the stack: one ApplySet, pruned (which removes the objects of
/// components left out), not waited for when applying (monstack waits per component), waited
/// for until gone when deleting (a namespace on a real node takes its Pods' grace to go).
fn kapply_options(args: &Args) -> ApplyOptions {
    ApplyOptions {
        namespace: Some(args.namespace.clone()),
        // node exporter's objects are in a namespace of their own.
        other_namespaces: true,
        app: Some(APP.to_owned()),
        prune: !args.delete.on,
        dry_run: args.dry_run.on,
        delete: args.delete.on,
        timeout: args.timeout.limit,
        // monstack waits itself, component by component (wait_components); a delete waits in
        // kapply until everything is gone.
        wait: args.delete.on,
        ..ApplyOptions::default()
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

/// Volumes: --no-persistence, else --storage-class (`settings.storage_class`, which must exist),
/// else the cluster's default StorageClass (EBS CSI's on EKS), else none. Returns why, for the
/// output.
async fn persistence(client: &kube::Client, no_persistence: bool, settings: &mut Settings) -> anyhow::Result<String> {
    if no_persistence {
        return Ok("--no-persistence".into());
    }
    let classes: Api<StorageClass> = Api::all(client.clone());
    let params = ListParams::default();
    let list = ekskit_kube::errors::idempotent("listing StorageClasses", || classes.list(&params))
        .await
        .map_err(|e| ekskit_kube::errors::kube_error(e, "listing StorageClasses"))?;
    if let Some(wanted) = &settings.storage_class {
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
    let existing = ekskit_kube::errors::idempotent("reading Secret grafana-admin", || secrets.get_opt("grafana-admin"))
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

/// The `monitoring` key: `asked` is what became of every component asked for; the others are
/// left out, and nothing that points at them (Services, volumes, versions, the Grafana admin) is
/// reported.
fn report(
    settings: &Settings,
    reason: String,
    objects: &BTreeMap<String, usize>,
    asked: ComponentDoc,
    dry_run: bool,
) -> MonitoringDoc {
    let ns = &settings.namespace;
    let components: BTreeMap<Component, ComponentDoc> = Component::ALL
        .into_iter()
        .map(|c| match settings.runs(c) {
            true => (c, asked.clone()),
            false => (c, not_ready(ComponentState::LeftOut, format!("--without {c}"))),
        })
        .collect();
    let services = [(Component::Grafana, 3000), (Component::Prometheus, 9090), (Component::Alertmanager, 9093)]
        .into_iter()
        .filter(|(c, _)| settings.runs(*c))
        .map(|(c, port)| ServiceDoc {
            name: c.name().into(),
            port,
            port_forward: format!("kubectl -n {ns} port-forward svc/{c} {port}:{port}"),
        })
        .collect();
    let volumes = match &settings.storage_class {
        Some(_) => stack::VOLUMES
            .iter()
            .filter(|(d, _)| Component::ALL.into_iter().any(|c| c.name() == *d && settings.runs(c)))
            .map(|(d, size)| (format!("{d}-data"), (*size).to_owned()))
            .collect(),
        None => BTreeMap::new(),
    };
    MonitoringDoc {
        namespace: ns.clone(),
        cluster: settings.cluster.clone(),
        ready: components.values().all(|c| c.ready || c.state == ComponentState::LeftOut),
        components,
        services,
        persistence: PersistenceDoc {
            enabled: settings.storage_class.is_some(),
            storage_class: settings.storage_class.clone(),
            reason,
            volumes,
        },
        versions: settings
            .components()
            .into_iter()
            .map(|c| (c.version_key().to_owned(), c.image().to_owned()))
            .collect(),
        grafana_admin: settings.runs(Component::Grafana).then(|| GrafanaAdminDoc {
            user: "admin".into(),
            secret: format!("{ns}/grafana-admin"),
            read_with: format!(
                "kubectl -n {ns} get secret grafana-admin -o jsonpath='{{.data.admin-password}}' | base64 -d"
            ),
        }),
        objects: objects.clone(),
        dry_run,
        rendered: None,
    }
}

fn check_namespace(name: &str) -> Result<(), InputError> {
    // node exporter's namespace is this one and a suffix, within Kubernetes' 63 characters.
    let ok = !name.is_empty()
        && name.len() <= 63 - stack::NODE_NAMESPACE_SUFFIX.len()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(InputError::new(format!("`{name}` is not a namespace name monstack can use"))
            .hint("use up to 49 lowercase letters, digits and - (node exporter's namespace adds -node-exporter)"))
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
    fn an_apply_is_waited_for_per_component_and_a_delete_until_everything_is_gone() {
        use clap::Parser;
        let apply = kapply_options(&crate::cli::Args::try_parse_from(["monstack"]).unwrap());
        assert!(!apply.wait && apply.prune && !apply.delete);
        let delete = kapply_options(&crate::cli::Args::try_parse_from(["monstack", "--delete"]).unwrap());
        assert!(delete.wait && delete.delete, "a delete returns once the objects are gone");
    }

    #[test]
    fn names_and_durations() {
        assert!(check_namespace("monitoring").is_ok());
        assert!(check_namespace("Monitoring").is_err());
        assert!(check_retention("15d").is_ok());
        assert!(check_retention("15").is_err());
        assert!(check_retention("d").is_err());
    }

    fn settings(left_out: &[Component]) -> Settings {
        Settings {
            namespace: "monitoring".into(),
            cluster: "demo".into(),
            retention: "15d".into(),
            runbooks: "https://example.invalid/runbooks".into(),
            storage_class: Some("gp3".into()),
            admin_password: None,
            left_out: left_out.iter().copied().collect(),
            eks_control_plane: false,
        }
    }

    #[test]
    fn render_scrapes_eks_control_plane_for_clusters_mkeks_made_at_1_28_or_later() {
        let doc = |cluster: serde_json::Value| {
            let mut doc = Document::default();
            doc.set("cluster", &cluster).unwrap();
            eks_by_document(&doc).unwrap()
        };
        let arn = "arn:aws:eks:eu-west-1:000000000000:cluster/demo";
        assert!(doc(serde_json::json!({"arn": arn, "version": "1.36"})));
        assert!(!doc(serde_json::json!({"arn": arn, "version": "1.27"})), "before EKS served them");
        assert!(!doc(serde_json::json!({"name": "kind", "version": "1.36"})), "not EKS");
        assert!(!eks_by_document(&Document::default()).unwrap());
    }

    #[test]
    fn prometheus_cannot_be_left_out() {
        let err = left_out(&[Component::Grafana, Component::Prometheus]).unwrap_err();
        assert_eq!(ekskit_core::errors::exit_code(&err.clone().into()), ekskit_core::errors::exit::USAGE);
        assert!(err.message.contains("--without prometheus"), "{}", err.message);
        assert!(err.hint.unwrap().contains("alertmanager, kube-state-metrics, node-exporter, grafana"));
        let set = left_out(&[Component::Grafana, Component::Grafana]).unwrap();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), [Component::Grafana]);
    }

    #[test]
    fn the_report_says_per_component_what_runs() {
        let running = ComponentDoc { state: ComponentState::Running, ready: true, reason: None };
        let out = report(&settings(&[Component::Grafana]), "r".into(), &BTreeMap::new(), running, false);
        assert!(out.ready);
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["components"]["prometheus"], serde_json::json!({"state": "running", "ready": true}));
        assert_eq!(
            json["components"]["grafana"],
            serde_json::json!({"state": "left out", "ready": false, "reason": "--without grafana"})
        );
        assert_eq!(
            json["components"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["prometheus", "alertmanager", "kube-state-metrics", "node-exporter", "grafana"]
        );
        assert!(json["grafana_admin"].is_null());
        let services: Vec<&str> = out.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(services, ["prometheus", "alertmanager"]);
        assert!(!out.versions.contains_key("grafana") && out.versions.contains_key("kube_state_metrics"));
        assert!(
            !out.persistence.volumes.contains_key("grafana-data")
                && out.persistence.volumes.contains_key("prometheus-data")
        );
        assert_eq!(serde_json::from_value::<MonitoringDoc>(json).unwrap(), out, "the document reads back");

        let whole = report(&settings(&[]), "r".into(), &BTreeMap::new(), running_doc(), false);
        assert!(whole.grafana_admin.is_some() && whole.services.len() == 3 && whole.versions.len() == 5);
    }

    fn running_doc() -> ComponentDoc {
        ComponentDoc { state: ComponentState::Running, ready: true, reason: None }
    }

    #[test]
    fn a_dry_run_is_never_ready() {
        let asked = not_ready(ComponentState::DryRun, "--dry-run: nothing applied".into());
        let out = report(&settings(&[Component::NodeExporter]), "r".into(), &BTreeMap::new(), asked, true);
        assert!(!out.ready && out.dry_run);
        assert_eq!(out.components[&Component::Prometheus].state, ComponentState::DryRun);
        assert!(!out.components[&Component::Prometheus].ready);
        assert_eq!(out.components[&Component::NodeExporter].state, ComponentState::LeftOut);
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["components"]["grafana"]["state"], "dry run");
    }

    #[test]
    fn a_stuck_component_is_named_with_why_and_what_to_do() {
        let why = "timed out after 10m waiting for 1 object to be ready: Deployment monitoring/grafana: 0 of 1 available; \
                   pod grafana-7d4 Pending: container grafana ImagePullBackOff: Back-off pulling image";
        let err = not_running(&settings(&[Component::NodeExporter]), &[(Component::Grafana, why.into())]);
        assert!(
            err.message.starts_with(
                "grafana is not ready (ready: prometheus, alertmanager, kube-state-metrics): timed out after 10m"
            ),
            "{}",
            err.message
        );
        assert!(err.message.ends_with("container grafana ImagePullBackOff: Back-off pulling image"), "{}", err.message);
        assert!(err.hint.contains("docker.io/grafana/grafana:12.1.0"), "{}", err.hint);
        assert!(err.hint.contains("--without grafana"), "{}", err.hint);
        let two =
            not_running(&settings(&[]), &[(Component::Alertmanager, "a".into()), (Component::Grafana, "g".into())]);
        assert_eq!(
            two.message,
            "alertmanager and grafana are not ready (ready: prometheus, kube-state-metrics, node-exporter): alertmanager: a; grafana: g"
        );
        assert!(two.hint.contains("--without alertmanager --without grafana"), "{}", two.hint);
        let all: Vec<(Component, String)> = Component::ALL.iter().map(|c| (*c, "x".to_owned())).collect();
        let none = not_running(&settings(&[]), &all);
        assert!(
            none.message.starts_with(
                "prometheus, alertmanager, kube-state-metrics, node-exporter and grafana are not ready: prometheus: x;"
            ),
            "{}",
            none.message
        );
        assert!(!none.hint.contains("--without prometheus"), "{}", none.hint);
        let prometheus = not_running(&settings(&[]), &all[..1]);
        assert!(!prometheus.hint.contains("--without"), "{}", prometheus.hint);
    }
}
