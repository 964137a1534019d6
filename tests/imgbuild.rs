//! imgbuild against the local stack's Docker engine, building from the local base image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ekskit_tests::{assert_schema, run, stack_env, stderr, stdout_json, tool, unique_stack};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["docker", "base"])
}

fn git(dir: &Path, args: &[&str]) {
    ekskit_tests::git(dir, args);
}

/// A git repository with a context `web/` that copies all of itself into the image.
fn repo(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_stack(prefix));
    std::fs::create_dir_all(dir.join("web/sub")).unwrap();
    let files = [
        (
            "web/Dockerfile",
            "ARG BASE=local/debian:bookworm\nFROM ${BASE}\nCOPY . /ctx/\nUSER 65534\nCMD [\"ls\", \"-R\", \"/ctx\"]\n",
        ),
        ("web/.dockerignore", "secret.env\n**/*.tmp\n"),
        ("web/app.txt", "app"),
        ("web/secret.env", "TOKEN=do-not-ship"),
        ("web/sub/cache.tmp", "x"),
    ];
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    git(&dir, &["init", "-q"]);
    git(&dir, &["remote", "add", "origin", "https://bot:s3cret@git.example.com/shop/web.git"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

fn imgbuild(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("imgbuild", env());
    cmd.args(args);
    run(cmd, stdin)
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "imgbuild failed ({:?}):\n{}", out.status, stderr(out));
    stdout_json(out)
}

fn docker(args: &[&str]) -> String {
    ekskit_tests::docker(env(), args)
}

#[test]
fn builds_from_git_with_revision_tag_labels_and_dockerignore_and_rebuilds_to_the_same_id() {
    let dir = repo("ib");
    let context = dir.join("web");
    let base = format!("BASE={}", env()["EKSKIT_BASE_IMAGE"]);
    let args = ["--name", "shop-web", "--build-arg", &base, "-t", "shop-web:latest", context.to_str().unwrap()];
    let doc = ok(&imgbuild(&args, Some("{\"kept\": 1}")));
    assert_eq!(doc["kept"], 1);
    assert_schema("image.schema.json", &doc["image"]);
    let image = &doc["image"];
    let commit = image["revision"].as_str().unwrap().to_owned();
    assert_eq!(commit.len(), 40);
    assert_eq!(image["tags"], serde_json::json!([format!("shop-web:{}", &commit[..8]), "shop-web:latest"]));
    assert_eq!(image["labels"]["org.opencontainers.image.revision"], commit.as_str());
    assert_eq!(
        image["labels"]["org.opencontainers.image.source"], "https://git.example.com/shop/web.git",
        "no credentials"
    );
    assert_eq!(image["builder"], "buildkit", "the engine (API 1.41, Linux) offers BuildKit");
    assert!(!doc.to_string().contains("s3cret"));

    // What the engine got: .dockerignore applied by imgbuild, labels set, a non-root user.
    let listing = docker(&["run", "--rm", &format!("shop-web:{}", &commit[..8])]);
    assert!(listing.contains("app.txt") && listing.contains("Dockerfile"), "{listing}");
    assert!(!listing.contains("secret.env") && !listing.contains("cache.tmp"), "{listing}");
    let labels = docker(&["inspect", "-f", "{{json .Config.Labels}}", image["id"].as_str().unwrap()]);
    assert!(labels.contains(&commit), "{labels}");

    let again = ok(&imgbuild(&args, None));
    assert_eq!(again["image"]["id"], image["id"], "same context and tag: the same image");
    let classic = ok(&imgbuild(&[&args[..], &["--builder", "classic"]].concat(), None));
    assert_eq!(classic["image"]["builder"], "classic");
    let listing = docker(&["run", "--rm", classic["image"]["id"].as_str().unwrap()]);
    assert!(listing.contains("app.txt") && !listing.contains("secret.env"), "{listing}");

    // Uncommitted changes are marked in the tag.
    std::fs::write(context.join("app.txt"), "changed").unwrap();
    let dirty = ok(&imgbuild(&args, None));
    assert_eq!(dirty["image"]["tags"][0], format!("shop-web:{}-dirty", &commit[..8]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_and_an_unreachable_engine_get_one_line_reasons() {
    let dir = repo("ibbad");
    let context = dir.join("web");
    let c = context.to_str().unwrap();

    let out = imgbuild(&[dir.join("missing").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("build context"));

    let out = imgbuild(&[c, "--file", "Nope.dockerfile"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no Nope.dockerfile"));

    let out = imgbuild(&[c, "--name", "Bad Name"], None);
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(context.join("Broken.dockerfile"), "FROM local/debian:bookworm\nFORM oops\n").unwrap();
    let out = imgbuild(&[c, "--file", "Broken.dockerfile"], None);
    assert_eq!(out.status.code(), Some(2), "a Dockerfile syntax error is bad input: {}", stderr(&out));
    assert!(stderr(&out).contains("the Dockerfile is invalid"), "{}", stderr(&out));

    let outside = std::env::temp_dir().join(unique_stack("ibnogit"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("Dockerfile"), "FROM scratch\n").unwrap();
    let out = imgbuild(&[outside.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not in a git repository"), "{}", stderr(&out));

    let mut cmd = tool("imgbuild", env());
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock").arg(c);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach the Docker engine"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

/// The real app image from the local Python base, offline (wheels from scripts/app-wheels): it
/// answers /readyz and runs as a non-root user.
#[test]
fn the_comments_app_image_builds_offline_runs_as_non_root_and_is_ready() {
    let root = ekskit_tests::repo_root();
    let wheels = Command::new(root.join("scripts/app-wheels")).status().unwrap();
    assert!(wheels.success());
    let base = format!("BASE_IMAGE={}", env()["EKSKIT_PYTHON_IMAGE"]);
    let name = format!("comments-test-{}", std::process::id());
    let app = root.join("app");
    let doc = ok(&imgbuild(
        &["--name", &name, "--build-arg", &base, "--build-arg", "PIP_NO_INDEX=1", app.to_str().unwrap()],
        None,
    ));
    let tag = doc["image"]["tags"][0].as_str().unwrap();
    assert_eq!(docker(&["inspect", "-f", "{{.Config.User}}", tag]).trim(), "10001:10001");
    let (ready, uid) = ekskit_tests::run_app_until_ready(env(), tag);
    docker(&["rmi", tag]);
    assert_eq!(ready, "{\"status\":\"ok\"}");
    assert_eq!(uid, "10001");
}
