//! mkeks against moto, fed by the real mkvpc. VPCs are made with `--nat none` (no Elastic IPs,
//! so these tests share us-east-1 with anything else).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use ekskit_tests::{
    assert_schema, aws_config, block_on, ok_json, run, run_tool, stack_env, stderr, tool, unique_stack,
};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

fn mkvpc(stack: &str) -> Value {
    ok_json("mkvpc", &run_tool("mkvpc", env(), &["--name", stack, "--nat", "none", "--region", REGION], None))
}

fn mkeks(args: &[&str], stdin: Option<&str>) -> Output {
    run_tool("mkeks", env(), args, stdin)
}

/// The document of a run of mkeks (or of mkvpc --delete) that succeeded.
fn ok(out: &Output) -> Value {
    ok_json("the tool", out)
}

/// What moto holds for the stack, looked up behind mkeks' back: roles, cluster, node groups, key.
fn owned(stack: &str) -> Vec<String> {
    let config = aws_config(env(), REGION);
    let (iam, eks, kms) =
        (aws_sdk_iam::Client::new(&config), aws_sdk_eks::Client::new(&config), aws_sdk_kms::Client::new(&config));
    let ec2 = aws_sdk_ec2::Client::new(&config);
    block_on(async {
        let mut found = Vec::new();
        for t in ec2.describe_launch_templates().send().await.unwrap().launch_templates() {
            if t.launch_template_name().is_some_and(|n| n.starts_with(&format!("ekskit-{stack}-"))) {
                found.push(format!("launch-template {}", t.launch_template_name().unwrap()));
            }
        }
        let mut roles = iam.list_roles().into_paginator().items().send();
        while let Some(role) = roles.next().await {
            let role = role.unwrap();
            if role.role_name().starts_with(&format!("ekskit-{stack}-")) {
                found.push(format!("iam-role {}", role.role_name()));
            }
        }
        if let Ok(c) = eks.describe_cluster().name(stack).send().await {
            found.push(format!("cluster {}", c.cluster.unwrap().name().unwrap()));
            for ng in eks.list_nodegroups().cluster_name(stack).send().await.unwrap().nodegroups() {
                found.push(format!("node-group {ng}"));
            }
            for addon in eks.list_addons().cluster_name(stack).send().await.unwrap().addons() {
                found.push(format!("addon {addon}"));
            }
        }
        let aliases = kms.list_aliases().send().await.unwrap();
        for a in aliases.aliases() {
            if a.alias_name() == Some(&format!("alias/ekskit-{stack}")) {
                found.push(format!("kms-alias {}", a.alias_name().unwrap()));
            }
        }
        for key in live_keys(&kms, stack).await {
            found.push(format!("kms-key {key}"));
        }
        found.sort();
        found
    })
}

/// Ids of the KMS keys tagged with the stack that are not pending deletion.
async fn live_keys(kms: &aws_sdk_kms::Client, stack: &str) -> Vec<String> {
    let mut live = Vec::new();
    for key in kms.list_keys().limit(1000).send().await.unwrap().keys() {
        let id = key.key_id().unwrap();
        let meta = kms.describe_key().key_id(id).send().await.unwrap().key_metadata.unwrap();
        let tags = kms.list_resource_tags().key_id(id).send().await.unwrap();
        let ours = tags.tags().iter().any(|t| t.tag_key() == "ekskit.io/stack" && t.tag_value() == stack);
        if ours && meta.key_state() != Some(&aws_sdk_kms::types::KeyState::PendingDeletion) {
            live.push(id.to_owned());
        }
    }
    live
}

#[test]
fn a_vpc_document_becomes_a_cluster_that_reruns_resizes_and_deletes_to_nothing() {
    let stack = unique_stack("eks").to_lowercase();
    let vpc = mkvpc(&stack);
    // A version EKS does not offer (DescribeClusterVersions) is refused before anything is made.
    let old = mkeks(&["--version", "1.31"], Some(&vpc.to_string()));
    assert_eq!(old.status.code(), Some(2), "{}", stderr(&old));
    assert!(stderr(&old).contains("EKS does not offer Kubernetes 1.31") && stderr(&old).contains("1.36"));
    assert_eq!(owned(&stack), Vec::<String>::new());
    let doc = ok(&mkeks(&[], Some(&vpc.to_string())));
    assert_eq!(doc["vpc"], vpc["vpc"], "the vpc key is kept");
    assert_schema("cluster.schema.json", &doc["cluster"]);
    let c = &doc["cluster"];
    assert_eq!((c["name"].as_str().unwrap(), c["status"].as_str().unwrap()), (stack.as_str(), "ACTIVE"));
    assert_eq!(c["version"], "1.36", "the newest version EKS offers in standard support");
    assert_eq!(c["node_group"]["status"], "ACTIVE");
    assert_eq!(c["node_group"]["scaling"], json!({"min": 2, "desired": 2, "max": 4}));
    assert_eq!(c["addons"], json!({}), "no --addon, no add-ons");
    let addons: Vec<(&str, &str)> = c["managed_addons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        addons,
        [
            ("vpc-cni", "ACTIVE"),
            ("kube-proxy", "ACTIVE"),
            ("coredns", "ACTIVE"),
            ("eks-pod-identity-agent", "ACTIVE"),
            ("aws-ebs-csi-driver", "ACTIVE")
        ]
    );
    let private: Vec<&Value> = vpc["vpc"]["subnets"]["private"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(c["subnet_ids"].as_array().unwrap().iter().collect::<Vec<_>>(), private, "private subnets only");
    let expected = [
        "addon aws-ebs-csi-driver".to_owned(),
        "addon coredns".to_owned(),
        "addon eks-pod-identity-agent".to_owned(),
        "addon kube-proxy".to_owned(),
        "addon vpc-cni".to_owned(),
        format!("cluster {stack}"),
        format!("iam-role ekskit-{stack}-cluster"),
        format!("iam-role ekskit-{stack}-ebs-csi"),
        format!("iam-role ekskit-{stack}-node"),
        format!("kms-alias alias/ekskit-{stack}"),
        format!("launch-template ekskit-{stack}-nodes"),
        format!("node-group {stack}-nodes"),
    ];
    let mut owned_now = owned(&stack);
    let key = owned_now.iter().position(|r| r.starts_with("kms-key ")).map(|i| owned_now.remove(i));
    assert!(key.is_some(), "one live KMS key: {owned_now:?}");
    assert_eq!(owned_now, expected);
    let mut expected = expected.to_vec();
    expected.push(key.unwrap());
    expected.sort();
    assert_eq!(owned(&stack), expected);

    // The roles carry the ownership tags and the managed policies.
    let config = aws_config(env(), REGION);
    let iam = aws_sdk_iam::Client::new(&config);
    block_on(async {
        let role = iam.get_role().role_name(format!("ekskit-{stack}-node")).send().await.unwrap().role.unwrap();
        assert!(role.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack));
        let policies = iam.list_attached_role_policies().role_name(role.role_name()).send().await.unwrap();
        assert_eq!(policies.attached_policies().len(), 3);
        // The EBS CSI controller gets its role through EKS Pod Identity.
        let eks = aws_sdk_eks::Client::new(&config);
        let associations = eks.list_pod_identity_associations().cluster_name(&stack).send().await.unwrap();
        let sa: Vec<_> = associations.associations().iter().map(|a| (a.namespace(), a.service_account())).collect();
        assert_eq!(sa, [(Some("kube-system"), Some("ebs-csi-controller-sa"))]);
        // The Secrets key rotates; turned off by hand, it is turned on again by the re-run below.
        let kms = aws_sdk_kms::Client::new(&config);
        let key_id = expected.iter().find_map(|r| r.strip_prefix("kms-key ")).unwrap();
        let rotation = kms.get_key_rotation_status().key_id(key_id).send().await.unwrap();
        assert!(rotation.key_rotation_enabled(), "rotation of the Secrets key is on");
        kms.disable_key_rotation().key_id(key_id).send().await.unwrap();
        // The cluster role trusts EKS for this cluster of this account only; a trust without
        // that (a role made before, or edited by hand) is put right by the re-run below.
        let cluster_role = format!("ekskit-{stack}-cluster");
        let role = iam.get_role().role_name(&cluster_role).send().await.unwrap().role.unwrap();
        let trust: Value =
            serde_json::from_str(&urlencoding_decode(role.assume_role_policy_document().unwrap())).unwrap();
        let condition = &trust["Statement"][0]["Condition"];
        assert_eq!(condition["ArnLike"]["aws:SourceArn"], c["arn"], "{trust}");
        assert_eq!(condition["StringEquals"]["aws:SourceAccount"], env()["EKSKIT_AWS_ACCOUNT"].as_str(), "{trust}");
        let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        iam.update_assume_role_policy().role_name(&cluster_role).policy_document(open).send().await.unwrap();
        // The nodes start from a launch template that keeps the metadata service from Pods.
        let template = &c["node_group"]["launch_template"];
        assert_eq!(template["name"], format!("ekskit-{stack}-nodes"), "{c}");
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let versions = ec2
            .describe_launch_template_versions()
            .launch_template_id(template["id"].as_str().unwrap())
            .versions("$Default")
            .send()
            .await
            .unwrap();
        let data = versions.launch_template_versions()[0].launch_template_data().unwrap();
        let md = data.metadata_options().unwrap();
        assert_eq!(md.http_tokens().map(|t| t.as_str()), Some("required"));
        assert_eq!(md.http_put_response_hop_limit(), Some(1));
        // vpc-cni enforces NetworkPolicies; turned off by hand, the re-run turns it on and keeps
        // the other settings.
        let cni = eks.describe_addon().cluster_name(&stack).addon_name("vpc-cni").send().await.unwrap();
        let values: Value = serde_json::from_str(cni.addon.unwrap().configuration_values().unwrap()).unwrap();
        assert_eq!(values, json!({"enableNetworkPolicy": "true"}));
        let off = r#"{"enableNetworkPolicy": "false", "env": {"WARM_IP_TARGET": "5"}}"#;
        eks.update_addon().cluster_name(&stack).addon_name("vpc-cni").configuration_values(off).send().await.unwrap();
    });
    assert_eq!(
        c["roles"]["ebs_csi"].as_str().unwrap().rsplit('/').next(),
        Some(format!("ekskit-{stack}-ebs-csi").as_str())
    );

    // A re-run from its own output changes nothing and prints the same cluster; it can write a kubeconfig.
    let kubeconfig = std::env::temp_dir().join(format!("{stack}.kubeconfig"));
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n").unwrap();
    let again = mkeks(&["--kubeconfig", kubeconfig.to_str().unwrap()], Some(&doc.to_string()));
    assert!(!stderr(&again).contains("creating"), "{}", stderr(&again));
    assert!(stderr(&again).contains("turning on the yearly rotation of KMS key"), "{}", stderr(&again));
    assert!(stderr(&again).contains(&format!("setting the trust policy of IAM role ekskit-{stack}-cluster")));
    assert!(stderr(&again).contains("updating add-on vpc-cni"), "{}", stderr(&again));
    let eks = aws_sdk_eks::Client::new(&config);
    let cni = block_on(eks.describe_addon().cluster_name(&stack).addon_name("vpc-cni").send()).unwrap();
    let values: Value = serde_json::from_str(cni.addon.unwrap().configuration_values().unwrap()).unwrap();
    assert_eq!(values, json!({"enableNetworkPolicy": "true", "env": {"WARM_IP_TARGET": "5"}}));
    assert_eq!(ok(&again)["cluster"], doc["cluster"]);
    let key_id = expected.iter().find_map(|r| r.strip_prefix("kms-key ")).unwrap().to_owned();
    let kms = aws_sdk_kms::Client::new(&config);
    let rotation = block_on(kms.get_key_rotation_status().key_id(key_id).send()).unwrap();
    assert!(rotation.key_rotation_enabled(), "the re-run turned rotation on again");
    let role = block_on(iam.get_role().role_name(format!("ekskit-{stack}-cluster")).send()).unwrap().role.unwrap();
    let trust = urlencoding_decode(role.assume_role_policy_document().unwrap());
    assert!(trust.contains("aws:SourceArn"), "the re-run scoped the trust again: {trust}");
    let rerun = mkeks(&[], Some(&doc.to_string()));
    assert!(!stderr(&rerun).contains("setting the trust policy"), "once right, left alone: {}", stderr(&rerun));
    assert!(!stderr(&rerun).contains("updating add-on"), "once right, left alone: {}", stderr(&rerun));
    let written = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(written.contains(&format!("current-context: {}", c["arn"].as_str().unwrap())), "{written}");
    assert!(written.contains("get-token") && written.contains(c["endpoint"].as_str().unwrap()), "{written}");
    assert_eq!(owned(&stack), expected);

    // A new size updates the node group; another version is refused, pointing at --upgrade.
    let resized = ok(&mkeks(&["--nodes", "1:3:5"], Some(&doc.to_string())));
    assert_eq!(resized["cluster"]["node_group"]["scaling"], json!({"min": 1, "desired": 3, "max": 5}));
    let upgrade = mkeks(&["--version", "1.35"], Some(&doc.to_string()));
    assert_eq!(upgrade.status.code(), Some(2), "{}", stderr(&upgrade));
    assert!(stderr(&upgrade).contains("mkeks --upgrade --to 1.35"), "{}", stderr(&upgrade));
    // By name alone (no document, no --version), a re-run keeps the cluster's version.
    let by_name = ok(&mkeks(&["--name", &stack], Some(&vpc.to_string())));
    assert_eq!(by_name["cluster"]["version"], "1.36");

    // --delete by name alone: no document, no subnets needed.
    let deleted = ok(&mkeks(&["--delete", "--name", &stack], None));
    assert!(deleted.get("cluster").is_none());
    assert_schema("deleted.cluster.schema.json", &deleted["deleted"]["cluster"]);
    assert_eq!(deleted["deleted"]["cluster"]["resources"].as_array().unwrap().len(), 12);
    assert_eq!(owned(&stack), Vec::<String>::new(), "--delete leaves nothing, IAM roles included");
    let twice = ok(&mkeks(&["--delete"], Some(&resized.to_string())));
    assert_eq!(twice["deleted"]["cluster"]["resources"], json!([]));
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--delete"]);
    ok(&run(cmd, Some(&vpc.to_string())));
}

#[test]
fn killed_during_creation_a_rerun_converges_without_duplicates() {
    let stack = unique_stack("ekskill").to_lowercase();
    let vpc = mkvpc(&stack).to_string();
    // A run killed between CreateKey and CreateAlias leaves a key with the stack's tags only;
    // the next run adopts it instead of making a second one.
    let kms = aws_sdk_kms::Client::new(&aws_config(env(), REGION));
    let orphan = block_on(
        kms.create_key()
            .tags(aws_sdk_kms::types::Tag::builder().tag_key("ekskit.io/stack").tag_value(&stack).build().unwrap())
            .tags(
                aws_sdk_kms::types::Tag::builder().tag_key("ekskit.io/managed-by").tag_value("mkeks").build().unwrap(),
            )
            .send(),
    )
    .unwrap()
    .key_metadata
    .unwrap()
    .key_id;
    for k in 1..=5 {
        let mut cmd = tool("mkeks", env());
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(vpc.as_bytes()).unwrap();
        }
        let mut seen = 0;
        for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
            if line.contains("creating") || line.contains("resizing") {
                seen += 1;
                if seen == k {
                    child.kill().unwrap(); // SIGKILL: no cleanup
                    break;
                }
            }
        }
        let _ = child.wait();
    }
    let doc = ok(&mkeks(&[], Some(&vpc)));
    assert_schema("cluster.schema.json", &doc["cluster"]);
    assert_eq!(owned(&stack).len(), 13, "{:?}", owned(&stack));
    assert!(owned(&stack).contains(&format!("kms-key {orphan}")), "the orphan key was adopted: {:?}", owned(&stack));
    let aliased = block_on(kms.describe_key().key_id(format!("alias/ekskit-{stack}")).send()).unwrap();
    assert_eq!(aliased.key_metadata.unwrap().key_id, orphan);

    // A delete killed after scheduling the key's deletion, before removing its alias: the
    // next --delete finishes the job.
    block_on(kms.schedule_key_deletion().key_id(&orphan).pending_window_in_days(7).send()).unwrap();
    ok(&mkeks(&["--delete"], Some(&doc.to_string())));
    assert_eq!(owned(&stack), Vec::<String>::new());
}

#[test]
fn dry_run_prints_the_defaulted_plan_and_creates_nothing() {
    let stack = unique_stack("eksplan").to_lowercase();
    let vpc = mkvpc(&stack);
    let doc = ok(&mkeks(&["--dry-run"], Some(&vpc.to_string())));
    assert_schema("plan.cluster.schema.json", &doc["plan"]["cluster"]);
    let plan = &doc["plan"]["cluster"];
    assert_eq!(plan["spec"]["version"], "1.36");
    assert_eq!(plan["spec"]["instance_types"], json!(["m7i.large"]));
    assert_eq!(plan["spec"]["ami_type"], "al2023");
    let actions: Vec<(&str, &str)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    let kinds = [
        "iam-role",
        "iam-role",
        "iam-role",
        "kms-key",
        "cluster",
        "addon",
        "addon",
        "addon",
        "addon",
        "addon",
        "launch-template",
        "node-group",
    ];
    assert_eq!(actions, kinds.map(|k| ("create", k)));
    assert_eq!(owned(&stack), Vec::<String>::new());
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--delete"]);
    ok(&run(cmd, Some(&vpc.to_string())));
}

#[test]
fn bad_input_is_exit_2_and_creates_nothing() {
    let stack = unique_stack("eksbad").to_lowercase();
    let one_zone = json!({"vpc": {"stack": stack, "region": REGION, "id": "vpc-1", "cidr": "10.0.0.0/16", "azs": ["us-east-1a"],
        "nat": "none", "subnets": {"public": [], "private": [
            {"id": "subnet-1", "az": "us-east-1a", "az_id": "use1-az1", "cidr": "10.0.0.0/19"},
            {"id": "subnet-2", "az": "us-east-1a", "az_id": "use1-az1", "cidr": "10.0.32.0/19"}]},
        "internet_gateway": "igw-1", "nat_gateways": [], "route_tables": {"public": "rtb-1", "private": []}, "endpoints": [], "tags": {}}});
    let cases: Vec<(&str, Vec<&str>, Option<String>, &str)> = vec![
        ("no vpc key and no subnet ids", vec!["--name", &stack], None, "no subnets"),
        ("subnets in one zone", vec![], Some(one_zone.to_string()), "at least two"),
        (
            "unknown version format",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--version", "1.x"],
            None,
            "not a Kubernetes version",
        ),
        (
            "nodes 3:1:2",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--nodes", "3:1:2"],
            None,
            "MIN <= DESIRED <= MAX",
        ),
        (
            "unknown subnets",
            vec!["--name", &stack, "--subnet-ids", "subnet-0nope,subnet-0nada"],
            None,
            "subnets not found",
        ),
        ("malformed stdin", vec![], Some("{nope".into()), "not valid JSON"),
        (
            "unknown add-on",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--addon", "nginx"],
            None,
            "invalid value",
        ),
        (
            "a zone id that is not one",
            vec![
                "--name",
                &stack,
                "--subnet-ids",
                "subnet-a,subnet-b",
                "--addon",
                "cert-manager",
                "--hosted-zone-id",
                "example.com",
            ],
            None,
            "not a Route53 hosted zone id",
        ),
        (
            "a zone without cert-manager",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--hosted-zone-id", "Z0123"],
            None,
            "add --addon cert-manager",
        ),
        (
            "cert-manager without a zone would write to every zone of the account",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--addon", "cert-manager"],
            None,
            "or --any-hosted-zone",
        ),
        (
            "any zone and one zone",
            vec![
                "--name",
                &stack,
                "--subnet-ids",
                "subnet-a,subnet-b",
                "--addon",
                "cert-manager",
                "--hosted-zone-id",
                "Z0123",
                "--any-hosted-zone",
            ],
            None,
            "cannot be used with",
        ),
        (
            "an empty secrets prefix would grant every secret",
            vec![
                "--name",
                &stack,
                "--subnet-ids",
                "subnet-a,subnet-b",
                "--addon",
                "external-secrets",
                "--secrets-prefix",
                "",
            ],
            None,
            "not a Secrets Manager name prefix",
        ),
        (
            "a secrets namespace that is not a namespace name",
            vec![
                "--name",
                &stack,
                "--subnet-ids",
                "subnet-a,subnet-b",
                "--addon",
                "external-secrets",
                "--secrets-namespace",
                "comments-dev,Team_A",
            ],
            None,
            "`Team_A` is not a Kubernetes namespace name",
        ),
        (
            "a secrets namespace without external-secrets",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--secrets-namespace", "team-a"],
            None,
            "--secrets-namespace is for external-secrets",
        ),
        (
            "a kubeconfig that is not one",
            vec!["--name", &stack, "--subnet-ids", "subnet-a,subnet-b", "--kubeconfig", "/etc/hostname"],
            None,
            "not a kubeconfig",
        ),
    ];
    for (what, args, stdin, says) in cases {
        let out = mkeks(&args, stdin.as_deref());
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{what}");
        assert!(stderr(&out).contains(says), "{what}: {}", stderr(&out));
    }
    assert_eq!(owned(&stack), Vec::<String>::new());
}

/// Every add-on's AWS side, checked behind mkeks' back: roles with their inline policy, Pod
/// Identity associations, Karpenter's queue, rules, access entry and discovery tags; a re-run
/// changes nothing; `--delete --addon` removes one add-on only; `--delete` leaves nothing.
#[test]
fn add_ons_get_their_aws_side_and_lose_it_on_delete() {
    let stack = unique_stack("eksadd").to_lowercase();
    let vpc = mkvpc(&stack);
    let config = aws_config(env(), REGION);
    let (iam, eks) = (aws_sdk_iam::Client::new(&config), aws_sdk_eks::Client::new(&config));
    let (sqs, events) = (aws_sdk_sqs::Client::new(&config), aws_sdk_eventbridge::Client::new(&config));
    let route53 = aws_sdk_route53::Client::new(&config);
    let zone_name = format!("{stack}.example.org");
    let zone = block_on(async {
        let out = route53.create_hosted_zone().name(&zone_name).caller_reference(&stack).send().await.unwrap();
        out.hosted_zone.unwrap().id.trim_start_matches("/hostedzone/").to_owned()
    });
    let all = [
        "--addon",
        "aws-load-balancer-controller",
        "--addon",
        "cert-manager",
        "--addon",
        "external-secrets",
        "--addon",
        "cluster-autoscaler",
        "--addon",
        "karpenter",
        "--hosted-zone-id",
        &zone,
    ];
    let doc = ok(&mkeks(&all, Some(&vpc.to_string())));
    assert_schema("cluster.schema.json", &doc["cluster"]);
    let addons = &doc["cluster"]["addons"];
    let who: Vec<(&str, &str, &str)> = addons
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, a)| (name.as_str(), a["namespace"].as_str().unwrap(), a["service_account"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        [
            ("aws-load-balancer-controller", "kube-system", "aws-load-balancer-controller"),
            ("cert-manager", "cert-manager", "cert-manager"),
            ("cluster-autoscaler", "kube-system", "cluster-autoscaler"),
            ("external-secrets", "external-secrets", "external-secrets"),
            ("karpenter", "kube-system", "karpenter"),
        ]
    );
    assert_eq!(addons["cert-manager"]["dns_zone"], zone_name.as_str());
    assert_eq!(addons["cert-manager"]["hosted_zone_id"], zone.as_str());
    assert_eq!(addons["external-secrets"]["secrets_prefix"], format!("ekskit/{stack}/"));
    assert_eq!(addons["aws-load-balancer-controller"]["vpc_id"], vpc["vpc"]["id"]);
    // What the gateway's NetworkPolicy admits the ALB from: the VPC but the Pods' subnets.
    assert_eq!(addons["aws-load-balancer-controller"]["vpc_cidr"], vpc["vpc"]["cidr"]);
    let mut private: Vec<&str> =
        vpc["vpc"]["subnets"]["private"].as_array().unwrap().iter().map(|s| s["cidr"].as_str().unwrap()).collect();
    private.sort();
    assert_eq!(addons["aws-load-balancer-controller"]["cluster_subnet_cidrs"], json!(private));
    assert_eq!(addons["cluster-autoscaler"]["node_group"], format!("{stack}-nodes"));
    let karpenter = &addons["karpenter"];
    let queue = karpenter["interruption_queue"].as_str().unwrap().to_owned();

    block_on(async {
        // Each role trusts Pod Identity and carries its inline policy, scoped to this stack.
        for (name, addon) in addons.as_object().unwrap() {
            let role_name = addon["role_name"].as_str().unwrap();
            let role = iam.get_role().role_name(role_name).send().await.unwrap().role.unwrap();
            assert!(role.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack), "{name}");
            let trust = urlencoding_decode(role.assume_role_policy_document().unwrap());
            assert!(trust.contains("pods.eks.amazonaws.com") && trust.contains("sts:TagSession"), "{name}: {trust}");
            // Only the add-on's own service account on this cluster may take it.
            let trust: Value = serde_json::from_str(&trust).unwrap();
            let only = &trust["Statement"][0]["Condition"]["StringEquals"];
            assert_eq!(only["aws:RequestTag/kubernetes-namespace"], addon["namespace"], "{name}");
            assert_eq!(only["aws:RequestTag/kubernetes-service-account"], addon["service_account"], "{name}");
            assert!(only["aws:RequestTag/eks-cluster-arn"].as_str().unwrap().ends_with(&format!(":cluster/{stack}")));
            let inline = iam.list_role_policies().role_name(role_name).send().await.unwrap();
            assert_eq!(inline.policy_names(), ["ekskit-addon"], "{name}");
            let policy = iam.get_role_policy().role_name(role_name).policy_name("ekskit-addon").send().await.unwrap();
            let policy = urlencoding_decode(policy.policy_document());
            match name.as_str() {
                // It reads nothing itself: it may only assume the stores' roles.
                "external-secrets" => assert_eq!(
                    serde_json::from_str::<Value>(&policy).unwrap()["Statement"],
                    json!([{"Sid": "AssumeTheStoresReaderRoles", "Effect": "Allow", "Action": "sts:AssumeRole",
                            "Resource": format!("arn:aws:iam::{}:role/ekskit/{stack}/secrets/*", env()["EKSKIT_AWS_ACCOUNT"])}])
                ),
                "cert-manager" => assert!(policy.contains(&format!("hostedzone/{zone}")), "{policy}"),
                "karpenter" => assert!(policy.contains(&format!(":{queue}")), "{policy}"),
                _ => assert!(policy.contains(&stack), "{name}: {policy}"),
            }
        }
        // A store role per namespace, under the stack's path, that only the controller's role may
        // assume and that reads only below the namespace's prefix.
        let controller = addons["external-secrets"]["role_arn"].as_str().unwrap();
        assert_stores(&iam, &stack, controller, &addons["external-secrets"]).await;
        // One association per add-on (plus the EBS CSI driver's), to the add-on's role.
        let listed = eks.list_pod_identity_associations().cluster_name(&stack).send().await.unwrap();
        assert_eq!(listed.associations().len(), 6);
        for (name, addon) in addons.as_object().unwrap() {
            let id = addon["association_id"].as_str().unwrap();
            let a = eks.describe_pod_identity_association().cluster_name(&stack).association_id(id).send().await;
            let a = a.unwrap().association.unwrap();
            assert_eq!(a.role_arn(), addon["role_arn"].as_str(), "{name}");
        }
        // Karpenter: node role with an access entry, queue with its policy, four rules, tags.
        let node_role = karpenter["node_role_arn"].as_str().unwrap();
        let entry = eks.describe_access_entry().cluster_name(&stack).principal_arn(node_role).send().await.unwrap();
        assert_eq!(entry.access_entry.unwrap().r#type(), Some("EC2_LINUX"));
        let url = sqs.get_queue_url().queue_name(&queue).send().await.unwrap().queue_url.unwrap();
        let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
        assert_eq!(tags.tags().unwrap().get("ekskit.io/stack"), Some(&stack));
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes = attributes.attributes().unwrap();
        assert_eq!(attributes[&aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod], "300");
        assert!(attributes[&aws_sdk_sqs::types::QueueAttributeName::Policy].contains("events.amazonaws.com"));
        let rules = events.list_rules().name_prefix(format!("ekskit-{stack}-karpenter")).send().await.unwrap();
        assert_eq!(rules.rules().len(), 4);
        for rule in rules.rules() {
            let targets = events.list_targets_by_rule().rule(rule.name().unwrap()).send().await.unwrap();
            assert!(targets.targets()[0].arn().ends_with(&format!(":{queue}")), "{:?}", rule.name());
        }
        assert_eq!(discovery_tagged(&config, &stack).await, 3, "the three private subnets");
    });

    // A re-run from its own output creates nothing and prints the same add-ons.
    let again = mkeks(&[], Some(&doc.to_string()));
    assert!(!stderr(&again).contains("creating"), "{}", stderr(&again));
    assert_eq!(ok(&again)["cluster"], doc["cluster"]);

    // Other namespaces for the stores: the new one's role is made, the others' go (planned first).
    let teams = ["--secrets-namespace", "team-a,comments-prod"];
    let plan = ok(&mkeks(&[&teams[..], &["--dry-run"]].concat(), Some(&doc.to_string())));
    let steps: Vec<String> = plan_steps(&plan).into_iter().filter(|s| s.contains("-secrets-")).collect();
    let role = |ns: &str| format!("ekskit-{stack}-secrets-{ns}");
    assert_eq!(
        steps,
        [
            format!("keep iam-role {}", role("comments-prod")),
            format!("create iam-role {}", role("team-a")),
            format!("delete iam-role {}", role("argocd")),
            format!("delete iam-role {}", role("comments-dev")),
        ]
    );
    let doc = ok(&mkeks(&teams, Some(&doc.to_string())));
    let stores = &doc["cluster"]["addons"]["external-secrets"];
    assert_eq!(stores["secret_stores"].as_object().unwrap().keys().collect::<Vec<_>>(), ["comments-prod", "team-a"]);
    block_on(assert_stores(&iam, &stack, stores["role_arn"].as_str().unwrap(), stores));
    // A re-run keeps them, from the document or from AWS alone.
    let again = ok(&mkeks(&[], Some(&doc.to_string())));
    assert_eq!(again["cluster"], doc["cluster"]);
    let subnets =
        doc["cluster"]["subnet_ids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>();
    let bare = ["--name", &stack, "--subnet-ids", &subnets.join(",")];
    // Without the document, cert-manager's zone is unknown: refused rather than widened.
    let widened = mkeks(&bare, None);
    assert_eq!(widened.status.code(), Some(2), "{}", stderr(&widened));
    assert!(stderr(&widened).contains("names no hosted zone"), "{}", stderr(&widened));
    let bare = ok(&mkeks(&[&bare[..], &["--addon", "cert-manager", "--hosted-zone-id", &zone]].concat(), None));
    assert_eq!(bare["cluster"]["addons"], doc["cluster"]["addons"]);

    // One add-on goes; the others and the cluster stay.
    let fewer = ok(&mkeks(&["--delete", "--addon", "karpenter"], Some(&doc.to_string())));
    assert!(fewer["cluster"]["addons"].get("karpenter").is_none());
    assert_eq!(fewer["cluster"]["addons"].as_object().unwrap().len(), 4);
    assert_schema("deleted.cluster.schema.json", &fewer["deleted"]["addons"]);
    block_on(async {
        assert!(sqs.get_queue_url().queue_name(&queue).send().await.is_err(), "the queue is gone");
        let rules = events.list_rules().name_prefix(format!("ekskit-{stack}-karpenter")).send().await.unwrap();
        assert!(rules.rules().is_empty());
        assert_eq!(discovery_tagged(&config, &stack).await, 0);
        let listed = eks.list_pod_identity_associations().cluster_name(&stack).send().await.unwrap();
        assert_eq!(listed.associations().len(), 5);
    });
    let roles = owned(&stack).into_iter().filter(|r| r.contains("karpenter")).collect::<Vec<_>>();
    assert_eq!(roles, Vec::<String>::new());

    // --delete takes the rest; nothing of the stack is left.
    ok(&mkeks(&["--delete"], Some(&fewer.to_string())));
    assert_eq!(owned(&stack), Vec::<String>::new());
    block_on(async {
        route53.delete_hosted_zone().id(&zone).send().await.unwrap();
    });
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--delete"]);
    ok(&run(cmd, Some(&vpc.to_string())));
}

/// The stores' roles IAM holds under the stack's path are exactly the document's: each trusted by
/// the controller's role alone, reading only below its namespace's prefix, tagged.
async fn assert_stores(iam: &aws_sdk_iam::Client, stack: &str, controller: &str, doc: &Value) {
    let stores = doc["secret_stores"].as_object().unwrap();
    let listed = iam.list_roles().path_prefix(format!("/ekskit/{stack}/secrets/")).send().await.unwrap();
    let mut names: Vec<&str> = listed.roles().iter().map(|r| r.role_name()).collect();
    names.sort();
    let wanted: Vec<&str> = stores.values().map(|s| s["role_name"].as_str().unwrap()).collect();
    assert_eq!(names, wanted);
    for (namespace, store) in stores {
        let name = store["role_name"].as_str().unwrap();
        let role = iam.get_role().role_name(name).send().await.unwrap().role.unwrap();
        assert_eq!(role.arn(), store["role_arn"].as_str().unwrap());
        assert!(role.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack), "{name}");
        let trust: Value =
            serde_json::from_str(&urlencoding_decode(role.assume_role_policy_document().unwrap())).unwrap();
        assert_eq!(
            trust["Statement"],
            json!([{"Effect": "Allow", "Principal": {"AWS": controller}, "Action": "sts:AssumeRole"}])
        );
        let prefix = format!("{}{namespace}/", doc["secrets_prefix"].as_str().unwrap());
        assert_eq!(store["prefix"], prefix.as_str());
        let policy = iam.get_role_policy().role_name(name).policy_name("ekskit-secret-store").send().await.unwrap();
        let policy: Value = serde_json::from_str(&urlencoding_decode(policy.policy_document())).unwrap();
        let account = &env()["EKSKIT_AWS_ACCOUNT"];
        let resource = format!("arn:aws:secretsmanager:{REGION}:{account}:secret:{prefix}*");
        assert_eq!(policy["Statement"][0]["Resource"], resource.as_str(), "{name}");
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 1, "{name}");
    }
}

/// `action kind name` of each step of a `--dry-run` document's plan.
fn plan_steps(plan: &Value) -> Vec<String> {
    let actions = plan["plan"]["cluster"]["actions"].as_array().unwrap();
    let text = |a: &Value, key: &str| a[key].as_str().unwrap().to_owned();
    actions.iter().map(|a| format!("{} {} {}", text(a, "action"), text(a, "kind"), text(a, "name"))).collect()
}

/// IAM returns policy documents percent-encoded.
fn urlencoding_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) if let Ok(b) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How many subnets and security groups carry `karpenter.sh/discovery=<stack>`.
async fn discovery_tagged(config: &aws_config::SdkConfig, stack: &str) -> usize {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:karpenter.sh/discovery").values(stack).build();
    let subnets = ec2.describe_subnets().filters(filter.clone()).send().await.unwrap();
    let groups = ec2.describe_security_groups().filters(filter).send().await.unwrap();
    subnets.subnets().len() + groups.security_groups().len()
}

/// `--deletion-protection` (for prod): EKS refuses to delete the cluster, so `--delete` stops
/// before deleting anything and says how to lift it; lifted, the delete goes through.
#[test]
fn deletion_protection_keeps_the_whole_cluster_until_lifted() {
    let stack = unique_stack("ekprot").to_lowercase();
    let vpc = mkvpc(&stack);
    let doc = ok(&mkeks(&["--deletion-protection"], Some(&vpc.to_string())));
    assert_eq!(doc["cluster"]["deletion_protection"], true);
    let before = owned(&stack);
    for args in [vec!["--delete"], vec!["--delete", "--dry-run"]] {
        let refused = mkeks(&args, Some(&doc.to_string()));
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("deletion protection on"), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("mkeks --no-deletion-protection"), "{}", stderr(&refused));
        assert_eq!(owned(&stack), before, "{args:?} deleted nothing");
    }
    // A re-run without the flag keeps it; a dry run with --no-deletion-protection plans lifting it.
    assert_eq!(ok(&mkeks(&[], Some(&doc.to_string())))["cluster"]["deletion_protection"], true);
    let plan = ok(&mkeks(&["--no-deletion-protection", "--dry-run"], Some(&doc.to_string())));
    let actions = plan["plan"]["cluster"]["actions"].as_array().unwrap();
    assert!(actions.iter().any(|a| a["kind"] == "cluster-config" && a["detail"] == "deletion protection off"));
    let lifted = ok(&mkeks(&["--no-deletion-protection"], Some(&doc.to_string())));
    assert_eq!(lifted["cluster"]["deletion_protection"], false);
    ok(&mkeks(&["--delete"], Some(&lifted.to_string())));
    assert_eq!(owned(&stack), Vec::<String>::new());
    ok(&run_tool("mkvpc", env(), &["--delete"], Some(&vpc.to_string())));
}

/// EKS Auto Mode: the plan has no node group, launch template or managed add-on; the cluster
/// gets the three parts of Auto Mode with the node role, the cluster role Auto Mode's policies
/// (and sts:TagSession), the node role the minimal ones, and the nodes their access entry; a
/// re-run (from the document, or from AWS alone) changes nothing and puts back an access entry
/// deleted behind its back; an add-on that scales nodes is refused; --delete leaves nothing; and
/// a cluster with a managed node group is not moved to Auto Mode.
#[test]
fn auto_mode_creates_reruns_unchanged_and_deletes_cleanly() {
    let stack = unique_stack("auto").to_lowercase();
    let vpc = mkvpc(&stack);
    let input = vpc.to_string();
    let refused = mkeks(&["--auto-mode", "--addon", "karpenter"], Some(&input));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("EKS Auto Mode does itself"), "{}", stderr(&refused));

    let plan = ok(&mkeks(&["--auto-mode", "--dry-run"], Some(&input)));
    let steps = plan_steps(&plan);
    let role = |kind: &str| format!("ekskit-{stack}-{kind}");
    assert_eq!(
        steps,
        [
            format!("create iam-role {}", role("cluster")),
            format!("create iam-role {}", role("node")),
            format!("create kms-key alias/ekskit-{stack}"),
            format!("create cluster {stack}"),
            format!("create access-entry {}", role("node")),
        ]
    );
    assert_eq!(owned(&stack), Vec::<String>::new(), "a dry run makes nothing");

    let doc = ok(&mkeks(&["--auto-mode", "--addon", "external-secrets"], Some(&input)));
    assert_schema("cluster.schema.json", &doc["cluster"]);
    let c = &doc["cluster"];
    assert!(c.get("node_group").is_none() && c["roles"].get("ebs_csi").is_none(), "{c}");
    assert_eq!(c["managed_addons"], json!([]));
    assert_eq!(c["auto_mode"]["node_pools"], json!(["general-purpose", "system"]));
    let node_role = c["roles"]["node"].as_str().unwrap().to_owned();
    let config = aws_config(env(), REGION);
    let (eks, iam) = (aws_sdk_eks::Client::new(&config), aws_sdk_iam::Client::new(&config));
    let attached = |name: String| {
        let iam = iam.clone();
        block_on(async move {
            let out = iam.list_attached_role_policies().role_name(&name).send().await.unwrap();
            let mut names: Vec<String> =
                out.attached_policies().iter().map(|p| p.policy_name().unwrap().to_owned()).collect();
            names.sort();
            names
        })
    };
    block_on(async {
        let cluster = eks.describe_cluster().name(&stack).send().await.unwrap().cluster.unwrap();
        let compute = cluster.compute_config().unwrap();
        assert_eq!((compute.enabled(), compute.node_role_arn()), (Some(true), Some(node_role.as_str())));
        assert_eq!(compute.node_pools(), ["general-purpose", "system"]);
        assert_eq!(cluster.storage_config().and_then(|s| s.block_storage()).and_then(|b| b.enabled()), Some(true));
        let network = cluster.kubernetes_network_config().and_then(|n| n.elastic_load_balancing());
        assert_eq!(network.and_then(|e| e.enabled()), Some(true));
        assert!(eks.list_nodegroups().cluster_name(&stack).send().await.unwrap().nodegroups().is_empty());
        assert!(eks.list_addons().cluster_name(&stack).send().await.unwrap().addons().is_empty());
        let entry = eks.describe_access_entry().cluster_name(&stack).principal_arn(&node_role).send().await;
        let entry = entry.unwrap().access_entry.unwrap();
        assert_eq!(
            (entry.r#type(), entry.access_entry_arn()),
            (Some("EC2"), c["auto_mode"]["node_access_entry"].as_str())
        );
        let policies = eks.list_associated_access_policies().cluster_name(&stack).principal_arn(&node_role).send();
        let policies = policies.await.unwrap();
        let arns: Vec<&str> = policies.associated_access_policies().iter().filter_map(|p| p.policy_arn()).collect();
        assert_eq!(arns, ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"]);
        let cluster_role = iam.get_role().role_name(role("cluster")).send().await.unwrap().role.unwrap();
        let trust = urlencoding_decode(cluster_role.assume_role_policy_document().unwrap());
        assert!(trust.contains("sts:TagSession"), "{trust}");
    });
    assert_eq!(
        attached(role("cluster")),
        [
            "AmazonEKSBlockStoragePolicy",
            "AmazonEKSClusterPolicy",
            "AmazonEKSComputePolicy",
            "AmazonEKSLoadBalancingPolicy",
            "AmazonEKSNetworkingPolicy"
        ]
    );
    assert_eq!(attached(role("node")), ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodeMinimalPolicy"]);

    // Re-runs: from the document, and with neither document nor flag (the cluster says Auto Mode).
    let again = mkeks(&[], Some(&doc.to_string()));
    assert!(!stderr(&again).contains("creating"), "{}", stderr(&again));
    assert_eq!(ok(&again)["cluster"], doc["cluster"]);
    let subnets: Vec<&str> = c["subnet_ids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let bare = ["--name", stack.as_str(), "--subnet-ids", &subnets.join(",")];
    block_on(eks.delete_access_entry().cluster_name(&stack).principal_arn(&node_role).send()).unwrap();
    let restored = mkeks(&bare, None);
    assert!(stderr(&restored).contains("creating the access entry"), "{}", stderr(&restored));
    let restored = ok(&restored);
    assert_eq!(restored["cluster"]["auto_mode"]["node_pools"], c["auto_mode"]["node_pools"]);
    assert_eq!(restored["cluster"]["addons"], c["addons"]);
    assert!(restored["cluster"].get("node_group").is_none());

    ok(&mkeks(&["--delete"], Some(&doc.to_string())));
    assert_eq!(owned(&stack), Vec::<String>::new());

    // A cluster with a managed node group stays one.
    let managed = ok(&mkeks(&["--no-secrets-encryption"], Some(&input)));
    let moved = mkeks(&["--auto-mode"], Some(&managed.to_string()));
    assert_eq!(moved.status.code(), Some(2), "{}", stderr(&moved));
    assert!(stderr(&moved).contains("does not move a cluster to Auto Mode"), "{}", stderr(&moved));
    ok(&mkeks(&["--delete"], Some(&managed.to_string())));
    assert_eq!(owned(&stack), Vec::<String>::new());
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--delete"]);
    ok(&run(cmd, Some(&input)));
}

/// EKS' managed Argo CD (`--capability argocd`): refused without an Identity Center instance or
/// with a role mapping that is not one; planned; created with its role (trusted by EKS'
/// capabilities service, reading only `<prefix>argocd/`), the Identity Center settings and the
/// role mappings, its role given cluster admin through its access entry; a re-run from the
/// document changes nothing and keeps it; --delete takes it, its role and the rest.
#[test]
fn argocd_capability_creates_reruns_unchanged_and_deletes_cleanly() {
    let stack = unique_stack("argo").to_lowercase();
    let vpc = mkvpc(&stack);
    let input = vpc.to_string();
    let idc = "arn:aws:sso:::instance/ssoins-0123456789abcdef";
    for (args, says) in [
        (vec!["--capability", "argocd"], "needs the IAM Identity Center instance"),
        (vec!["--capability", "argocd", "--idc-instance-arn", "ssoins-1"], "not an IAM Identity Center instance ARN"),
        (
            vec!["--capability", "argocd", "--idc-instance-arn", idc, "--argocd-rbac", "owner:group:g"],
            "not ROLE:TYPE:ID",
        ),
        (vec!["--idc-instance-arn", idc], "are for the argocd capability"),
    ] {
        let out = mkeks(&args, Some(&input));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let argocd = [
        "--capability",
        "argocd",
        "--idc-instance-arn",
        idc,
        "--argocd-rbac",
        "viewer:user:u-2",
        "--argocd-rbac",
        "admin:group:g-1",
        "--no-secrets-encryption",
    ];
    let plan = ok(&mkeks(&[&argocd[..], &["--dry-run"]].concat(), Some(&input)));
    let steps = plan_steps(&plan);
    let role_name = format!("ekskit-{stack}-argocd-capability");
    assert_eq!(
        steps[steps.len() - 2..],
        [format!("create iam-role {role_name}"), "create capability argocd".to_owned()]
    );
    assert_eq!(owned(&stack), Vec::<String>::new(), "a dry run makes nothing");

    let doc = ok(&mkeks(&argocd, Some(&input)));
    assert_schema("cluster.schema.json", &doc["cluster"]);
    let cap = &doc["cluster"]["capabilities"]["argocd"];
    assert_eq!((cap["type"].as_str(), cap["status"].as_str()), (Some("ARGOCD"), Some("ACTIVE")));
    assert_eq!((cap["namespace"].as_str(), cap["idc_instance_arn"].as_str()), (Some("argocd"), Some(idc)));
    assert_eq!(cap["rbac"], json!(["ADMIN:SSO_GROUP:g-1", "VIEWER:SSO_USER:u-2"]));
    assert!(cap["server_url"].as_str().unwrap().starts_with("https://"), "{cap}");
    let role_arn = cap["role_arn"].as_str().unwrap().to_owned();
    let config = aws_config(env(), REGION);
    let (eks, iam) = (aws_sdk_eks::Client::new(&config), aws_sdk_iam::Client::new(&config));
    block_on(async {
        let found = eks.describe_capability().cluster_name(&stack).capability_name("argocd").send().await;
        let found = found.unwrap().capability.unwrap();
        assert_eq!(found.role_arn(), Some(role_arn.as_str()));
        assert_eq!(found.delete_propagation_policy().map(|p| p.as_str()), Some("RETAIN"));
        assert_eq!(found.tags().unwrap().get("ekskit.io/stack"), Some(&stack));
        let role = iam.get_role().role_name(&role_name).send().await.unwrap().role.unwrap();
        let trust: Value =
            serde_json::from_str(&urlencoding_decode(role.assume_role_policy_document().unwrap())).unwrap();
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "capabilities.eks.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
        let policy = iam.get_role_policy().role_name(&role_name).policy_name("ekskit-addon").send().await.unwrap();
        let policy = urlencoding_decode(policy.policy_document());
        assert!(policy.contains(&format!(":secret:ekskit/{stack}/argocd/*")), "{policy}");
        let policies = eks.list_associated_access_policies().cluster_name(&stack).principal_arn(&role_arn).send();
        let policies = policies.await.unwrap();
        let arns: Vec<&str> = policies.associated_access_policies().iter().filter_map(|p| p.policy_arn()).collect();
        assert_eq!(arns, ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"]);
    });

    let again = mkeks(&[], Some(&doc.to_string()));
    assert!(!stderr(&again).contains("creating"), "{}", stderr(&again));
    assert_eq!(ok(&again)["cluster"], doc["cluster"]);

    let plan = ok(&mkeks(&["--delete", "--dry-run"], Some(&doc.to_string())));
    let kinds: Vec<&str> =
        plan["plan"]["cluster"]["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "capability", "{kinds:?}");
    let deleted = ok(&mkeks(&["--delete"], Some(&doc.to_string())));
    let resources = deleted["deleted"]["cluster"]["resources"].as_array().unwrap();
    assert!(resources.contains(&json!("capability argocd")), "{resources:?}");
    assert_eq!(owned(&stack), Vec::<String>::new());
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--delete"]);
    ok(&run(cmd, Some(&input)));
}
