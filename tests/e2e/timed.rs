//! AWS that takes time: the tools' waits against resources that pass through their real
//! intermediate states, and end in their real failed states, on the emulator's timing rules
//! (`ekskit_tests::timing`, `scripts/devstack.d/moto_timed.py`). Each test times only its own
//! stack, at a scale that keeps it well under a minute.
//!
//! mkpipeline has no test here: it waits on no AWS resource state (a new CodeConnections
//! connection stays PENDING until a person completes it, which mkpipeline reports, not waits
//! for; its other waits retry calls while IAM propagates a new role).

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, Instant};

use ekskit_tests::timing::Timing;
use ekskit_tests::{aws_config, block_on, ok_json, owned_resources, run_tool, stack_env, stderr, unique_stack};
use serde_json::{Value, json};

/// EKS tests make VPCs without NAT gateways (no Elastic IPs), so they share this region.
const EKS_REGION: &str = "us-east-1";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

/// A run of `tool`, and how long it took.
fn timed_run(tool: &str, args: &[&str], stdin: Option<&str>) -> (Output, Duration) {
    let started = Instant::now();
    let out = run_tool(tool, env(), args, stdin);
    (out, started.elapsed())
}

/// Asserts the run failed with exit code 1 and returns its stderr.
fn failed(name: &str, out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{name} should exit 1:\n{}", stderr(out));
    assert!(out.stdout.is_empty(), "{name} printed no document: {}", String::from_utf8_lossy(&out.stdout));
    stderr(out)
}

fn assert_has(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "wanted {wanted:?} in:\n{text}");
}

#[test]
fn mkvpc_waits_through_a_pending_nat_gateway_and_its_deletion() {
    let (stack, region) = (unique_stack("timed-nat"), "eu-west-2");
    // NAT gateways: pending for 2 s, deleting for 1 s.
    let _timing = Timing::set(env(), json!({"match": stack, "scale": 1.0 / 60.0}));
    let (out, took) = timed_run("mkvpc", &["--name", &stack, "--nat", "single", "--region", region], None);
    let doc = ok_json("mkvpc", &out);
    let nat = doc["vpc"]["nat_gateways"][0]["id"].as_str().unwrap().to_owned();
    let log = stderr(&out);
    assert_has(&log, &format!("waiting for NAT gateway {nat} ("));
    assert_has(&log, "to become available (now pending; up to ");
    assert_has(&log, "is available after ");
    assert!(took < Duration::from_secs(30), "{took:?}");

    let (out, _) = timed_run("mkvpc", &["--delete", "--name", &stack, "--region", region], None);
    ok_json("mkvpc --delete", &out);
    assert_has(&stderr(&out), &format!("waiting for NAT gateway {nat} to become deleted (now deleting; up to "));
    let ec2 = aws_sdk_ec2::Client::new(&aws_config(env(), region));
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new(), "nothing is left");
}

#[test]
fn mkvpc_exits_1_naming_the_aws_reason_of_a_failed_nat_gateway() {
    let (stack, region) = (unique_stack("timed-natfail"), "ap-southeast-1");
    let timing = Timing::set(env(), json!({"match": stack, "fail": {"nat": "Gateway.NotAttached"}}));
    let create = ["--name", &stack, "--nat", "single", "--region", region];
    let (out, took) = timed_run("mkvpc", &create, None);
    let log = failed("mkvpc", &out);
    let ec2 = aws_sdk_ec2::Client::new(&aws_config(env(), region));
    let vpc = owned_resources(&ec2, &stack).into_iter().find_map(|r| r.strip_prefix("vpc ").map(str::to_owned));
    let vpc = vpc.expect("the VPC was made");
    assert_has(&log, "will not become available: it is failed: Gateway.NotAttached: ");
    assert_has(&log, &format!("Network {vpc} has no Internet gateway attached"));
    assert!(took < Duration::from_secs(30), "it fails when AWS says so, not at the timeout: {took:?}");

    // Once the cause is gone, the same command replaces the failed gateway (its address is free).
    drop(timing);
    let (out, _) = timed_run("mkvpc", &create, None);
    let doc = ok_json("mkvpc", &out);
    assert_has(&stderr(&out), "failed (Network ");
    assert_has(&stderr(&out), "has no Internet gateway attached); replacing it");
    assert_eq!(doc["vpc"]["id"], vpc.as_str(), "the same VPC");

    let (out, _) = timed_run("mkvpc", &["--delete", "--name", &stack, "--region", region], None);
    ok_json("mkvpc --delete", &out);
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new(), "nothing is left");
}

/// A VPC without NAT gateways for an EKS test.
fn vpc(stack: &str) -> Value {
    ok_json("mkvpc", &run_tool("mkvpc", env(), &["--name", stack, "--nat", "none", "--region", EKS_REGION], None))
}

/// `mkeks --delete` of the stack, which must succeed, then its VPC's; returns mkeks' stderr.
fn delete_all(stack: &str, vpc: &Value) -> String {
    let (out, _) = timed_run("mkeks", &["--delete", "--name", stack, "--region", EKS_REGION], None);
    ok_json("mkeks --delete", &out);
    let eks = aws_sdk_eks::Client::new(&aws_config(env(), EKS_REGION));
    let gone = block_on(eks.describe_cluster().name(stack).send()).is_err();
    assert!(gone, "the cluster {stack} is gone");
    ok_json("mkvpc --delete", &run_tool("mkvpc", env(), &["--delete"], Some(&vpc.to_string())));
    stderr(&out)
}

#[test]
fn mkeks_waits_through_creating_cluster_node_group_and_add_ons_and_deleting_them() {
    let stack = unique_stack("timed-eks").to_lowercase();
    let vpc = vpc(&stack);
    // Cluster: 5 s creating, 2.5 s deleting; node group 1.5 s each way; add-ons 6 s each way.
    let _timing = Timing::set(env(), json!({"match": stack, "scale": 1.0 / 120.0, "scales": {"addon": 0.1}}));
    let (out, took) = timed_run("mkeks", &[], Some(&vpc.to_string()));
    let doc = ok_json("mkeks", &out);
    assert_eq!(doc["cluster"]["status"], "ACTIVE");
    assert_eq!(doc["cluster"]["node_group"]["status"], "ACTIVE");
    assert!(doc["cluster"]["managed_addons"].as_array().unwrap().iter().all(|a| a["status"] == "ACTIVE"));
    let log = stderr(&out);
    assert_has(&log, &format!("waiting for EKS cluster {stack} to become ACTIVE (now CREATING; up to "));
    assert_has(&log, &format!("EKS cluster {stack} is ACTIVE after "));
    assert_has(&log, &format!("waiting for node group {stack}-nodes to become ACTIVE (now CREATING; up to "));
    assert_has(&log, "waiting for add-on vpc-cni to become ACTIVE (now CREATING; up to ");
    assert!(took < Duration::from_secs(45), "{took:?}");

    let log = delete_all(&stack, &vpc);
    assert_has(&log, "to become deleted (now DELETING; up to ");
    assert_has(&log, &format!("waiting for node group {stack}-nodes to become deleted (now DELETING; up to "));
    assert_has(&log, &format!("waiting for EKS cluster {stack} to become deleted (now DELETING; up to "));
}

#[test]
fn mkeks_exits_1_naming_the_aws_reason_of_a_failed_cluster() {
    let stack = unique_stack("timed-eksfail").to_lowercase();
    let vpc = vpc(&stack);
    let rule = json!({"match": stack, "scales": {"cluster": 1.0 / 300.0}, "fail": {"cluster": "AccessDenied"}});
    let timing = Timing::set(env(), rule);
    let (out, took) = timed_run("mkeks", &[], Some(&vpc.to_string()));
    let log = failed("mkeks", &out);
    assert_has(
        &log,
        &format!(
            "EKS cluster {stack} will not become ACTIVE: it is FAILED: AccessDenied: The cluster role is missing \
             permissions required by EKS (arn:aws:iam::"
        ),
    );
    assert_has(&log, &format!(":role/ekskit-{stack}-cluster)"));
    assert!(took < Duration::from_secs(30), "it fails when AWS says so, not at the timeout: {took:?}");
    drop(timing);
    delete_all(&stack, &vpc);
}

#[test]
fn mkeks_exits_1_naming_the_aws_reason_of_a_failed_node_group() {
    let stack = unique_stack("timed-ngfail").to_lowercase();
    let vpc = vpc(&stack);
    let rule = json!({"match": stack, "scale": 1.0 / 300.0, "fail": {"nodegroup": "NodeCreationFailure"}});
    let _timing = Timing::set(env(), rule);
    let (out, took) = timed_run("mkeks", &[], Some(&vpc.to_string()));
    let log = failed("mkeks", &out);
    assert_has(
        &log,
        &format!(
            "node group {stack}-nodes will not become ACTIVE: it is CREATE_FAILED: NodeCreationFailure: Instances \
             failed to join the kubernetes cluster (i-"
        ),
    );
    assert!(took < Duration::from_secs(30), "it fails when AWS says so, not at the timeout: {took:?}");
    // The failed node group is deleted through DELETING like any other.
    let log = delete_all(&stack, &vpc);
    assert_has(&log, &format!("waiting for node group {stack}-nodes to become deleted (now DELETING; up to "));
}

#[test]
fn mkeks_exits_1_naming_the_aws_reason_of_a_degraded_add_on() {
    let stack = unique_stack("timed-addonfail").to_lowercase();
    let vpc = vpc(&stack);
    let fail = json!({"addon": {"name": "coredns", "code": "InsufficientNumberOfReplicas"}});
    let _timing = Timing::set(env(), json!({"match": stack, "scale": 1.0 / 300.0, "fail": fail}));
    let (out, took) = timed_run("mkeks", &[], Some(&vpc.to_string()));
    let log = failed("mkeks", &out);
    assert_has(
        &log,
        "add-on coredns will not become ACTIVE: it is DEGRADED: InsufficientNumberOfReplicas: The add-on is \
         unhealthy because it doesn't have the desired number of replicas.",
    );
    assert!(took < Duration::from_secs(30), "it fails when AWS says so, not at the timeout: {took:?}");
    delete_all(&stack, &vpc);
}

#[test]
fn mkeks_delete_exits_1_naming_the_aws_reason_of_a_failed_add_on_or_node_group_deletion() {
    let stack = unique_stack("timed-delfail").to_lowercase();
    let vpc = vpc(&stack);
    ok_json("mkeks", &run_tool("mkeks", env(), &[], Some(&vpc.to_string())));
    let delete = ["--delete", "--name", &stack, "--region", EKS_REGION];

    let fail = json!({"addon": {"name": "coredns", "code": "ClusterUnreachable", "status": "DELETE_FAILED"}});
    let timing = Timing::set(env(), json!({"match": stack, "scale": 1.0 / 300.0, "fail": fail}));
    let (out, took) = timed_run("mkeks", &delete, None);
    assert_has(
        &failed("mkeks --delete", &out),
        "add-on coredns will not become deleted: it is DELETE_FAILED: ClusterUnreachable: Unable to reach the \
         cluster to remove the add-on coredns's resources",
    );
    assert!(took < Duration::from_secs(30), "it fails when AWS says so, not at the timeout: {took:?}");
    drop(timing);

    let fail = json!({"nodegroup": {"code": "PodEvictionFailure", "status": "DELETE_FAILED"}});
    let timing = Timing::set(env(), json!({"match": stack, "scale": 1.0 / 300.0, "fail": fail}));
    let (out, _) = timed_run("mkeks", &delete, None);
    assert_has(
        &failed("mkeks --delete", &out),
        &format!(
            "node group {stack}-nodes will not become deleted: it is DELETE_FAILED: PodEvictionFailure: Reached max \
             retries while trying to evict pods from nodes in node group {stack}-nodes (i-"
        ),
    );
    drop(timing);
    // Once AWS lets go, the same command deletes the rest.
    delete_all(&stack, &vpc);
}

/// EKS' managed Argo CD: CREATING, then CREATE_FAILED with AWS's reason, which mkeks names; a
/// re-run once the cause is gone waits through CREATING to ACTIVE, and --delete through DELETING.
#[test]
fn mkeks_exits_1_naming_the_aws_reason_of_a_failed_capability_and_waits_for_a_good_one() {
    let stack = unique_stack("timed-capfail").to_lowercase();
    let vpc = vpc(&stack);
    let argocd = ["--capability", "argocd", "--idc-instance-arn", "arn:aws:sso:::instance/ssoins-0123456789abcdef"];
    // Only the capability takes time (3 min at 1/60: 3 s), and fails.
    let scales = json!({"cluster": 0.0001, "nodegroup": 0.0001, "addon": 0.0001, "capability": 1.0 / 60.0});
    let rule = json!({"match": stack, "scales": scales, "fail": {"capability": "AccessDenied"}});
    let timing = Timing::set(env(), rule);
    let (out, took) = timed_run("mkeks", &argocd, Some(&vpc.to_string()));
    let log = failed("mkeks", &out);
    assert_has(&log, &format!("waiting for capability argocd of {stack} to become ACTIVE (now CREATING; up to "));
    assert_has(
        &log,
        &format!(
            "capability argocd of {stack} will not become ACTIVE: it is CREATE_FAILED: AccessDenied: The capability role"
        ),
    );
    assert!(took < Duration::from_secs(30), "it fails when AWS says so: {took:?}");
    drop(timing);
    // EKS keeps a failed capability; its cause fixed (here: the rule gone), it is deleted and
    // made again by hand, as on AWS. Then a run waits for the new one.
    let eks = aws_sdk_eks::Client::new(&aws_config(env(), EKS_REGION));
    block_on(eks.delete_capability().cluster_name(&stack).capability_name("argocd").send()).unwrap();
    let _timing = Timing::set(env(), json!({"match": stack, "scales": scales}));
    let (out, _) = timed_run("mkeks", &argocd, Some(&vpc.to_string()));
    let doc = ok_json("mkeks", &out);
    assert_eq!(doc["cluster"]["capabilities"]["argocd"]["status"], "ACTIVE");
    assert_has(&stderr(&out), &format!("capability argocd of {stack} is ACTIVE after "));
    let log = delete_all(&stack, &vpc);
    assert_has(&log, &format!("waiting for capability argocd of {stack} to become deleted (now DELETING; up to "));
}
