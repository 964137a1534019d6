//! `mkeks --upgrade` against the emulator (moto_upgrades.py: one minor at a time, node groups at
//! the control plane's version before the next, updates that take time under a timing rule,
//! upgrade insights): a cluster made at 1.34 goes to 1.36, stopped by a blocking insight, killed
//! mid-upgrade, resumed, and ends with control plane, add-ons and node group at 1.36.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};

use ekskit_tests::timing::{Finding, Timing};
use ekskit_tests::{assert_schema, aws_config, block_on, ok_json, run_tool, stack_env, stderr, tool, unique_stack};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

fn mkeks(args: &[&str], stdin: &Value) -> Output {
    run_tool("mkeks", env(), args, Some(&stdin.to_string()))
}

/// The upgrade's steps of a `--upgrade --dry-run` plan: (kind, name, detail).
fn steps(plan: &Value) -> Vec<(String, String, String)> {
    let kinds = ["upgrade-insights", "cluster-version", "addon-version", "node-group-version"];
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| kinds.contains(&a["kind"].as_str().unwrap()))
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), text("name"), text("detail"))
        })
        .collect()
}

/// Versions as EKS reports them: control plane, add-ons by name, node groups by name.
fn versions(stack: &str) -> Value {
    let eks = aws_sdk_eks::Client::new(&aws_config(env(), REGION));
    block_on(async {
        let cluster = eks.describe_cluster().name(stack).send().await.unwrap().cluster.unwrap();
        let mut addons = serde_json::Map::new();
        for name in eks.list_addons().cluster_name(stack).send().await.unwrap().addons() {
            let a = eks.describe_addon().cluster_name(stack).addon_name(name).send().await.unwrap().addon.unwrap();
            addons.insert(name.clone(), json!(a.addon_version().unwrap()));
        }
        let mut groups = serde_json::Map::new();
        for name in eks.list_nodegroups().cluster_name(stack).send().await.unwrap().nodegroups() {
            let ng = eks.describe_nodegroup().cluster_name(stack).nodegroup_name(name).send().await.unwrap();
            groups.insert(name.clone(), json!(ng.nodegroup.unwrap().version().unwrap()));
        }
        json!({"control_plane": cluster.version().unwrap(), "addons": addons, "node_groups": groups})
    })
}

/// Runs mkeks and SIGKILLs it at the first stderr line holding `needle`; what it printed.
fn kill_at(args: &[&str], stdin: &Value, needle: &str) -> String {
    let mut cmd = tool("mkeks", env());
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.to_string().as_bytes()).unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "mkeks ended before `{needle}`:\n{seen}");
    seen
}

/// Where `needle` first is in `text`, for checking the order of steps.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
}

#[test]
fn an_upgrade_goes_one_minor_at_a_time_stops_at_a_blocking_insight_and_resumes_when_killed() {
    let stack = unique_stack("upg").to_lowercase();
    let vpc =
        ok_json("mkvpc", &run_tool("mkvpc", env(), &["--name", &stack, "--nat", "none", "--region", REGION], None));
    let doc = ok_json("mkeks", &mkeks(&["--version", "1.34"], &vpc));
    let old = versions(&stack);
    assert_eq!(old["control_plane"], "1.34");
    assert_eq!(old["addons"]["kube-proxy"], "v1.34.0-eksbuild.2", "{old}");
    assert_eq!(doc["cluster"]["node_group"]["version"], "1.34");

    // Bad upgrades change nothing.
    for (args, says) in [
        (vec!["--upgrade", "--to", "1.33"], "cannot downgrade"),
        (vec!["--upgrade", "--to", "1.40"], "does not offer Kubernetes 1.40"),
        (vec!["--to", "1.36"], "--upgrade"),
        (vec!["--upgrade", "--version", "1.36"], "cannot be used with"),
    ] {
        let out = mkeks(&args, &doc);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let none = run_tool("mkeks", env(), &["--upgrade", "--name", &format!("{stack}-none")], Some(&vpc.to_string()));
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(stderr(&none).contains("no EKS cluster"), "{}", stderr(&none));
    assert_eq!(versions(&stack), old);

    // The plan: every step, one minor at a time, add-ons to each minor's default.
    let plan = ok_json("mkeks --upgrade --dry-run", &mkeks(&["--upgrade", "--dry-run"], &doc));
    assert_schema("plan.cluster.schema.json", &plan["plan"]["cluster"]);
    let ng = format!("{stack}-nodes");
    let step = |kind: &str, name: &str, detail: &str| (kind.to_owned(), name.to_owned(), detail.to_owned());
    let planned = steps(&plan["plan"]["cluster"]);
    let expected = vec![
        step(
            "upgrade-insights",
            &stack,
            "UPGRADE_READINESS for 1.35: a finding in ERROR stops the upgrade (--force: warns)",
        ),
        step("cluster-version", &stack, "1.34 → 1.35"),
        step("addon-version", "kube-proxy", "v1.34.0-eksbuild.2 → v1.35.0-eksbuild.2"),
        step("addon-version", "vpc-cni", "v1.20.4-eksbuild.2 → v1.21.1-eksbuild.1"),
        step("node-group-version", &ng, "1.34 → 1.35, its nodes rolled"),
        step(
            "upgrade-insights",
            &stack,
            "UPGRADE_READINESS for 1.36: a finding in ERROR stops the upgrade (--force: warns)",
        ),
        step("cluster-version", &stack, "1.35 → 1.36"),
        step("addon-version", "coredns", "v1.12.4-eksbuild.1 → v1.13.1-eksbuild.1"),
        step("addon-version", "kube-proxy", "v1.35.0-eksbuild.2 → v1.36.0-eksbuild.2"),
        step("node-group-version", &ng, "1.35 → 1.36, its nodes rolled"),
    ];
    assert_eq!(planned, expected);
    assert_eq!(versions(&stack), old, "a dry run changes nothing");

    // A finding in ERROR for 1.36 stops the upgrade after 1.35 is complete, naming it.
    let blocked = {
        let _finding = Finding::add(
            env(),
            json!({"cluster": stack, "kubernetesVersion": "1.36", "name": "Deprecated APIs removed in Kubernetes v1.36",
                   "status": "ERROR", "reason": "flowcontrol.apiserver.k8s.io/v1beta3 still in use"}),
        );
        mkeks(&["--upgrade"], &doc)
    };
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    let log = stderr(&blocked);
    assert!(log.contains("v1beta3 still in use") && log.contains("--force"), "{log}");
    let order = ["control plane 1.34 → 1.35", "add-on kube-proxy", "add-on vpc-cni", "node group"];
    let places: Vec<usize> = order.iter().map(|s| at(&log, s)).collect();
    assert!(places.is_sorted(), "steps out of order: {order:?} at {places:?}:\n{log}");
    let mid = versions(&stack);
    assert_eq!(mid["control_plane"], "1.35");
    assert_eq!(mid["node_groups"][&ng], "1.35");
    assert_eq!(mid["addons"]["kube-proxy"], "v1.35.0-eksbuild.2");

    // With updates that take time (control plane 8 s, node group 10 s), killed while the control
    // plane goes to 1.36: the next run waits for that update and finishes the rest.
    let _slow = Timing::set(env(), json!({"match": stack}));
    let killed = kill_at(&["--upgrade"], &doc, "of the control plane of");
    assert!(killed.contains("control plane 1.35 → 1.36"), "{killed}");
    assert_eq!(versions(&stack)["control_plane"], "1.35", "killed mid-update: {killed}");
    let done = mkeks(&["--upgrade"], &doc);
    let out = ok_json("mkeks --upgrade, resumed", &done);
    assert!(!stderr(&done).contains("control plane 1.35 → 1.36"), "the update was joined: {}", stderr(&done));
    assert_schema("cluster.schema.json", &out["cluster"]);
    let new = versions(&stack);
    assert_eq!(new["control_plane"], "1.36");
    assert_eq!(new["node_groups"][&ng], "1.36");
    assert_eq!(new["addons"]["kube-proxy"], "v1.36.0-eksbuild.2");
    assert_eq!(new["addons"]["coredns"], "v1.13.1-eksbuild.1");
    assert_eq!(new["addons"]["vpc-cni"], "v1.21.1-eksbuild.1");
    let c = &out["cluster"];
    assert_eq!((c["version"].as_str(), c["node_group"]["version"].as_str()), (Some("1.36"), Some("1.36")));
    assert_eq!(c["upgrade"]["from"]["control_plane"], "1.35", "where the killed run had got to");
    assert_eq!(c["upgrade"]["to"], new, "the document says what EKS says");
    // The add-ons' own settings survive (PRESERVE): vpc-cni still enforces NetworkPolicies.
    let eks = aws_sdk_eks::Client::new(&aws_config(env(), REGION));
    let cni = block_on(eks.describe_addon().cluster_name(&stack).addon_name("vpc-cni").send()).unwrap();
    assert!(cni.addon.unwrap().configuration_values().unwrap().contains("enableNetworkPolicy"));

    // Done: another upgrade and a plain re-run change nothing.
    let again = mkeks(&["--upgrade"], &out);
    assert!(again.status.success() && !stderr(&again).contains(" → "), "{}", stderr(&again));
    let rerun = ok_json("mkeks", &mkeks(&[], &out));
    assert_eq!(rerun["cluster"]["version"], "1.36");
    drop(_slow);
    ok_json("mkeks --delete", &mkeks(&["--delete"], &rerun));
    ok_json("mkvpc --delete", &run_tool("mkvpc", env(), &["--delete"], Some(&vpc.to_string())));
}
