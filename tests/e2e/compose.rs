//! The whole system composed on the local stack, as `make up` and `make down` run it, and the
//! GitOps loop it exists for: scripts/up (mkvpc | mkeks | kapply Argo CD | add-ons | kapply
//! deploy/argocd | monstack), scripts/deploy (imgbuild | imgpush | tagbump --push, Argo CD's
//! refresh, kapply --wait-only), then a commit under app/ released while a load loop runs
//! against the Service: Argo CD syncs it, the Pods serve the new revision with no failed
//! request, the old ReplicaSet is scaled down, and the in-cluster Prometheus has the new Pods'
//! series. A release with no change commits and rolls out nothing; scripts/down leaves nothing.
//!
//! Everything runs for real on the tests' stack: Argo CD's Pods and the app's Pods on the
//! stack's kubelet node, images from its registry. The scripts run in a copy of this tree with a
//! git history of its own, so the test can commit to app/ without touching the clone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ekskit_tests::{
    command, git, kubectl_path, owned_resources, repo_root, stack_alone, stack_env, temp_dir, unique_stack, wait_for,
};
use serde_json::Value;

/// How often the waits below look again.
const SECOND: Duration = Duration::from_secs(1);

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&[])
}

/// A copy of the clone's files (tracked and untracked, not ignored) as a fresh repository.
fn tree_copy() -> PathBuf {
    let dir = temp_dir("tree");
    let root = repo_root();
    let files = git(&root, &["ls-files", "-co", "--exclude-standard"]);
    for file in files.lines().filter(|f| root.join(f).is_file()) {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), &to).unwrap();
    }
    git(&dir, &["init", "-q", "-b", "main"]);
    commit(&dir, "the tree under test");
    dir
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["-c", "user.name=ekskit-test", "-c", "user.email=test@localhost", "commit", "-qm", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

fn script(tree: &Path, name: &str, stack: &str, port: u16) -> Output {
    let bin = ekskit_tests::bin("mkvpc").parent().unwrap().to_owned();
    Command::new(tree.join("scripts").join(name))
        .envs(env())
        .env("STACK", stack)
        .env("EKSKIT_BIN", bin)
        .env("APP_PORT", port.to_string())
        .env("ADDONS", "cert-manager external-secrets karpenter")
        // No zone here (the public Gateway needs the load balancer controller): cert-manager
        // takes any zone, as the user must ask for.
        .env("ANY_HOSTED_ZONE", "1")
        .env("DOCKER_CONFIG", std::env::temp_dir().join(unique_stack("nocfg")))
        .output()
        .unwrap()
}

fn ok(name: &str, out: &Output) {
    assert!(out.status.success(), "scripts/{name} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn curl(args: &[&str]) -> String {
    String::from_utf8(Command::new("curl").arg("-s").args(args).output().unwrap().stdout).unwrap()
}

fn kubectl(args: &[&str]) -> String {
    String::from_utf8_lossy(&command(kubectl_path(env()), env(), args).stdout).into_owned()
}

fn kubectl_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&all)).unwrap()
}

/// The revision the app says it was built from (its /version).
fn served_revision(app: &str) -> Option<String> {
    let body = curl(&["--max-time", "2", &format!("{app}/version")]);
    serde_json::from_str::<Value>(&body).ok()?["revision"].as_str().map(str::to_owned)
}

/// Runs scripts/down for the stack if the test ends before its own down (a failed assertion), so a
/// failure leaves no Argo CD, app or AWS resources behind on the tests' stack.
struct Teardown<'a> {
    tree: &'a Path,
    stack: &'a str,
    port: u16,
    armed: bool,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = script(self.tree, "down", self.stack, self.port);
        }
    }
}

/// A load loop against the app's endpoint: every request that is not a 200 counts as failed.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    worker: std::thread::JoinHandle<Vec<String>>,
}

impl Load {
    #[allow(clippy::disallowed_methods, reason = "paces the load the test sends")]
    fn start(app: &str) -> Load {
        let (stop, sent, failed) = (Arc::default(), Arc::default(), Arc::default());
        let url = format!("{app}/api/comment/list/loop");
        let (s, n, f): (Arc<AtomicBool>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
            (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&failed));
        let worker = std::thread::spawn(move || {
            let mut failures = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let code = curl(&["-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", &url]);
                n.fetch_add(1, Ordering::Relaxed);
                if code != "200" {
                    f.fetch_add(1, Ordering::Relaxed);
                    failures.push(code);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            failures
        });
        Load { stop, sent, failed, worker }
    }

    fn finish(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.worker.join().unwrap();
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed), failures)
    }
}

/// The ReplicaSets of the app: (image, desired replicas).
fn replica_sets(namespace: &str) -> Vec<(String, i64)> {
    let list = kubectl_json(&["-n", namespace, "get", "replicasets", "-l", "app.kubernetes.io/name=comments"]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            let image = rs["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default();
            (image.to_owned(), rs["spec"]["replicas"].as_i64().unwrap_or_default())
        })
        .collect()
}

/// The in-cluster Prometheus, queried through its Service (the host routes the Service range).
fn prometheus_series(query: &str) -> Vec<Value> {
    let ip = kubectl(&["-n", "monitoring", "get", "service", "prometheus", "-o", "jsonpath={.spec.clusterIP}"]);
    let body = curl(&[
        "--max-time",
        "5",
        "--data-urlencode",
        &format!("query={query}"),
        &format!("http://{ip}:9090/api/v1/query"),
    ]);
    serde_json::from_str::<Value>(&body).ok().and_then(|v| v["data"]["result"].as_array().cloned()).unwrap_or_default()
}

#[test]
fn up_deploy_release_and_down_run_the_gitops_loop_for_real() {
    // Argo CD, the add-ons' CRDs and the monitoring stack are the whole stack's: installed and
    // removed here while no other test runs.
    let _alone = stack_alone();
    let tree = tree_copy();
    let stack = unique_stack("sys");
    let port = ekskit_tests::free_port();
    let document = tree.join(".ekskit").join(format!("{stack}.json"));
    let read_doc = || -> Value { serde_json::from_str(&std::fs::read_to_string(&document).unwrap()).unwrap() };
    let app = format!("http://127.0.0.1:{port}");
    let ns = "comments-dev";

    let mut teardown = Teardown { tree: &tree, stack: &stack, port, armed: true };
    ok("up", &script(&tree, "up", &stack, port));
    let argocd = kubectl_json(&["-n", "argocd", "get", "pods"]);
    for pod in argocd["items"].as_array().unwrap() {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let phase = pod["status"]["phase"].as_str().unwrap_or_default();
        assert!(phase == "Running" || name.starts_with("argocd-dex"), "Argo CD Pod {name} is {phase}");
    }

    // The first release: Argo CD syncs the tag and the Pods serve this revision.
    let first = git(&tree, &["rev-parse", "HEAD"]).trim().to_owned();
    ok("deploy", &script(&tree, "deploy", &stack, port));
    let doc = read_doc();
    for key in ["vpc", "cluster", "gitops", "image", "push", "bump", "apply", "monitoring"] {
        assert!(doc.get(key).is_some(), "the document has no `{key}`: {doc}");
    }
    let addons: Vec<&String> = doc["cluster"]["addons"].as_object().unwrap().keys().collect();
    assert_eq!(addons, ["cert-manager", "external-secrets", "karpenter"]);
    // The add-ons' objects are applied: each namespace's store assumes the role mkeks made for it.
    let stores = doc["cluster"]["addons"]["external-secrets"]["secret_stores"].as_object().unwrap();
    assert_eq!(stores.keys().collect::<Vec<_>>(), ["argocd", "comments-dev", "comments-prod"]);
    for (namespace, store) in stores {
        let path = "jsonpath={.spec.provider.aws.role}";
        let role = kubectl(&["get", "secretstores.external-secrets.io/secrets-manager", "-n", namespace, "-o", path]);
        assert_eq!(role, store["role_arn"].as_str().unwrap(), "{namespace}'s SecretStore");
    }
    assert_eq!(served_revision(&app).as_deref(), Some(first.as_str()), "the Pods serve the first release");
    let created = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"email":"e@example.com","comment":"composed","content_id":"loop"}"#,
        &format!("{app}/api/comment/new"),
    ]);
    assert!(created.contains("SUCCESS"), "the app writes to the stack's PostgreSQL: {created}");

    // A change under app/, released while a load loop runs against the Service.
    let marker = tree.join("app/comments/RELEASE");
    std::fs::write(&marker, format!("released by {stack}\n")).unwrap();
    let second = commit(&tree, "app: a change to release");
    let load = Load::start(&app);
    let started = Instant::now();
    ok("deploy", &script(&tree, "deploy", &stack, port));
    let rolled_out = started.elapsed();
    let doc = read_doc();
    let tag = doc["push"]["tags"][0].as_str().unwrap().to_owned();
    assert!(doc["bump"]["commit"].is_string(), "the new tag was committed to the GitOps remote: {doc}");
    wait_for("every answer to come from the new revision", Duration::from_secs(60), SECOND, || {
        (0..10).all(|_| served_revision(&app).as_deref() == Some(second.as_str())).then_some(())
    });
    let (sent, failed, failures) = load.finish();
    // The figures for the record (cargo test shows them with --nocapture).
    let _ = writeln!(
        std::io::stderr().lock(),
        "release: {:.1} s from deploy to rolled out; {sent} requests during the rollout, {failed} failed",
        rolled_out.as_secs_f64()
    );
    assert!(sent > 50, "the load loop ran: {sent} requests");
    assert_eq!(failed, 0, "requests failed during the rollout: {failures:?}");

    // Argo CD synced the commit tagbump pushed (its status follows the rollout by a few
    // seconds); the old ReplicaSet is scaled down.
    wait_for("Argo CD to report the bump commit Synced and Healthy", Duration::from_secs(60), SECOND, || {
        let status = kubectl_json(&["-n", "argocd", "get", "application", ns])["status"].clone();
        (status["sync"]["status"] == "Synced"
            && status["health"]["status"] == "Healthy"
            && status["sync"]["revision"] == doc["bump"]["commit"])
            .then_some(())
    });
    let sets = replica_sets(ns);
    assert!(sets.iter().any(|(image, n)| image.ends_with(&format!(":{tag}")) && *n >= 1), "{sets:?}");
    assert!(sets.iter().filter(|(image, _)| !image.ends_with(&format!(":{tag}"))).all(|(_, n)| *n == 0), "{sets:?}");

    // Prometheus, in the cluster, scrapes the new Pods.
    let pods = kubectl_json(&["-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=comments"]);
    let new_pods: Vec<String> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["spec"]["containers"][0]["image"].as_str().unwrap_or_default().ends_with(&format!(":{tag}")))
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!new_pods.is_empty());
    let query = format!("http_requests_total{{pod=~\"{}\"}}", new_pods.join("|"));
    let series = wait_for("Prometheus to scrape the new Pods", Duration::from_secs(120), SECOND, || {
        let found = prometheus_series(&query);
        (!found.is_empty()).then_some(found)
    });
    assert!(!series.is_empty());

    // Again with no change: no commit, no rollout.
    let generation = kubectl(&["-n", ns, "get", "deployment", "comments", "-o", "jsonpath={.metadata.generation}"]);
    ok("up", &script(&tree, "up", &stack, port));
    ok("deploy", &script(&tree, "deploy", &stack, port));
    let again = read_doc();
    assert_eq!(again["bump"]["commit"], Value::Null, "the tag was already set");
    assert_eq!(again["push"]["pushed"], serde_json::json!([]), "the image was already pushed");
    let after = kubectl(&["-n", ns, "get", "deployment", "comments", "-o", "jsonpath={.metadata.generation}"]);
    assert_eq!(generation, after, "no rollout");

    teardown.armed = false;
    ok("down", &script(&tree, "down", &stack, port));
    assert!(!document.exists());
    let ec2 = aws_sdk_ec2::Client::new(&ekskit_tests::aws_config(env(), "us-east-1"));
    let left = owned_resources(&ec2, &stack);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(curl(&["--max-time", "2", &format!("{app}/healthz")]).is_empty(), "the app's endpoint is gone");
    let deployments = kubectl(&["-n", ns, "get", "deployments", "-o", "name"]);
    assert!(deployments.trim().is_empty(), "Argo CD deleted what it deployed: {deployments}");
    std::fs::remove_dir_all(&tree).ok();
}
