//! imgpush against the local stack: the engine pushes to the local registries, ECR's API is moto
//! and its registry endpoint is the htpasswd registry that only takes moto's token.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ekskit_tests::{
    assert_schema, block_on, build_app_image, docker, ok_json, run, stack_env, stderr, temp_dir, tool, unique_stack,
};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "docker", "registry", "base"])
}

/// An empty Docker config directory, so the machine's own logins take no part.
fn empty_docker_config() -> PathBuf {
    temp_dir("dockercfg")
}

fn imgpush_in(args: &[&str], stdin: Option<&str>, docker_config: &std::path::Path) -> Output {
    let mut cmd = tool("imgpush", env());
    cmd.env("DOCKER_CONFIG", docker_config).args(args);
    run(cmd, stdin)
}

fn imgpush(args: &[&str], stdin: Option<&str>) -> Output {
    imgpush_in(args, stdin, &empty_docker_config())
}

fn ok(out: &Output) -> Value {
    ok_json("imgpush", out)
}

/// A small image of its own (a unique label makes a unique image id), tagged `name:tag`.
fn tiny_image(name: &str, tag: &str) -> String {
    let reference = format!("{name}:{tag}");
    let dockerfile = format!("FROM {}\nLABEL test.unique={}\n", env()["EKSKIT_BASE_IMAGE"], unique_stack("l"));
    let mut child = Command::new("docker")
        .env("DOCKER_HOST", &env()["DOCKER_HOST"])
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &reference, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(dockerfile.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    reference
}

/// `curl` against a registry's API: (HTTP status, body, Docker-Content-Digest).
fn registry_get(url: &str, user: Option<&str>) -> (u16, String, Option<String>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-D", "-", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", url]);
    if let Some(u) = user {
        cmd.args(["-u", u]);
    }
    let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let digest = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("docker-content-digest:").then(|| l[22..].trim().to_owned()));
    (status, body.to_owned(), digest)
}

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    for s in secrets {
        assert!(!all.contains(s), "a credential leaked into the output");
    }
}

#[test]
fn the_app_image_piped_from_imgbuild_lands_in_the_registry_and_runs_from_there() {
    let env = env();
    let name = unique_stack("comments");
    let built = build_app_image(env, &name, Some("{\"kept\": true}"));
    assert!(built.status.success(), "{}", stderr(&built));
    let built = String::from_utf8(built.stdout).unwrap();

    let repository = format!("{}/{name}", env["EKSKIT_REGISTRY"]);
    let doc = ok(&imgpush(&["--repository", &repository], Some(&built)));
    assert_eq!(doc["kept"], true);
    assert!(doc["image"].is_object(), "imgbuild's key is kept");
    assert_schema("push.schema.json", &doc["push"]);
    let push = &doc["push"];
    let tag = doc["image"]["tags"][0].as_str().unwrap().rsplit_once(':').unwrap().1.to_owned();
    assert_eq!(push["tags"], serde_json::json!([tag]));
    assert_eq!(push["pushed"], serde_json::json!([tag]));
    assert_eq!(push["image_id"], doc["image"]["id"]);
    // Layers another repository of this registry has are mounted, not sent: "existing".
    let layers = push["layers"]["pushed"].as_u64().unwrap() + push["layers"]["existing"].as_u64().unwrap();
    assert!(layers >= 2, "{}", push["layers"]);
    let digest = push["digest"].as_str().unwrap().to_owned();
    assert_eq!(push["reference"], format!("{repository}@{digest}"));

    // The registry's own API shows the tag and the digest.
    let registry = &env["EKSKIT_REGISTRY"];
    let (status, tags, _) = registry_get(&format!("http://{registry}/v2/{name}/tags/list"), None);
    assert_eq!(status, 200);
    assert!(tags.contains(&format!("\"{tag}\"")), "{tags}");
    let (status, _, served) = registry_get(&format!("http://{registry}/v2/{name}/manifests/{tag}"), None);
    assert_eq!((status, served.as_deref()), (200, Some(digest.as_str())));

    // Again: nothing sent. Another tag: only the manifest, every layer is already there.
    let again = ok(&imgpush(&["--repository", &repository], Some(&built)));
    assert_eq!(again["push"]["unchanged"], serde_json::json!([tag]));
    assert_eq!(again["push"]["pushed"], serde_json::json!([]));
    assert_eq!(again["push"]["digest"], digest.as_str());
    let extra = ok(&imgpush(&["--repository", &repository, "--tag", "stable"], Some(&built)));
    assert_eq!(extra["push"]["pushed"], serde_json::json!(["stable"]));
    assert_eq!(extra["push"]["layers"]["pushed"], 0);
    assert!(extra["push"]["layers"]["existing"].as_u64().unwrap() > 0);

    // The image as pulled from the registry answers /readyz and runs as a non-root user.
    let id = doc["image"]["id"].as_str().unwrap();
    docker(env, &["rmi", "-f", "--no-prune", id]);
    let by_digest = format!("{repository}@{digest}");
    docker(env, &["pull", "-q", &by_digest]);
    let (ready, uid) = ekskit_tests::run_app_until_ready(env, &by_digest);
    docker(env, &["rmi", &by_digest]);
    assert_eq!(ready, "{\"status\":\"ok\"}");
    assert_eq!(uid, "10001");
}

fn ecr() -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&ekskit_tests::aws_config(env(), "us-east-1"))
}

#[test]
fn ecr_repository_is_created_the_token_exchanged_and_immutable_tags_hold() {
    let env = env();
    let endpoint = env["EKSKIT_REGISTRY_AUTH"].as_str();
    let name = format!("ekskit-test/{}", unique_stack("ecr"));
    let image = tiny_image(&unique_stack("tiny"), "v1");
    let repository = format!("ecr:{name}");
    let args = ["--image", &image, "--repository", &repository, "--registry-endpoint", endpoint, "--keep-images", "5"];
    let stack_doc = r#"{"vpc": {"stack": "shop", "region": "us-east-1"}}"#;

    let plan = ok(&imgpush(&[&args[..], &["--dry-run"]].concat(), Some(stack_doc)));
    assert_schema("plan.push.schema.json", &plan["plan"]["push"]);
    assert_eq!(plan["plan"]["push"]["create_repository"], true);
    assert!(block_on(ecr().describe_repositories().repository_names(&name).send()).is_err(), "dry run created nothing");

    let out = imgpush(&args, Some(stack_doc));
    // moto's ECR token: base64 of AWS:<account>-auth-token, the account devstack drew.
    let account = &env["EKSKIT_AWS_ACCOUNT"];
    let ecr_password = format!("{account}-auth-token");
    let token = base64_of(&format!("AWS:{ecr_password}"));
    assert_no_secret(&out, &[&ecr_password, &token]);
    let doc = ok(&out);
    let push = &doc["push"];
    assert_eq!(push["repository"], format!("{account}.dkr.ecr.us-east-1.amazonaws.com/{name}"));
    assert_eq!((push["registry"].as_str(), push["credentials"].as_str()), (Some(endpoint), Some("ecr-token")));
    assert_eq!((push["ecr"]["created"].as_bool(), push["ecr"]["keep_images"].as_u64()), (Some(true), Some(5)));

    // What ECR has: scan on push, immutable tags, ownership tags, the lifecycle policy.
    let client = ecr();
    let found = block_on(client.describe_repositories().repository_names(&name).send()).unwrap();
    let repo = &found.repositories()[0];
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());
    assert_eq!(repo.image_tag_mutability().unwrap().as_str(), "IMMUTABLE");
    let tags = block_on(client.list_tags_for_resource().resource_arn(repo.repository_arn().unwrap()).send()).unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(
        tags.contains(&("ekskit.io/stack", "shop")) && tags.contains(&("ekskit.io/managed-by", "imgpush")),
        "{tags:?}"
    );
    let policy = block_on(client.get_lifecycle_policy().repository_name(&name).send()).unwrap();
    let policy = policy.lifecycle_policy_text().unwrap();
    assert!(policy.contains("\"countNumber\":5") && policy.contains("\"tagStatus\":\"untagged\""), "{policy}");
    assert!(!policy.contains("\"tagStatus\":\"any\""), "a deployed tag is never expired: {policy}");

    // The registry took the push only with the token's password.
    let basic = format!("AWS:{ecr_password}");
    let (status, _, served) = registry_get(&format!("http://{endpoint}/v2/{name}/manifests/v1"), Some(&basic));
    assert_eq!((status, served.as_deref()), (200, push["digest"].as_str()));

    let again = ok(&imgpush(&args, Some(stack_doc)));
    assert_eq!(
        (again["push"]["ecr"]["created"].as_bool(), again["push"]["unchanged"].clone()),
        (Some(false), serde_json::json!(["v1"]))
    );

    // Another image under the same tag: the immutable tag holds, nothing changes.
    let other = tiny_image(&unique_stack("tiny"), "v1");
    let out = imgpush(&["--image", &other, "--repository", &repository, "--registry-endpoint", endpoint], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already holds another image") && stderr(&out).contains("immutable"),
        "{}",
        stderr(&out)
    );
    let (_, _, still) = registry_get(&format!("http://{endpoint}/v2/{name}/manifests/v1"), Some(&basic));
    assert_eq!(still.as_deref(), push["digest"].as_str());

    // --delete: the tag, then the repository imgpush created; again: nothing left to do.
    let pushed = serde_json::to_string(&doc).unwrap();
    let gone = ok(&imgpush(&["--delete", "--registry-endpoint", endpoint], Some(&pushed)));
    assert_schema("deleted.push.schema.json", &gone["deleted"]["push"]);
    assert!(gone.get("push").is_none());
    assert_eq!(gone["deleted"]["push"]["tags"], serde_json::json!(["v1"]));
    assert_eq!(gone["deleted"]["push"]["repository_deleted"], true);
    let (status, _, _) = registry_get(&format!("http://{endpoint}/v2/{name}/manifests/v1"), Some(&basic));
    assert_eq!(status, 404);
    assert!(block_on(client.describe_repositories().repository_names(&name).send()).is_err());
    let twice = ok(&imgpush(&["--delete", "--registry-endpoint", endpoint], Some(&pushed)));
    assert_eq!(twice["deleted"]["push"]["absent"], serde_json::json!(["v1"]));
    for i in [&image, &other] {
        docker(env, &["rmi", i]);
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn private_registries_take_a_password_file_or_the_docker_config_and_refuse_without() {
    let env = env();
    let host = env["EKSKIT_REGISTRY_AUTH"].as_str();
    let password_file = env["EKSKIT_REGISTRY_AUTH_PASSWORD_FILE"].as_str();
    let password = std::fs::read_to_string(password_file).unwrap().trim().to_owned();
    let image = tiny_image(&unique_stack("tiny"), "v1");
    let repository = format!("{host}/{}", unique_stack("private"));

    let out = imgpush(&["--image", &image, "--repository", &repository], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("UNAUTHORIZED") && stderr(&out).contains("hint: check the credentials"),
        "{}",
        stderr(&out)
    );

    let user = env["EKSKIT_REGISTRY_AUTH_USER"].as_str();
    let out =
        imgpush(&["--image", &image, "--repository", &repository, "-u", user, "--password-file", password_file], None);
    assert_no_secret(&out, &[&password]);
    assert_eq!(ok(&out)["push"]["credentials"], "password-file");

    let config = empty_docker_config();
    let auth = base64_of(&format!("{user}:{password}"));
    std::fs::write(config.join("config.json"), format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    let out = imgpush_in(&["--image", &image, "--repository", &repository], None, &config);
    assert_no_secret(&out, &[&password, &auth]);
    let doc = ok(&out);
    assert_eq!(
        (doc["push"]["credentials"].as_str(), doc["push"]["unchanged"].clone()),
        (Some("docker-config"), serde_json::json!(["v1"]))
    );
    docker(env, &["rmi", &image]);
}

#[test]
fn bad_input_gets_exit_2_and_one_line_and_failures_exit_1() {
    let image = tiny_image(&unique_stack("tiny"), "v1");
    let registry = env()["EKSKIT_REGISTRY"].clone();
    for (args, why) in [
        (vec!["--image", &image, "--repository", "https://127.0.0.1:5001/x"], "is not a repository reference"),
        (vec!["--image", &image, "--repository", "127.0.0.1:5001/Upper"], "is not a valid name component"),
        (vec!["--image", &image, "--repository", "ecr:Bad_Name"], "is not a valid name component"),
        (vec!["--image", "no-such-image:v9", "--repository", "127.0.0.1:5001/x"], "the engine has no image"),
        (vec!["--image", &image, "--repository", "127.0.0.1:5001/x", "--tag=.bad"], "is not a valid image tag"),
        (vec!["--repository", "127.0.0.1:5001/x"], "no image to push"),
        (vec!["--image", &image], "no repository"),
    ] {
        let out = imgpush(&args, Some("{}"));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let first = stderr(&out).lines().next().unwrap_or_default().to_owned();
        assert!(first.starts_with("imgpush: error:") && first.contains(why), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }

    let mut cmd = tool("imgpush", env());
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock").args([
        "--image",
        &image,
        "--repository",
        &format!("{registry}/x"),
    ]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach the Docker engine"), "{}", stderr(&out));

    let out = imgpush(&["--image", &image, "--repository", "127.0.0.1:9/x", "--retries", "0"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach the registry at http://127.0.0.1:9"), "{}", stderr(&out));
    docker(env(), &["rmi", &image]);
}

/// A proxy in front of the registry that answers the first `failures` manifest uploads with 503,
/// as an overloaded registry or load balancer does. The engine opens a connection per request
/// here, so looking at each connection's first request is enough.
fn flaky_proxy(upstream: String, failures: u32) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let left = Arc::new(AtomicU32::new(failures));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (left, upstream) = (left.clone(), upstream.clone());
            std::thread::spawn(move || relay(conn, &upstream, &left));
        }
    });
    address
}

fn relay(mut client: TcpStream, upstream: &str, left: &AtomicU32) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head == [0x16] {
            return; // a TLS handshake: this registry speaks plain HTTP
        }
    }
    // The engine shrugs off a failed ping or blob check; a failed manifest upload fails the push.
    let manifest_put = head.starts_with(b"PUT ")
        && String::from_utf8_lossy(&head).lines().next().is_some_and(|l| l.contains("/manifests/"));
    if manifest_put && left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        let _ = client.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    if server.write_all(&head).is_err() {
        return;
    }
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let back = std::thread::spawn(move || std::io::copy(&mut s2, &mut c2));
    let _ = std::io::copy(&mut client, &mut server);
    let _ = server.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}

#[test]
fn a_registry_answering_503_is_retried_with_backoff() {
    let image = tiny_image(&unique_stack("tiny"), "v1");
    let path = unique_stack("flaky");
    let proxy = flaky_proxy(env()["EKSKIT_REGISTRY"].clone(), 2);
    let out = imgpush(&["--image", &image, "--repository", &format!("{proxy}/{path}")], None);
    let doc = ok(&out);
    assert!(stderr(&out).contains("503 Service Unavailable; retrying in 500ms"), "{}", stderr(&out));
    assert_eq!(doc["push"]["pushed"], serde_json::json!(["v1"]));

    let proxy = flaky_proxy(env()["EKSKIT_REGISTRY"].clone(), 1);
    let out = imgpush(&["--image", &image, "--repository", &format!("{proxy}/{path}-2"), "--retries", "0"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("503"), "{}", stderr(&out));
    docker(env(), &["rmi", &image]);
}
