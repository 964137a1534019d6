//! Test kit for the end-to-end tests: the local stack's environment, the real binaries, an EC2
//! client for looking behind the tools' backs, and the committed JSON Schemas.
//!
//! Tests start the stack themselves (`scripts/devstack up`, idempotent and fast when warm).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod codebuild;
pub mod faults;
pub mod pod_security;
pub mod timing;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The devstack the tests use: stack 1 unless EKSKIT_STACK_INDEX says otherwise, so that a test run
/// never touches what `make up` made on stack 0 (its ports, state, cluster and registry).
pub fn devstack() -> Command {
    let mut cmd = Command::new(repo_root().join("scripts/devstack"));
    if std::env::var_os("EKSKIT_STACK_INDEX").is_none() {
        cmd.env("EKSKIT_STACK_INDEX", TEST_STACK_INDEX);
    }
    cmd
}

/// The stack index tests run on when none is given.
pub const TEST_STACK_INDEX: &str = "1";

/// The stack's environment (`scripts/devstack env`), once the given components are up (all of
/// them when none are given).
///
/// Every end-to-end test is in one process (tests/e2e), and each module needs its own
/// components: a component is started (`scripts/devstack up`) the first time a test needs it, and
/// only while no other test runs, as when each module was a test binary of its own. The calling
/// test then holds a shared hold on the stack until it ends (see [`stack_alone`]), so call this
/// from the test's own thread.
pub fn stack_env(components: &[&str]) -> &'static BTreeMap<String, String> {
    let wanted: BTreeSet<String> = components.iter().map(|c| (*c).to_owned()).collect();
    if let Some(env) = started(&wanted) {
        hold_shared();
        return env;
    }
    match HELD.with(|h| h.borrow().is_some()) {
        // Already holding the stack (alone, or a test that asks for more later): start them now.
        true => start(&wanted),
        false => {
            let alone = SHARED.write().unwrap_or_else(PoisonError::into_inner);
            let env = start(&wanted);
            drop(alone);
            hold_shared();
            env
        }
    }
}

/// Holds the stack for the calling test alone until the returned value is dropped: for a test
/// that changes what every other test shares on the stack (tests/e2e/compose.rs installs and
/// removes Argo CD, the add-ons' CRDs and the monitoring stack). It waits for the running tests
/// to end, and no other test starts until it is dropped. Take it before [`stack_env`].
pub fn stack_alone() -> StackAlone {
    // A shared hold of this very thread would never let the write through.
    HELD.with(|h| h.borrow_mut().take());
    let guard = SHARED.write().unwrap_or_else(PoisonError::into_inner);
    HELD.with(|h| *h.borrow_mut() = Some(Held::Alone));
    StackAlone { _guard: guard }
}

/// See [`stack_alone`].
pub struct StackAlone {
    _guard: RwLockWriteGuard<'static, ()>,
}

impl Drop for StackAlone {
    fn drop(&mut self) {
        HELD.with(|h| h.borrow_mut().take());
    }
}

/// Shared by every running test; written by [`stack_alone`] and while components start.
static SHARED: RwLock<()> = RwLock::new(());

/// The components started so far (`None`: all of them), and the environment read after the last
/// start.
static STARTED: Mutex<Started> = Mutex::new(None);

type Started = Option<(Option<BTreeSet<String>>, &'static BTreeMap<String, String>)>;

/// What the current test thread holds of [`SHARED`]; dropped with the thread when the test ends.
enum Held {
    Shared { _guard: RwLockReadGuard<'static, ()> },
    Alone,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

fn hold_shared() {
    HELD.with(|h| {
        let mut held = h.borrow_mut();
        if held.is_none() {
            *held = Some(Held::Shared { _guard: SHARED.read().unwrap_or_else(PoisonError::into_inner) });
        }
    });
}

/// The environment, if `wanted` (empty: all) is already up.
fn started(wanted: &BTreeSet<String>) -> Option<&'static BTreeMap<String, String>> {
    let state = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    up_env(&state, wanted)
}

fn up_env(state: &Started, wanted: &BTreeSet<String>) -> Option<&'static BTreeMap<String, String>> {
    let (up, env) = state.as_ref()?;
    let covered = match up {
        None => true,
        Some(up) => !wanted.is_empty() && wanted.is_subset(up),
    };
    covered.then_some(*env)
}

/// `scripts/devstack up <wanted>` unless they are up already, then the environment read afresh.
fn start(wanted: &BTreeSet<String>) -> &'static BTreeMap<String, String> {
    let mut state = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(env) = up_env(&state, wanted) {
        return env;
    }
    let status = devstack().arg("up").args(wanted).status().expect("running scripts/devstack");
    assert!(status.success(), "scripts/devstack up {wanted:?} failed");
    let out = devstack().arg("env").output().expect("running scripts/devstack env");
    assert!(out.status.success());
    let env: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    // Leaked once per start (a handful per run): the tests keep the references they were given.
    let env: &'static BTreeMap<String, String> = Box::leak(Box::new(env));
    let up = match state.take() {
        _ if wanted.is_empty() => None,
        Some((None, _)) => None,
        Some((Some(mut up), _)) => {
            up.extend(wanted.iter().cloned());
            Some(up)
        }
        None => Some(wanted.clone()),
    };
    *state = Some((up, env));
    env
}

/// A stack name no other test (or earlier run against the same emulator) uses.
pub fn unique_stack(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// The path of a workspace binary, built next to this test's own executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --workspace` first", path.display());
    path
}

/// A command for `tool` with a clean environment: only PATH, HOME and the given variables, so
/// nothing from the developer's shell (or AWS profile) leaks in.
pub fn tool(name: &str, env: &BTreeMap<String, String>) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // Never let an SDK probe the instance metadata address, whatever the test removes.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    // Empty AWS config files: no profile of the machine's user takes part.
    cmd.env("AWS_CONFIG_FILE", "/dev/null");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    cmd.envs(env);
    cmd
}

/// Runs `cmd` with `stdin` piped in (or a closed stdin) and returns its output.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning the tool");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("writing stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("waiting for the tool")
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `value` is valid against `schemas/<file>`.
pub fn assert_schema(file: &str, value: &Value) {
    let text = std::fs::read_to_string(repo_root().join("schemas").join(file)).expect("reading the schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{file}: {errors:#?}\nin {value:#}");
}

/// An async runtime for SDK calls made by the tests themselves.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(fut)
}

/// SDK configuration pointing at the stack's emulator.
pub fn aws_config(env: &BTreeMap<String, String>, region: &str) -> aws_config::SdkConfig {
    let creds = aws_sdk_ec2::config::Credentials::new(
        &env["AWS_ACCESS_KEY_ID"],
        &env["AWS_SECRET_ACCESS_KEY"],
        None,
        None,
        "test",
    );
    block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&env["AWS_ENDPOINT_URL"])
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(creds)
            .load(),
    )
}

/// Every live EC2 resource tagged `ekskit.io/stack=<stack>`, as `kind id` lines, looked up
/// resource type by resource type.
pub fn owned_resources(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<String> {
    use aws_sdk_ec2::types::Filter;
    let f = || Filter::builder().name("tag:ekskit.io/stack").values(stack).build();
    block_on(async {
        let mut found = Vec::new();
        let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
        found.extend(vpcs.vpcs().iter().map(|v| format!("vpc {}", v.vpc_id().unwrap())));
        let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
        found.extend(subnets.subnets().iter().map(|s| format!("subnet {}", s.subnet_id().unwrap())));
        let igws = ec2.describe_internet_gateways().filters(f()).send().await.unwrap();
        found.extend(igws.internet_gateways().iter().map(|i| format!("igw {}", i.internet_gateway_id().unwrap())));
        let nats = ec2.describe_nat_gateways().filter(f()).send().await.unwrap();
        // moto ignores tag filters on DescribeNatGateways: check the tag here.
        let tagged = |tags: &[aws_sdk_ec2::types::Tag]| {
            tags.iter().any(|t| t.key() == Some("ekskit.io/stack") && t.value() == Some(stack))
        };
        found.extend(
            nats.nat_gateways()
                .iter()
                .filter(|n| tagged(n.tags()))
                .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                .map(|n| format!("nat {}", n.nat_gateway_id().unwrap())),
        );
        let eips = ec2.describe_addresses().filters(f()).send().await.unwrap();
        found.extend(eips.addresses().iter().map(|a| format!("eip {}", a.allocation_id().unwrap())));
        let rts = ec2.describe_route_tables().filters(f()).send().await.unwrap();
        found.extend(rts.route_tables().iter().map(|r| format!("rtb {}", r.route_table_id().unwrap())));
        let eps = ec2.describe_vpc_endpoints().filters(f()).send().await.unwrap();
        found.extend(
            eps.vpc_endpoints()
                .iter()
                .filter(|e| e.state().map(|s| s.as_str().to_ascii_lowercase()) != Some("deleted".into()))
                .map(|e| format!("vpce {}", e.vpc_endpoint_id().unwrap())),
        );
        let sgs = ec2.describe_security_groups().filters(f()).send().await.unwrap();
        found.extend(sgs.security_groups().iter().map(|g| format!("sg {}", g.group_id().unwrap())));
        found.sort();
        found
    })
}

/// How many of `lines` start with `kind `.
pub fn count(lines: &[String], kind: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(&format!("{kind} "))).count()
}

/// `docker ARGS` against the stack's engine; panics with its stderr when it fails.
pub fn docker(env: &BTreeMap<String, String>, args: &[&str]) -> String {
    let out =
        Command::new("docker").env("DOCKER_HOST", &env["DOCKER_HOST"]).args(args).output().expect("running docker");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the comments app image, waits for `/readyz` and returns its answer and the uid the
/// process runs as; the container is removed.
#[allow(clippy::disallowed_methods, reason = "polls a container the test started, not an AWS or Kubernetes resource")]
pub fn run_app_until_ready(env: &BTreeMap<String, String>, image: &str) -> (String, String) {
    let id = docker(env, &["run", "-d", "-p", "127.0.0.1::8000", "-e", "WEB_CONCURRENCY=1", image]).trim().to_owned();
    let port = docker(env, &["port", &id, "8000/tcp"]).trim().rsplit(':').next().unwrap_or_default().to_owned();
    let mut ready = String::new();
    for _ in 0..50 {
        let out =
            Command::new("curl").args(["-sf", &format!("http://127.0.0.1:{port}/readyz")]).output().expect("curl");
        if out.status.success() {
            ready = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let uid = docker(env, &["exec", &id, "id", "-u"]);
    docker(env, &["rm", "-f", &id]);
    (ready.trim().to_owned(), uid.trim().to_owned())
}

/// `git ARGS` in `dir` with a throwaway identity and `main` as the first branch; panics with its
/// stderr when it fails; returns its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("running git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository under the stack's git root whose `main` holds one commit of what `seed`
/// writes into an empty work tree; returns its name (`<name>.git`).
pub fn git_remote(env: &BTreeMap<String, String>, seed: impl FnOnce(&Path)) -> String {
    let name = format!("{}.git", unique_stack("remote"));
    let root = PathBuf::from(&env["EKSKIT_GIT_ROOT"]);
    git(&root, &["init", "-q", "--bare", "--initial-branch=main", &name]);
    let work = std::env::temp_dir().join(unique_stack("seed"));
    std::fs::create_dir_all(&work).expect("a seed directory");
    git(&work, &["init", "-q"]);
    seed(&work);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "seed"]);
    git(&work, &["push", "-q", root.join(&name).to_str().expect("a UTF-8 path"), "HEAD:main"]);
    std::fs::remove_dir_all(&work).ok();
    name
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding 127.0.0.1:0")
        .local_addr()
        .expect("a local address")
        .port()
}

/// A copy of a chart devstack took from a module zip, ready for `helm template`: External
/// Secrets' chart declares an optional subchart (bitwarden-sdk-server, disabled) that the zip
/// lacks, so the copy drops the chart's dependencies. The caller removes the copy.
pub fn renderable_chart(chart: &Path) -> PathBuf {
    let work = std::env::temp_dir().join(unique_stack("chart"));
    let status = Command::new("cp").arg("-r").arg(chart).arg(&work).status().expect("running cp");
    assert!(status.success(), "copying {}", chart.display());
    let chart_yaml = work.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("reading Chart.yaml");
    if let Some((head, _)) = text.split_once("\ndependencies:") {
        std::fs::write(&chart_yaml, format!("{head}\n")).expect("writing Chart.yaml");
        let _ = std::fs::remove_file(work.join("Chart.lock"));
    }
    work
}

/// `<EKSKIT_REGISTRY>/<name>:1` and `:2`: the stack's base image (local/debian:bookworm, with a
/// shell and coreutils) pushed to the stack's own registry under two tags, once per test run,
/// for Pods that really run on the stack's node (`command: [sleep, infinity]` and the like). The
/// node pulls it under that very name: containerd maps the registry's 127.0.0.1 name to the host
/// end of its link. Two tags give a rollout a new image to roll to. Needs the `registry` and
/// `base` components.
pub fn runnable_image(env: &BTreeMap<String, String>, name: &str) -> [String; 2] {
    static PUSHED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let refs = ["1", "2"].map(|tag| format!("{}/{name}:{tag}", env["EKSKIT_REGISTRY"]));
    let mut pushed = PUSHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !pushed.iter().any(|n| n == name) {
        for image in &refs {
            docker(env, &["tag", &env["EKSKIT_BASE_IMAGE"], image]);
            docker(env, &["push", "--quiet", image]);
        }
        pushed.push(name.to_owned());
    }
    refs
}

/// Runs the workspace binary `name` ([`tool`]) with `args`, `stdin` piped in ([`run`]).
pub fn run_tool(name: &str, env: &BTreeMap<String, String>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool(name, env);
    cmd.args(args);
    run(cmd, stdin)
}

/// Asserts the run of tool `name` succeeded and returns the JSON document it printed.
pub fn ok_json(name: &str, out: &Output) -> Value {
    assert!(out.status.success(), "{name} failed ({:?}):\n{}", out.status, stderr(out));
    stdout_json(out)
}

/// `program ARGS` with the stack's environment added; panics with its stderr when it fails.
pub fn command(program: impl AsRef<OsStr>, env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    let program = program.as_ref();
    let out = Command::new(program).envs(env).args(args).output().expect("running a program");
    assert!(out.status.success(), "{} {args:?}: {}", program.display(), String::from_utf8_lossy(&out.stderr));
    out
}

/// The kubectl built with the stack's control plane (`EKSKIT_KUBE_BIN`).
pub fn kubectl_path(env: &BTreeMap<String, String>) -> PathBuf {
    Path::new(&env["EKSKIT_KUBE_BIN"]).join("kubectl")
}

/// `kubectl ARGS` against the stack's control plane (the stack's environment, so its
/// KUBECONFIG): its output, whether it succeeded or not.
pub fn kubectl(env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    Command::new(kubectl_path(env)).envs(env).args(args).output().expect("running kubectl")
}

/// `helm ARGS` with the stack's Helm (`EKSKIT_HELM`): its output, whether it succeeded or not.
pub fn helm(env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    Command::new(&env["EKSKIT_HELM"]).args(args).output().expect("running helm")
}

/// Polls `check` every `every` until it gives a value; panics naming `what` after `limit`.
#[allow(clippy::disallowed_methods, reason = "the tests' own poll, for what the tools under test do")]
pub fn wait_for<T>(what: &str, limit: Duration, every: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(every);
    }
}

/// A new empty directory under the system's temporary directory, named after `prefix`.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_stack(prefix));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Writes `text` to `dir/file`, making the directories it needs.
pub fn write_file(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().expect("a parent directory")).expect("a directory");
    std::fs::write(path, text).expect("writing a file");
}

/// A new clone of `url` under the system's temporary directory.
pub fn git_clone(url: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_stack("clone"));
    git(Path::new("/"), &["clone", "-q", url, dir.to_str().expect("a UTF-8 path")]);
    dir
}

/// The app's pinned wheels in app/.wheels (scripts/app-wheels), downloaded once per test run:
/// every run rewrites the directory, so two at once (tests run in parallel) would break it.
pub fn app_wheels() {
    static WHEELS: OnceLock<()> = OnceLock::new();
    WHEELS.get_or_init(|| {
        let wheels = Command::new(repo_root().join("scripts/app-wheels")).status().expect("running scripts/app-wheels");
        assert!(wheels.success(), "scripts/app-wheels failed");
    });
}

/// imgbuild of the comments app (app/) named `name`, from the stack's Python base image and
/// offline (the wheels of [`app_wheels`], `PIP_NO_INDEX=1`, which requirements.lock pins), with
/// `stdin` piped in.
pub fn build_app_image(env: &BTreeMap<String, String>, name: &str, stdin: Option<&str>) -> Output {
    app_wheels();
    let base = format!("BASE_IMAGE={}", env["EKSKIT_PYTHON_IMAGE"]);
    let app = repo_root().join("app");
    let args = [
        "--name",
        name,
        "--build-arg",
        &base,
        "--build-arg",
        "PIP_NO_INDEX=1",
        "--untracked-ok",
        ".wheels/**",
        app.to_str().expect("a UTF-8 path"),
    ];
    run_tool("imgbuild", env, &args, stdin)
}

/// A new secret holding `value` in the emulator's Secrets Manager (us-east-1), named after
/// `prefix`; returns its ARN.
pub fn create_secret(env: &BTreeMap<String, String>, prefix: &str, value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&aws_config(env, "us-east-1"));
    let out = block_on(client.create_secret().name(unique_stack(prefix)).secret_string(value).send());
    out.expect("CreateSecret").arn().expect("an ARN").to_owned()
}
