//! Chaos: the AWS tools (mkvpc, mkeks, mkpipeline) behind the fault proxy
//! ([`ekskit_tests::faults`]). For each kill point k, a create is killed (SIGKILL) right after
//! its k-th request reached AWS and before the answer came back, then re-run; the re-run must
//! converge on exactly what a clean run makes, with the same tags, and a further run must print
//! the same document. Then a `--delete` is killed at its k-th request and re-run, and the region
//! must be back to what it held before: nothing orphaned, tagged or not. Then whole runs at 25%
//! injected throttling and 5xx must succeed.
//!
//! `make test` runs a seeded slice (a few kill points per tool, one faulted run);
//! `make chaos` (EKSKIT_CHAOS=full) every kill point of a run and 20 faulted runs per tool, and
//! prints the figures. Each tool gets a region of its own (another for the slice): the
//! inventory is region-wide.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use ekskit_tests::faults::{FaultProxy, Faults};
use ekskit_tests::{aws_config, block_on, ok_json, run, run_tool, stack_env, stderr, tool, unique_stack};
use serde_json::Value;

const SEED: u64 = 20;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

/// `make chaos` sets EKSKIT_CHAOS=full; anything else is the slice `make test` runs.
fn full() -> bool {
    std::env::var("EKSKIT_CHAOS").is_ok_and(|v| v == "full")
}

/// The tool's region: one for `make chaos`, another for the slice, so that a `make test` run
/// while `make chaos` runs on the same stack does not see its resources.
fn region(full_run: &'static str, slice: &'static str) -> &'static str {
    if full() { full_run } else { slice }
}

/// One tool under test: how to create its part of a stack in its own region.
struct Subject {
    tool: &'static str,
    region: &'static str,
    stack: String,
    create: Vec<String>,
    stdin: Option<String>,
    /// A delete that needs no document from a create (with `stdin`): after a run that failed.
    cleanup: Vec<String>,
}

#[derive(Debug, Default)]
struct Figures {
    create_requests: u64,
    delete_requests: u64,
    kill_points: usize,
    converged: usize,
    orphans: usize,
    fault_runs: usize,
    fault_runs_ok: usize,
    drop_runs: usize,
    drop_runs_ok: usize,
    failures: Vec<String>,
}

#[test]
fn mkvpc_killed_at_any_request_converges_and_deletes_to_nothing() {
    let stack = unique_stack("chaos").to_lowercase();
    let create = ["--name", &stack, "--nat", "single", "--endpoints", "s3,sts"];
    check(Subject {
        tool: "mkvpc",
        region: region("eu-north-1", "eu-south-1"),
        create: create.map(String::from).to_vec(),
        stdin: None,
        cleanup: ["--delete", "--name", &stack].map(String::from).to_vec(),
        stack,
    });
}

#[test]
fn mkeks_killed_at_any_request_converges_and_deletes_to_nothing() {
    let (stack, region) = (unique_stack("chaos").to_lowercase(), region("eu-west-3", "eu-central-2"));
    let vpc = run_tool("mkvpc", env(), &["--name", &stack, "--nat", "none", "--region", region], None);
    let vpc = ok_json("mkvpc", &vpc);
    let create = ["--addon", "external-secrets"];
    check(Subject {
        tool: "mkeks",
        region,
        create: create.map(String::from).to_vec(),
        stdin: Some(vpc.to_string()),
        cleanup: vec!["--delete".into()],
        stack: stack.clone(),
    });
    let deleted = run_tool("mkvpc", env(), &["--delete", "--name", &stack, "--region", region], None);
    ok_json("mkvpc --delete", &deleted);
}

#[test]
fn mkpipeline_killed_at_any_request_converges_and_deletes_to_nothing() {
    let stack = unique_stack("chs").to_lowercase();
    let region = region("ap-northeast-2", "af-south-1");
    let secret = format!("arn:aws:secretsmanager:{region}:123456789012:secret:gitops-token-AbCdEf");
    let create = ["--name", &stack, "--repository", "acme/comments", "--token-secret", &secret];
    check(Subject {
        tool: "mkpipeline",
        region,
        create: create.map(String::from).to_vec(),
        stdin: None,
        cleanup: ["--delete", "--name", &stack].map(String::from).to_vec(),
        stack,
    });
}

/// Runs the kill points and the faulted runs for `subject`, reports the figures, and fails on
/// any run that did not converge or left something behind.
fn check(subject: Subject) {
    let figures = chaos(&subject);
    report(subject.tool, &figures);
    let failed = figures.failures.join("\n");
    assert_eq!(figures.orphans, 0, "{}: resources left behind:\n{failed}", subject.tool);
    assert_eq!(figures.converged, figures.kill_points, "{}:\n{failed}", subject.tool);
    // At least 19 of 20 runs at 25% faults succeed. A run with lost answers may still fail (an
    // SDK retry of a create whose first attempt did the work can meet "already exists" where a
    // tool does not adopt yet; docs/chaos.md); it is counted, and must leave nothing the plain
    // delete after it cannot remove (the orphan check above).
    let needed = |runs: usize| if full() { runs - runs / 20 } else { runs };
    assert!(figures.fault_runs_ok >= needed(figures.fault_runs), "{}:\n{failed}", subject.tool);
    if figures.drop_runs_ok < figures.drop_runs {
        let _ = writeln!(std::io::stderr(), "chaos: {} with lost answers:\n{failed}", subject.tool);
    }
}

fn chaos(subject: &Subject) -> Figures {
    let mut figures = Figures::default();
    let baseline = inventory(subject);
    let proxy = FaultProxy::start(&env()["AWS_ENDPOINT_URL"], Faults::none());

    // The reference: a clean run through the proxy, which counts its requests.
    proxy.disarm();
    let doc = clean(subject, &proxy, &subject.create, subject.stdin.as_deref()).expect("the reference run");
    figures.create_requests = proxy.seen();
    let reference = shape(&inventory(subject));
    proxy.disarm();
    clean(subject, &proxy, &delete_args(), Some(&doc.to_string())).expect("the reference delete");
    figures.delete_requests = proxy.seen();
    assert_eq!(inventory(subject), baseline, "the reference delete left something");

    for k in kill_points(figures.create_requests.max(figures.delete_requests)) {
        figures.kill_points += 1;
        match kill_point(subject, &proxy, k, &reference) {
            Ok(()) => figures.converged += 1,
            Err(e) => figures.failures.push(format!("kill point {k}: {e}")),
        }
        let left = leftovers(&baseline, &inventory(subject));
        if !left.is_empty() {
            figures.orphans += left.len();
            figures.failures.push(format!("kill point {k} left {left:?}"));
            break; // the next kill points would start from a dirty region
        }
    }

    // 25% throttling and 5xx; then 10% of the answers lost after AWS did the work.
    let runs = if full() { 20 } else { 1 };
    let kinds = [
        ("25% faults", Faults::errors(SEED, 0.25)),
        ("10% answers lost", Faults { seed: SEED, rate: 0.1, drops: 1.0 }),
    ];
    for (kind, faults) in kinds {
        for run in 0..runs {
            let proxy = FaultProxy::start(&env()["AWS_ENDPOINT_URL"], Faults { seed: SEED + run, ..faults });
            let result = faulted_run(subject, &proxy, &reference, &baseline);
            let (tried, ok) = if faults.drops > 0.0 {
                (&mut figures.drop_runs, &mut figures.drop_runs_ok)
            } else {
                (&mut figures.fault_runs, &mut figures.fault_runs_ok)
            };
            *tried += 1;
            match result {
                Ok(()) => *ok += 1,
                Err(e) => {
                    figures.failures.push(format!("run {run} at {kind}: {e}"));
                    // What a user does next: delete, here without faults. What it cannot
                    // remove is orphaned.
                    let plain = FaultProxy::start(&env()["AWS_ENDPOINT_URL"], Faults::none());
                    if let Err(e) = clean(subject, &plain, &subject.cleanup, subject.stdin.as_deref()) {
                        figures.failures.push(format!("the delete after run {run} at {kind}: {e}"));
                    }
                }
            }
            let left = leftovers(&baseline, &inventory(subject));
            if !left.is_empty() {
                figures.orphans += left.len();
                figures.failures.push(format!("run {run} at {kind} left {left:?}"));
                return figures;
            }
        }
    }
    figures
}

/// Every request of a run (full), or a seeded handful spread over it (the slice).
fn kill_points(requests: u64) -> Vec<u64> {
    if full() {
        return (1..=requests).collect();
    }
    let mut points: Vec<u64> = [1, 4, 2].iter().map(|q| 1 + (SEED * 7 + requests * q / 5) % requests).collect();
    points.dedup();
    points
}

/// Create killed at k, re-run; delete killed at k, re-run.
fn kill_point(subject: &Subject, proxy: &FaultProxy, k: u64, reference: &[String]) -> Result<(), String> {
    killed_at(subject, proxy, k, &subject.create, subject.stdin.as_deref());
    proxy.disarm();
    let doc = create_and_check(subject, proxy, reference)?;
    killed_at(subject, proxy, k, &delete_args(), Some(&doc.to_string()));
    proxy.disarm();
    clean(subject, proxy, &delete_args(), Some(&doc.to_string())).map(drop)
}

/// A create that must make what the reference made, and a re-run that must print the same
/// document; the document.
fn create_and_check(subject: &Subject, proxy: &FaultProxy, reference: &[String]) -> Result<Value, String> {
    let doc = clean(subject, proxy, &subject.create, subject.stdin.as_deref())?;
    let now = shape(&inventory(subject));
    if now != reference {
        return Err(format!("the create made {now:?}, a clean run {reference:?}"));
    }
    let again = clean(subject, proxy, &subject.create, subject.stdin.as_deref())?;
    if again != doc {
        return Err(format!("a further run printed another document:\n{again}\nnot\n{doc}"));
    }
    Ok(doc)
}

/// Create, re-run, delete, each through a proxy that fails a quarter of the requests.
fn faulted_run(subject: &Subject, proxy: &FaultProxy, reference: &[String], baseline: &[String]) -> Result<(), String> {
    let doc = create_and_check(subject, proxy, reference)?;
    clean(subject, proxy, &delete_args(), Some(&doc.to_string()))?;
    let left = leftovers(baseline, &inventory(subject));
    if left.is_empty() { Ok(()) } else { Err(format!("left {left:?}")) }
}

fn delete_args() -> Vec<String> {
    vec!["--delete".into()]
}

fn command(subject: &Subject, proxy: &FaultProxy, args: &[String]) -> Command {
    let mut cmd = tool(subject.tool, env());
    cmd.env("AWS_ENDPOINT_URL", &proxy.url).args(args).args(["--region", subject.region]);
    cmd
}

/// A run to its end; its document, or what it said when it failed.
fn clean(subject: &Subject, proxy: &FaultProxy, args: &[String], stdin: Option<&str>) -> Result<Value, String> {
    let out = run(command(subject, proxy, args), stdin);
    if !out.status.success() {
        return Err(format!("{} {args:?} exited {:?}:\n{}", subject.tool, out.status.code(), stderr(&out)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{} {args:?}: stdout is not JSON: {e}", subject.tool))
}

/// Starts the tool armed to be killed at its k-th request; true when it was (a run with fewer
/// requests ends by itself).
fn killed_at(subject: &Subject, proxy: &FaultProxy, k: u64, args: &[String], stdin: Option<&str>) -> bool {
    let signal = proxy.arm_kill(k);
    let mut cmd = command(subject, proxy, args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawning the tool");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin.unwrap_or_default().as_bytes()).expect("writing stdin");
    drop(pipe);
    let limit = Instant::now() + Duration::from_secs(600);
    loop {
        match signal.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => {
                child.kill().expect("SIGKILL"); // no cleanup, as with a lost runner
                child.wait().expect("reaping the tool");
                return true;
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                if child.try_wait().expect("polling the tool").is_some() {
                    return false;
                }
                assert!(Instant::now() < limit, "{} armed at request {k} neither ended nor got there", subject.tool);
            }
        }
    }
}

/// The inventory without ids: kinds and whether they carry the stack's tag, sorted.
fn shape(inventory: &[String]) -> Vec<String> {
    let mut shape: Vec<String> = inventory
        .iter()
        .map(|line| {
            let mut words = line.split(' ');
            let kind = words.next().unwrap_or_default();
            format!("{kind}{}", if line.ends_with(" untagged") { " untagged" } else { "" })
        })
        .collect();
    shape.sort();
    shape
}

fn leftovers(baseline: &[String], now: &[String]) -> Vec<String> {
    now.iter().filter(|l| !baseline.contains(l)).cloned().collect()
}

fn report(tool: &str, f: &Figures) {
    let line = format!(
        "{tool:<11} requests {:>3} create / {:>3} delete | kill points {:>3} tried, {:>3} converged | orphans {} | 25% faults: {}/{} runs succeeded | 10% answers lost: {}/{}",
        f.create_requests,
        f.delete_requests,
        f.kill_points,
        f.converged,
        f.orphans,
        f.fault_runs_ok,
        f.fault_runs,
        f.drop_runs_ok,
        f.drop_runs
    );
    let _ = writeln!(std::io::stderr(), "chaos: {line}");
    if let Ok(path) = std::env::var("EKSKIT_CHAOS_REPORT") {
        let row = serde_json::json!({
            "tool": tool, "create_requests": f.create_requests, "delete_requests": f.delete_requests,
            "kill_points": f.kill_points, "converged": f.converged, "orphans": f.orphans,
            "fault_runs": f.fault_runs, "fault_runs_ok": f.fault_runs_ok,
            "drop_runs": f.drop_runs, "drop_runs_ok": f.drop_runs_ok,
        });
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the chaos report");
        writeln!(file, "{row}").expect("writing the chaos report");
    }
}

/// Everything the subject's services hold in its region (and IAM's and S3's global names that
/// carry the stack), as `kind id` lines, `untagged` appended where the stack's tag is missing.
fn inventory(subject: &Subject) -> Vec<String> {
    let config = aws_config(env(), subject.region);
    let stack = subject.stack.as_str();
    let mut found = block_on(async {
        let mut found = ec2_inventory(&aws_sdk_ec2::Client::new(&config), stack).await;
        found.extend(kms_inventory(&aws_sdk_kms::Client::new(&config), stack).await);
        found.extend(eks_inventory(&aws_sdk_eks::Client::new(&config)).await);
        found.extend(iam_inventory(&aws_sdk_iam::Client::new(&config), stack).await);
        found.extend(pipeline_inventory(&config, stack).await);
        found
    });
    found.sort();
    found
}

fn mark(kind: &str, id: &str, tagged: bool) -> String {
    format!("{kind} {id}{}", if tagged { "" } else { " untagged" })
}

fn ec2_tagged(tags: &[aws_sdk_ec2::types::Tag], stack: &str) -> bool {
    tags.iter().any(|t| t.key() == Some("ekskit.io/stack") && t.value() == Some(stack))
}

/// Everything outside the region's default VPC.
async fn ec2_inventory(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let ours: Vec<&str> =
        vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)).filter_map(|v| v.vpc_id()).collect();
    for v in vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)) {
        found.push(mark("vpc", v.vpc_id().unwrap(), ec2_tagged(v.tags(), stack)));
    }
    let in_ours = |vpc: Option<&str>| vpc.is_some_and(|v| ours.contains(&v));
    for s in ec2.describe_subnets().send().await.unwrap().subnets() {
        if in_ours(s.vpc_id()) {
            found.push(mark("subnet", s.subnet_id().unwrap(), ec2_tagged(s.tags(), stack)));
        }
    }
    for i in ec2.describe_internet_gateways().send().await.unwrap().internet_gateways() {
        let default = i.attachments().iter().any(|a| !in_ours(a.vpc_id())) && !i.attachments().is_empty();
        if !default {
            found.push(mark("igw", i.internet_gateway_id().unwrap(), ec2_tagged(i.tags(), stack)));
        }
    }
    for n in ec2.describe_nat_gateways().send().await.unwrap().nat_gateways() {
        if n.state().map(|s| s.as_str()) != Some("deleted") {
            found.push(mark("nat", n.nat_gateway_id().unwrap(), ec2_tagged(n.tags(), stack)));
        }
    }
    for a in ec2.describe_addresses().send().await.unwrap().addresses() {
        found.push(mark("eip", a.allocation_id().unwrap(), ec2_tagged(a.tags(), stack)));
    }
    for r in ec2.describe_route_tables().send().await.unwrap().route_tables() {
        if in_ours(r.vpc_id()) {
            found.push(mark("rtb", r.route_table_id().unwrap(), ec2_tagged(r.tags(), stack)));
        }
    }
    for e in ec2.describe_vpc_endpoints().send().await.unwrap().vpc_endpoints() {
        if e.state().map(|s| s.as_str().to_ascii_lowercase()) != Some("deleted".into()) {
            found.push(mark("vpce", e.vpc_endpoint_id().unwrap(), ec2_tagged(e.tags(), stack)));
        }
    }
    for g in ec2.describe_security_groups().send().await.unwrap().security_groups() {
        if in_ours(g.vpc_id()) {
            found.push(mark("sg", g.group_id().unwrap(), ec2_tagged(g.tags(), stack)));
        }
    }
    for n in ec2.describe_network_interfaces().send().await.unwrap().network_interfaces() {
        if in_ours(n.vpc_id()) {
            found.push(mark("eni", n.network_interface_id().unwrap(), ec2_tagged(n.tag_set(), stack)));
        }
    }
    for t in ec2.describe_launch_templates().send().await.unwrap().launch_templates() {
        found.push(mark("launch-template", t.launch_template_id().unwrap(), ec2_tagged(t.tags(), stack)));
    }
    found
}

/// Keys not pending deletion, and the aliases that are not AWS's own.
async fn kms_inventory(kms: &aws_sdk_kms::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    for key in kms.list_keys().limit(1000).send().await.unwrap().keys() {
        let id = key.key_id().unwrap();
        let meta = kms.describe_key().key_id(id).send().await.unwrap().key_metadata.unwrap();
        if meta.key_state() == Some(&aws_sdk_kms::types::KeyState::PendingDeletion) {
            continue;
        }
        let tags = kms.list_resource_tags().key_id(id).send().await.unwrap();
        let tagged = tags.tags().iter().any(|t| t.tag_key() == "ekskit.io/stack" && t.tag_value() == stack);
        found.push(mark("kms-key", id, tagged));
    }
    for alias in kms.list_aliases().send().await.unwrap().aliases() {
        let name = alias.alias_name().unwrap_or_default();
        if !name.starts_with("alias/aws/") {
            found.push(format!("kms-alias {name}"));
        }
    }
    found
}

async fn eks_inventory(eks: &aws_sdk_eks::Client) -> Vec<String> {
    let mut found = Vec::new();
    for cluster in eks.list_clusters().send().await.unwrap().clusters() {
        found.push(format!("cluster {cluster}"));
        for ng in eks.list_nodegroups().cluster_name(cluster).send().await.unwrap().nodegroups() {
            found.push(format!("node-group {ng}"));
        }
        for addon in eks.list_addons().cluster_name(cluster).send().await.unwrap().addons() {
            found.push(format!("addon {addon}"));
        }
        let associations = eks.list_pod_identity_associations().cluster_name(cluster).send().await.unwrap();
        for a in associations.associations() {
            found.push(format!("pod-identity {}", a.service_account().unwrap_or_default()));
        }
        for entry in eks.list_access_entries().cluster_name(cluster).send().await.unwrap().access_entries() {
            found.push(format!("access-entry {entry}"));
        }
    }
    found
}

/// IAM is global: roles, instance profiles and policies named for the stack, and OIDC providers
/// tagged with it.
async fn iam_inventory(iam: &aws_sdk_iam::Client, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut roles = iam.list_roles().into_paginator().items().send();
    while let Some(role) = roles.next().await {
        let role = role.unwrap();
        if role.role_name().contains(stack) {
            let tags = iam.list_role_tags().role_name(role.role_name()).send().await.unwrap();
            let tagged = tags.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack);
            found.push(mark("iam-role", role.role_name(), tagged));
            let policies = iam.list_role_policies().role_name(role.role_name()).send().await.unwrap();
            for p in policies.policy_names() {
                found.push(format!("iam-inline-policy {}/{p}", role.role_name()));
            }
        }
    }
    let profiles = iam.list_instance_profiles().send().await.unwrap();
    for p in profiles.instance_profiles().iter().filter(|p| p.instance_profile_name().contains(stack)) {
        found.push(format!("instance-profile {}", p.instance_profile_name()));
    }
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    for p in policies.policies().iter().filter_map(|p| p.policy_name()).filter(|n| n.contains(stack)) {
        found.push(format!("iam-policy {p}"));
    }
    for provider in iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list() {
        let arn = provider.arn().unwrap_or_default();
        let tags = iam.list_open_id_connect_provider_tags().open_id_connect_provider_arn(arn).send().await;
        if tags.is_ok_and(|t| t.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack)) {
            found.push(format!("oidc-provider {arn}"));
        }
    }
    found
}

/// S3 buckets named for the stack, and the region's CodeBuild projects, pipelines and
/// connections.
async fn pipeline_inventory(config: &aws_config::SdkConfig, stack: &str) -> Vec<String> {
    let mut found = Vec::new();
    let s3 = aws_sdk_s3::Client::new(config);
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        if b.name().is_some_and(|n| n.contains(stack)) {
            found.push(format!("s3-bucket {}", b.name().unwrap()));
        }
    }
    let cb = aws_sdk_codebuild::Client::new(config);
    for p in cb.list_projects().send().await.unwrap().projects() {
        found.push(format!("codebuild-project {p}"));
    }
    let cp = aws_sdk_codepipeline::Client::new(config);
    for p in cp.list_pipelines().send().await.unwrap().pipelines() {
        found.push(format!("pipeline {}", p.name().unwrap_or_default()));
    }
    let cc = aws_sdk_codeconnections::Client::new(config);
    for c in cc.list_connections().send().await.unwrap().connections() {
        found.push(format!("connection {}", c.connection_name().unwrap_or_default()));
    }
    found
}
