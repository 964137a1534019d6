//! The whole system composed on the local stack, as `make up` and `make down` run it:
//! scripts/up (mkvpc | mkeks | kapply Argo CD | kapply deploy/argocd | monstack), scripts/deploy
//! (imgbuild | imgpush | tagbump --push, rolled out, the pushed image serving), a second run that
//! changes nothing, and scripts/down leaving none of the stack's resources. Three add-ons come
//! along (their AWS side on the emulator, their cluster side on the control plane); the load
//! balancer controller's CRDs are not in the local stack, so it is left out.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use ekskit_tests::{owned_resources, repo_root, stack_env, unique_stack};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&[])
}

fn script(name: &str, stack: &str, port: u16) -> Output {
    let bin = ekskit_tests::bin("mkvpc").parent().unwrap().to_owned();
    Command::new(repo_root().join("scripts").join(name))
        .envs(env())
        .env("STACK", stack)
        .env("EKSKIT_BIN", bin)
        .env("APP_PORT", port.to_string())
        .env("ADDONS", "cert-manager external-secrets karpenter")
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

#[test]
fn up_deploy_and_down_compose_the_whole_system() {
    let stack = unique_stack("sys");
    let port = ekskit_tests::free_port();
    let document = repo_root().join(".ekskit").join(format!("{stack}.json"));

    ok("up", &script("up", &stack, port));
    ok("deploy", &script("deploy", &stack, port));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&document).unwrap()).unwrap();
    for key in ["vpc", "cluster", "gitops", "image", "push", "bump", "apply", "monitoring"] {
        assert!(doc.get(key).is_some(), "the document has no `{key}`: {doc}");
    }
    assert_eq!(doc["monitoring"]["ready"], true);
    let addons: Vec<&String> = doc["cluster"]["addons"].as_object().unwrap().keys().collect();
    assert_eq!(addons, ["cert-manager", "external-secrets", "karpenter"]);
    let kubectl = |args: &[&str]| {
        let out =
            Command::new(format!("{}/kubectl", env()["EKSKIT_KUBE_BIN"])).envs(env()).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let store = kubectl(&["get", "clustersecretstores.external-secrets.io", "-o", "name"]);
    assert!(store.contains("clustersecretstore"), "the add-ons' objects are applied: {store}");

    // The app answers its API: the pushed image, with the local PostgreSQL.
    let app = format!("http://127.0.0.1:{port}");
    let created = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"email":"e@example.com","comment":"composed","content_id":"sys"}"#,
        &format!("{app}/api/comment/new"),
    ]);
    assert!(created.contains("SUCCESS"), "{created}");
    assert!(curl(&[&format!("{app}/api/comment/list/sys")]).contains("composed"));

    // Again: nothing changes.
    ok("up", &script("up", &stack, port));
    ok("deploy", &script("deploy", &stack, port));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&document).unwrap()).unwrap();
    assert_eq!(again["bump"]["commit"], Value::Null, "the tag was already set");
    assert_eq!(again["push"]["pushed"], serde_json::json!([]), "the image was already pushed");
    let changed: Vec<&Value> =
        again["apply"]["objects"].as_array().unwrap().iter().filter(|o| o["action"] != "unchanged").collect();
    assert!(changed.is_empty(), "{changed:?}");
    let monitoring = again["monitoring"]["objects"].as_object().unwrap();
    assert_eq!(monitoring.keys().collect::<Vec<_>>(), ["unchanged"]);

    ok("down", &script("down", &stack, port));
    assert!(!document.exists());
    let ec2 = aws_sdk_ec2::Client::new(&ekskit_tests::aws_config(env(), "us-east-1"));
    let left = owned_resources(&ec2, &stack);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(curl(&["--max-time", "2", &format!("{app}/healthz")]).is_empty(), "the app container is gone");
}
