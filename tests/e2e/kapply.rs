//! kapply against the real Kubernetes of the local stack (`scripts/devstack up kube node`): etcd,
//! kube-apiserver, controller-manager and scheduler, and a real node (containerd, runc, kubelet,
//! kube-proxy) that pulls from the stack's registry. Pods run the base image pushed there
//! ([`runnable_image`]), so readiness is kubelet's own, and so are the stuck reasons kapply names:
//! a pull that really fails, a container that really crashes, a probe that really fails.
//! Every test works in namespaces (and CRD groups) of its own, so they run in parallel.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use ekskit_tests::{
    assert_schema, ok_json, run, run_tool, runnable_image, stack_env, stderr, stdout_json, tool, unique_stack,
    write_file,
};
use serde_json::{Value, json};

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "docker", "registry", "base", "images", "kube", "node"])
}

/// The image the tests' Pods run, `:1` (or `:2`, to roll out a change), in the stack's registry.
fn image(tag: usize) -> String {
    runnable_image(env(), "kapply-test")[tag - 1].clone()
}

/// A tag the stack's registry does not have: the node's pull really fails.
fn missing_image() -> String {
    format!("{}/kapply-test:absent", env()["EKSKIT_REGISTRY"])
}

/// Runs until stopped, and stops at once on SIGTERM (`sleep` as PID 1 would ignore it and hold
/// every namespace deletion for the grace period).
const RUNS: &str = r#"[sh, -c, "trap 'exit 0' TERM; sleep infinity & wait"]"#;

/// A fresh directory for a test's manifests, and a name to use for its namespace.
fn workspace(prefix: &str) -> (PathBuf, String) {
    let name = unique_stack(prefix).to_lowercase();
    let dir = std::env::temp_dir().join(format!("kapply-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    (dir, name)
}

fn kapply(args: &[&str], stdin: Option<&str>) -> Output {
    run_tool("kapply", env(), args, stdin)
}

/// kubectl built with the control plane, to look behind kapply's back.
fn kubectl(args: &[&str]) -> Output {
    ekskit_tests::kubectl(env(), args)
}

fn exists(args: &[&str]) -> bool {
    kubectl(&[&["get"], args].concat()).status.success()
}

fn actions(doc: &Value) -> Vec<(String, String)> {
    doc["apply"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
                o["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// stderr from the `kapply: error:` line on, without the progress logs before it.
fn error_lines(out: &Output) -> String {
    let err = stderr(out);
    err.find("kapply: error:").map(|at| err[at..].to_owned()).unwrap_or(err)
}

fn ok(out: &Output) -> Value {
    ok_json("kapply", out)
}

fn namespace(ns: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n")
}

fn configmap(ns: &str, name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  key: \"{value}\"\n---\n"
    )
}

/// A Deployment of one Pod whose container `app` runs [`image`] `:1` until stopped.
fn deployment(ns: &str, name: &str, extra_pod_spec: &str) -> String {
    deployment_of(ns, name, &container(&image(1), RUNS, ""), extra_pod_spec)
}

/// The container `app` of `image` running `command` (a YAML flow list), with `extra` fields
/// (indented by 8).
fn container(image: &str, command: &str, extra: &str) -> String {
    format!("      - name: app\n        image: {image}\n        command: {command}\n{extra}")
}

fn deployment_of(ns: &str, name: &str, container: &str, extra_pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  replicas: 1\n  \
         selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    \
         spec:\n      containers:\n{container}{extra_pod_spec}---\n"
    )
}

/// The status of container `app` in a Pod labelled `app=<app>` in `ns`, once `seen` accepts it
/// (polled; kubelet's states take their own time to appear). Gives up after five minutes: by then
/// the stack is broken, not slow.
#[allow(clippy::disallowed_methods, reason = "polls kubectl from the test")]
fn container_status(ns: &str, app: &str, seen: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let out = kubectl(&["get", "pods", "-n", ns, "-l", &format!("app={app}"), "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let pods: Value = serde_json::from_slice(&out.stdout).unwrap();
        let statuses =
            pods["items"].as_array().unwrap().iter().filter_map(|p| p["status"]["containerStatuses"].as_array());
        if let Some(found) = statuses.flatten().find(|c| c["name"] == "app" && seen(c)) {
            return found.clone();
        }
        last = pods["items"].clone();
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("no Pod app={app} in {ns} got there: {last:#}")
}

/// The message of the newest event of `reason` about a Pod labelled `app=<app>` in `ns`, once
/// there is one.
#[allow(clippy::disallowed_methods, reason = "polls kubectl from the test")]
fn pod_event(ns: &str, app: &str, reason: &str) -> String {
    let prefix = format!("{app}-");
    for _ in 0..600 {
        let selector = format!("involvedObject.kind=Pod,reason={reason}");
        let out = kubectl(&["get", "events", "-n", ns, "--field-selector", &selector, "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let events: Value = serde_json::from_slice(&out.stdout).unwrap();
        let about = |e: &&Value| e["involvedObject"]["name"].as_str().is_some_and(|n| n.starts_with(&prefix));
        if let Some(e) = events["items"].as_array().unwrap().iter().rfind(about) {
            return e["message"].as_str().unwrap_or_default().to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("no {reason} event for a Pod app={app} in {ns}")
}

#[test]
fn a_crd_and_its_custom_resources_apply_in_one_run() {
    let (dir, ns) = workspace("crd");
    let group = format!("{ns}.example.com");
    write_file(&dir, "00-ns.yaml", &namespace(&ns));
    // The custom resource sorts before its CRD on purpose: kapply orders by kind, not by file.
    write_file(
        &dir,
        "a-crontab.yaml",
        &format!(
            "apiVersion: {group}/v1\nkind: CronTab\nmetadata: {{name: nightly, namespace: {ns}}}\nspec: {{cron: '0 3 * * *'}}\n"
        ),
    );
    write_file(
        &dir,
        "z-crd.yaml",
        &format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: crontabs.{group}}}\n\
             spec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: CronTab, plural: crontabs, singular: crontab}}\n  \
             versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        \
             type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              \
             cron: {{type: string}}\n"
        ),
    );
    let doc = ok(&kapply(&["-f", dir.to_str().unwrap()], Some("{\"kept\": true}")));
    assert_eq!(doc["kept"], true, "keys from stdin are kept");
    assert_schema("apply.schema.json", &doc["apply"]);
    let got = actions(&doc);
    assert_eq!(
        got,
        [
            ("Namespace/".to_owned() + &ns, "created".to_owned()),
            (format!("CustomResourceDefinition/crontabs.{group}"), "created".to_owned()),
            ("CronTab/nightly".to_owned(), "created".to_owned()),
        ]
    );
    assert!(doc["apply"]["objects"].as_array().unwrap().iter().all(|o| o["ready"] == true));
    assert!(exists(&[&format!("crontabs.{group}"), "nightly", "-n", &ns]));
    kubectl(&["delete", "crd", &format!("crontabs.{group}"), "--wait=false"]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn reapplying_reports_unchanged_and_one_edit_reports_one_configured() {
    let (dir, ns) = workspace("reapply");
    let write_all = |b: &str| {
        write_file(
            &dir,
            "all.yaml",
            &(namespace(&ns) + &configmap(&ns, "a", "1") + &configmap(&ns, "b", b) + &deployment(&ns, "web", "")),
        )
    };
    write_all("1");
    let first = ok(&kapply(&["-f", dir.to_str().unwrap()], None));
    assert!(actions(&first).iter().all(|(_, a)| a == "created"), "{:?}", actions(&first));
    let again = ok(&kapply(&["-f", dir.to_str().unwrap()], None));
    assert!(actions(&again).iter().all(|(_, a)| a == "unchanged"), "{:?}", actions(&again));
    write_all("2");
    let edited = ok(&kapply(&["-f", dir.to_str().unwrap()], None));
    let changed: Vec<_> = actions(&edited).into_iter().filter(|(_, a)| a != "unchanged").collect();
    assert_eq!(changed, [("ConfigMap/b".to_owned(), "configured".to_owned())]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn a_deployment_whose_image_never_pulls_times_out_naming_it_and_its_state() {
    let (dir, ns) = workspace("stuck");
    // A tag the registry does not have: the node's pull fails for real.
    let stuck = deployment_of(&ns, "stuck", &container(&missing_image(), RUNS, ""), "");
    write_file(&dir, "all.yaml", &(namespace(&ns) + &configmap(&ns, "fine", "1") + &stuck));
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "4s"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = error_lines(&out);
    assert!(err.contains("timed out after 4s waiting for 1 object to be ready"), "{err}");
    assert!(err.contains(&format!("Deployment {ns}/stuck: 0 of 1 available")), "{err}");
    assert!(!err.contains("ConfigMap"), "ready objects are not blamed: {err}");

    // Once kubelet has tried the pull, the timeout names the Pod's reason and kubelet's words for it.
    container_status(&ns, "stuck", |c| {
        matches!(c["state"]["waiting"]["reason"].as_str(), Some("ErrImagePull" | "ImagePullBackOff"))
    });
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "3s"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = error_lines(&out);
    assert!(err.contains(&format!("Deployment {ns}/stuck: 0 of 1 available")), "{err}");
    assert!(
        err.contains("container app ImagePullBackOff: Back-off pulling image")
            || err.contains("container app ErrImagePull: "),
        "the Pod's reason is named: {err}"
    );
    assert!(err.contains(&format!("\"{}\"", missing_image())) && err.contains("not found"), "kubelet's message: {err}");

    // An unschedulable one says why the scheduler refuses it.
    let nowhere = "      nodeSelector: {ekskit.io/nowhere: \"true\"}\n";
    write_file(&dir, "all.yaml", &(namespace(&ns) + &deployment(&ns, "homeless", nowhere)));
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "4s"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = error_lines(&out);
    assert!(err.contains("Pending: Unschedulable: 0/1 nodes are available"), "{err}");
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

/// A container that exits 3 again and again is named with its exit code and restarts, and with
/// CrashLoopBackOff while kubelet says so. After each crash kubelet shows the container
/// terminated for a while, then CrashLoopBackOff until the back-off ends, then running for a
/// moment: every run names whichever state it meets, and the runs go on until one meets
/// CrashLoopBackOff (no run has to fall in a given window).
#[test]
fn a_crash_looping_container_is_named_with_its_exit_code_and_crash_loop_back_off() {
    let (dir, ns) = workspace("crash");
    // The probe never passes, so the moments the container runs between crashes never make the
    // Pod Ready (without one it would be, and the Deployment available, for a moment).
    let never_ready = "        readinessProbe: {exec: {command: [\"false\"]}, periodSeconds: 1}\n";
    let crash = deployment_of(&ns, "crash", &container(&image(1), r#"[sh, -c, "exit 3"]"#, never_ready), "");
    write_file(&dir, "all.yaml", &(namespace(&ns) + &crash));
    let d = dir.to_str().unwrap();
    ok(&kapply(&["-f", d, "--no-wait"], None));
    let crashed = container_status(&ns, "crash", |c| c["restartCount"].as_i64() >= Some(1));
    assert_eq!(crashed["lastState"]["terminated"]["exitCode"], 3, "{crashed:#}");

    let mut seen = Vec::new();
    while seen.len() < 100 {
        let out = kapply(&["-f", d, "--timeout", "2s"], None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = error_lines(&out);
        assert!(err.contains(&format!("Deployment {ns}/crash: 0 of 1 available")), "{err}");
        assert!(err.contains("exit code 3 (Error), ") && err.contains(" restart"), "{err}");
        if err.contains("container app CrashLoopBackOff: back-off ") {
            assert!(err.contains("s restarting failed container=app pod=crash-"), "{err}");
            assert!(err.contains("last exit code 3 (Error)"), "{err}");
            kubectl(&["delete", "ns", &ns, "--wait=false"]);
            return;
        }
        let state = ["container app terminated: exit code 3", "container app running, not ready"];
        assert!(state.iter().any(|s| err.contains(s)), "{err}");
        seen.push(err);
    }
    panic!("no run met CrashLoopBackOff: {seen:#?}");
}

/// Containers a readiness probe keeps out of service and one whose volume cannot be mounted are
/// named with what kubelet says of them, which only the Pod's events tell: the probe's failure,
/// the mount's failure.
#[test]
fn failing_readiness_probes_and_missing_volumes_are_named_with_kubelets_reasons() {
    let (dir, ns) = workspace("unready");
    let probe = |name: &str, probe: &str| {
        let extra = format!("        readinessProbe: {{{probe}, periodSeconds: 1}}\n");
        deployment_of(&ns, name, &container(&image(1), RUNS, &extra), "")
    };
    // `false` exits 1; nothing listens on 8080 in that Pod.
    let exec = probe("exec-probe", "exec: {command: [\"false\"]}");
    let http = probe("http-probe", "httpGet: {path: /ready, port: 8080}");
    let mount = "        volumeMounts: [{name: settings, mountPath: /settings}]\n";
    let absent = "      volumes: [{name: settings, configMap: {name: absent}}]\n";
    let volume = deployment_of(&ns, "volume", &container(&image(1), RUNS, mount), absent);
    write_file(&dir, "all.yaml", &(namespace(&ns) + &exec + &http + &volume));
    let d = dir.to_str().unwrap();
    ok(&kapply(&["-f", d, "--no-wait"], None));
    for app in ["exec-probe", "http-probe"] {
        container_status(&ns, app, |c| c["state"]["running"].is_object() && c["ready"] == false);
        pod_event(&ns, app, "Unhealthy");
    }
    pod_event(&ns, "volume", "FailedMount");

    let out = kapply(&["-f", d, "--timeout", "3s"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = error_lines(&out);
    assert!(err.contains("timed out after 3s waiting for 3 objects to be ready"), "{err}");
    let line = |name: &str| {
        let start = err.find(&format!("Deployment {ns}/{name}: ")).unwrap_or_else(|| panic!("{name} is named: {err}"));
        let rest = &err[start..];
        rest[..rest.find("; Deployment ").or_else(|| rest.find('\n')).unwrap_or(rest.len())].to_owned()
    };
    let exec = line("exec-probe");
    assert!(exec.contains("0 of 1 available"), "{exec}");
    assert!(exec.contains("container app running, not ready: Readiness probe failed"), "{exec}");
    let http = line("http-probe");
    assert!(http.contains("container app running, not ready: Readiness probe failed: Get \"http://"), "{http}");
    assert!(http.contains(":8080/ready\": dial tcp ") && http.contains("connect: connection refused"), "{http}");
    let volume = line("volume");
    let why = "MountVolume.SetUp failed for volume \"settings\" : configmap \"absent\" not found";
    assert!(volume.contains(&format!("container app ContainerCreating: {why}")), "{volume}");
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn a_failing_job_and_a_deployment_past_its_deadline_fail_fast() {
    let (dir, ns) = workspace("fail");
    let job = |name: &str, command: &str, extra: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{extra}  backoffLimit: 0\n  \
             template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers:\n{}---\n",
            container(&image(1), command, "").replace("name: app", "name: m"),
        )
    };
    // Past its deadline without ever being scheduled.
    let unscheduled = job("migrate", RUNS, "  activeDeadlineSeconds: 2\n")
        .replace("      containers:\n", "      nodeSelector: {ekskit.io/nowhere: \"true\"}\n      containers:\n");
    write_file(&dir, "job.yaml", &(namespace(&ns) + &unscheduled));
    // A 10-minute timeout: only failing fast makes these runs end with the Job's own reason.
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "10m"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("Job {ns}/migrate: Job failed: DeadlineExceeded")), "{err}");
    assert!(err.contains("can never become ready"), "{err}");

    // Its one Pod crashed on the node: the Job's reason and the container's exit code.
    write_file(&dir, "job.yaml", &(namespace(&ns) + &job("crash", r#"[sh, -c, "exit 3"]"#, "")));
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "10m"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = error_lines(&out);
    assert!(err.contains(&format!("Job {ns}/crash: Job failed: BackoffLimitExceeded")), "{err}");
    assert!(err.contains("Failed: container m terminated: exit code 3 (Error)"), "{err}");

    let (dir2, ns2) = workspace("deadline");
    let slow = "      nodeSelector: {ekskit.io/nowhere: \"true\"}\n";
    let deploy =
        deployment(&ns2, "slow", slow).replace("  replicas: 1\n", "  replicas: 1\n  progressDeadlineSeconds: 2\n");
    write_file(&dir2, "d.yaml", &(namespace(&ns2) + &deploy));
    let out = kapply(&["-f", dir2.to_str().unwrap(), "--timeout", "10m"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("Deployment {ns2}/slow: ProgressDeadlineExceeded")), "{}", stderr(&out));
    kubectl(&["delete", "ns", &ns, &ns2, "--wait=false"]);
}

#[test]
fn prune_removes_what_left_the_input_and_nothing_outside_the_app() {
    let (dir, ns) = workspace("prune");
    // The namespace and one ConfigMap are not part of the app.
    ok(&kapply(&["-f", "-"], Some(&(namespace(&ns) + &configmap(&ns, "not-in-app", "x")))));
    write_file(&dir, "a.yaml", &configmap(&ns, "a", "1"));
    write_file(&dir, "b.yaml", &configmap(&ns, "b", "1"));
    let d = dir.to_str().unwrap();
    ok(&kapply(&["-f", d, "--app", "demo", "-n", &ns], None));
    // Another app in the same namespace, with a ConfigMap of the same kind.
    ok(&kapply(&["-f", "-", "--app", "other", "-n", &ns], Some(&configmap(&ns, "other-app", "1"))));
    std::fs::remove_file(dir.join("b.yaml")).unwrap();
    let doc = ok(&kapply(&["-f", d, "--app", "demo", "-n", &ns, "--prune"], None));
    let pruned: Vec<_> = actions(&doc).into_iter().filter(|(_, a)| a == "pruned").collect();
    assert_eq!(pruned, [("ConfigMap/b".to_owned(), "pruned".to_owned())]);
    assert!(!exists(&["configmap", "b", "-n", &ns]));
    for kept in ["a", "not-in-app", "other-app"] {
        assert!(exists(&["configmap", kept, "-n", &ns]), "{kept} must survive the prune");
    }

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = kapply(&["-f", empty.to_str().unwrap(), "--app", "demo", "-n", &ns, "--prune"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--prune with no objects"), "{}", stderr(&out));
    assert!(exists(&["configmap", "a", "-n", &ns]));

    // --delete --app with no input deletes the app's members and its parent, nothing else.
    let doc = ok(&kapply(&["--delete", "--app", "demo", "-n", &ns], None));
    assert_schema("deleted.apply.schema.json", &doc["deleted"]["apply"]);
    assert!(!exists(&["configmap", "a", "-n", &ns]));
    assert!(!exists(&["secret", "kapply-demo", "-n", &ns]));
    assert!(exists(&["configmap", "not-in-app", "-n", &ns]) && exists(&["configmap", "other-app", "-n", &ns]));
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn placeholders_come_from_the_stdin_document_and_unknown_ones_apply_nothing() {
    let (dir, ns) = workspace("vars");
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\n  labels: {{cluster: \"${{cluster.name}}\"}}\n\
         data:\n  vpc: \"${{vpc.id}}\"\n  script: \"echo ${{HOME}}\"\n"
    );
    write_file(&dir, "all.yaml", &(namespace(&ns) + &cm));
    let stdin = json!({"cluster": {"name": "demo"}, "vpc": {"id": "vpc-0abc"}}).to_string();
    let doc = ok(&kapply(&["-f", dir.to_str().unwrap()], Some(&stdin)));
    assert_eq!(doc["vpc"]["id"], "vpc-0abc");
    let live = kubectl(&["get", "configmap", "settings", "-n", &ns, "-o", "json"]);
    let live: Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(live["metadata"]["labels"]["cluster"], "demo");
    assert_eq!(live["data"], json!({"vpc": "vpc-0abc", "script": "echo ${HOME}"}));

    let (dir2, ns2) = workspace("vars-bad");
    write_file(&dir2, "all.yaml", &(namespace(&ns2) + &cm.replace(&ns, &ns2).replace("vpc.id", "vpc.idd")));
    let out = kapply(&["-f", dir2.to_str().unwrap()], Some(&stdin));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("unknown placeholder ${vpc.idd}"), "{}", stderr(&out));
    assert!(!exists(&["namespace", &ns2]), "nothing is applied when a placeholder is unknown");
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn an_eks_cluster_document_is_enough_to_reach_the_cluster() {
    let e = env();
    let (dir, ns) = workspace("eks");
    write_file(&dir, "all.yaml", &(namespace(&ns) + &configmap(&ns, "hello", "eks")));
    let ca = std::fs::read(&e["EKSKIT_KUBE_CA"]).unwrap();
    use base64::Engine;
    let cluster = json!({"cluster": {
        "name": e["EKSKIT_KUBE_CLUSTER"], "endpoint": e["EKSKIT_KUBE_SERVER"], "region": "us-east-1",
        "certificate_authority": base64::engine::general_purpose::STANDARD.encode(ca)}});
    let home = std::env::temp_dir().join(format!("kapply-home-{ns}"));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = tool("kapply", e);
    cmd.env_remove("KUBECONFIG").env("HOME", &home).args(["-f", dir.to_str().unwrap()]);
    let doc = ok(&run(cmd, Some(&cluster.to_string())));
    assert_eq!(doc["apply"]["server"].as_str().unwrap().trim_end_matches('/'), e["EKSKIT_KUBE_SERVER"]);
    assert!(exists(&["configmap", "hello", "-n", &ns]));

    // Without AWS credentials there is no token: a clear input error before anything is applied.
    let mut cmd = tool("kapply", e);
    cmd.env_remove("KUBECONFIG").env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.env("HOME", &home).args(["-f", dir.to_str().unwrap()]);
    let out = run(cmd, Some(&cluster.to_string()));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn bad_input_and_an_unreachable_cluster_get_clear_errors_and_exit_codes() {
    let (dir, ns) = workspace("bad");
    write_file(&dir, "broken.yaml", &(namespace(&ns) + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"));
    let out = kapply(&["-f", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.yaml#2: not valid YAML"), "{}", stderr(&out));

    write_file(
        &dir,
        "broken.yaml",
        &(namespace(&ns) + "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n"),
    );
    let out = kapply(&["-f", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown kind Gizmo in example.com/v1"), "{}", stderr(&out));
    assert!(!exists(&["namespace", &ns]), "nothing applied");

    let kubeconfig = dir.join("unreachable.kubeconfig");
    write_file(
        &dir,
        "unreachable.kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    );
    std::fs::remove_file(dir.join("broken.yaml")).unwrap();
    write_file(&dir, "ok.yaml", &namespace(&ns));
    let out =
        kapply(&["-f", dir.join("ok.yaml").to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach the Kubernetes API server"), "{}", stderr(&out));

    let out = kapply(&["-f", dir.join("ok.yaml").to_str().unwrap(), "--context", "nope"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = kapply(&["-f", dir.join("missing.yaml").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let out = kapply(&[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no manifests given"));
}

#[test]
fn diff_dry_run_and_delete() {
    let (dir, ns) = workspace("diff");
    let secret = |v: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: {ns}}}\ndata: {{token: {v}}}\n---\n")
    };
    write_file(
        &dir,
        "all.yaml",
        &(namespace(&ns) + &configmap(&ns, "c", "1") + &deployment(&ns, "web", "") + &secret("b2xkLXNlY3JldA==")),
    );
    let d = dir.to_str().unwrap();
    let dry = ok(&kapply(&["-f", d, "--dry-run"], None));
    assert!(actions(&dry).iter().all(|(_, a)| a == "created"), "{:?}", actions(&dry));
    assert!(!exists(&["namespace", &ns]), "a dry run creates nothing");

    ok(&kapply(&["-f", d], None));
    let same = kapply(&["-f", d, "--diff"], None);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    write_file(
        &dir,
        "all.yaml",
        &(namespace(&ns) + &configmap(&ns, "c", "2") + &deployment(&ns, "web", "") + &secret("bmV3LXNlY3JldA==")),
    );
    let changed = kapply(&["-f", d, "--diff"], None);
    assert_eq!(changed.status.code(), Some(3), "exit 3 means changes found: {}", stderr(&changed));
    let doc = stdout_json(&changed);
    let diff = doc["apply"]["objects"].as_array().unwrap().iter().find_map(|o| o["diff"].as_str()).unwrap();
    assert!(diff.contains("-  key: '1'") && diff.contains("+  key: '2'"), "{diff}");
    assert!(stderr(&changed).contains("+  key: '2'"));
    let everything = format!("{}{}", String::from_utf8_lossy(&changed.stdout), stderr(&changed));
    assert!(everything.contains("token: '*** (after)'"), "{everything}");
    assert!(
        !everything.contains("b2xkLXNlY3JldA") && !everything.contains("bmV3LXNlY3JldA"),
        "Secret values never shown"
    );
    assert!(exists(&["configmap", "c", "-n", &ns]));
    let live = kubectl(&["get", "configmap", "c", "-n", &ns, "-o", "jsonpath={.data.key}"]);
    assert_eq!(String::from_utf8_lossy(&live.stdout), "1", "--diff changes nothing");

    let gone = ok(&kapply(&["-f", d, "--delete"], Some("{\"apply\": {}}")));
    assert!(gone.get("apply").is_none(), "the apply key is replaced by deleted.apply");
    assert!(actions(&json!({"apply": gone["deleted"]["apply"]})).iter().all(|(_, a)| a == "deleted"));
    assert!(!exists(&["namespace", &ns]), "--delete waits until the namespace is gone");
    let again = ok(&kapply(&["-f", d, "--delete"], None));
    assert!(actions(&json!({"apply": again["deleted"]["apply"]})).iter().all(|(_, a)| a == "absent"));
}

#[test]
fn stdin_streams_and_kustomize_overlays() {
    let (dir, ns) = workspace("kust");
    write_file(&dir, "base/cm.yaml", &configmap(&ns, "settings", "base"));
    write_file(&dir, "base/kustomization.yaml", "resources: [cm.yaml]\n");
    write_file(
        &dir,
        "overlay/kustomization.yaml",
        &format!("resources: [../base, ns.yaml]\nnamePrefix: prod-\nnamespace: {ns}\n"),
    );
    write_file(&dir, "overlay/ns.yaml", &namespace(&ns));
    // kapply finds `kubectl kustomize` on PATH (the one built with the control plane).
    let mut cmd = tool("kapply", env());
    let path = format!("{}:/usr/bin:/bin", env()["EKSKIT_KUBE_BIN"]);
    cmd.env("PATH", path).args(["-k", dir.join("overlay").to_str().unwrap()]);
    let doc = ok(&run(cmd, None));
    assert!(
        actions(&doc).contains(&("ConfigMap/prod-settings".to_owned(), "created".to_owned())),
        "{:?}",
        actions(&doc)
    );

    let mut cmd = tool("kapply", env());
    cmd.env("PATH", "/nonexistent").args(["-k", dir.join("overlay").to_str().unwrap()]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("neither kustomize nor kubectl"), "{}", stderr(&out));

    let doc = ok(&kapply(&["-f", "-"], Some(&configmap(&ns, "from-stdin", "1"))));
    assert_eq!(actions(&doc), [("ConfigMap/from-stdin".to_owned(), "created".to_owned())]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn field_conflicts_need_force_conflicts() {
    let (dir, ns) = workspace("conflict");
    ok(&kapply(&["-f", "-"], Some(&namespace(&ns))));
    let theirs = dir.join("theirs.yaml");
    std::fs::write(&theirs, configmap(&ns, "shared", "theirs")).unwrap();
    let other = kubectl(&["apply", "--server-side", "--field-manager", "someone-else", "-f", theirs.to_str().unwrap()]);
    assert!(other.status.success(), "{}", String::from_utf8_lossy(&other.stderr));
    let out = kapply(&["-f", "-"], Some(&configmap(&ns, "shared", "ours")));
    assert_eq!(out.status.code(), Some(1));
    let err = error_lines(&out);
    assert!(err.contains(&format!("applying ConfigMap {ns}/shared")) && err.contains("--force-conflicts"), "{err}");
    let doc = ok(&kapply(&["-f", "-", "--force-conflicts"], Some(&configmap(&ns, "shared", "ours"))));
    assert_eq!(actions(&doc), [("ConfigMap/shared".to_owned(), "configured".to_owned())]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

#[test]
fn manifests_can_come_from_a_url() {
    let (_dir, ns) = workspace("url");
    let body = namespace(&ns) + &configmap(&ns, "remote", "1");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/app.yaml", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for status in ["200 OK", "404 Not Found", "200 OK"] {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = conn.read(&mut request).unwrap();
            let text = if status.starts_with("200") { body.as_str() } else { "" };
            write!(conn, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len())
                .unwrap();
        }
    });
    let doc = ok(&kapply(&["-f", &url], None));
    assert_eq!(actions(&doc).len(), 2);
    assert!(exists(&["configmap", "remote", "-n", &ns]));
    let out = kapply(&["-f", &url], None);
    assert_eq!(out.status.code(), Some(2), "a missing URL is bad input: {}", stderr(&out));
    assert!(error_lines(&out).contains("HTTP 404"), "{}", stderr(&out));
    // A pinned URL whose body has another digest is applied not at all.
    kubectl(&["delete", "configmap", "remote", "-n", &ns]);
    let out = kapply(&["-f", &format!("{url}#sha256={}", "0".repeat(64))], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(error_lines(&out).contains("the pin says"), "{}", stderr(&out));
    assert!(!exists(&["configmap", "remote", "-n", &ns]), "nothing applied");
    server.join().unwrap();
    // Plain HTTP elsewhere is refused before anything is sent.
    let out = kapply(&["-f", "http://manifests.example.invalid/app.yaml"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(error_lines(&out).contains("plain HTTP to another machine"), "{}", stderr(&out));
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

/// `--wait-only` applies nothing and returns once someone else (a GitOps controller) has rolled
/// the wanted image out; when nobody does, the timeout names the field still different.
#[test]
#[allow(clippy::disallowed_methods, reason = "lets kapply start waiting before the rollout")]
fn wait_only_waits_for_a_rollout_made_by_someone_else() {
    let (dir, ns) = workspace("waitonly");
    let old = format!("{}{}", namespace(&ns), deployment(&ns, "web", ""));
    ok(&kapply(&["-f", "-"], Some(&old)));
    let (one, two) = (image(1), image(2));
    let want = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  template:\n    spec:\n      containers: [{{name: app, image: {two}}}]\n"
    );
    write_file(&dir, "want.yaml", &want);

    let out = kapply(&["--wait-only", "-f", dir.join("want.yaml").to_str().unwrap(), "--timeout", "3s"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("containers[app].image: want \"{two}\", live \"{one}\"")),
        "{}",
        stderr(&out)
    );

    let mut waiter = tool("kapply", env());
    waiter.args(["--wait-only", "-f", dir.join("want.yaml").to_str().unwrap(), "--timeout", "2m"]);
    waiter.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = waiter.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let new = old.replace(&one, &two);
    ok(&kapply(&["-f", "-"], Some(&new)));
    let doc = ok(&child.wait_with_output().unwrap());
    assert_eq!(actions(&doc), [("Deployment/web".to_owned(), "unchanged".to_owned())]);
    assert_eq!(doc["apply"]["objects"][0]["ready"], true);
    std::fs::remove_dir_all(&dir).unwrap();
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

/// A namespaced CRD `<plural>.<group>` of `kind`, whose objects take any `spec`.
fn crd(group: &str, kind: &str, plural: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.{group}}}\n\
         spec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: {kind}, plural: {plural}}}\n  \
         versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        \
         type: object\n        properties:\n          spec: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n---\n"
    )
}

fn widget(group: &str, ns: &str, name: &str) -> String {
    format!(
        "apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{size: 3}}\n---\n"
    )
}

fn secret_annotations(ns: &str, name: &str) -> Value {
    let out = kubectl(&["get", "secret", name, "-n", ns, "-o", "jsonpath={.metadata.annotations}"]);
    assert!(out.status.success(), "no Secret {ns}/{name}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Server-side applies (real, not dry-run) the API server has answered for resources of `group`,
/// from its own request counter: what kapply sent, whatever it reports.
fn apply_requests(group: &str) -> u64 {
    let out = kubectl(&["get", "--raw", "/metrics"]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| {
            l.contains(&format!("group=\"{group}\"")) && l.contains("verb=\"APPLY\"") && l.contains("dry_run=\"\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// The issue's case: `--app X -n ns --prune` with CRDs and no `ns`. Before, the CRDs were created
/// and labelled, then writing the parent failed, and nothing could find them again.
#[test]
fn an_app_into_a_missing_namespace_is_refused_before_anything_is_written_and_the_dry_run_agrees() {
    let (dir, ns) = workspace("nons");
    let group = format!("{ns}.example.com");
    write_file(&dir, "crd.yaml", &crd(&group, "Widget", "widgets"));
    write_file(&dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n");
    let d = dir.to_str().unwrap();
    let app = ["-f", d, "--app", "web", "-n", &ns, "--prune"];
    let real = kapply(&app, None);
    assert_eq!(real.status.code(), Some(2), "{}", stderr(&real));
    assert!(real.stdout.is_empty());
    let err = error_lines(&real);
    assert!(
        err.contains(&format!(
            "namespace {ns} does not exist and the input does not create it; {ns} would hold the parent Secret \
             {ns}/kapply-web of app web, ConfigMap {ns}/settings"
        )),
        "{err}"
    );
    assert!(err.contains("hint: add a Namespace object to the input"), "{err}");
    assert!(!exists(&["crd", &format!("widgets.{group}")]), "nothing is written before the refusal");

    let dry = kapply(&[&app[..], &["--dry-run"]].concat(), None);
    assert_eq!(dry.status.code(), Some(2), "{}", stderr(&dry));
    assert_eq!(error_lines(&dry), err, "a dry run fails as the real run does");
    let plain = kapply(&["-f", d, "-n", &ns, "--dry-run"], None);
    assert_eq!(plain.status.code(), Some(2), "without --app too: {}", stderr(&plain));

    // With the Namespace (and a custom resource of the new CRD) in the input, the dry run says
    // every object would be created, creates nothing, and the real run agrees.
    write_file(&dir, "ns.yaml", &namespace(&ns));
    write_file(&dir, "widget.yaml", &widget(&group, &ns, "w"));
    let dry = ok(&kapply(&[&app[..], &["--dry-run"]].concat(), None));
    let created = |doc: &Value| actions(doc).iter().filter(|(_, a)| a == "created").count();
    assert_eq!(created(&dry), 4, "{:?}", actions(&dry));
    assert!(!exists(&["namespace", &ns]) && !exists(&["crd", &format!("widgets.{group}")]));
    let real = ok(&kapply(&app, None));
    assert_eq!(actions(&real), actions(&dry));
    assert!(exists(&[&format!("widgets.{group}"), "w", "-n", &ns]));

    let gone = ok(&kapply(&["--delete", "--app", "web", "-n", &ns], None));
    assert_eq!(actions(&json!({"apply": gone["deleted"]["apply"]})).len(), 4);
    assert!(!exists(&["crd", &format!("widgets.{group}")]) && !exists(&["namespace", &ns]));
}

/// The parent Secret is written before any member, so a run that fails half way leaves nothing
/// `--delete --app` cannot find; and when the parent is gone too (deleted by hand), the members
/// are found by their label.
#[test]
fn a_run_that_fails_half_way_leaves_every_member_findable_even_without_its_parent() {
    let (dir, ns) = workspace("orphan");
    let group = format!("{ns}.example.com");
    // The second CRD is refused (its name is not <plural>.<group>) while the first is applied.
    let refused =
        crd(&group, "Gadget", "gadgets").replace(&format!("name: gadgets.{group}"), "name: wrong.example.com");
    write_file(&dir, "all.yaml", &(namespace(&ns) + &crd(&group, "Widget", "widgets") + &refused));
    let d = dir.to_str().unwrap();
    let out = kapply(&["-f", d, "--app", "web", "-n", &ns], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(error_lines(&out).contains("applying CustomResourceDefinition wrong.example.com"), "{}", stderr(&out));
    let recorded = secret_annotations(&ns, "kapply-web");
    let kinds = recorded["applyset.kubernetes.io/contains-group-kinds"].as_str().unwrap();
    assert!(kinds.contains("CustomResourceDefinition.apiextensions.k8s.io") && kinds.contains("Namespace"), "{kinds}");
    ok(&kapply(&["--delete", "--app", "web", "-n", &ns], None));
    assert!(!exists(&["crd", &format!("widgets.{group}")]) && !exists(&["namespace", &ns]));

    // Fails in a later phase (a field the server does not know), then the parent is deleted by hand.
    let (dir, ns) = workspace("orphan2");
    let group = format!("{ns}.example.com");
    let bad = deployment(&ns, "web", "").replace("  replicas: 1\n", "  replicas: 1\n  bogus: true\n");
    write_file(
        &dir,
        "all.yaml",
        &(namespace(&ns) + &crd(&group, "Widget", "widgets") + &configmap(&ns, "c", "1") + &bad),
    );
    let out = kapply(&["-f", dir.to_str().unwrap(), "--app", "web", "-n", &ns], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(exists(&["crd", &format!("widgets.{group}")]) && exists(&["configmap", "c", "-n", &ns]));
    assert!(kubectl(&["delete", "secret", "kapply-web", "-n", &ns]).status.success());
    let doc = ok(&kapply(&["--delete", "--app", "web", "-n", &ns], None));
    let mut deleted = actions(&json!({"apply": doc["deleted"]["apply"]}));
    deleted.sort();
    let expect =
        ["ConfigMap/c".to_owned(), format!("CustomResourceDefinition/widgets.{group}"), format!("Namespace/{ns}")];
    assert_eq!(deleted, expect.map(|o| (o, "deleted".to_owned())));
    assert!(!exists(&["crd", &format!("widgets.{group}")]) && !exists(&["namespace", &ns]));
}

/// An APIService whose Service has no endpoints is `Available=False`: not ready, and the timeout
/// names it with the aggregator's reason.
#[test]
fn an_apiservice_that_is_not_available_is_not_ready() {
    let (dir, ns) = workspace("apisvc");
    let group = format!("{ns}.example.com");
    let service = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: {ns}}}\nspec: {{ports: [{{port: 443}}]}}\n---\n"
    );
    let apiservice = format!(
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {{name: v1alpha1.{group}}}\nspec:\n  \
         group: {group}\n  version: v1alpha1\n  service: {{namespace: {ns}, name: api, port: 443}}\n  \
         insecureSkipTLSVerify: true\n  groupPriorityMinimum: 1000\n  versionPriority: 15\n"
    );
    write_file(&dir, "all.yaml", &(namespace(&ns) + &service + &apiservice));
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "4s"], None);
    // An unavailable aggregated API stalls namespace deletion cluster-wide: remove it at once.
    kubectl(&["delete", "apiservice", &format!("v1alpha1.{group}"), "--wait=false"]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = error_lines(&out);
    assert!(err.contains(&format!("APIService v1alpha1.{group}: Available=False: ")), "{err}");
    assert!(
        ["EndpointsNotFound", "MissingEndpoints", "FailedDiscoveryCheck"].iter().any(|r| err.contains(r)),
        "the reason is named: {err}"
    );
    assert!(!err.contains(&format!("Service {ns}/api")), "the Service is ready: {err}");
}

/// An unchanged re-apply sends nothing (the API server counts no apply), and yet a field removed
/// from the manifest is removed from the live object by the next apply.
#[test]
fn an_unchanged_reapply_sends_nothing_and_a_removed_field_is_still_removed() {
    let (dir, ns) = workspace("nopatch");
    let group = format!("{ns}.example.com");
    let write_all = |cm: &str| {
        let objects =
            [namespace(&ns), crd(&group, "Widget", "widgets"), widget(&group, &ns, "w"), deployment(&ns, "web", "")];
        write_file(&dir, "all.yaml", &(objects.concat() + cm));
    };
    let both = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{a: '1', b: '2'}}\n"
    );
    write_all(&both);
    let d = dir.to_str().unwrap();
    ok(&kapply(&["-f", d], None));
    let version = |what: &[&str]| {
        let out = kubectl(&[&["get"], what, &["-n", &ns, "-o", "jsonpath={.metadata.resourceVersion}"]].concat());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let objects: [&[&str]; 3] =
        [&[&format!("widgets.{group}"), "w"], &["configmap", "settings"], &["deployment", "web"]];
    let versions: Vec<String> = objects.iter().map(|o| version(o)).collect();
    let applies = apply_requests(&group);
    assert_eq!(applies, 1, "the first run applied the Widget once");

    let again = ok(&kapply(&["-f", d], None));
    assert!(actions(&again).iter().all(|(_, a)| a == "unchanged"), "{:?}", actions(&again));
    assert!(again["apply"]["objects"].as_array().unwrap().iter().all(|o| o["ready"] == true));
    assert_eq!(apply_requests(&group), applies, "no apply reached the server for the unchanged Widget");
    assert_eq!(objects.iter().map(|o| version(o)).collect::<Vec<_>>(), versions, "nothing was written");

    // `b` left the manifest: live still holds every field the manifest sets, but the apply must remove `b`.
    write_all(&both.replace(", b: '2'", ""));
    let edited = ok(&kapply(&["-f", d], None));
    let changed: Vec<_> = actions(&edited).into_iter().filter(|(_, a)| a != "unchanged").collect();
    assert_eq!(changed, [("ConfigMap/settings".to_owned(), "configured".to_owned())]);
    let live = kubectl(&["get", "configmap", "settings", "-n", &ns, "-o", "jsonpath={.data}"]);
    assert_eq!(serde_json::from_slice::<Value>(&live.stdout).unwrap(), json!({"a": "1"}));

    // Someone else changed a value kapply sets: it is sent, and the conflict is named.
    assert!(
        kubectl(&["patch", "configmap", "settings", "-n", &ns, "--type", "merge", "-p", r#"{"data":{"a":"9"}}"#])
            .status
            .success()
    );
    let out = kapply(&["-f", d], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(error_lines(&out).contains(&format!("applying ConfigMap {ns}/settings")), "{}", stderr(&out));
    ok(&kapply(&["-f", d, "--force-conflicts"], None));

    // Applied by a kapply that recorded no digest: sent again, and still reported unchanged.
    let annotation = "kapply.ekskit.dev/applied-digest";
    assert!(kubectl(&["annotate", "configmap", "settings", "-n", &ns, &format!("{annotation}-")]).status.success());
    let again = ok(&kapply(&["-f", d], None));
    assert!(actions(&again).iter().all(|(_, a)| a == "unchanged"), "{:?}", actions(&again));
    let live = kubectl(&["get", "configmap", "settings", "-n", &ns, "-o", "jsonpath={.metadata.annotations}"]);
    assert!(String::from_utf8_lossy(&live.stdout).contains(annotation), "the digest is recorded again");
    kubectl(&["delete", "crd", &format!("widgets.{group}"), "--wait=false"]);
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}

/// An unchanged object that is not ready is still waited for (only ready ones are not).
#[test]
fn an_unchanged_object_that_is_not_ready_is_still_waited_for() {
    let (dir, ns) = workspace("stuck-again");
    let stuck = deployment_of(&ns, "stuck", &container(&missing_image(), RUNS, ""), "");
    write_file(&dir, "all.yaml", &(namespace(&ns) + &stuck));
    ok(&kapply(&["-f", dir.to_str().unwrap(), "--no-wait"], None));
    let out = kapply(&["-f", dir.to_str().unwrap(), "--timeout", "3s"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(error_lines(&out).contains(&format!("Deployment {ns}/stuck: 0 of 1 available")), "{}", stderr(&out));
    kubectl(&["delete", "ns", &ns, "--wait=false"]);
}
