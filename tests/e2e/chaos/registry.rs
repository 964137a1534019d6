//! imgpush to an ECR repository on the emulator, its registry endpoint the stack's htpasswd
//! registry that takes the emulator's ECR token, both behind the proxy: a run is killed at its
//! k-th request to either. The image is built here, a few small layers of its own. The inventory
//! is the region's ECR repositories and what the registry holds for each: its tags, which image
//! each holds, and whether every blob of that image is there.

use std::collections::BTreeMap;
use std::process::Command;

use ekskit_tests::faults::{Service, Upstream};
use ekskit_tests::{aws_config, block_on, docker, stack_env, temp_dir, unique_stack, write_file};
use serde_json::{Value, json};

use super::{Subject, check, place};

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "docker", "registry", "base"])
}

#[test]
fn imgpush_killed_at_any_request_converges_and_deletes_to_nothing() {
    let region = place("ca-central-1", "ap-northeast-3");
    let stack = unique_stack(place("chaos-push", "chs-push")).to_lowercase();
    let name = format!("chaos/{stack}");
    let image = layered_image(&stack);
    let image_id = docker(env(), &["image", "inspect", "--format", "{{.Id}}", &image]).trim().to_owned();
    let repository = format!("ecr:{name}");
    let create = ["--image", &image, "--repository", &repository, "--keep-images", "5"];
    let cleanup = ["--delete", "--repository", &repository, "--tag", "v1"];
    let stdin = json!({"vpc": {"stack": stack, "region": region}}).to_string();
    let to_vec = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let docker_config = temp_dir("chaos-dockercfg");
    let (owned_stack, owned_name) = (stack.clone(), name.clone());
    check(Subject {
        tool: "imgpush",
        env: env(),
        services: vec![
            (Upstream::Http(env()["AWS_ENDPOINT_URL"].clone()), Service::Aws),
            (Upstream::Http(format!("http://{}", env()["EKSKIT_REGISTRY_AUTH"])), Service::Registry),
        ],
        aim: Box::new(move |cmd, fronts| {
            // An empty Docker config: no login of the machine's user takes part.
            let endpoint = fronts[1].trim_start_matches("http://");
            cmd.env("AWS_ENDPOINT_URL", &fronts[0]).env("DOCKER_CONFIG", &docker_config);
            cmd.args(["--region", region, "--registry-endpoint", endpoint]);
        }),
        stdin: Box::new(move |_| Some(stdin.clone())),
        create: to_vec(&create),
        cleanup: Some(to_vec(&cleanup)),
        reset: None,
        normalize,
        inventory: Box::new(move || inventory(region, &owned_stack, &owned_name, &image_id)),
    });
    docker(env(), &["rmi", &image]);
}

/// An image of three small layers no other image has (`FROM scratch`, a unique file in each),
/// tagged `<stack>:v1`: the pushes are quick and every layer is new to the registry.
fn layered_image(stack: &str) -> String {
    let dir = temp_dir("chaos-image");
    let mut dockerfile = String::from("FROM scratch\n");
    for layer in ["a", "b", "c"] {
        write_file(&dir, layer, &format!("{stack} layer {layer}\n"));
        dockerfile.push_str(&format!("COPY {layer} /{layer}\n"));
    }
    write_file(&dir, "Dockerfile", &dockerfile);
    let reference = format!("{stack}:v1");
    let built = Command::new("docker")
        .env("DOCKER_HOST", &env()["DOCKER_HOST"])
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &reference])
        .arg(&dir)
        .output()
        .expect("running docker build");
    assert!(built.status.success(), "docker build: {}", String::from_utf8_lossy(&built.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    reference
}

/// A further run sends nothing and says so: no tag pushed (each is `unchanged`), no layer
/// counted, the repository not created by it. Everything else (the repository, the tags, the
/// digest, the reference) must be printed again as it was.
fn normalize(doc: &mut Value) {
    let Some(push) = doc.get_mut("push").and_then(Value::as_object_mut) else { return };
    for key in ["pushed", "unchanged", "layers"] {
        push.remove(key);
    }
    if let Some(ecr) = push.get_mut("ecr").and_then(Value::as_object_mut) {
        ecr.remove("created");
    }
}

/// The region's ECR repositories (`untagged` without the stack's tag) with their lifecycle
/// policy, and for each, and for `name` whether ECR has it or not, what the registry holds:
/// `registry-tag repo:tag@digest` (`registry-tag-other-image` when it holds another image than
/// `image_id`), and `missing-blob repo@digest` for each blob its manifest names that the
/// registry does not have.
fn inventory(region: &str, stack: &str, name: &str, image_id: &str) -> Vec<String> {
    let ecr = aws_sdk_ecr::Client::new(&aws_config(env(), region));
    let mut found = Vec::new();
    let mut names = vec![name.to_owned()];
    block_on(async {
        for repo in ecr.describe_repositories().send().await.unwrap().repositories() {
            let repo_name = repo.repository_name().unwrap_or_default();
            let tags = ecr.list_tags_for_resource().resource_arn(repo.repository_arn().unwrap()).send().await.unwrap();
            let tagged = tags.tags().iter().any(|t| t.key() == "ekskit.io/stack" && t.value() == stack);
            found.push(format!("ecr-repository {repo_name}{}", if tagged { "" } else { " untagged" }));
            if ecr.get_lifecycle_policy().repository_name(repo_name).send().await.is_ok() {
                found.push(format!("lifecycle-policy {repo_name}"));
            }
            if !names.iter().any(|n| n == repo_name) {
                names.push(repo_name.to_owned());
            }
        }
    });
    for repo in &names {
        found.extend(registry_inventory(repo, image_id));
    }
    found.sort();
    found
}

/// What the registry holds for `repo`: its tags, and the blobs their manifests name that it
/// lacks.
fn registry_inventory(repo: &str, image_id: &str) -> Vec<String> {
    let (status, body, _) = registry(&format!("{repo}/tags/list"), false);
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "listing the tags of {repo}: {body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    let mut found = Vec::new();
    for tag in listed["tags"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let (status, body, digest) = registry(&format!("{repo}/manifests/{tag}"), false);
        if status == 404 {
            continue; // a tag whose manifest was deleted
        }
        assert_eq!(status, 200, "reading {repo}:{tag}: {body}");
        let manifest: Value = serde_json::from_str(&body).unwrap();
        let config = manifest["config"]["digest"].as_str().unwrap_or_default();
        let kind = if config == image_id { "registry-tag" } else { "registry-tag-other-image" };
        found.push(format!("{kind} {repo}:{tag}@{digest}"));
        let layers = manifest["layers"].as_array().into_iter().flatten().filter_map(|l| l["digest"].as_str());
        for blob in std::iter::once(config).chain(layers) {
            if registry(&format!("{repo}/blobs/{blob}"), true).0 != 200 {
                found.push(format!("missing-blob {repo}@{blob}"));
            }
        }
    }
    found
}

/// `curl` against the registry's API with the emulator's ECR token (a HEAD request with
/// `head_only`): (status, body, the Docker-Content-Digest header).
fn registry(path: &str, head_only: bool) -> (u16, String, String) {
    let url = format!("http://{}/v2/{path}", env()["EKSKIT_REGISTRY_AUTH"]);
    let user = format!("AWS:{}-auth-token", env()["EKSKIT_AWS_ACCOUNT"]);
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json";
    let head = if head_only { "-I" } else { "-i" };
    let out = Command::new("curl").args(["-s", head, "-H", accept, "-u", &user, &url]).output();
    let text = String::from_utf8_lossy(&out.expect("running curl").stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let digest = head.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_owned())
    });
    (status, body.to_owned(), digest.unwrap_or_default())
}
