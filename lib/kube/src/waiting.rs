//! Waiting until objects are ready: all of them polled concurrently, each judged by the rules
//! in [`crate::readiness`]; the first that can never get ready stops the wait at once, and a
//! timeout names every object still not ready with the last state it was seen in (and, for
//! workloads, why their first unready Pod is stuck).

use std::collections::HashMap;
use std::time::Duration;

use ekskit_core::Hinted;
use ekskit_core::wait::{Check, human};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::time::Instant;
use tracing::info;

use crate::readiness;
use crate::resolve::{Key, Object};

const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Polls grow apart up to this: one LIST per resource and namespace keeps each poll cheap.
const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// Waits for every object in `objects` to be ready.
pub async fn wait_ready(client: &Client, objects: &[&Object], timeout: Duration) -> anyhow::Result<()> {
    wait(client, objects, timeout, false).await
}

/// Waits for every object in `objects` to hold the fields its manifest sets, then to be ready.
pub async fn wait_current(client: &Client, objects: &[&Object], timeout: Duration) -> anyhow::Result<()> {
    wait(client, objects, timeout, true).await
}

async fn wait(client: &Client, objects: &[&Object], timeout: Duration, current: bool) -> anyhow::Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let deadline = started + timeout;
    // Each object not ready yet, with its last state and how it last looked (for the error).
    let mut pending: HashMap<Key, Pending<'_>> =
        objects.iter().map(|o| (o.key(), (*o, "not checked yet".to_owned(), Value::Null))).collect();
    let mut interval = Duration::from_millis(100);
    let mut last_progress = started;
    info!("waiting up to {} for {} objects to be ready", human(timeout), pending.len());
    while !pending.is_empty() {
        let round: Vec<&Object> = pending.values().map(|(o, _, _)| *o).collect();
        let live = crate::live::fetch(client, &round).await?;
        let mut failed = Vec::new();
        for o in round {
            let key = o.key();
            let readiness = match live.get(&key) {
                Some(obj) if current => match crate::current::difference(&o.body, obj) {
                    Some(diff) => Check::Pending(format!("not there yet ({diff})")),
                    None => readiness::check(&o.resource.group, &o.resource.kind, obj),
                },
                Some(obj) => readiness::check(&o.resource.group, &o.resource.kind, obj),
                None if current => Check::Pending("not created yet".into()),
                None => Check::Pending("not found (deleted by someone else?)".into()),
            };
            match readiness {
                Check::Ready(()) => {
                    pending.remove(&key);
                }
                Check::Pending(state) => {
                    if let Some(slot) = pending.get_mut(&key) {
                        slot.1 = state;
                        slot.2 = live.get(&key).cloned().unwrap_or(Value::Null);
                    }
                }
                Check::Failed(state) => failed.push((key.clone(), state, live[&key].clone())),
            }
        }
        if !failed.is_empty() {
            return Err(failure(client, failed).await);
        }
        if pending.is_empty() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(client, &pending, timeout).await);
        }
        if now - last_progress >= PROGRESS_EVERY {
            last_progress = now;
            let (key, (_, state, _)) = pending.iter().min_by_key(|(k, _)| (*k).clone()).expect("pending is not empty");
            info!("{} objects not ready after {}, e.g. {key}: {state}", pending.len(), human(now - started));
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 3 / 2).min(MAX_INTERVAL);
    }
    info!("all {} objects ready in {}", objects.len(), human(started.elapsed()));
    Ok(())
}

async fn failure(client: &Client, failed: Vec<(Key, String, Value)>) -> anyhow::Error {
    let mut lines = Vec::new();
    for (key, state, live) in &failed {
        lines.push(with_pod(client, key, state, live).await);
    }
    Hinted::new(
        format!("{} can never become ready: {}", plural(failed.len()), lines.join("; ")),
        "fix it and re-run kapply (`kubectl describe` and the Pod logs say more); kapply stopped waiting at once",
    )
    .into()
}

/// An object being waited for: the object, its last state, its last live form.
type Pending<'a> = (&'a Object, String, Value);

/// The error for a timeout, from what the last poll saw (no second round of reads).
async fn timed_out(client: &Client, pending: &HashMap<Key, Pending<'_>>, timeout: Duration) -> anyhow::Error {
    let mut keys: Vec<&Key> = pending.keys().collect();
    keys.sort();
    let mut lines = Vec::new();
    for key in keys {
        let (_, state, live) = &pending[key];
        lines.push(with_pod(client, key, state, live).await);
    }
    Hinted::new(
        format!(
            "timed out after {} waiting for {} to be ready: {}",
            human(timeout),
            plural(pending.len()),
            lines.join("; ")
        ),
        "look at the objects named (`kubectl describe`), fix them and re-run, or allow more time with --timeout",
    )
    .into()
}

fn plural(n: usize) -> String {
    if n == 1 { "1 object".into() } else { format!("{n} objects") }
}

/// `Deployment app/web: 0 of 1 available (…)`, plus the first unready Pod's reason for workloads.
async fn with_pod(client: &Client, key: &Key, state: &str, live: &Value) -> String {
    match stuck_pod(client, key, live).await {
        Some(pod) => format!("{key}: {state}; {pod}"),
        None => format!("{key}: {state}"),
    }
}

/// Why the first unready Pod of a workload is stuck, e.g. `pod web-5d9 Pending: Unschedulable: 0/1 nodes …`.
async fn stuck_pod(client: &Client, key: &Key, live: &Value) -> Option<String> {
    if !matches!(key.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job") {
        return None;
    }
    let labels = live["spec"]["selector"]["matchLabels"].as_object()?;
    let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), key.namespace.as_deref()?);
    let list = pods.list(&ListParams::default().labels(&selector.join(","))).await.ok()?;
    list.items.iter().find_map(pod_problem)
}

fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True") {
        return None;
    }
    let phase = status.phase.as_deref().unwrap_or("Pending");
    if let Some(c) = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
        let why = [c.reason.as_deref(), c.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return Some(format!("pod {name} {phase}: {why}"));
    }
    let container = status.container_statuses.as_deref().unwrap_or_default().iter().find_map(|c| {
        let state = c.state.as_ref()?;
        let (reason, message) = match (&state.waiting, &state.terminated) {
            (Some(w), _) => (w.reason.clone(), w.message.clone()),
            (None, Some(t)) => (t.reason.clone(), t.message.clone()),
            _ => return None,
        };
        let why = [reason, message].into_iter().flatten().collect::<Vec<_>>().join(": ");
        Some(format!("container {} {why}", c.name))
    });
    Some(match container {
        Some(c) => format!("pod {name} {phase}: {c}"),
        None => format!("pod {name} {phase}, not Ready"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-1"}, "status": status})).unwrap()
    }

    #[test]
    fn stuck_pods_say_why() {
        let unschedulable = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available"}]}));
        assert_eq!(pod_problem(&unschedulable).unwrap(), "pod web-1 Pending: Unschedulable: 0/1 nodes are available");
        let pulling = pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "image": "x", "imageID": "",
            "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}}]}),
        );
        assert_eq!(pod_problem(&pulling).unwrap(), "pod web-1 Pending: container app ImagePullBackOff: Back-off");
        let ready = pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(pod_problem(&ready), None);
    }
}
