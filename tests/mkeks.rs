//! mkeks against moto, fed by the real mkvpc. VPCs are made with `--nat none` (no Elastic IPs,
//! so these tests share us-east-1 with anything else).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use ekskit_tests::{assert_schema, aws_config, block_on, run, stack_env, stderr, stdout_json, tool, unique_stack};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

fn mkvpc(stack: &str) -> Value {
    let mut cmd = tool("mkvpc", env());
    cmd.args(["--name", stack, "--nat", "none", "--region", REGION]);
    ok(&run(cmd, None))
}

fn mkeks(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("mkeks", env());
    cmd.args(args);
    run(cmd, stdin)
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "failed ({:?}):\n{}", out.status, stderr(out));
    stdout_json(out)
}

/// What moto holds for the stack, looked up behind mkeks' back: roles, cluster, node groups, key.
fn owned(stack: &str) -> Vec<String> {
    let config = aws_config(env(), REGION);
    let (iam, eks, kms) =
        (aws_sdk_iam::Client::new(&config), aws_sdk_eks::Client::new(&config), aws_sdk_kms::Client::new(&config));
    block_on(async {
        let mut found = Vec::new();
        for role in iam.list_roles().send().await.unwrap().roles() {
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
        found.sort();
        found
    })
}

#[test]
fn a_vpc_document_becomes_a_cluster_that_reruns_resizes_and_deletes_to_nothing() {
    let stack = unique_stack("eks").to_lowercase();
    let vpc = mkvpc(&stack);
    let doc = ok(&mkeks(&[], Some(&vpc.to_string())));
    assert_eq!(doc["vpc"], vpc["vpc"], "the vpc key is kept");
    assert_schema("cluster.schema.json", &doc["cluster"]);
    let c = &doc["cluster"];
    assert_eq!((c["name"].as_str().unwrap(), c["status"].as_str().unwrap()), (stack.as_str(), "ACTIVE"));
    assert_eq!(c["version"], "1.35");
    assert_eq!(c["node_group"]["status"], "ACTIVE");
    assert_eq!(c["node_group"]["scaling"], json!({"min": 2, "desired": 2, "max": 4}));
    let addons: Vec<(&str, &str)> = c["addons"]
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
        format!("node-group {stack}-nodes"),
    ];
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
    assert_eq!(ok(&again)["cluster"], doc["cluster"]);
    let written = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(written.contains(&format!("current-context: {}", c["arn"].as_str().unwrap())), "{written}");
    assert!(written.contains("get-token") && written.contains(c["endpoint"].as_str().unwrap()), "{written}");
    assert_eq!(owned(&stack), expected);

    // A new size updates the node group; another version is refused.
    let resized = ok(&mkeks(&["--nodes", "1:3:5"], Some(&doc.to_string())));
    assert_eq!(resized["cluster"]["node_group"]["scaling"], json!({"min": 1, "desired": 3, "max": 5}));
    let upgrade = mkeks(&["--version", "1.36"], Some(&doc.to_string()));
    assert_eq!(upgrade.status.code(), Some(2), "{}", stderr(&upgrade));
    assert!(stderr(&upgrade).contains("does not upgrade clusters yet"));

    // --delete by name alone: no document, no subnets needed.
    let deleted = ok(&mkeks(&["--delete", "--name", &stack], None));
    assert!(deleted.get("cluster").is_none());
    assert_schema("deleted.cluster.schema.json", &deleted["deleted"]["cluster"]);
    assert_eq!(deleted["deleted"]["cluster"]["resources"].as_array().unwrap().len(), 11);
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
    assert_eq!(owned(&stack).len(), 11, "{:?}", owned(&stack));
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
    assert_eq!(plan["spec"]["version"], "1.35");
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
