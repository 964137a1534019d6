//! monstack: the generated Prometheus configuration and rules pass promtool (built with
//! Kubernetes service discovery; unit tests of every alert), Debian's Prometheus scrapes the
//! comments API through the generated pod job's relabelling, the Grafana provisioning and dashboards are well-formed and every panel query is
//! valid PromQL, and on the local control plane (a real node, images built here: no Grafana,
//! which cannot be built here) the stack without Grafana applies, reports each component, is
//! ready, re-applies unchanged, fails naming Grafana and why when asked to run it, prunes it
//! when left out again, and is deleted.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ekskit_tests::{
    assert_schema, free_port, repo_root, run, run_tool, stack_env, stderr, stdout_json, temp_dir, tool, unique_stack,
};
use serde_json::{Value, json};

const RUNBOOKS: &str = "https://example.invalid/ekskit/blob/main/docs/runbooks";

fn env() -> &'static BTreeMap<String, String> {
    // The node pulls the images the `images` component builds (from base, with gitops' helm)
    // and pushes to the stack's registry.
    stack_env(&["registry", "base", "gitops", "prometheus", "images", "kube", "node"])
}

/// `monstack --render` into a fresh directory: the objects, by kind and name.
fn rendered() -> Vec<Value> {
    rendered_for(None)
}

/// The objects `monstack --render` writes for the document `stdin`.
fn rendered_for(stdin: Option<&str>) -> Vec<Value> {
    let dir = std::env::temp_dir().join(unique_stack("render"));
    let mut cmd = tool("monstack", env());
    cmd.args(["--render", dir.to_str().unwrap()]);
    let out = run(cmd, stdin);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_schema("monitoring.schema.json", &doc["monitoring"]);
    let text = std::fs::read_to_string(doc["monitoring"]["rendered"].as_str().unwrap()).unwrap();
    assert!(!text.contains("admin-password:"), "no password in rendered files");
    std::fs::remove_dir_all(&dir).unwrap();
    text.split("\n---\n").map(yaml_to_json).filter(|v| !v.is_null()).collect()
}

fn yaml_to_json(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or(Value::Null)
}

fn config_map<'a>(objects: &'a [Value], name: &str) -> &'a serde_json::Map<String, Value> {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
        .and_then(|o| o["data"].as_object())
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
}

fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(&env()["EKSKIT_PROMTOOL"]).current_dir(dir).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_configuration_and_rules_pass_promtool_and_every_alert_is_unit_tested() {
    let objects = rendered();
    let dir = std::env::temp_dir().join(unique_stack("promtool"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = config_map(&objects, "prometheus-config")["prometheus.yml"].as_str().unwrap();
    let rules = config_map(&objects, "prometheus-rules")["rules.yml"].as_str().unwrap();
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let tests = std::fs::read_to_string(repo_root().join("lib/mon/assets/rules.test.yml")).unwrap();
    std::fs::write(dir.join("rules.test.yml"), tests.replace("${runbooks}", RUNBOOKS)).unwrap();

    promtool(&dir, &["check", "config", "--syntax-only", "prometheus.yml"]);
    assert!(promtool(&dir, &["check", "rules", "rules.yml"]).contains("SUCCESS: 15 rules found"));
    assert!(promtool(&dir, &["test", "rules", "rules.test.yml"]).contains("SUCCESS"));
    // Every alert has a unit test and a runbook.
    for alert in rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")) {
        assert!(tests.contains(&format!("alertname: {alert}")), "{alert} has no promtool test");
        assert!(rules.contains(&format!("{RUNBOOKS}/{alert}.md")), "{alert} has no runbook link");
        assert!(repo_root().join(format!("docs/runbooks/{alert}.md")).exists(), "docs/runbooks/{alert}.md is missing");
    }
    // Every source the issue names, and nothing for control-plane parts EKS does not expose.
    let jobs: Vec<String> = yaml_to_json(config)["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap().to_owned())
        .collect();
    for wanted in [
        "kubernetes-apiservers",
        "kubernetes-nodes",
        "kubernetes-cadvisor",
        "kube-state-metrics",
        "node-exporter",
        "kubernetes-pods",
    ] {
        assert!(jobs.iter().any(|j| j == wanted), "no {wanted} job in {jobs:?}");
    }
    // Not EKS (no document): no job for a control plane that is not served.
    for hidden in ["etcd", "scheduler", "controller-manager"] {
        assert!(!jobs.iter().any(|j| j.contains(hidden)), "{hidden} in {jobs:?}");
    }
    // A cluster mkeks made at 1.28 or later: EKS' scheduler and controller manager, through the
    // API server, and promtool takes that configuration too.
    let eks = json!({"cluster": {"name": "demo", "arn": "arn:aws:eks:eu-west-1:000000000000:cluster/demo", "version": "1.36"}});
    let objects = rendered_for(Some(&eks.to_string()));
    let config = config_map(&objects, "prometheus-config")["prometheus.yml"].as_str().unwrap().to_owned();
    std::fs::write(dir.join("prometheus.yml"), &config).unwrap();
    promtool(&dir, &["check", "config", "--syntax-only", "prometheus.yml"]);
    let config = yaml_to_json(&config);
    for (job, part) in [("eks-kube-scheduler", "ksh"), ("eks-kube-controller-manager", "kcm")] {
        let found = config["scrape_configs"].as_array().unwrap().iter().find(|j| j["job_name"] == job);
        let found = found.unwrap_or_else(|| panic!("no {job} job for an EKS cluster"));
        assert_eq!(found["metrics_path"], format!("/apis/metrics.eks.amazonaws.com/v1/{part}/container/metrics"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<Value> {
    let out = Command::new("curl").args(["-s", "--max-time", "5", url]).output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `check` twice a second until it gives a value, at most 90 s.
fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    ekskit_tests::wait_for(what, Duration::from_secs(90), Duration::from_millis(500), check)
}

/// The generated pod job, pointed at the local app: the target carries the labels Kubernetes
/// discovery would give an annotated Pod, so the job's own relabelling decides what is scraped.
fn local_config(config: &str, app_port: u16, rules: &Path) -> String {
    let mut config: Value = yaml_to_json(config);
    let jobs = config["scrape_configs"].as_array().unwrap().clone();
    let mut pods = jobs.into_iter().find(|j| j["job_name"] == "kubernetes-pods").unwrap();
    pods.as_object_mut().unwrap().remove("kubernetes_sd_configs");
    pods["static_configs"] = json!([{
        "targets": [format!("127.0.0.1:{}", free_port())],
        "labels": {
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
            "__meta_kubernetes_pod_annotation_prometheus_io_port": app_port.to_string(),
            "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_namespace": "comments-dev",
            "__meta_kubernetes_pod_name": "comments-0",
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": "comments",
        }
    }]);
    pods["scrape_interval"] = json!("1s");
    config["scrape_configs"] = json!([pods]);
    config["rule_files"] = json!([rules.to_str().unwrap()]);
    config["global"]["evaluation_interval"] = json!("1s");
    config.as_object_mut().unwrap().remove("alerting");
    serde_json::to_string_pretty(&config).unwrap()
}

#[test]
fn prometheus_scrapes_the_app_through_the_generated_job_and_every_panel_query_is_valid() {
    let objects = rendered();
    let dir = temp_dir("prometheus");
    std::fs::create_dir_all(dir.join("data")).unwrap();

    // The comments API, locally, on SQLite.
    let venv = String::from_utf8(
        Command::new(repo_root().join("scripts/app-test")).arg("--print-venv").output().unwrap().stdout,
    )
    .unwrap();
    let app_port = free_port();
    let _app = Killed(
        Command::new(format!("{}/bin/gunicorn", venv.trim()))
            .current_dir(repo_root().join("app"))
            .args(["-c", "gunicorn.conf.py", "comments:create_app()"])
            .env("HOST", "127.0.0.1")
            .env("PORT", app_port.to_string())
            .env("WEB_CONCURRENCY", "1")
            .env("DATABASE_URL", format!("sqlite:///{}", dir.join("comments.db").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let app = format!("http://127.0.0.1:{app_port}");
    wait_for("the app", || get(&format!("{app}/healthz")));
    for _ in 0..5 {
        get(&format!("{app}/api/comment/list/none"));
    }

    let rules = dir.join("rules.yml");
    std::fs::write(&rules, config_map(&objects, "prometheus-rules")["rules.yml"].as_str().unwrap()).unwrap();
    let config = config_map(&objects, "prometheus-config")["prometheus.yml"].as_str().unwrap();
    std::fs::write(dir.join("prometheus.yml"), local_config(config, app_port, &rules)).unwrap();
    let prom_port = free_port();
    let _prometheus = Killed(
        Command::new("prometheus")
            .args([
                &format!("--config.file={}", dir.join("prometheus.yml").display()),
                &format!("--storage.tsdb.path={}", dir.join("data").display()),
                &format!("--web.listen-address=127.0.0.1:{prom_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom = format!("http://127.0.0.1:{prom_port}");
    let query = |q: &str| {
        let url = format!("{prom}/api/v1/query?query={}", urlencode(q));
        get(&url)
    };
    let series = wait_for("the app's metrics in Prometheus", || {
        let answer = query(
            r#"http_requests_total{job="kubernetes-pods",namespace="comments-dev",pod="comments-0",app="comments"}"#,
        )?;
        let result = answer["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(result)
    });
    assert!(series.iter().any(|s| s["metric"]["route"] == "/api/comment/list/<content_id>"), "{series:?}");

    // Grafana: provisioning files and dashboards well-formed; every panel query valid PromQL.
    let datasources = yaml_to_json(config_map(&objects, "grafana-datasources")["datasources.yml"].as_str().unwrap());
    check_schema(&datasources, &datasources_schema());
    let providers =
        yaml_to_json(config_map(&objects, "grafana-dashboard-providers")["dashboards.yml"].as_str().unwrap());
    check_schema(&providers, &providers_schema());
    let dashboards = config_map(&objects, "grafana-dashboards");
    assert_eq!(dashboards.len(), 2);
    for (name, text) in dashboards {
        let dashboard: Value = serde_json::from_str(text.as_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_schema(&dashboard, &dashboard_schema());
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap().replace("$__rate_interval", "1m");
                let answer = query(&expr).unwrap();
                assert_eq!(answer["status"], "success", "{name} / {}: {expr}: {answer}", panel["title"]);
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn check_schema(value: &Value, schema: &Value) {
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Grafana's datasource provisioning format (apiVersion 1).
fn datasources_schema() -> Value {
    json!({
        "type": "object", "required": ["apiVersion", "datasources"],
        "properties": {
            "apiVersion": {"const": 1},
            "datasources": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "type", "access", "url"],
                "properties": {"name": {"type": "string"}, "uid": {"type": "string"}, "type": {"const": "prometheus"},
                    "access": {"enum": ["proxy", "direct"]}, "url": {"type": "string", "pattern": "^https?://"},
                    "isDefault": {"type": "boolean"}, "editable": {"type": "boolean"}, "jsonData": {"type": "object"}},
                "additionalProperties": false}}
        }, "additionalProperties": false
    })
}

/// Grafana's dashboard provider provisioning format (apiVersion 1, file providers).
fn providers_schema() -> Value {
    json!({
        "type": "object", "required": ["apiVersion", "providers"],
        "properties": {
            "apiVersion": {"const": 1},
            "providers": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "type", "options"],
                "properties": {"name": {"type": "string"}, "orgId": {"type": "integer"}, "folder": {"type": "string"},
                    "type": {"const": "file"}, "disableDeletion": {"type": "boolean"}, "allowUiUpdates": {"type": "boolean"},
                    "updateIntervalSeconds": {"type": "integer"},
                    "options": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}},
                "additionalProperties": false}}
        }, "additionalProperties": false
    })
}

/// What Grafana needs of a provisioned dashboard: a uid and title, a schema version, and panels
/// placed on the grid, each querying the Prometheus datasource.
fn dashboard_schema() -> Value {
    json!({
        "type": "object", "required": ["uid", "title", "schemaVersion", "panels"],
        "properties": {
            "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
            "title": {"type": "string", "minLength": 1},
            "schemaVersion": {"type": "integer", "minimum": 30},
            "tags": {"type": "array", "items": {"type": "string"}},
            "panels": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "stat", "gauge", "table", "bargauge"]},
                    "gridPos": {"type": "object", "required": ["x", "y", "w", "h"],
                        "properties": {"x": {"type": "integer", "minimum": 0, "maximum": 23}, "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "y": {"type": "integer", "minimum": 0}, "h": {"type": "integer", "minimum": 1}}},
                    "datasource": {"type": "object", "required": ["type", "uid"], "properties": {"type": {"const": "prometheus"}, "uid": {"const": "prometheus"}}},
                    "targets": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["refId", "expr"]}}
                }}}
        }
    })
}

fn monstack(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    run_tool("monstack", env(), args, stdin)
}

/// Components that run locally: every one but Grafana (AGPL: its image is not built here).
const LOCAL: [&str; 4] = ["prometheus", "alertmanager", "kube-state-metrics", "node-exporter"];

fn kubectl(args: &[&str]) -> std::process::Output {
    ekskit_tests::kubectl(env(), args)
}

#[test]
fn on_the_control_plane_it_applies_is_ready_reapplies_unchanged_and_deletes() {
    let namespace = unique_stack("mon");
    let ns = namespace.as_str();
    let input = Some("{\"cluster\": {\"name\": \"demo\"}, \"kept\": 1}");

    // A dry run reports every component and makes nothing.
    let dry = monstack(&["--namespace", ns, "--without", "grafana", "--dry-run"], input);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let doc = stdout_json(&dry);
    let mon = &doc["monitoring"];
    assert_schema("monitoring.schema.json", mon);
    assert_eq!(
        (doc["kept"].as_u64(), mon["dry_run"].as_bool(), mon["ready"].as_bool()),
        (Some(1), Some(true), Some(false))
    );
    for c in LOCAL {
        assert_eq!(mon["components"][c]["state"], "dry run", "{c}: {}", mon["components"]);
        assert_eq!(mon["components"][c]["ready"], false);
    }
    assert_eq!(mon["components"]["grafana"]["state"], "left out");
    assert!(!kubectl(&["get", "namespace", ns]).status.success(), "a dry run makes nothing");

    // Without Grafana: everything else runs, and the report says so.
    let first = monstack(&["--namespace", ns, "--without", "grafana", "--timeout", "5m"], input);
    assert!(first.status.success(), "{}", stderr(&first));
    let doc = stdout_json(&first);
    let mon = &doc["monitoring"];
    assert_schema("monitoring.schema.json", mon);
    assert_eq!((mon["ready"].as_bool(), mon["cluster"].as_str()), (Some(true), Some("demo")));
    for c in LOCAL {
        assert_eq!(mon["components"][c], json!({"state": "running", "ready": true}), "{c}");
    }
    assert_eq!(
        mon["components"]["grafana"],
        json!({"state": "left out", "ready": false, "reason": "--without grafana"})
    );
    let services: Vec<&str> = mon["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(services, ["prometheus", "alertmanager"]);
    assert!(mon["grafana_admin"].is_null() && mon["versions"].get("grafana").is_none(), "{mon}");
    assert_eq!(mon["persistence"]["enabled"], false, "the local control plane has no StorageClass");
    assert!(mon["persistence"]["reason"].as_str().unwrap().contains("no StorageClass"));
    assert!(mon["objects"]["created"].as_u64().unwrap() >= 15, "{}", mon["objects"]);
    // The kubelets are scraped at their own port with nodes/metrics (the real kubelet asks the API
    // server, as on EKS), not through the node proxy: both jobs' targets come up.
    let targets = format!("/api/v1/namespaces/{ns}/services/prometheus:http/proxy/api/v1/targets?state=active");
    wait_for("the kubelet targets up", || {
        let out = kubectl(&["get", "--raw", &targets]);
        let active: Value = serde_json::from_slice(&out.stdout).ok()?;
        let up = |job: &str| {
            active["data"]["activeTargets"].as_array().into_iter().flatten().any(|t| {
                t["labels"]["job"] == job
                    && t["health"] == "up"
                    && t["scrapeUrl"].as_str().is_some_and(|u| u.contains(":10250/"))
            })
        };
        (up("kubernetes-nodes") && up("kubernetes-cadvisor")).then_some(())
    });
    // node exporter runs in its own namespace (privileged); the stack's enforces restricted.
    let enforced = |namespace: &str| {
        let path = "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}";
        String::from_utf8_lossy(&kubectl(&["get", "namespace", namespace, "-o", path]).stdout).into_owned()
    };
    assert_eq!((enforced(ns), enforced(&format!("{ns}-node-exporter"))), ("restricted".into(), "privileged".into()));
    let grafana =
        ["get", "deployment,service,configmap,secret", "-n", ns, "-l", "app.kubernetes.io/name=grafana", "-o", "name"];
    assert_eq!(String::from_utf8_lossy(&kubectl(&grafana).stdout).trim(), "", "nothing of Grafana is applied");

    let second = monstack(&["--namespace", ns, "--without", "grafana", "--timeout", "5m"], input);
    assert!(second.status.success(), "{}", stderr(&second));
    let again = stdout_json(&second);
    let counts = again["monitoring"]["objects"].as_object().unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["unchanged"], "{counts:?}");

    // Asked to run Grafana, whose image does not exist here: exit 1 naming it, why, and what to do.
    let stuck = monstack(&["--namespace", ns, "--timeout", "60s"], input);
    let text = stderr(&stuck);
    assert_eq!(stuck.status.code(), Some(1), "{text}");
    assert!(stuck.stdout.is_empty(), "no document from a failed run");
    assert!(
        text.contains("grafana is not ready (ready: prometheus, alertmanager, kube-state-metrics, node-exporter)"),
        "{text}"
    );
    assert!(text.contains("container grafana") && text.contains("ImagePull"), "the stuck reason: {text}");
    assert!(text.contains("docker.io/grafana/grafana:12.1.0") && text.contains("--without grafana"), "{text}");
    let secret = kubectl(&["-n", ns, "get", "secret", "grafana-admin", "-o", "jsonpath={.data.admin-password}"]);
    let encoded = String::from_utf8(secret.stdout).unwrap();
    use base64::Engine;
    let password =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded.trim()).unwrap()).unwrap();
    assert!(password.len() >= 24 && !text.contains(&password), "the password is generated and never printed");

    // Left out again: pruned, and the rest still ready.
    let pruned = monstack(&["--namespace", ns, "--without", "grafana", "--timeout", "5m"], input);
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    let mon = &stdout_json(&pruned)["monitoring"];
    assert_eq!(mon["ready"], true);
    assert!(
        mon["objects"]["pruned"].as_u64().unwrap() >= 6,
        "Deployment, Service, ConfigMaps, Secret: {}",
        mon["objects"]
    );
    assert_eq!(String::from_utf8_lossy(&kubectl(&grafana).stdout).trim(), "", "Grafana is pruned");

    let deleted = monstack(&["--namespace", ns, "--delete"], None);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let gone = stdout_json(&deleted);
    assert_schema("deleted.monitoring.schema.json", &gone["deleted"]["monitoring"]);
    assert!(!kubectl(&["get", "namespace", ns]).status.success(), "the namespace is gone");
    let node_ns = format!("{ns}-node-exporter");
    assert!(!kubectl(&["get", "namespace", &node_ns]).status.success(), "node exporter's namespace is gone too");
    let role = format!("{namespace}-prometheus");
    assert!(!kubectl(&["get", "clusterrole", &role]).status.success(), "cluster-wide RBAC is gone too");
}

/// Pod Security: the stack's namespace enforces restricted and every Pod in it meets that; node
/// exporter, which reads the host, is alone in a namespace of its own that allows it.
#[test]
fn the_stack_namespace_enforces_restricted_and_node_exporter_is_alone_in_its_own() {
    let objects = rendered();
    let labels = |name: &str| {
        let namespace = objects.iter().find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == name);
        namespace.unwrap_or_else(|| panic!("no Namespace {name}"))["metadata"]["labels"].clone()
    };
    let (stack, node) = (labels("monitoring"), labels("monitoring-node-exporter"));
    for mode in ["enforce", "warn", "audit"] {
        assert_eq!(stack[format!("pod-security.kubernetes.io/{mode}")], "restricted", "{stack}");
    }
    assert_eq!(node["pod-security.kubernetes.io/enforce"], "privileged", "{node}");
    let (in_node, in_stack): (Vec<Value>, Vec<Value>) = objects
        .iter()
        .filter(|o| o["kind"] != "Namespace")
        .cloned()
        .partition(|o| o["metadata"]["namespace"] == "monitoring-node-exporter");
    let names: Vec<String> = in_node
        .iter()
        .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, ["DaemonSet node-exporter", "Service node-exporter"]);
    assert_eq!(ekskit_tests::pod_security::restricted_violations(&in_stack), Vec::<String>::new());
    assert!(!ekskit_tests::pod_security::restricted_violations(&in_node).is_empty(), "it does need more");
}

#[test]
fn prometheus_cannot_be_left_out_and_unknown_components_are_named() {
    let out = without_stack(&["--without", "prometheus", "--render", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--without prometheus") && stderr(&out).contains("--delete"), "{}", stderr(&out));
    let out = without_stack(&["--without", "loki"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("prometheus, alertmanager, kube-state-metrics, node-exporter, grafana"), "{text}");
    assert!(out.stdout.is_empty());
}

/// monstack with no stack at all: what it refuses, it refuses before reaching anything.
fn without_stack(args: &[&str]) -> std::process::Output {
    let mut cmd = tool("monstack", &BTreeMap::new());
    cmd.args(args);
    run(cmd, None)
}
