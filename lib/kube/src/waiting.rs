//! Waiting until objects are ready: all of them polled concurrently, each judged by the rules
//! in [`crate::readiness`]; the first that can never get ready stops the wait at once, and a
//! timeout names every object still not ready with the last state it was seen in (and, for
//! workloads, why their first unready Pod is stuck).

use std::collections::HashMap;
use std::time::Duration;

use ekskit_core::Hinted;
use ekskit_core::wait::{Check, human};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Event, Pod};
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

// Not ekskit_core::wait::until: this polls many objects at once, logs progress every 10s rather
// than per state change, and its failure and timeout errors name every object with its Pod's
// reason (reads `until` has no place for), which tests and users rely on.
#[allow(clippy::disallowed_methods)]
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
        let live = match crate::live::fetch(client, &round).await {
            Ok(live) => live,
            // A 429, a 5xx or a dropped connection does not end a wait that has time left: the
            // next poll comes after what the server asked for (its Retry-After).
            Err(e) => {
                crate::errors::sleep_out(e, deadline).await?;
                continue;
            }
        };
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
    let ns = key.namespace.as_deref()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods.list(&ListParams::default().labels(&selector.join(","))).await.ok()?;
    let (pod, problem) = list.items.iter().find_map(|p| pod_problem(p).map(|problem| (p, problem)))?;
    if !problem.in_events {
        return Some(problem.text);
    }
    match last_warning(client, ns, pod).await {
        Some(event) => Some(format!("{}: {event}", problem.text)),
        None => Some(problem.text),
    }
}

/// Why a Pod is not ready, as its status says; `in_events` when the status cannot say (a
/// container that runs but fails its readiness probe, one still being created while its volume
/// cannot be mounted): kubelet tells that only in the Pod's events.
#[derive(Debug, PartialEq)]
struct Problem {
    text: String,
    in_events: bool,
}

fn pod_problem(pod: &Pod) -> Option<Problem> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True") {
        return None;
    }
    let phase = status.phase.as_deref().unwrap_or("Pending");
    if let Some(c) = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
        let why = [c.reason.as_deref(), c.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return Some(Problem { text: format!("pod {name} {phase}: {why}"), in_events: false });
    }
    // An init container not done holds every container back: it comes first.
    let init = status.init_container_statuses.as_deref().unwrap_or_default().iter().filter(|c| {
        let done = c.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0);
        !done && !c.ready
    });
    let main = status.container_statuses.as_deref().unwrap_or_default().iter().filter(|c| !c.ready);
    let init = init.map(|c| ("init container", c));
    let container = init.chain(main.map(|c| ("container", c))).find_map(|(what, c)| container_problem(what, c));
    Some(match container {
        Some((c, in_events)) => Problem { text: format!("pod {name} {phase}: {c}"), in_events },
        None => Problem { text: format!("pod {name} {phase}, not Ready"), in_events: true },
    })
}

/// `container app CrashLoopBackOff: back-off 20s …, last exit code 3 (Error), 2 restarts`, and
/// whether the Pod's events say more.
fn container_problem(what: &str, c: &ContainerStatus) -> Option<(String, bool)> {
    let state = c.state.as_ref()?;
    let (text, in_events) = if let Some(w) = &state.waiting {
        let reason = w.reason.as_deref().unwrap_or("waiting");
        let why = [Some(reason), w.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        (why, w.message.is_none() && matches!(reason, "ContainerCreating" | "PodInitializing"))
    } else if let Some(t) = &state.terminated {
        (format!("terminated: {}", exit(t)), false)
    } else if state.running.is_some() {
        ("running, not ready".to_owned(), true)
    } else {
        return None;
    };
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()).filter(|_| state.terminated.is_none());
    let last = last.map(|t| format!(", last {}", exit(t))).unwrap_or_default();
    // After a crash kubelet shows the container terminated for a while, then CrashLoopBackOff
    // until the back-off ends, then running again: the count says which it is whatever the moment.
    let restarts = match c.restart_count {
        0 => String::new(),
        1 => ", 1 restart".to_owned(),
        n => format!(", {n} restarts"),
    };
    Some((format!("{what} {} {text}{last}{restarts}", c.name), in_events))
}

/// `exit code 3 (Error)`, with the termination message when there is one.
fn exit(t: &ContainerStateTerminated) -> String {
    let reason = t.reason.as_deref().unwrap_or("Terminated");
    match t.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => format!("exit code {} ({reason}: {message})", t.exit_code),
        None => format!("exit code {} ({reason})", t.exit_code),
    }
}

/// The message of the Pod's newest Warning event (a failing probe, a volume that cannot be
/// mounted), if it can be read.
async fn last_warning(client: &Client, ns: &str, pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref()?;
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let fields = format!("involvedObject.kind=Pod,involvedObject.name={name},type=Warning");
    let list = events.list(&ListParams::default().fields(&fields)).await.ok()?;
    let uid = pod.metadata.uid.as_deref();
    let newest =
        list.items.into_iter().filter(|e| uid.is_none() || e.involved_object.uid.as_deref() == uid).max_by_key(
            |e| {
                let last = e.last_timestamp.as_ref().map(|t| t.0);
                last.or_else(|| e.event_time.as_ref().map(|t| t.0))
                    .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
            },
        )?;
    Some(newest.message?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-1"}, "status": status})).unwrap()
    }

    fn problem(pod: &Pod) -> (String, bool) {
        pod_problem(pod).map(|p| (p.text, p.in_events)).unwrap()
    }

    fn app(ready: bool, state: Value, last: Value) -> Value {
        let restarts = if last.as_object().is_some_and(|l| !l.is_empty()) { 2 } else { 0 };
        json!({"name": "app", "image": "x", "imageID": "", "ready": ready, "restartCount": restarts, "state": state,
            "lastState": last})
    }

    #[test]
    fn stuck_pods_say_why() {
        let unschedulable = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available"}]}));
        assert_eq!(problem(&unschedulable).0, "pod web-1 Pending: Unschedulable: 0/1 nodes are available");
        let pulling = pod(json!({"phase": "Pending", "containerStatuses": [app(false,
            json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}), json!({}))]}));
        assert_eq!(problem(&pulling), ("pod web-1 Pending: container app ImagePullBackOff: Back-off".into(), false));
        let ready = pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(pod_problem(&ready), None);
    }

    /// What a real kubelet reports: a crash loop with the last exit, a finished container's exit
    /// code, a running container its readiness probe fails (said by the events only), an init
    /// container that holds the Pod back.
    #[test]
    fn kubelets_states_name_the_container_and_its_exit() {
        let exited = json!({"terminated": {"reason": "Error", "exitCode": 3}});
        let crashing = pod(json!({"phase": "Running", "containerStatuses": [app(false,
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=app"}}),
            exited.clone())]}));
        assert_eq!(
            problem(&crashing),
            (
                "pod web-1 Running: container app CrashLoopBackOff: back-off 20s restarting failed container=app, \
                 last exit code 3 (Error), 2 restarts"
                    .into(),
                false
            )
        );
        let failed = pod(json!({"phase": "Failed", "containerStatuses": [app(false, exited.clone(), json!({}))]}));
        assert_eq!(problem(&failed), ("pod web-1 Failed: container app terminated: exit code 3 (Error)".into(), false));
        let between =
            pod(json!({"phase": "Running", "containerStatuses": [app(false, exited.clone(), exited.clone())]}));
        assert_eq!(
            problem(&between),
            ("pod web-1 Running: container app terminated: exit code 3 (Error), 2 restarts".into(), false)
        );
        let oom = json!({"terminated": {"reason": "OOMKilled", "exitCode": 137, "message": " out of memory\n"}});
        let running = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "sidecar", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}},
            app(false, json!({"running": {}}), oom)]}));
        assert_eq!(
            problem(&running),
            (
                "pod web-1 Running: container app running, not ready, last exit code 137 (OOMKilled: out of memory), \
                 2 restarts"
                    .into(),
                true
            )
        );
        let mounting = pod(json!({"phase": "Pending", "containerStatuses": [app(false,
            json!({"waiting": {"reason": "ContainerCreating"}}), json!({}))]}));
        assert_eq!(problem(&mounting), ("pod web-1 Pending: container app ContainerCreating".into(), true));
        let init = pod(json!({"phase": "Pending",
            "initContainerStatuses": [
                {"name": "done", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
                {"name": "migrate", "image": "x", "imageID": "", "ready": false, "restartCount": 2,
                 "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}, "lastState": exited}],
            "containerStatuses": [app(false, json!({"waiting": {"reason": "PodInitializing"}}), json!({}))]}));
        assert_eq!(
            problem(&init).0,
            "pod web-1 Pending: init container migrate CrashLoopBackOff: back-off 40s, last exit code 3 (Error), 2 restarts"
        );
    }
}
