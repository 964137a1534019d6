//! The cluster add-ons (deploy/addons/): every add-on directory renders for each overlay, uses
//! only the placeholders of mkeks' `cluster.addons` contract and nothing site-specific, pins the
//! versions of deploy/addons/versions.env; filled by the real kapply, the objects are applied to
//! the real API server after the CRDs of those versions (so the custom resources are checked
//! against the upstream schemas) and deleted again; the Applications' Helm values render with
//! the upstream charts where devstack has them; and `scripts/up --plan` picks the directories
//! from the document's add-ons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ekskit_tests::{
    command, helm, kubectl_path, renderable_chart, repo_root, run_tool, stack_env, stderr, stdout_json, unique_stack,
};
use serde_json::{Value, json};

const ADDONS: [&str; 5] =
    ["aws-load-balancer-controller", "cert-manager", "external-secrets", "cluster-autoscaler", "karpenter"];
/// Directories under deploy/addons with dev and prod overlays: the add-ons and the Gateway.
const DIRS: [&str; 6] =
    ["aws-load-balancer-controller", "cert-manager", "external-secrets", "cluster-autoscaler", "karpenter", "gateway"];
const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];
/// The namespaces mkeks makes external-secrets stores for by default (DEFAULT_SECRET_NAMESPACES).
const SECRET_NAMESPACES: [&str; 3] = ["argocd", "comments-dev", "comments-prod"];

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["kube", "gitops"])
}

fn addons_dir() -> PathBuf {
    repo_root().join("deploy/addons")
}

/// The contract's namespace and service account of an add-on (/work/addons-contract.md).
fn identity(addon: &str) -> (&'static str, &'static str) {
    match addon {
        "aws-load-balancer-controller" => ("kube-system", "aws-load-balancer-controller"),
        "cert-manager" => ("cert-manager", "cert-manager"),
        "external-secrets" => ("external-secrets", "external-secrets"),
        "cluster-autoscaler" => ("kube-system", "cluster-autoscaler"),
        "karpenter" => ("kube-system", "karpenter"),
        other => panic!("no add-on {other}"),
    }
}

/// The keys of `cluster.addons.<addon>` the contract promises.
fn contract_keys(addon: &str) -> Vec<&'static str> {
    let mut keys = vec!["namespace", "service_account", "role_arn", "role_name", "association_id"];
    keys.extend(match addon {
        "aws-load-balancer-controller" => vec!["vpc_id", "vpc_cidr", "cluster_subnet_cidrs"],
        "cert-manager" => vec!["hosted_zone_id", "dns_zone"],
        "external-secrets" => vec!["secrets_prefix", "secret_stores"],
        "cluster-autoscaler" => vec!["node_group"],
        "karpenter" => vec!["node_role_arn", "node_role_name", "interruption_queue", "discovery_tag_value"],
        _ => vec![],
    });
    keys
}

/// A document as `mkvpc | mkeks --addon ... (all five)` leaves it, plus `gitops` from scripts/up.
fn document(cluster: &str) -> Value {
    let mut addons = serde_json::Map::new();
    for addon in ADDONS {
        let (namespace, service_account) = identity(addon);
        let mut entry = json!({
            "namespace": namespace, "service_account": service_account,
            "role_arn": format!("arn:aws:iam::aws-account:role/{cluster}-{addon}"),
            "role_name": format!("{cluster}-{addon}"), "association_id": format!("a-{addon}"),
        });
        let extra = match addon {
            "aws-load-balancer-controller" => json!({"vpc_id": "vpc-0a1b2c3d4e5f", "vpc_cidr": "10.0.0.0/16",
                                                     "cluster_subnet_cidrs": ["10.0.64.0/19", "10.0.96.0/19"]}),
            "cert-manager" => json!({"hosted_zone_id": "Z0EXAMPLEZONE", "dns_zone": "shop.example.org"}),
            "external-secrets" => {
                let stores: serde_json::Map<String, Value> = SECRET_NAMESPACES
                    .iter()
                    .map(|ns| {
                        let store = json!({"role_arn": format!("arn:aws:iam::aws-account:role/ekskit/{cluster}/secrets/{cluster}-{ns}"),
                                           "role_name": format!("{cluster}-{ns}"), "prefix": format!("ekskit/{cluster}/{ns}/")});
                        (ns.to_string(), store)
                    })
                    .collect();
                json!({"secrets_prefix": format!("ekskit/{cluster}/"), "secret_stores": stores})
            }
            "cluster-autoscaler" => json!({"node_group": format!("{cluster}-nodes")}),
            _ => json!({"node_role_arn": format!("arn:aws:iam::aws-account:role/{cluster}-node"),
                        "node_role_name": format!("{cluster}-node"),
                        "interruption_queue": format!("{cluster}-karpenter"), "discovery_tag_value": cluster}),
        };
        entry.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        addons.insert(addon.to_owned(), entry);
    }
    json!({
        "vpc": {"id": "vpc-0a1b2c3d4e5f"},
        "cluster": {"name": cluster, "region": "eu-west-1", "endpoint": "https://eks.example.org",
                    "security_group": "sg-0a1b2c3d", "addons": addons},
        "gitops": {"repo_url": "https://git.example.org/shop/ekskit.git", "revision": "gitops", "prod_revision": "gitops-prod",
                   "image_repository": "registry.example.org/shop/comments"},
    })
}

fn kubectl(args: &[&str]) -> Output {
    command(kubectl_path(env()), env(), args)
}

/// `kubectl kustomize` of an add-on's overlay, as scripts/up's `kapply -k` renders it.
fn render(dir: &str, environment: &str) -> String {
    let path = addons_dir().join(dir).join(environment);
    String::from_utf8(kubectl(&["kustomize", path.to_str().unwrap()]).stdout).unwrap()
}

/// The objects of a YAML stream (documents separated by `---` lines).
fn objects(yaml: &str) -> Vec<Value> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter().map(|d| serde_yaml::from_str::<Value>(d).unwrap()).filter(|v| !v.is_null()).collect()
}

/// Every `${path}` in `text`.
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${").skip(1).filter_map(|rest| rest.split_once('}')).map(|(p, _)| p.to_owned()).collect()
}

/// kapply on the local control plane, as scripts/up runs it there (`--kubeconfig` wins over the
/// document's EKS endpoint).
fn kapply(args: &[&str], stdin: Option<&str>) -> Output {
    run_tool("kapply", env(), &[args, &["--kubeconfig", &env()["EKSKIT_KUBECONFIG"]]].concat(), stdin)
}

fn versions() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(addons_dir().join("versions.env")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn version_key(addon: &str) -> &'static str {
    match addon {
        "aws-load-balancer-controller" => "AWS_LOAD_BALANCER_CONTROLLER_VERSION",
        "cert-manager" => "CERT_MANAGER_VERSION",
        "external-secrets" => "EXTERNAL_SECRETS_VERSION",
        "cluster-autoscaler" => "CLUSTER_AUTOSCALER_CHART_VERSION",
        _ => "KARPENTER_VERSION",
    }
}

#[test]
fn each_overlay_renders_with_contract_placeholders_only_and_pinned_versions() {
    // The contract is mkeks' own: every key of its AddonDoc, no more.
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("schemas/cluster.schema.json")).unwrap())
            .unwrap();
    let promised: BTreeSet<String> =
        schema["$defs"]["AddonDoc"]["properties"].as_object().unwrap().keys().cloned().collect();
    let contract: BTreeSet<String> = ADDONS.iter().flat_map(|a| contract_keys(a)).map(str::to_owned).collect();
    assert_eq!(contract, promised, "tests/e2e/addons.rs' contract and mkeks' cluster.addons schema");
    let versions = versions();
    for dir in DIRS {
        for environment in ENVIRONMENTS {
            let rendered = render(dir, environment);
            let objects = objects(&rendered);
            assert!(!objects.is_empty(), "{dir}/{environment} renders nothing");
            for path in placeholders(&rendered) {
                let parts: Vec<&str> = path.split('.').collect();
                let ok = match parts.as_slice() {
                    ["cluster", "addons", addon, key] => {
                        // The Gateway's names live in cert-manager's zone and its ALB's addresses
                        // in the load balancer controller's VPC (scripts/up applies it only with
                        // both); everything else reads only its own add-on's entry.
                        let gateway =
                            dir == "gateway" && matches!(*addon, "cert-manager" | "aws-load-balancer-controller");
                        let own = *addon == dir || gateway;
                        own && contract_keys(addon).contains(key)
                    }
                    // A store's role and prefix, of a namespace mkeks makes a store for.
                    ["cluster", "addons", "external-secrets", "secret_stores", namespace, "role_arn" | "prefix"] => {
                        dir == "external-secrets" && SECRET_NAMESPACES.contains(namespace)
                    }
                    ["cluster", "name" | "region"] | ["gitops", "repo_url"] => true,
                    _ => false,
                };
                assert!(ok, "{dir}/{environment}: ${{{path}}} is not the add-on's contract");
            }
            for object in objects.iter().filter(|o| o["kind"] == "Application") {
                let addon = object["metadata"]["name"].as_str().unwrap();
                assert_eq!(addon, dir);
                let revision = object["spec"]["source"]["targetRevision"].as_str().unwrap();
                assert_eq!(
                    revision.trim_start_matches('v'),
                    versions[version_key(addon)],
                    "{addon}: not versions.env's"
                );
                assert_eq!(object["spec"]["project"], "addons");
                let (namespace, account) = identity(addon);
                assert_eq!(
                    object["spec"]["destination"]["namespace"],
                    format!("${{cluster.addons.{addon}.namespace}}"),
                    "{addon}: the namespace must be the one of the Pod Identity association ({namespace})"
                );
                assert!(
                    rendered.contains(&format!("name: ${{cluster.addons.{addon}.service_account}}")),
                    "{addon}: the service account must be the contract's ({account})"
                );
                assert!(
                    !rendered.contains("eks.amazonaws.com/role-arn"),
                    "{addon}: Pod Identity needs no IRSA annotation"
                );
                assert!(
                    object["metadata"]["finalizers"].is_null(),
                    "{addon}: deleting the Application must not cascade"
                );
            }
        }
    }
    // What the environments change.
    let issuer = |e| render("cert-manager", e);
    assert!(issuer("dev").contains("acme-staging-v02.api.letsencrypt.org"));
    assert!(issuer("prod").contains("https://acme-v02.api.letsencrypt.org/directory"));
    let pool =
        |e| objects(&render("karpenter", e)).into_iter().find(|o| o["kind"] == "NodePool").unwrap()["spec"].clone();
    let (dev, prod) = (pool("dev"), pool("prod"));
    assert_eq!((dev["limits"]["cpu"].as_str(), prod["limits"]["cpu"].as_str()), (Some("16"), Some("200")));
    assert_eq!(prod["template"]["spec"]["requirements"][2]["values"], json!(["on-demand"]));
    assert_eq!(dev["template"]["spec"]["requirements"][2]["values"], json!(["spot", "on-demand"]));
}

/// Every ExternalSecret reads through the SecretStore of its own namespace, whose role is that
/// namespace's store role, and only names below that namespace's prefix: no ClusterSecretStore
/// lets one namespace read another's secrets (comments-dev the prod database, or Argo CD's token).
#[test]
fn each_namespace_reads_its_secrets_through_a_store_of_its_own() {
    for environment in ENVIRONMENTS {
        let objects = objects(&render("external-secrets", environment));
        let kind = |k: &'static str| objects.iter().filter(move |o| o["kind"] == k);
        assert_eq!(kind("ClusterSecretStore").count(), 0, "{environment}: no store shared across namespaces");
        let stores: BTreeMap<(String, String), &Value> = kind("SecretStore")
            .map(|o| {
                let meta = &o["metadata"];
                ((meta["namespace"].as_str().unwrap().to_owned(), meta["name"].as_str().unwrap().to_owned()), o)
            })
            .collect();
        let namespaces: BTreeSet<&str> = stores.keys().map(|(ns, _)| ns.as_str()).collect();
        assert_eq!(namespaces, SECRET_NAMESPACES.into_iter().collect(), "{environment}: a store per namespace");
        for ((namespace, _), store) in &stores {
            let own = format!("${{cluster.addons.external-secrets.secret_stores.{namespace}.role_arn}}");
            assert_eq!(store["spec"]["provider"]["aws"]["role"], own.as_str(), "{namespace}: its own role");
            assert!(store["spec"]["provider"]["aws"]["auth"].is_null(), "{namespace}: no static credentials");
        }
        let secrets: Vec<&Value> = kind("ExternalSecret").collect();
        assert!(secrets.len() >= 3, "{environment}: both databases and Argo CD's token");
        for secret in secrets {
            let namespace = secret["metadata"]["namespace"].as_str().unwrap();
            let store = &secret["spec"]["secretStoreRef"];
            assert_eq!(store["kind"], "SecretStore", "{namespace}: {secret}");
            let key = (namespace.to_owned(), store["name"].as_str().unwrap().to_owned());
            assert!(stores.contains_key(&key), "{namespace}: its store is in its own namespace");
            let prefix = format!("${{cluster.addons.external-secrets.secret_stores.{namespace}.prefix}}");
            for entry in secret["spec"]["data"].as_array().unwrap() {
                let name = entry["remoteRef"]["key"].as_str().unwrap();
                assert!(name.starts_with(&prefix) && !name[prefix.len()..].contains("${"), "{namespace}: {name}");
            }
        }
    }
    // The operator's RBAC is not aggregated to edit: a namespace's editors make no store that
    // names another namespace's role.
    let application = objects(&render("external-secrets", "dev")).into_iter().find(|o| o["kind"] == "Application");
    let values = &application.unwrap()["spec"]["source"]["helm"]["valuesObject"];
    assert_eq!(values["rbac"]["aggregateToEdit"], false);
}

/// The CRDs of the pinned versions, as devstack fetched them (and Argo CD's, for the
/// Applications); the directory names carry the version, which must be versions.env's.
fn install_crds() {
    let versions = versions();
    for (var, key) in [
        ("EKSKIT_GATEWAY_API_CRDS", "GATEWAY_API_VERSION"),
        ("EKSKIT_CERT_MANAGER_CRDS", "CERT_MANAGER_VERSION"),
        ("EKSKIT_EXTERNAL_SECRETS_CRDS", "EXTERNAL_SECRETS_VERSION"),
        ("EKSKIT_KARPENTER_CRDS", "KARPENTER_VERSION"),
    ] {
        let dir = &env()[var];
        assert!(dir.ends_with(&format!("-v{}", versions[key])), "{var}={dir} is not versions.env's {key}");
        let out = kapply(&["-f", dir, "--timeout", "2m"], None);
        assert!(out.status.success(), "{var}: {}", stderr(&out));
    }
    let out = kapply(&["-f", &env()["EKSKIT_ARGOCD_CRDS"]], None);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The LBC's own kinds (gateway.k8s.aws): its CRDs are not on the Go module proxy at v3, so the
/// API server cannot check them here (deploy/README.md says so).
fn is_lbc_kind(object: &Value) -> bool {
    object["apiVersion"].as_str().is_some_and(|v| v.starts_with("gateway.k8s.aws/"))
}

#[test]
fn the_api_server_takes_every_overlay_after_the_pinned_crds() {
    install_crds();
    let id = unique_stack("addons");
    let (dev_ns, prod_ns, gw_ns) = (format!("{id}-dev"), format!("{id}-prod"), format!("{id}-gw"));
    // The environments' namespaces are this run's own, so are their stores' keys.
    let mut document = document(&id);
    let stores = &mut document["cluster"]["addons"]["external-secrets"]["secret_stores"];
    for (name, renamed) in [("comments-dev", &dev_ns), ("comments-prod", &prod_ns)] {
        stores[renamed.as_str()] = stores[name].clone();
    }
    let document = document.to_string();
    let setup = |ns: &[&str]| {
        ns.iter()
            .map(|n| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}}}\n---\n"))
            .collect::<String>()
    };
    // The shared argocd namespace stays (tests/e2e/deploy.rs makes it too); the app's environments
    // and the Gateway's namespace get names of this run only.
    let out = kapply(&["-f", "-"], Some(&setup(&["argocd"])));
    assert!(out.status.success(), "{}", stderr(&out));
    let namespaces = setup(&[&dev_ns, &prod_ns]);
    let out = kapply(&["-f", "-"], Some(&namespaces));
    assert!(out.status.success(), "{}", stderr(&out));

    for environment in ENVIRONMENTS {
        let mut skipped = Vec::new();
        for dir in DIRS {
            let rendered = render(dir, environment)
                .replace("comments-dev", &dev_ns)
                .replace("comments-prod", &prod_ns)
                .replace("namespace: gateway\n", &format!("namespace: {gw_ns}\n"))
                .replace("name: gateway\n", &format!("name: {gw_ns}\n"));
            let (lbc, checked): (Vec<Value>, Vec<Value>) = objects(&rendered).into_iter().partition(is_lbc_kind);
            skipped.extend(lbc.iter().map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"])));
            let file = std::env::temp_dir().join(format!("{id}-{dir}-{environment}.json"));
            let list = json!({"apiVersion": "v1", "kind": "List", "items": checked});
            std::fs::write(&file, list.to_string()).unwrap();
            let app = format!("{id}-{dir}");
            let path = file.to_str().unwrap();

            // Without the document, kapply refuses: nothing of an add-on is hard-coded.
            let out = kapply(&["-f", path, "--dry-run"], Some("{}"));
            assert_eq!(out.status.code(), Some(2), "{dir}: {}", stderr(&out));
            let out = kapply(&["-f", path, "--app", &app, "--no-wait", "--timeout", "2m"], Some(&document));
            assert!(out.status.success(), "{dir}/{environment}: the API server refused: {}", stderr(&out));
            let applied = stdout_json(&out)["apply"]["objects"].as_array().unwrap().len();
            assert_eq!(applied, checked.len(), "{dir}/{environment}");

            if let Some(application) = checked.iter().find(|o| o["kind"] == "Application") {
                let name = application["metadata"]["name"].as_str().unwrap();
                check_application(name, environment);
            }
            let out = kapply(&["--delete", "-f", path, "--app", &app, "--timeout", "2m"], Some(&document));
            assert!(out.status.success(), "{dir}/{environment}: {}", stderr(&out));
            std::fs::remove_file(file).unwrap();
        }
        skipped.sort();
        assert_eq!(
            skipped,
            [
                "LoadBalancerConfiguration/\"public\"",
                "TargetGroupConfiguration/\"comments\"",
                "TargetGroupConfiguration/\"comments\""
            ],
            "only the load balancer controller's own kinds go unchecked"
        );
    }
    let out = kapply(&["--delete", "-f", "-", "--timeout", "2m"], Some(&namespaces));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The Application as the API server stored it (placeholders filled by kapply): its namespace is
/// the contract's, and its Helm values render with the upstream chart where devstack has it.
fn check_application(name: &str, environment: &str) {
    let out = kubectl(&["get", "applications.argoproj.io", "-n", "argocd", name, "-o", "json"]);
    let app: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (namespace, account) = identity(name);
    assert_eq!(app["spec"]["destination"]["namespace"], namespace);
    let values = &app["spec"]["source"]["helm"]["valuesObject"];
    assert!(!values.to_string().contains("${"), "{name}: {values}");
    let chart_var = match name {
        "cert-manager" => "EKSKIT_CERT_MANAGER_CHART",
        "external-secrets" => "EKSKIT_EXTERNAL_SECRETS_CHART",
        "karpenter" => "EKSKIT_KARPENTER_CHART",
        _ => {
            // No chart on the Go module proxy: the service account is at least the contract's.
            let sa = if name == "cluster-autoscaler" {
                &values["rbac"]["serviceAccount"]["name"]
            } else {
                &values["serviceAccount"]["name"]
            };
            assert_eq!(sa, account, "{name}");
            return;
        }
    };
    let rendered = helm_template(name, &env()[chart_var], namespace, values);
    let objects = objects(&rendered);
    let accounts: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "ServiceAccount")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert!(accounts.contains(&account), "{name}: the chart makes {accounts:?}, Pod Identity expects {account}");
    assert!(!objects.iter().any(|o| o["kind"] == "CustomResourceDefinition"), "{name}: the chart must not carry CRDs");
    // Its Pods meet the restricted profile the namespace enforces (kube-system is EKS').
    if namespace != "kube-system" {
        let violations = ekskit_tests::pod_security::restricted_violations(&objects);
        assert_eq!(violations, Vec::<String>::new(), "{name}/{environment}");
    }
    // Argo CD syncs only the cluster-scoped kinds the add-ons' AppProject lists.
    let project: Value =
        serde_yaml::from_str(&std::fs::read_to_string(addons_dir().join("common/project.yaml")).unwrap()).unwrap();
    let allowed = project["spec"]["clusterResourceWhitelist"].as_array().unwrap();
    assert!(!allowed.iter().any(|a| a["group"] == "*" || a["kind"] == "*"), "no wildcard: {allowed:?}");
    let scoped = cluster_scoped_kinds();
    for o in &objects {
        let group = o["apiVersion"].as_str().unwrap().rsplit_once('/').map_or("", |(g, _)| g);
        let kind = o["kind"].as_str().unwrap();
        if scoped.contains(&(group.to_owned(), kind.to_owned())) {
            assert!(
                allowed.iter().any(|a| a["group"] == group && a["kind"] == kind),
                "{name}: the add-ons' AppProject does not let Argo CD deploy {group}/{kind}"
            );
        }
    }
    let replicas: Vec<i64> =
        objects.iter().filter(|o| o["kind"] == "Deployment").filter_map(|o| o["spec"]["replicas"].as_i64()).collect();
    let want = if environment == "prod" { 2 } else { 1 };
    assert!(replicas.contains(&want), "{name}/{environment}: replicas {replicas:?}");
}

/// (group, kind) of every cluster-scoped resource the API server serves, CRDs' included.
fn cluster_scoped_kinds() -> BTreeSet<(String, String)> {
    let out = kubectl(&["api-resources", "--namespaced=false", "--no-headers"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: read from the right, SHORTNAMES may be empty.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (kind, version) = (words.last()?, words.get(words.len().checked_sub(3)?)?);
            let group = version.rsplit_once('/').map_or("", |(g, _)| g);
            Some((group.to_owned(), (*kind).to_owned()))
        })
        .collect()
}

/// `helm template` of a chart devstack took from the module zip, with the Application's values.
fn helm_template(name: &str, chart: &str, namespace: &str, values: &Value) -> String {
    let work = renderable_chart(Path::new(chart));
    let values_file = work.join("ekskit-values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();
    let args = ["template", name, work.to_str().unwrap(), "--namespace", namespace, "--kube-version", "1.34.0", "-f"];
    let out = helm(env(), &[&args[..], &[values_file.to_str().unwrap()]].concat());
    std::fs::remove_dir_all(&work).unwrap();
    assert!(out.status.success(), "helm template {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_api_server_refuses_a_custom_resource_with_a_wrong_field() {
    install_crds();
    // hostedZoneId (not hostedZoneID) is a classic mistake: cert-manager's schema refuses it.
    let issuer = "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: wrong-field}\nspec:\n  acme:\n    server: https://acme-staging-v02.api.letsencrypt.org/directory\n    privateKeySecretRef: {name: k}\n    solvers:\n      - dns01:\n          route53: {region: x, hostedZoneId: Z1}\n";
    // A NodePool's limits are quantities; External Secrets v1 knows no kind SecretStoreX.
    let pool = "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: wrong-field}\nspec:\n  template:\n    spec:\n      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}\n      requirements: []\n  limits: {cpu: lots}\n";
    let secret = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: wrong-field, namespace: default}\nspec:\n  secretStoreRef: {kind: SecretStoreX, name: s}\n  data: [{secretKey: url, remoteRef: {key: k}}]\n";
    for (text, field) in [(issuer, "hostedZoneId"), (pool, "cpu"), (secret, "SecretStoreX")] {
        let out = kapply(&["-f", "-", "--dry-run"], Some(text));
        assert!(!out.status.success(), "the API server took {text}");
        assert!(stderr(&out).contains(field), "{}", stderr(&out));
    }
}

/// The upstream files scripts/up applies by URL whose content the Go module proxy does not
/// have (release assets; a module the proxy lacks): the only ones deploy/upstream.pins leaves out.
const UNPINNED: [&str; 4] = [
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/",
    "https://github.com/cert-manager/cert-manager/releases/download/",
    "https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v3.0.0/helm/aws-load-balancer-controller/crds/crds.yaml",
    "https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v3.0.0/helm/aws-load-balancer-controller/crds/gateway-crds.yaml",
];

/// deploy/upstream.pins: (URL, SHA-256, MODULE@VERSION, PATH) per line.
fn pins() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(repo_root().join("deploy/upstream.pins")).unwrap();
    let lines = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "URL, SHA-256, source: {line}");
            let (module, path) = fields[2].split_once(' ').unwrap();
            (fields[0].to_owned(), fields[1].to_owned(), module.to_owned(), path.to_owned())
        })
        .collect()
}

/// Every upstream file scripts/up applies by URL carries a `#sha256=` pin (kapply checks the body
/// before applying anything), but those [`UNPINNED`] names; and each pin is the SHA-256 of that
/// file in its module's zip on the Go module proxy, where devstack takes its own copies from.
#[test]
fn scripts_up_pins_each_upstream_file_it_can_to_the_module_proxys_content() {
    let pins = pins();
    // The URLs scripts/up uses where devstack's copies are not there: the upstream ones.
    let stack = unique_stack("pins");
    let dir = repo_root().join(".ekskit");
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join(format!("{stack}.json"));
    std::fs::write(&doc, document("demo").to_string()).unwrap();
    let mut up = Command::new(repo_root().join("scripts/up"));
    up.arg("--plan").envs(env()).env("STACK", &stack);
    for copy in env().keys().filter(|k| k.ends_with("_CRDS")) {
        up.env_remove(copy);
    }
    let out = up.output().unwrap();
    std::fs::remove_file(doc).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = String::from_utf8(out.stdout).unwrap();
    let mut urls: Vec<String> =
        plan.split(['\t', '\n']).filter(|f| f.starts_with("https://")).map(str::to_owned).collect();
    // Argo CD's install manifest, away from the local stack.
    let up = std::fs::read_to_string(repo_root().join("scripts/up")).unwrap();
    let at = up.find("https://raw.githubusercontent.com/argoproj/").expect("scripts/up's default ARGOCD_MANIFEST");
    let argocd = &up[at..at + up[at..].find('}').unwrap()];
    urls.push(format!("{argocd}#sha256="));
    assert!(urls.len() >= 10, "{plan}");
    for url in &urls {
        match url.split_once("#sha256=") {
            Some((bare, _)) => assert!(pins.iter().any(|p| p.0 == bare), "{bare} is not in deploy/upstream.pins"),
            None => assert!(UNPINNED.iter().any(|u| url.starts_with(u)), "{url} has no pin"),
        }
        if let Some((bare, sha)) = url.split_once("#sha256=").filter(|(_, sha)| !sha.is_empty()) {
            assert_eq!(pins.iter().find(|p| p.0 == bare).unwrap().1, sha, "{bare}");
        }
    }
    for (url, sha, module, path) in &pins {
        let zip = Command::new("go").args(["mod", "download", "-json", module]).output().unwrap();
        let zip: Value =
            serde_json::from_slice(&zip.stdout).unwrap_or_else(|e| panic!("go mod download {module}: {e}"));
        let zip = zip["Zip"].as_str().unwrap_or_else(|| panic!("no zip of {module}: {zip}"));
        let script = "unzip -p \"$1\" \"$2\" | sha256sum";
        let hashed = Command::new("sh").args(["-c", script, "sh", zip, &format!("{module}/{path}")]).output().unwrap();
        let hashed = String::from_utf8(hashed.stdout).unwrap();
        assert_eq!(hashed.split_whitespace().next(), Some(sha.as_str()), "{url}: {module} {path}");
    }
}

#[test]
fn scripts_up_plan_picks_the_directories_of_the_documents_addons() {
    let stack = unique_stack("plan");
    let dir = repo_root().join(".ekskit");
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join(format!("{stack}.json"));
    let plan = |document: &Value, environment: &str| {
        std::fs::write(&doc, document.to_string()).unwrap();
        let out = Command::new(repo_root().join("scripts/up"))
            .arg("--plan")
            .envs(env())
            .env("STACK", &stack)
            .env("ADDONS_ENVIRONMENT", environment)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let mut document = document("demo");
    let all = plan(&document, "prod");
    let apps: Vec<&str> = all.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(apps.len(), 7, "{all}");
    // Argo CD first: the local stack installs devstack's copy (Dex scaled to zero).
    assert!(
        all.starts_with(&format!("argocd\t-k\t{}/.ekskit/argocd-install-{stack}\n", repo_root().display())),
        "{all}"
    );
    for dir in DIRS {
        assert!(apps.contains(&format!("addon-{dir}").as_str()), "{all}");
        assert!(all.contains(&format!("deploy/addons/{dir}/prod\n")), "{all}");
    }
    // devstack's CRDs are used when it fetched them.
    assert!(all.contains(&env()["EKSKIT_KARPENTER_CRDS"]), "{all}");

    // Only the listed add-ons; no Gateway without a DNS zone; nothing without add-ons.
    let addons = document["cluster"]["addons"].as_object_mut().unwrap();
    addons.retain(|k, _| k == "aws-load-balancer-controller" || k == "external-secrets");
    let some = plan(&document, "dev");
    let apps: Vec<&str> = some.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(apps, ["argocd", "addon-aws-load-balancer-controller", "addon-external-secrets"], "{some}");
    assert!(some.contains("deploy/addons/external-secrets/dev\n"));
    document["cluster"].as_object_mut().unwrap().remove("addons");
    assert_eq!(plan(&document, "dev").lines().count(), 1, "Argo CD only");
    // With EKS' managed Argo CD, up registers the cluster with it instead of installing one.
    let arn = "arn:aws:eks:eu-west-1:123456789012:cluster/demo";
    document["cluster"]["arn"] = json!(arn);
    document["cluster"]["capabilities"] =
        json!({"argocd": {"arn": format!("{arn}/capability/argocd"), "type": "ARGOCD"}});
    let register = repo_root().join("deploy/argocd-capability/in-cluster.yaml");
    assert_eq!(plan(&document, "dev"), format!("argocd\t-f\t{}\n", register.display()));
    // That Secret, filled from the document, is what the API server takes: the cluster by its ARN.
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n";
    assert!(kapply(&["-f", "-"], Some(namespace)).status.success());
    let out = kapply(&["-f", register.to_str().unwrap(), "--dry-run"], Some(&document.to_string()));
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = &stdout_json(&out)["apply"]["objects"][0];
    assert_eq!((secret["kind"].as_str(), secret["name"].as_str()), (Some("Secret"), Some("in-cluster")), "{secret}");
    document["cluster"].as_object_mut().unwrap().remove("arn");
    let out = kapply(&["-f", register.to_str().unwrap(), "--dry-run"], Some(&document.to_string()));
    assert_eq!(out.status.code(), Some(2), "the server is the cluster's ARN: {}", stderr(&out));
    std::fs::remove_file(doc).unwrap();
}
