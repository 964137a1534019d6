//! imgbuild against the local stack's Docker engine, building from the local base image.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use ekskit_tests::{
    assert_schema, build_app_image, docker, git, ok_json, run, stack_env, stderr, temp_dir, tool, unique_stack,
};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["docker", "base"])
}

/// A git repository with a context `web/` that copies all of itself into the image.
fn repo(prefix: &str) -> PathBuf {
    let dir = plain(prefix);
    git(&dir, &["init", "-q"]);
    git(&dir, &["remote", "add", "origin", "https://bot:s3cret@git.example.com/shop/web.git"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

/// The same context `web/` in a directory that is no git repository, as CodeBuild unzips a
/// CodePipeline CODE_ZIP source.
fn plain(prefix: &str) -> PathBuf {
    let dir = temp_dir(prefix);
    std::fs::create_dir_all(dir.join("web/sub")).unwrap();
    let files = [
        (
            "web/Dockerfile",
            "ARG BASE=local/debian:bookworm\nFROM ${BASE}\nCOPY . /ctx/\nARG REVISION\nRUN echo \"$REVISION\" > /revision\nUSER 65534\nCMD [\"ls\", \"-R\", \"/ctx\"]\n",
        ),
        ("web/.dockerignore", "secret.env\n**/*.tmp\n"),
        ("web/app.txt", "app"),
        ("web/secret.env", "TOKEN=do-not-ship"),
        ("web/sub/cache.tmp", "x"),
    ];
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

fn imgbuild(args: &[&str], stdin: Option<&str>) -> Output {
    imgbuild_with(&[], args, stdin)
}

/// imgbuild with these variables set, as a CI system sets them.
fn imgbuild_with(vars: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("imgbuild", env());
    cmd.envs(vars.iter().copied()).args(args);
    run(cmd, stdin)
}

fn ok(out: &Output) -> Value {
    ok_json("imgbuild", out)
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
    assert_eq!(image["revision_source"], "git");
    assert_eq!(image["tags"], serde_json::json!([format!("shop-web:{}", &commit[..8]), "shop-web:latest"]));
    assert_eq!(image["labels"]["org.opencontainers.image.revision"], commit.as_str());
    assert_eq!(
        image["labels"]["org.opencontainers.image.source"], "https://git.example.com/shop/web.git",
        "no credentials"
    );
    assert_eq!(image["builder"], "buildkit", "the engine (API 1.41, Linux) offers BuildKit");
    assert!(!doc.to_string().contains("s3cret"));

    // What the engine got: .dockerignore applied by imgbuild, labels set, a non-root user.
    let listing = docker(env(), &["run", "--rm", &format!("shop-web:{}", &commit[..8])]);
    assert!(listing.contains("app.txt") && listing.contains("Dockerfile"), "{listing}");
    assert!(!listing.contains("secret.env") && !listing.contains("cache.tmp"), "{listing}");
    let labels = docker(env(), &["inspect", "-f", "{{json .Config.Labels}}", image["id"].as_str().unwrap()]);
    assert!(labels.contains(&commit), "{labels}");
    let built_from = docker(env(), &["run", "--rm", image["id"].as_str().unwrap(), "cat", "/revision"]);
    assert_eq!(built_from.trim(), commit, "imgbuild passes the commit as the REVISION build arg");

    let again = ok(&imgbuild(&args, None));
    assert_eq!(again["image"]["id"], image["id"], "same context and tag: the same image");
    let classic = ok(&imgbuild(&[&args[..], &["--builder", "classic"]].concat(), None));
    assert_eq!(classic["image"]["builder"], "classic");
    let listing = docker(env(), &["run", "--rm", classic["image"]["id"].as_str().unwrap()]);
    assert!(listing.contains("app.txt") && !listing.contains("secret.env"), "{listing}");
    let built_from = docker(env(), &["run", "--rm", classic["image"]["id"].as_str().unwrap(), "cat", "/revision"]);
    assert_eq!(built_from.trim(), commit, "the classic builder gets the build args too");

    // A file the context sends but git does not track (new, or git-ignored) makes the tag -dirty,
    // unless --untracked-ok names it (a tracked file pins it, as app/requirements.lock pins wheels).
    std::fs::write(context.join("extra.bin"), "not in git").unwrap();
    let out = imgbuild(&args, None);
    assert_eq!(ok(&out)["image"]["tags"][0], format!("shop-web:{}-dirty", &commit[..8]));
    assert!(stderr(&out).contains("not in git (extra.bin)"), "{}", stderr(&out));
    let pinned = ok(&imgbuild(&[&["--untracked-ok", "*.bin"], &args[..]].concat(), None));
    assert_eq!(pinned["image"]["tags"][0], format!("shop-web:{}", &commit[..8]));
    std::fs::remove_file(context.join("extra.bin")).unwrap();

    // Uncommitted changes are marked in the tag.
    std::fs::write(context.join("app.txt"), "changed").unwrap();
    let dirty = ok(&imgbuild(&args, None));
    assert_eq!(dirty["image"]["tags"][0], format!("shop-web:{}-dirty", &commit[..8]));
    std::fs::remove_dir_all(&dir).unwrap();
}

const CODEBUILD_COMMIT: &str = "cb0123456789abcdef0123456789abcdef012345";
const GITHUB_COMMIT: &str = "9b0123456789abcdef0123456789abcdef012345";

/// CodeBuild (CodePipeline's CODE_ZIP source) and GitHub Actions without a checkout: no `.git`,
/// the commit in the CI system's variable, or given with --revision.
#[test]
fn builds_without_a_repository_from_the_ci_systems_variable_or_revision() {
    let dir = plain("ibplain");
    let context = dir.join("web");
    let c = context.to_str().unwrap();
    let base = format!("BASE={}", env()["EKSKIT_BASE_IMAGE"]);
    let args = ["--name", "shop-web-plain", "--build-arg", &base, c];
    let codebuild = [
        ("CODEBUILD_RESOLVED_SOURCE_VERSION", CODEBUILD_COMMIT),
        ("CODEBUILD_SOURCE_REPO_URL", "https://bot:s3cret@git.example.com/shop/web.git"),
    ];
    let out = imgbuild_with(&codebuild, &args, None);
    let doc = ok(&out);
    assert_schema("image.schema.json", &doc["image"]);
    let image = &doc["image"];
    assert_eq!(image["tags"], serde_json::json!(["shop-web-plain:cb012345"]), "never -dirty: nothing to compare with");
    assert_eq!(image["revision"], CODEBUILD_COMMIT);
    assert_eq!(image["revision_source"], "CODEBUILD_RESOLVED_SOURCE_VERSION");
    assert_eq!(
        image["labels"],
        serde_json::json!({
            "org.opencontainers.image.revision": CODEBUILD_COMMIT,
            "org.opencontainers.image.source": "https://git.example.com/shop/web.git",
        }),
        "no created (no commit time, and a build time would make every build a new image), no version"
    );
    assert!(!doc.to_string().contains("s3cret"));
    let said = format!("revision cb012345… from CODEBUILD_RESOLVED_SOURCE_VERSION (no git repository at {c})");
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
    let id = image["id"].as_str().unwrap();
    assert_eq!(docker(env(), &["run", "--rm", id, "cat", "/revision"]).trim(), CODEBUILD_COMMIT);
    let labels = docker(env(), &["inspect", "-f", "{{json .Config.Labels}}", id]);
    assert!(labels.contains(CODEBUILD_COMMIT) && !labels.contains("created"), "{labels}");

    // --revision wins over the variable; the same context and commit make the same image.
    let other = [("CODEBUILD_RESOLVED_SOURCE_VERSION", GITHUB_COMMIT), codebuild[1]];
    let flagged = ok(&imgbuild_with(&other, &[&args[..], &["--revision", CODEBUILD_COMMIT]].concat(), None));
    assert_eq!(flagged["image"]["revision_source"], "flag");
    assert_eq!(flagged["image"]["id"], image["id"], "same context and revision: the same image");

    let github = [
        ("GITHUB_SHA", GITHUB_COMMIT),
        ("GITHUB_SERVER_URL", "https://github.example.com"),
        ("GITHUB_REPOSITORY", "shop/web"),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ];
    let doc = ok(&imgbuild_with(&github, &args, None));
    let image = &doc["image"];
    assert_eq!(image["tags"][0], "shop-web-plain:9b012345");
    assert_eq!(image["revision_source"], "GITHUB_SHA");
    assert_eq!(image["labels"]["org.opencontainers.image.source"], "https://github.example.com/shop/web");
    assert_eq!(image["labels"]["org.opencontainers.image.created"], "2023-11-14T22:13:20Z", "SOURCE_DATE_EPOCH");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a repository and without a commit to go by, or with one that is not a full commit
/// id, nothing is built.
#[test]
fn without_a_repository_a_missing_or_malformed_commit_is_bad_input() {
    let dir = plain("ibplainbad");
    let c = dir.join("web");
    let c = c.to_str().unwrap();
    let name = format!("shop-web-none-{}", std::process::id());
    let args = ["--name", &name, c];

    let out = imgbuild(&args, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("not in a git repository"), "{text}");
    for hint in ["--revision", "CODEBUILD_RESOLVED_SOURCE_VERSION", "GITHUB_SHA"] {
        assert!(text.contains(hint), "the hint names {hint}: {text}");
    }
    assert!(out.stdout.is_empty());

    let out = imgbuild(&[&args[..], &["--revision", "cb012345"]].concat(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a full commit id") && stderr(&out).contains("hint:"), "{}", stderr(&out));

    // CodeBuild's S3 sources set it to the object's version, which names no commit.
    let s3 =
        [("CODEBUILD_RESOLVED_SOURCE_VERSION", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"), ("GITHUB_SHA", GITHUB_COMMIT)];
    let out = imgbuild_with(&s3, &args, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a commit id"), "{}", stderr(&out));
    assert_eq!(docker(env(), &["image", "ls", "-q", &name]).trim(), "", "nothing was built");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// GitHub Actions checks out with depth 1: git still gives the commit. --revision wins over HEAD,
/// with a warning when they differ.
#[test]
fn a_shallow_clone_is_a_repository_and_revision_overrides_its_head() {
    let dir = repo("ibshallow");
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let clone = std::env::temp_dir().join(unique_stack("ibshallow-clone"));
    let url = format!("file://{}", dir.display());
    git(&dir, &["clone", "-q", "--depth", "1", &url, clone.to_str().unwrap()]);
    assert!(clone.join(".git/shallow").exists(), "a shallow clone");
    let c = clone.join("web");
    let base = format!("BASE={}", env()["EKSKIT_BASE_IMAGE"]);
    let args = ["--name", "shop-web-shallow", "--build-arg", &base, c.to_str().unwrap()];
    let ci = [("GITHUB_SHA", GITHUB_COMMIT)];

    let doc = ok(&imgbuild_with(&ci, &args, None));
    assert_eq!(doc["image"]["revision"], head.as_str(), "the repository beats GITHUB_SHA");
    assert_eq!(doc["image"]["revision_source"], "git");
    assert_eq!(doc["image"]["tags"][0], format!("shop-web-shallow:{}", &head[..8]));

    let out = imgbuild_with(&ci, &[&args[..], &["--revision", CODEBUILD_COMMIT]].concat(), None);
    let doc = ok(&out);
    assert_eq!(doc["image"]["revision"], CODEBUILD_COMMIT);
    assert_eq!(doc["image"]["revision_source"], "flag");
    assert_eq!(doc["image"]["tags"][0], "shop-web-shallow:cb012345");
    let warned = format!("--revision cb012345… is not HEAD ({}…)", &head[..8]);
    assert!(stderr(&out).contains(&warned), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&clone).unwrap();
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

/// imgbuild's document for the real app image from the local Python base, offline (wheels from
/// scripts/app-wheels), tagged `<name>:<revision>`; the caller removes the tag. Each test builds
/// its own tag; the engine's cache makes the builds after the first quick.
fn build_app(prefix: &str) -> Value {
    ok(&build_app_image(env(), &format!("{prefix}-{}", std::process::id()), None))
}

/// The real app image answers /readyz and runs as a non-root user.
#[test]
fn the_comments_app_image_builds_offline_runs_as_non_root_and_is_ready() {
    let doc = build_app("comments-test");
    let tag = doc["image"]["tags"][0].as_str().unwrap();
    assert_eq!(docker(env(), &["inspect", "-f", "{{.Config.User}}", tag]).trim(), "10001:10001");
    let (ready, uid) = ekskit_tests::run_app_until_ready(env(), tag);
    docker(env(), &["rmi", tag]);
    assert_eq!(ready, "{\"status\":\"ok\"}");
    assert_eq!(uid, "10001");
}

/// How the rendered chart (deploy/base/comments.yaml, which tests/e2e/deploy.rs keeps equal to
/// `helm template`) runs the app's container, as `docker run` flags: its environment, the Pod's
/// and the container's securityContext, and its emptyDir volumes as tmpfs mounts; and its schema
/// migration Job's command, as `docker exec` arguments.
struct ChartContainer {
    run_args: Vec<String>,
    port: u64,
    uid: u64,
    liveness: String,
    readiness: String,
    /// The Job's `-e` flags and command.
    migrate_env: Vec<String>,
    migrate: Vec<String>,
}

/// Values the chart takes from Secrets (`valueFrom`), which are not in git: the database is
/// SQLite on the Pod's /tmp volume here.
const SECRET_ENV: [(&str, &str); 1] = [("DATABASE_URL", "sqlite:////tmp/comments.db")];

/// A container's environment as `-e NAME=VALUE` pairs, Secrets' values from SECRET_ENV.
fn env_args(container: &Value) -> Vec<String> {
    let mut args = Vec::new();
    for e in container["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match e.get("value") {
            Some(v) => v.as_str().expect("env values are strings").to_owned(),
            None => {
                let (_, v) = SECRET_ENV.iter().find(|(n, _)| *n == name).unwrap_or_else(|| {
                    panic!("the chart takes {name} from {}: give this test a value for it", e["valueFrom"])
                });
                (*v).to_owned()
            }
        };
        args.extend(["-e".to_owned(), format!("{name}={value}")]);
    }
    args
}

fn chart_container() -> ChartContainer {
    let path = ekskit_tests::repo_root().join("deploy/base/comments.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let objects: Vec<Value> = text
        .split("\n---\n")
        .map(|doc| serde_yaml::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").expect("the rendered chart has a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    let c = containers.iter().find(|c| c["name"] == "comments").expect("a container named comments");
    assert!(c.get("command").is_none() && c.get("args").is_none(), "the test runs the image's own CMD");

    // The Job that applies the schema before the Pods start (MIGRATE_ON_START is off): the same
    // image, its own command and environment.
    let job = objects.iter().find(|o| o["kind"] == "Job").expect("the rendered chart has the migration Job");
    let m = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(m["image"], c["image"], "the Job runs the app's image");
    let migrate_env = env_args(m);
    let migrate = m["command"].as_array().expect("the Job's command").iter().map(|a| a.as_str().unwrap().to_owned());
    let migrate = migrate.collect();

    let mut run_args: Vec<String> = env_args(c);
    let mut arg = |a: &str| run_args.push(a.to_owned());

    let psc = &pod["securityContext"];
    let uid = psc["runAsUser"].as_u64().expect("the Pod sets runAsUser");
    assert!(uid != 0 && psc["runAsNonRoot"] == true);
    let gid = psc["runAsGroup"].as_u64().unwrap_or(uid);
    arg("--user");
    arg(&format!("{uid}:{gid}"));
    if let Some(fs_group) = psc["fsGroup"].as_u64() {
        arg("--group-add");
        arg(&fs_group.to_string());
    }
    for (key, value) in c["securityContext"].as_object().cloned().unwrap_or_default() {
        match (key.as_str(), &value) {
            ("readOnlyRootFilesystem", Value::Bool(true)) => arg("--read-only"),
            ("allowPrivilegeEscalation", Value::Bool(false)) => {
                arg("--security-opt");
                arg("no-new-privileges");
            }
            ("capabilities", caps) => {
                for cap in caps["drop"].as_array().into_iter().flatten() {
                    arg("--cap-drop");
                    arg(cap.as_str().unwrap());
                }
                assert!(caps.get("add").is_none(), "teach this test capabilities.add");
            }
            _ => panic!("teach this test the container's securityContext.{key}: {value}"),
        }
    }

    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let volume = volumes.iter().find(|v| v["name"] == m["name"]).expect("the mount's volume");
        let empty_dir = volume.get("emptyDir").unwrap_or_else(|| panic!("teach this test the volume {volume}"));
        // A fresh emptyDir is an empty directory, like a fresh tmpfs.
        let mut tmpfs = m["mountPath"].as_str().unwrap().to_owned();
        if let Some(size) = empty_dir["sizeLimit"].as_str() {
            let size = size.replace("Mi", "m").replace("Gi", "g");
            tmpfs.push_str(&format!(":size={size}"));
        }
        arg("--tmpfs");
        arg(&tmpfs);
    }

    let port =
        c["ports"].as_array().unwrap().iter().find(|p| p["name"] == "http").unwrap()["containerPort"].as_u64().unwrap();
    arg("-p");
    arg(&format!("127.0.0.1::{port}"));
    let probe = |kind: &str| {
        let get = &c[kind]["httpGet"];
        assert_eq!(get["port"], "http", "{kind} on the http port");
        get["path"].as_str().unwrap_or_else(|| panic!("the chart's {kind} is an httpGet")).to_owned()
    };
    ChartContainer {
        port,
        uid,
        liveness: probe("livenessProbe"),
        readiness: probe("readinessProbe"),
        run_args,
        migrate_env,
        migrate,
    }
}

/// `curl` against the app: the status and the body.
fn http(port: &str, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-X", method, "-w", "\n%{http_code}", &url]);
    if let Some(body) = json {
        cmd.args(["-H", "Content-Type: application/json", "--data", body]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "000"));
    (code.parse().unwrap_or(0), body.to_owned())
}

/// An image tag removed when the test ends, whatever happens.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = Command::new("docker").env("DOCKER_HOST", &env()["DOCKER_HOST"]).args(["rmi", &self.0]).output();
    }
}

/// The response headers of a GET, lowercased names.
fn headers(port: &str, path: &str) -> BTreeMap<String, String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let out = Command::new("curl").args(["-s", "-m", "5", "-o", "/dev/null", "-D", "-", &url]).output().expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A container removed when the test ends, whatever happens.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").env("DOCKER_HOST", &env()["DOCKER_HOST"]).args(["rm", "-f", &self.0]).output();
    }
}

impl Container {
    fn logs(&self) -> String {
        let out = Command::new("docker")
            .env("DOCKER_HOST", &env()["DOCKER_HOST"])
            .args(["logs", "--tail", "40", &self.0])
            .output()
            .expect("docker logs");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

/// Runs `image` as the rendered chart does and waits for its readiness probe's path to answer
/// 200 (at most 20 s), then runs the migration Job's command in it (the SQLite file is on the
/// container's own /tmp; in the cluster the Job runs first, on PostgreSQL); returns the container
/// and its published port.
#[allow(clippy::disallowed_methods, reason = "polls a container the test started")]
fn run_as_the_chart(image: &str, chart: &ChartContainer) -> (Container, String) {
    let mut args = vec!["run", "-d"];
    args.extend(chart.run_args.iter().map(String::as_str));
    args.push(image);
    let container = Container(docker(env(), &args).trim().to_owned());
    let port = docker(env(), &["port", &container.0, &format!("{}/tcp", chart.port)]);
    let port = port.lines().next().and_then(|l| l.rsplit(':').next()).unwrap().trim().to_owned();
    for _ in 0..100 {
        if http(&port, "GET", &chart.readiness, None).0 == 200 {
            let mut exec = vec!["exec"];
            exec.extend(chart.migrate_env.iter().map(String::as_str));
            exec.push(&container.0);
            exec.extend(chart.migrate.iter().map(String::as_str));
            let out = Command::new("docker").env("DOCKER_HOST", &env()["DOCKER_HOST"]).args(&exec).output().unwrap();
            assert!(out.status.success(), "{exec:?}: {}\n{}", stderr(&out), container.logs());
            return (container, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{} never answered 200 on {}:\n{}", image, chart.readiness, container.logs());
}

/// The release blocker: the chart's PROMETHEUS_MULTIPROC_DIR points into an empty emptyDir at
/// /tmp, and every request answered 500. The image runs here with what the rendered chart says:
/// its environment, uid and gid, read-only root, dropped capabilities, a fresh tmpfs at /tmp.
#[test]
fn the_app_image_serves_under_the_rendered_charts_environment_user_and_read_only_root() {
    let chart = chart_container();
    assert!(chart.run_args.iter().any(|a| a.starts_with("PROMETHEUS_MULTIPROC_DIR=")), "{:?}", chart.run_args);
    let doc = build_app("comments-chart");
    let tag = Tag(doc["image"]["tags"][0].as_str().unwrap().to_owned());
    let (container, port) = run_as_the_chart(&tag.0, &chart);

    let checks = [
        ("GET", chart.liveness.as_str(), None),
        ("GET", chart.readiness.as_str(), None),
        ("POST", "/api/comment/new", Some(r#"{"email": "a@example.com", "comment": "hi", "content_id": 7}"#)),
        ("GET", "/api/comment/list/7", None),
    ];
    for (method, path, body) in checks {
        let (status, text) = http(&port, method, path, body);
        assert_eq!(status, 200, "{method} {path}: {text}\n{}", container.logs());
    }
    let (status, metrics) = http(&port, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"http_requests_total{method="POST",route="/api/comment/new",status="200"} 1.0"#),
        "{metrics}"
    );
    assert_eq!(docker(env(), &["exec", &container.0, "id", "-u"]).trim(), chart.uid.to_string());
    let root_write = Command::new("docker")
        .env("DOCKER_HOST", &env()["DOCKER_HOST"])
        .args(["exec", &container.0, "touch", "/app/x"])
        .output()
        .unwrap();
    assert!(!root_write.status.success(), "the root filesystem is read-only");
    drop(container);
}

/// The image knows what it was built from: imgbuild passes the commit (and the version it labels
/// with) as build args, the Dockerfile makes them APP_REVISION/APP_VERSION, and the app answers
/// them at /version and in the X-Revision header of every response.
#[test]
fn the_app_image_answers_version_with_the_commit_imgbuild_reported() {
    let doc = build_app("comments-version");
    let image = &doc["image"];
    let commit = image["revision"].as_str().unwrap();
    assert_eq!(commit.len(), 40);
    let tag = Tag(image["tags"][0].as_str().unwrap().to_owned());
    let (container, port) = run_as_the_chart(&tag.0, &chart_container());

    let (status, body) = http(&port, "GET", "/version", None);
    assert_eq!(status, 200, "{body}\n{}", container.logs());
    let version: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        version,
        serde_json::json!({
            "revision": commit,
            "version": image["labels"]["org.opencontainers.image.version"],
        })
    );
    for path in ["/healthz", "/api/comment/list/none", "/metrics"] {
        assert_eq!(headers(&port, path).get("x-revision").map(String::as_str), Some(commit), "{path}");
    }
    let env = docker(env(), &["inspect", "-f", "{{json .Config.Env}}", &tag.0]);
    assert!(env.contains(&format!("APP_REVISION={commit}")), "{env}");
    drop(container);
}
