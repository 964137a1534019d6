//! mkvpc against the AWS emulator of the local stack: create, re-run, dry-run, delete, crash
//! and resume, bad input, Kubernetes leftovers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use ekskit_tests::*;
use serde_json::{Value, json};

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

/// Tests that allocate Elastic IPs each use their own region: mkvpc checks the per-region
/// quota (5) before it creates anything, and tests run in parallel.
fn ec2(region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&aws_config(env(), region))
}

fn mkvpc(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    run_tool("mkvpc", env(), args, stdin)
}

fn ok(args: &[&str], stdin: Option<&str>) -> Value {
    let out = mkvpc(args, stdin);
    assert!(out.status.success(), "mkvpc {args:?} failed:\n{}", stderr(&out));
    stdout_json(&out)
}

fn ids(vpc: &Value) -> Vec<String> {
    let mut ids = vec![vpc["id"].as_str().unwrap().to_owned(), vpc["internet_gateway"].as_str().unwrap().to_owned()];
    for tier in ["public", "private"] {
        ids.extend(vpc["subnets"][tier].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()));
    }
    ids.extend(vpc["nat_gateways"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()));
    ids
}

#[test]
fn creates_the_full_vpc_reruns_to_the_same_ids_and_deletes_everything() {
    let stack = unique_stack("full");
    let ec2 = ec2("us-east-1");
    let input = r#"{"image": {"tag": "abc123"}, "note": [1, 2]}"#;

    let doc = ok(&["--name", &stack, "--endpoints", "s3,sts"], Some(input));
    assert_schema("vpc.schema.json", &doc["vpc"]);
    assert_eq!(doc["image"], json!({"tag": "abc123"}), "keys from stdin are kept");
    assert_eq!(doc["note"], json!([1, 2]));
    let vpc = &doc["vpc"];
    assert_eq!(vpc["cidr"], "10.0.0.0/16");
    assert_eq!(vpc["azs"].as_array().unwrap().len(), 3);
    let az_ids: Vec<&str> =
        vpc["subnets"]["public"].as_array().unwrap().iter().map(|s| s["az_id"].as_str().unwrap()).collect();
    assert!(!az_ids.contains(&"use1-az3"), "EKS does not support use1-az3: {az_ids:?}");
    assert_eq!(vpc["nat_gateways"].as_array().unwrap().len(), 1);
    assert_eq!(vpc["endpoints"].as_array().unwrap().len(), 2);

    // What AWS holds, looked up without the tool.
    let resources = owned_resources(&ec2, &stack);
    assert_eq!(
        (count(&resources, "vpc"), count(&resources, "subnet"), count(&resources, "igw"), count(&resources, "nat")),
        (1, 6, 1, 1),
        "{resources:?}"
    );
    assert_eq!(
        (count(&resources, "eip"), count(&resources, "rtb"), count(&resources, "vpce")),
        (1, 4, 2),
        "{resources:?}"
    );
    let vpc_id = vpc["id"].as_str().unwrap();
    let subnets = block_on(ec2.describe_subnets().filters(filter("vpc-id", vpc_id)).send()).unwrap();
    for subnet in subnets.subnets() {
        let tags: BTreeMap<&str, &str> = subnet.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
        assert_eq!(tags.get(format!("kubernetes.io/cluster/{stack}").as_str()), Some(&"shared"));
        assert_eq!(tags.get("ekskit.io/stack"), Some(&stack.as_str()));
        let public = tags.get("ekskit.io/role") == Some(&"subnet-public");
        assert_eq!(tags.contains_key("kubernetes.io/role/elb"), public);
        assert_eq!(tags.contains_key("kubernetes.io/role/internal-elb"), !public);
        assert_eq!(subnet.map_public_ip_on_launch(), Some(public), "public IPs on launch only in public subnets");
    }
    let dns =
        block_on(ec2.describe_vpc_attribute().vpc_id(vpc_id).attribute("enableDnsHostnames".into()).send()).unwrap();
    assert_eq!(dns.enable_dns_hostnames().and_then(|a| a.value()), Some(true));
    let private_rt = vpc["route_tables"]["private"][0]["id"].as_str().unwrap();
    let rts = block_on(ec2.describe_route_tables().route_table_ids(private_rt).send()).unwrap();
    let default =
        rts.route_tables()[0].routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).unwrap();
    assert_eq!(default.nat_gateway_id(), vpc["nat_gateways"][0]["id"].as_str());

    // A second run creates nothing and prints the same document.
    let again = mkvpc(&["--name", &stack, "--endpoints", "s3,sts"], Some(input));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout_json(&again), doc);
    assert!(!stderr(&again).contains("created"), "a re-run created something:\n{}", stderr(&again));
    assert_eq!(owned_resources(&ec2, &stack), resources);

    // The interface endpoints' HTTPS rule, removed by hand (or never added by a run killed
    // right after creating the group), comes back on the next run.
    let group = vpc["endpoint_security_group"].as_str().expect("sts is an interface endpoint");
    let https = |ec2: &aws_sdk_ec2::Client| {
        let groups = block_on(ec2.describe_security_groups().group_ids(group).send()).unwrap();
        groups.security_groups()[0].ip_permissions().iter().any(|p| p.from_port() == Some(443))
    };
    assert!(https(&ec2));
    let rule = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("10.0.0.0/16").build())
        .build();
    block_on(ec2.revoke_security_group_ingress().group_id(group).ip_permissions(rule).send()).unwrap();
    assert!(!https(&ec2));
    let repaired = mkvpc(&["--name", &stack, "--endpoints", "s3,sts"], Some(input));
    assert!(repaired.status.success(), "{}", stderr(&repaired));
    assert!(https(&ec2), "the HTTPS rule is back:\n{}", stderr(&repaired));

    // Its own output piped back in: same stack, same VPC.
    let piped = ok(&[], Some(&doc.to_string()));
    assert_eq!(ids(&piped["vpc"]), ids(vpc));

    // --delete, reading the stack from the document, leaves nothing with the stack tag.
    let deleted = ok(&["--delete"], Some(&doc.to_string()));
    assert_schema("deleted.vpc.schema.json", &deleted["deleted"]["vpc"]);
    assert!(deleted.get("vpc").is_none(), "the deleted vpc key is gone");
    assert_eq!(deleted["image"], json!({"tag": "abc123"}));
    assert!(deleted["deleted"]["vpc"]["resources"].as_array().unwrap().len() >= 16);
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new());
    // Deleting again is fine and removes nothing.
    let twice = ok(&["--delete", "--name", &stack], None);
    assert_eq!(twice["deleted"]["vpc"]["resources"], json!([]));
}

fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
}

#[test]
fn dry_run_prints_the_plan_and_creates_nothing() {
    let stack = unique_stack("dry");
    let ec2 = ec2("eu-west-1");
    let doc = ok(&["--name", &stack, "--nat", "ha", "--dry-run", "--region", "eu-west-1"], None);
    let plan = &doc["plan"]["vpc"];
    assert_schema("plan.vpc.schema.json", plan);
    let actions = plan["actions"].as_array().unwrap();
    assert!(actions.iter().all(|a| a["action"] == "create"), "{actions:#?}");
    let kinds = |k: &str| actions.iter().filter(|a| a["kind"] == k).count();
    assert_eq!((kinds("vpc"), kinds("subnet"), kinds("nat-gateway"), kinds("route-table")), (1, 6, 3, 4));
    assert!(doc.get("vpc").is_none());
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new());

    // After a real run, the plan keeps everything, and a delete plan lists it all.
    let made = ok(&["--name", &stack, "--region", "eu-west-1"], None);
    let replan = ok(&["--name", &stack, "--dry-run"], Some(&made.to_string()));
    assert!(replan["plan"]["vpc"]["actions"].as_array().unwrap().iter().all(|a| a["action"] == "keep"));
    let before = owned_resources(&ec2, &stack);
    let delete_plan = ok(&["--delete", "--dry-run"], Some(&made.to_string()));
    assert_schema("plan.vpc.schema.json", &delete_plan["plan"]["vpc"]);
    assert_eq!(delete_plan["plan"]["vpc"]["actions"].as_array().unwrap().len(), before.len());
    assert_eq!(owned_resources(&ec2, &stack), before, "a delete dry-run deletes nothing");
    ok(&["--delete"], Some(&made.to_string()));
}

#[test]
fn killed_at_several_points_a_rerun_converges_without_duplicates() {
    let stack = unique_stack("kill");
    // Kill after the k-th change the run reports, so each run gets a bit further.
    for k in [1, 2, 4, 7, 11] {
        let mut cmd = tool("mkvpc", env());
        cmd.args(["--name", &stack, "--nat", "ha", "--region", "us-east-2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut changes = 0;
        for line in lines.map_while(Result::ok) {
            if ["created", "allocated", "attached", "associated", "routing", "enabled"].iter().any(|w| line.contains(w))
            {
                changes += 1;
                if changes == k {
                    child.kill().unwrap(); // SIGKILL: no cleanup, no last words
                    break;
                }
            }
        }
        let _ = child.wait();
    }
    let doc = ok(&["--name", &stack, "--nat", "ha", "--region", "us-east-2"], None);
    assert_schema("vpc.schema.json", &doc["vpc"]);
    let resources = owned_resources(&ec2("us-east-2"), &stack);
    assert_eq!(
        [
            count(&resources, "vpc"),
            count(&resources, "subnet"),
            count(&resources, "igw"),
            count(&resources, "nat"),
            count(&resources, "eip"),
            count(&resources, "rtb")
        ],
        [1, 6, 1, 3, 3, 4],
        "duplicates or gaps after resuming: {resources:?}"
    );
    let again = mkvpc(&["--name", &stack, "--nat", "ha", "--region", "us-east-2"], None);
    assert!(!stderr(&again).contains("created"));
    assert_eq!(stdout_json(&again), doc);
    ok(&["--delete"], Some(&doc.to_string()));
    assert_eq!(owned_resources(&ec2("us-east-2"), &stack), Vec::<String>::new());
}

#[test]
fn changing_the_nat_mode_converges_both_ways() {
    let stack = unique_stack("nat");
    let ha = ok(&["--name", &stack, "--nat", "ha", "--region", "us-west-2"], None);
    assert_eq!(ha["vpc"]["nat_gateways"].as_array().unwrap().len(), 3);
    let none = ok(&["--nat", "none"], Some(&ha.to_string()));
    assert_eq!(none["vpc"]["nat_gateways"], json!([]));
    assert!(none["vpc"]["route_tables"]["private"].as_array().unwrap().iter().all(|r| r.get("nat_gateway").is_none()));
    let resources = owned_resources(&ec2("us-west-2"), &stack);
    assert_eq!((count(&resources, "nat"), count(&resources, "eip")), (0, 0), "{resources:?}");
    assert_eq!(ids(&none["vpc"])[..8], ids(&ha["vpc"])[..8], "VPC, gateway and subnets stay");
    ok(&["--delete"], Some(&none.to_string()));
}

/// Two creates of `stack` started together (each set up by `prepare`): both succeed and find the
/// one VPC they made between them. Their outputs.
fn two_together(
    stack: &str,
    region: &str,
    extra: &[&str],
    prepare: impl Fn(&mut std::process::Command),
) -> (std::process::Output, std::process::Output) {
    let start = || {
        let mut cmd = tool("mkvpc", env());
        prepare(&mut cmd);
        cmd.args(["--name", stack, "--nat", "none", "--region", region]).args(extra);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", stderr(&a), stderr(&b));
    assert_eq!(stdout_json(&a)["vpc"]["id"], stdout_json(&b)["vpc"]["id"], "both found the one VPC");
    let resources = owned_resources(&ec2(region), stack);
    assert_eq!(count(&resources, "vpc"), 1, "{resources:?}");
    (a, b)
}

#[test]
fn two_runs_started_together_on_one_stack_take_turns_and_make_one_vpc() {
    let stack = unique_stack("together");
    two_together(&stack, "ap-south-1", &[], |_| {});
    ok(&["--delete", "--name", &stack, "--region", "ap-south-1"], None);
}

/// A bucket for leases in `region`, as a CI account would keep one.
fn lease_bucket(region: &str) -> String {
    let bucket = unique_stack("leases").to_lowercase();
    let s3 = aws_sdk_s3::Client::new(&aws_config(env(), region));
    let location = aws_sdk_s3::types::BucketLocationConstraint::from(region);
    let config = aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(location).build();
    block_on(s3.create_bucket().bucket(&bucket).create_bucket_configuration(config).send()).unwrap();
    bucket
}

fn lease_keys(region: &str, bucket: &str) -> Vec<String> {
    let s3 = aws_sdk_s3::Client::new(&aws_config(env(), region));
    let listed = block_on(s3.list_objects_v2().bucket(bucket).send()).unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

/// Two CI runners share no file lock: each run here gets a lock directory of its own, as on
/// another machine, and only the lease in S3 keeps them apart.
fn on_another_machine(cmd: &mut std::process::Command) {
    let runtime = temp_dir("machine");
    cmd.env("XDG_RUNTIME_DIR", &runtime);
}

#[test]
fn runs_on_two_machines_take_turns_through_the_lease_and_make_one_vpc() {
    let (stack, region) = (unique_stack("lease"), "ap-southeast-2");
    let bucket = lease_bucket(region);
    let lease = format!("s3://{bucket}/ekskit");
    let (a, b) = two_together(&stack, region, &["--lease", &lease], on_another_machine);
    assert!(lease_keys(region, &bucket).is_empty(), "each run gave its lease back");
    assert!(format!("{}{}", stderr(&a), stderr(&b)).contains("holding the lease"));

    // A run killed while it holds the lease: the next one waits a TTL for a renewal that never
    // comes, takes the lease over and converges.
    let proxy = faults::FaultProxy::start(&env()["AWS_ENDPOINT_URL"], faults::Faults::none());
    let killed = proxy.arm_kill(4); // the lease is taken at the first request
    let mut holder = tool("mkvpc", env());
    on_another_machine(&mut holder);
    holder.env("AWS_ENDPOINT_URL", &proxy.url).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    holder.args(["--delete", "--name", &stack, "--region", region, "--lease", &lease, "--lease-ttl", "3s"]);
    let mut holder = holder.spawn().unwrap();
    killed.recv_timeout(std::time::Duration::from_secs(120)).expect("the holder got to its 4th request");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(lease_keys(region, &bucket).len(), 1, "a killed run leaves its lease");
    let mut next = tool("mkvpc", env());
    on_another_machine(&mut next);
    next.args(["--delete", "--name", &stack, "--region", region, "--lease", &lease, "--lease-ttl", "3s"]);
    let out = run(next, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("taking over"), "{}", stderr(&out));
    assert!(owned_resources(&ec2(region), &stack).is_empty());
    assert!(lease_keys(region, &bucket).is_empty());

    // A lease URL that is not one: exit 2 before anything.
    let bad = mkvpc(&["--name", &stack, "--region", region, "--lease", "ci-locks/ekskit"], None);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("s3://BUCKET"), "{}", stderr(&bad));
}

#[test]
fn two_vpcs_of_one_stack_stop_a_create_and_a_delete_removes_both() {
    let stack = unique_stack("race");
    let ec2 = ec2("eu-west-1");
    let first = ok(&["--name", &stack, "--nat", "none", "--region", "eu-west-1"], None);
    // What a lost race (or a retried CreateVpc whose answer was lost) leaves: a second VPC
    // with the stack's tags.
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
        .tags(aws_sdk_ec2::types::Tag::builder().key("ekskit.io/stack").value(&stack).build())
        .tags(aws_sdk_ec2::types::Tag::builder().key("ekskit.io/role").value("vpc").build())
        .build();
    block_on(ec2.create_vpc().cidr_block("10.9.0.0/16").tag_specifications(tags).send()).unwrap();
    let again = mkvpc(&["--nat", "none"], Some(&first.to_string()));
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).contains("owns 2 VPCs"), "{}", stderr(&again));
    let deleted = ok(&["--delete", "--name", &stack, "--region", "eu-west-1"], None);
    let vpcs = deleted["deleted"]["vpc"]["resources"].as_array().unwrap().iter().filter(|r| r["kind"] == "vpc").count();
    assert_eq!(vpcs, 2, "{deleted}");
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new());
}

/// Each case: flags, stdin, extra environment changes; all must exit 2 with a one-line reason
/// and create nothing.
#[test]
fn bad_input_exits_2_with_a_reason_and_creates_nothing() {
    type Case<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("malformed stdin", vec![], Some(r#"{"vpc": "#), vec![]),
        ("stdin not an object", vec![], Some("[1, 2]"), vec![]),
        ("vpc key of the wrong type", vec![], Some(r#"{"vpc": 5}"#), vec![]),
        ("vpc.stack of the wrong type", vec![], Some(r#"{"vpc": {"stack": 7}}"#), vec![]),
        ("missing name", vec![], None, vec![]),
        ("bad name", vec!["--name", "9 lives"], None, vec![]),
        ("bad CIDR", vec!["--cidr", "10.0.0.0/33"], None, vec![]),
        ("not a CIDR", vec!["--cidr", "banana"], None, vec![]),
        ("host bits", vec!["--cidr", "10.0.0.1/16"], None, vec![]),
        ("CIDR too small for the subnets", vec!["--cidr", "10.0.0.0/27"], None, vec![]),
        ("unknown NAT mode", vec!["--nat", "double"], None, vec![]),
        ("unknown endpoint", vec!["--endpoints", "s3,dynamo"], None, vec![]),
        ("one zone", vec!["--azs", "1"], None, vec![]),
        ("zone EKS refuses", vec!["--azs", "us-east-1a,us-east-1e"], None, vec![]),
        ("unknown zone", vec!["--azs", "us-east-1a,mars-1a"], None, vec![]),
        ("more zones than the region has", vec!["--azs", "9"], None, vec![]),
        ("unknown flag", vec!["--colour", "blue"], None, vec![]),
        ("bad timeout", vec!["--timeout", "soon"], None, vec![]),
        ("no credentials", vec![], None, vec!["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
        ("no region", vec![], None, vec!["AWS_REGION", "AWS_DEFAULT_REGION"]),
        ("bad region", vec!["--region", "moon"], None, vec![]),
    ];
    for (what, flags, stdin, unset) in cases {
        let stack = unique_stack("bad");
        let mut args: Vec<&str> = flags.clone();
        if what != "missing name" && !flags.contains(&"--name") && stdin.is_none() {
            args.extend(["--name", stack.as_str()]);
        }
        let mut cmd = tool("mkvpc", env());
        cmd.args(&args);
        for var in unset {
            cmd.env_remove(var);
        }
        let out = run(cmd, stdin);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: expected exit 2, got {:?}\n{err}", out.status);
        assert!(
            out.stdout.is_empty(),
            "{what}: stdout must stay empty, got {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("mkvpc: error: ") && first.len() > "mkvpc: error: ".len() + 10, "{what}: {err}");
        assert!(err.lines().count() <= 3, "{what}: one reason and a hint, not a wall of text:\n{err}");
        assert_eq!(owned_resources(&ec2("us-east-1"), &stack), Vec::<String>::new(), "{what} created something");
    }
}

#[test]
fn help_shows_examples_and_flags_override_stdin() {
    let out = mkvpc(&["--help"], None);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("mkvpc --name demo"), "{help}");

    // A region and name in the document are used unless flags say otherwise.
    let stack = unique_stack("flags");
    let plan = ok(&["--name", &stack, "--dry-run"], Some(r#"{"vpc": {"stack": "other", "region": "us-west-2"}}"#));
    assert_eq!(plan["plan"]["vpc"]["stack"], stack.as_str());
    assert_eq!(plan["plan"]["vpc"]["region"], "us-west-2");
    let plan = ok(
        &["--region", "eu-west-1", "--dry-run"],
        Some(&format!(r#"{{"vpc": {{"stack": "{stack}", "region": "us-west-2"}}}}"#)),
    );
    assert_eq!(plan["plan"]["vpc"]["region"], "eu-west-1");
    assert_eq!(plan["plan"]["vpc"]["stack"], stack.as_str());
}

#[test]
fn a_region_with_fewer_usable_zones_gets_fewer_and_never_a_refused_one() {
    let stack = unique_stack("west");
    let plan = ok(&["--name", &stack, "--region", "us-west-1", "--dry-run"], None);
    let azs = plan["plan"]["vpc"]["azs"].as_array().unwrap();
    assert!((2..=3).contains(&azs.len()), "{azs:?}");
    let zones =
        block_on(aws_sdk_ec2::Client::new(&aws_config(env(), "us-west-1")).describe_availability_zones().send())
            .unwrap();
    let refused: Vec<&str> = zones
        .availability_zones()
        .iter()
        .filter(|z| z.zone_id() == Some("usw1-az2"))
        .filter_map(|z| z.zone_name())
        .collect();
    for name in refused {
        assert!(!azs.contains(&json!(name)), "{name} is usw1-az2, which EKS refuses");
    }
}

#[test]
fn delete_removes_what_kubernetes_left_in_the_vpc_first() {
    let stack = unique_stack("k8s");
    let doc = ok(&["--name", &stack, "--region", "eu-central-1"], None);
    let vpc = &doc["vpc"];
    let vpc_id = vpc["id"].as_str().unwrap();
    let public: Vec<String> =
        vpc["subnets"]["public"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    let config = aws_config(env(), "eu-central-1");
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    // What a LoadBalancer Service and the VPC CNI leave behind.
    let k8s_tag =
        aws_sdk_ec2::types::Tag::builder().key(format!("kubernetes.io/cluster/{stack}")).value("owned").build();
    let sg = block_on(
        ec2.create_security_group()
            .vpc_id(vpc_id)
            .group_name(format!("k8s-elb-{stack}"))
            .description("Security group for Kubernetes ELB")
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(k8s_tag.clone())
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let lb = block_on(
        elbv2
            .create_load_balancer()
            .name(format!("k8s-{}", &stack[stack.len() - 6..]))
            .set_subnets(Some(public.clone()))
            .security_groups(sg.group_id().unwrap())
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key(format!("kubernetes.io/cluster/{stack}"))
                    .value("owned")
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let eni =
        block_on(ec2.create_network_interface().subnet_id(vpc["subnets"]["private"][0]["id"].as_str().unwrap()).send())
            .unwrap();
    let eni_id = eni.network_interface().unwrap().network_interface_id().unwrap().to_owned();

    let out = mkvpc(&["--delete"], Some(&doc.to_string()));
    assert!(out.status.success(), "{}", stderr(&out));
    let removed = stdout_json(&out)["deleted"]["vpc"]["resources"].clone();
    for (kind, id) in [
        ("load-balancer", lb_arn.as_str()),
        ("security-group", sg.group_id().unwrap()),
        ("network-interface", eni_id.as_str()),
    ] {
        assert!(
            removed.as_array().unwrap().contains(&json!({"kind": kind, "id": id})),
            "{kind} {id} not in {removed:#}"
        );
    }
    let lbs = block_on(elbv2.describe_load_balancers().send()).unwrap();
    assert!(lbs.load_balancers().iter().all(|l| l.load_balancer_arn() != Some(lb_arn.as_str())));
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new());
    let vpcs = block_on(ec2.describe_vpcs().filters(filter("vpc-id", vpc_id)).send()).unwrap();
    assert!(vpcs.vpcs().is_empty(), "the VPC is gone");
}

#[test]
fn a_load_balancer_kubernetes_did_not_make_stops_the_delete_before_anything_is_removed() {
    let region = "ap-northeast-1";
    let stack = unique_stack("foreign");
    let doc = ok(&["--name", &stack, "--region", region], None);
    let config = aws_config(env(), region);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let public: Vec<String> = doc["vpc"]["subnets"]["public"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let lb = block_on(
        elbv2
            .create_load_balancer()
            .name(format!("team-{}", &stack[stack.len() - 6..]))
            .set_subnets(Some(public))
            .send(),
    )
    .unwrap();
    let arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let before = owned_resources(&ec2(region), &stack);

    let out = mkvpc(&["--delete"], Some(&doc.to_string()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains(&arn) && err.contains("not made by Kubernetes"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(owned_resources(&ec2(region), &stack), before, "nothing of the stack was deleted");

    block_on(elbv2.delete_load_balancer().load_balancer_arn(&arn).send()).unwrap();
    ok(&["--delete"], Some(&doc.to_string()));
    assert_eq!(owned_resources(&ec2(region), &stack), Vec::<String>::new());
}

#[test]
fn too_few_elastic_ips_left_is_found_before_anything_is_created() {
    let region = "ap-southeast-2";
    let ec2 = ec2(region);
    let mut taken = Vec::new();
    for _ in 0..4 {
        let out = block_on(ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send()).unwrap();
        taken.push(out.allocation_id().unwrap().to_owned());
    }
    let stack = unique_stack("quota");
    let out = mkvpc(&["--name", &stack, "--nat", "ha", "--region", region], None);
    for id in &taken {
        block_on(ec2.release_address().allocation_id(id).send()).unwrap();
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("need 3 more Elastic IPs") && err.contains("--nat single"), "{err}");
    assert_eq!(owned_resources(&ec2, &stack), Vec::<String>::new());
}

#[test]
fn sigint_stops_with_130_and_a_rerun_finishes_the_job() {
    let region = "sa-east-1";
    let stack = unique_stack("int");
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--name", &stack, "--region", region]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first_change = lines.by_ref().map_while(Result::ok).find(|l| l.contains("created"));
    assert!(first_change.is_some());
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    // It may have finished before the signal landed; if not, it says how to resume.
    if out.status.code() != Some(0) {
        assert_eq!(out.status.code(), Some(130));
        assert!(rest.iter().any(|l| l.contains("interrupted; run the same command again")), "{rest:?}");
        assert!(out.stdout.is_empty(), "no half document on stdout");
    }
    let doc = ok(&["--name", &stack, "--region", region], None);
    assert_schema("vpc.schema.json", &doc["vpc"]);
    let resources = owned_resources(&ec2(region), &stack);
    assert_eq!(
        (count(&resources, "vpc"), count(&resources, "subnet"), count(&resources, "nat")),
        (1, 6, 1),
        "{resources:?}"
    );
    ok(&["--delete"], Some(&doc.to_string()));
}
