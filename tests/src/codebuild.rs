//! A local CodeBuild: runs a project's buildspec (version 0.2) the way AWS CodeBuild runs a build
//! that CodePipeline started, so that the tests meet what the release meets there:
//!
//! - the source is CodePipeline's artifact, a zip of the commit's tree **without `.git`** and
//!   without file modes, unpacked into `CODEBUILD_SRC_DIR`; further input artifacts go to
//!   `CODEBUILD_SRC_DIR_<name>`;
//! - the phases run in order (install, pre_build, build, post_build) in a container of the
//!   project's image; a failed install or pre_build ends the build, a failed build still runs
//!   post_build (`CODEBUILD_BUILD_SUCCEEDING=0`), a phase's `finally` always runs, `on-failure:
//!   CONTINUE` goes on; artifacts are uploaded unless install or pre_build failed, and a build
//!   whose `artifacts.files` match nothing fails;
//! - each command runs in a new shell that starts from the environment and directory the last
//!   one left (what version 0.2 promises), with no `pipefail` unless the command sets it;
//! - the environment: CodeBuild's own variables, then `env.variables` and `env.secrets-manager`
//!   (read from Secrets Manager, masked in the log), then the project's variables, which win;
//! - privileged mode's Docker engine is the stack's engine, its socket mounted where the
//!   container's Docker clients look; the container shares the host's network, where the
//!   stack's emulator, registry and git remotes listen.
//!
//! What it does not do: `env.parameter-store` and `runtime-versions` (refused: nothing here
//! needs them), caches, reports, batch builds, `run-as`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::unique_stack;

pub const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

/// One input artifact: a zip CodePipeline would hand the build.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub zip: PathBuf,
}

/// What a CodePipeline build action asks CodeBuild for.
#[derive(Debug, Clone)]
pub struct Request {
    pub project: String,
    pub pipeline: String,
    pub image: String,
    /// The buildspec's path inside the primary source.
    pub buildspec: String,
    /// The primary source, and the commit it was made from.
    pub source: Artifact,
    pub commit: String,
    /// Further input artifacts (`CODEBUILD_SRC_DIR_<name>`).
    pub secondary: Vec<Artifact>,
    /// The project's environment variables (plaintext).
    pub variables: Vec<(String, String)>,
    /// Host environment the container also gets (the stack's AWS endpoint and credentials
    /// stand in for the service role's).
    pub host: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub name: String,
    /// SUCCEEDED, FAILED or SKIPPED.
    pub status: &'static str,
}

/// A finished build; its working directory goes when it is dropped.
#[derive(Debug)]
pub struct Build {
    pub succeeded: bool,
    pub phases: Vec<Phase>,
    /// What CloudWatch Logs would hold: the runner's lines and the commands' output, secrets masked.
    pub log: String,
    /// The uploaded artifacts' files, as the output artifact's zip would hold them.
    pub artifacts: PathBuf,
    pub exported: BTreeMap<String, String>,
    work: PathBuf,
}

impl Build {
    pub fn phase(&self, name: &str) -> &'static str {
        self.phases.iter().find(|p| p.name == name).map(|p| p.status).unwrap_or("SKIPPED")
    }

    /// The output artifact as CodePipeline stores it: a zip of the uploaded files.
    pub fn artifact_zip(&self, name: &str) -> Artifact {
        let zip = self.work.join(format!("{name}.zip"));
        zip_dir(&self.artifacts, &zip);
        Artifact { name: name.to_owned(), zip }
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.work).ok();
    }
}

/// CodePipeline's CODE_ZIP artifact of `commit` in the repository at `repo`: the tree, no `.git`.
pub fn source_zip(repo: &Path, commit: &str, name: &str) -> Artifact {
    let zip = std::env::temp_dir().join(format!("{}.zip", unique_stack("source")));
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=zip", "-o"])
        .arg(&zip)
        .arg(commit)
        .output()
        .expect("running git archive");
    assert!(out.status.success(), "git archive: {}", String::from_utf8_lossy(&out.stderr));
    Artifact { name: name.to_owned(), zip }
}

/// Unpacks like CodeBuild's download of a CodePipeline artifact: files only, modes not kept.
fn unzip(zip: &Path, into: &Path) {
    let status = Command::new("python3")
        .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])"])
        .arg(zip)
        .arg(into)
        .status()
        .expect("running python3");
    assert!(status.success(), "unzipping {}", zip.display());
}

fn zip_dir(dir: &Path, zip: &Path) {
    let script = "import os, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   for root, _, files in os.walk(sys.argv[1]):\n\
        \x20       for f in sorted(files):\n\
        \x20           p = os.path.join(root, f)\n\
        \x20           z.write(p, os.path.relpath(p, sys.argv[1]))\n";
    let status = Command::new("python3").args(["-c", script]).arg(dir).arg(zip).status().expect("running python3");
    assert!(status.success(), "zipping {}", dir.display());
}

/// The buildspec's parts the runner acts on.
struct Spec {
    shell: String,
    variables: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    exported: Vec<String>,
    phases: BTreeMap<String, PhaseSpec>,
    files: Vec<String>,
    base_directory: Option<String>,
    discard_paths: bool,
}

#[derive(Default)]
struct PhaseSpec {
    commands: Vec<String>,
    finally: Vec<String>,
    continue_on_failure: bool,
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A list of strings; anything else (a command YAML read as a mapping because of `: ` in it, say)
/// is the YAML_FILE_ERROR CodeBuild reports.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let item = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(scalar(v)),
        other => Err(format!("YAML_FILE_ERROR: {what}: {other} is not a string (quote it)")),
    };
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(item).collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(format!("YAML_FILE_ERROR: {what} is not a list: {other}")),
    }
}

fn parse(text: &str) -> Result<Spec, String> {
    let spec: Value = serde_yaml::from_str(text).map_err(|e| format!("YAML_FILE_ERROR: {e}"))?;
    if scalar(&spec["version"]) != "0.2" {
        return Err(format!("YAML_FILE_ERROR: the runner reads version 0.2, not {}", spec["version"]));
    }
    let env = &spec["env"];
    let pairs = |key: &str| -> Vec<(String, String)> {
        env[key].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()).unwrap_or_default()
    };
    if env.get("parameter-store").is_some_and(|p| !p.is_null()) {
        return Err("env.parameter-store is not supported by the local runner".into());
    }
    let mut phases = BTreeMap::new();
    if let Some(map) = spec["phases"].as_object() {
        for (name, p) in map {
            if !PHASES.contains(&name.as_str()) {
                return Err(format!("YAML_FILE_ERROR: unknown phase {name}"));
            }
            if p.get("runtime-versions").is_some() {
                return Err(format!("{name}: runtime-versions is not supported by the local runner"));
            }
            let on_failure = p["on-failure"].as_str().unwrap_or("ABORT");
            if on_failure != "ABORT" && on_failure != "CONTINUE" {
                return Err(format!("YAML_FILE_ERROR: {name}: on-failure is ABORT or CONTINUE, not {on_failure}"));
            }
            let phase = PhaseSpec {
                commands: strings(&p["commands"], "commands")?,
                finally: strings(&p["finally"], "finally")?,
                continue_on_failure: on_failure == "CONTINUE",
            };
            phases.insert(name.clone(), phase);
        }
    }
    let artifacts = &spec["artifacts"];
    Ok(Spec {
        shell: env["shell"].as_str().unwrap_or("/bin/sh").to_owned(),
        variables: pairs("variables"),
        secrets: pairs("secrets-manager"),
        exported: strings(&env["exported-variables"], "exported-variables")?,
        phases,
        files: strings(&artifacts["files"], "artifacts.files")?,
        base_directory: artifacts["base-directory"].as_str().map(str::to_owned),
        discard_paths: matches!(scalar(&artifacts["discard-paths"]).as_str(), "yes" | "true"),
    })
}

/// `secret-id:json-key:version-stage:version-id`, where the id may be an ARN (itself holding
/// colons), as the buildspec reference writes a secrets-manager reference.
fn secret_reference(reference: &str) -> (String, Option<String>, Option<String>, Option<String>) {
    let parts: Vec<&str> = reference.split(':').collect();
    let (id, rest) = if reference.starts_with("arn:") && parts.len() >= 7 {
        (parts[..7].join(":"), &parts[7..])
    } else {
        (parts[0].to_owned(), &parts[1..])
    };
    let part = |i: usize| rest.get(i).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
    (id, part(0), part(1), part(2))
}

fn resolve_secret(host: &BTreeMap<String, String>, reference: &str) -> Result<String, String> {
    let (id, key, stage, version) = secret_reference(reference);
    let client = aws_sdk_secretsmanager::Client::new(&crate::aws_config(host, "us-east-1"));
    let got = crate::block_on(
        client.get_secret_value().secret_id(&id).set_version_stage(stage).set_version_id(version).send(),
    )
    .map_err(|e| format!("Secrets Manager error: {reference}: {e}"))?;
    let text = got.secret_string().unwrap_or_default().to_owned();
    match key {
        None => Ok(text),
        Some(k) => {
            let doc: Value = serde_json::from_str(&text).map_err(|_| format!("secret {id} is not JSON"))?;
            doc.get(&k).map(scalar).ok_or_else(|| format!("secret {id} has no key {k}"))
        }
    }
}

fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Runs the build. Panics only on the runner's own failures (Docker not answering); a build
/// that fails is a `Build` with `succeeded: false`.
pub fn run(request: &Request, host: &BTreeMap<String, String>) -> Build {
    let work = std::env::temp_dir().join(unique_stack("codebuild"));
    let n = std::process::id() % 100_000;
    let (root, mount) = (work.join("output"), format!("/codebuild/output/src{n}"));
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("a source directory");
    unzip(&request.source.zip, &src);
    for a in &request.secondary {
        let dir = root.join(&a.name);
        std::fs::create_dir_all(&dir).expect("a secondary source directory");
        unzip(&a.zip, &dir);
    }
    let artifacts = work.join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("an artifacts directory");
    let mut build = Build {
        succeeded: false,
        phases: Vec::new(),
        log: String::new(),
        artifacts,
        exported: BTreeMap::new(),
        work: work.clone(),
    };
    let say = |b: &mut Build, line: &str| b.log.push_str(&format!("[Container] {line}\n"));

    let text = match std::fs::read_to_string(src.join(&request.buildspec)) {
        Ok(t) => t,
        Err(e) => {
            say(&mut build, &format!("YAML_FILE_ERROR: reading {}: {e}", request.buildspec));
            return build;
        }
    };
    let spec = match parse(&text) {
        Ok(s) => s,
        Err(e) => {
            say(&mut build, &e);
            return build;
        }
    };
    let mut secrets = Vec::new();
    let mut env: Vec<(String, String)> = codebuild_variables(request, &mount);
    env.extend(spec.variables.iter().cloned());
    for (name, reference) in &spec.secrets {
        match resolve_secret(host, reference) {
            Ok(v) => {
                secrets.push(v.clone());
                env.push((name.clone(), v));
            }
            Err(e) => {
                say(&mut build, &format!("Phase complete: DOWNLOAD_SOURCE State: FAILED: {e}"));
                return build;
            }
        }
    }
    env.extend(request.variables.iter().cloned());
    env.extend(request.host.iter().cloned());

    let state_dir = work.join("state");
    std::fs::create_dir_all(&state_dir).expect("a state directory");
    let container = Container::start(request, host, &work, &mount);
    let exports: String = env.iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect();
    std::fs::write(state_dir.join("env"), exports).expect("writing the environment");
    std::fs::write(state_dir.join("cwd"), format!("{mount}/src\n")).expect("writing the directory");

    let mut succeeding = true;
    let mut upload = true;
    for name in PHASES {
        let Some(phase) = spec.phases.get(name) else { continue };
        let set = format!("export CODEBUILD_BUILD_SUCCEEDING={}\n", u8::from(succeeding));
        append(&state_dir.join("env"), &set);
        say(&mut build, &format!("Entering phase {}", name.to_uppercase()));
        let mut ok = true;
        for command in &phase.commands {
            if !container.command(&mut build, &spec.shell, &state_dir, command) {
                ok = false;
                break;
            }
        }
        for command in &phase.finally {
            ok &= container.command(&mut build, &spec.shell, &state_dir, command);
        }
        let status = if ok { "SUCCEEDED" } else { "FAILED" };
        say(&mut build, &format!("Phase complete: {} State: {status}", name.to_uppercase()));
        build.phases.push(Phase { name: name.to_owned(), status });
        if ok || phase.continue_on_failure {
            succeeding &= ok || !phase.continue_on_failure;
            continue;
        }
        succeeding = false;
        match name {
            // A failed build still runs post_build; install and pre_build end the build.
            "build" => continue,
            "post_build" => break,
            _ => {
                upload = false;
                break;
            }
        }
    }
    // Each phase with on-failure CONTINUE that failed leaves the build failed all the same.
    let failed_phase = build.phases.iter().any(|p| p.status == "FAILED");
    build.exported = container.exported(&spec.exported);
    if upload {
        let base = spec.base_directory.as_deref().map(|b| src.join(b)).unwrap_or_else(|| src.clone());
        let copied = collect(&base, &spec.files, spec.discard_paths, &build.artifacts);
        let ok = spec.files.is_empty() || copied > 0;
        say(
            &mut build,
            &if ok {
                format!("Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED ({copied} files)")
            } else {
                "Phase complete: UPLOAD_ARTIFACTS State: FAILED: CLIENT_ERROR: no matching artifact paths found".into()
            },
        );
        build.succeeded = ok && !failed_phase;
    }
    drop(container);
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        build.log = build.log.replace(s.as_str(), "***");
    }
    build
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).expect("opening the environment");
    f.write_all(text.as_bytes()).expect("writing the environment");
}

/// What CodeBuild sets in every build it runs for CodePipeline.
fn codebuild_variables(request: &Request, mount: &str) -> Vec<(String, String)> {
    let id = format!("{}:{}", request.project, unique_stack("build"));
    let region = "us-east-1";
    let account = "123456789012";
    let mut vars = vec![
        ("CODEBUILD_BUILD_ID".into(), id.clone()),
        ("CODEBUILD_BUILD_ARN".into(), format!("arn:aws:codebuild:{region}:{account}:build/{id}")),
        ("CODEBUILD_BUILD_NUMBER".into(), "1".into()),
        ("CODEBUILD_BUILD_IMAGE".into(), request.image.clone()),
        ("CODEBUILD_INITIATOR".into(), format!("codepipeline/{}", request.pipeline)),
        ("CODEBUILD_SRC_DIR".into(), format!("{mount}/src")),
        (
            "CODEBUILD_SOURCE_VERSION".into(),
            format!(
                "arn:aws:s3:::codepipeline-{region}-artifacts/{}/SourceOutp/{}",
                request.pipeline,
                &request.commit[..7]
            ),
        ),
        ("CODEBUILD_RESOLVED_SOURCE_VERSION".into(), request.commit.clone()),
        ("CODEBUILD_CI".into(), "true".into()),
        ("CODEBUILD_START_TIME".into(), "0".into()),
        ("HOME".into(), "/root".into()),
        ("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ("AWS_REGION".into(), region.into()),
        ("AWS_DEFAULT_REGION".into(), region.into()),
        ("DOCKER_HOST".into(), "unix:///var/run/docker.sock".into()),
    ];
    for a in &request.secondary {
        vars.push((format!("CODEBUILD_SRC_DIR_{}", a.name), format!("{mount}/{}", a.name)));
    }
    vars
}

/// Where the container sees the runner's state: the environment and directory between commands.
const STATE: &str = "/codebuild/state";

/// The build container: up for the whole build, each command a `docker exec`.
struct Container {
    id: String,
    docker_env: Vec<(String, String)>,
}

impl Container {
    fn start(request: &Request, host: &BTreeMap<String, String>, work: &Path, mount: &str) -> Container {
        let docker_host = host.get("DOCKER_HOST").cloned().unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        let socket = docker_host.strip_prefix("unix://").expect("the stack's engine listens on a unix socket");
        let docker_env = vec![("DOCKER_HOST".to_owned(), docker_host.clone())];
        let out = Command::new("docker")
            .envs(docker_env.iter().cloned())
            .args(["run", "-d", "--rm", "--network", "host", "--entrypoint", "sleep"])
            .arg("-v")
            .arg(format!("{}:{}", work.join("output").display(), mount))
            .arg("-v")
            .arg(format!("{}:{STATE}", work.join("state").display()))
            .arg("-v")
            .arg(format!("{socket}:/var/run/docker.sock"))
            .args(["--label", "ekskit.io/test=codebuild", &request.image, "infinity"])
            .output()
            .expect("running docker");
        assert!(out.status.success(), "starting the build container: {}", String::from_utf8_lossy(&out.stderr));
        Container { id: String::from_utf8_lossy(&out.stdout).trim().to_owned(), docker_env }
    }

    /// Runs one command where the last left off; true when it exits 0.
    fn command(&self, build: &mut Build, shell: &str, state: &Path, command: &str) -> bool {
        build.log.push_str(&format!("[Container] Running command {command}\n"));
        // The state (exported variables, directory) is saved on the way out, whatever the
        // command does, even `exit`.
        let wrapper = r#". "$0/env"; cd "$(cat "$0/cwd")" || exit 1
trap 'export -p > "$0/env.next"; pwd > "$0/cwd.next"' EXIT
eval "$1""#;
        let out = Command::new("docker")
            .envs(self.docker_env.iter().cloned())
            .args(["exec", &self.id, shell, "-c", &format!("{{ {wrapper}\n}} 2>&1"), STATE, command])
            .output()
            .expect("running docker exec");
        build.log.push_str(&String::from_utf8_lossy(&out.stdout));
        build.log.push_str(&String::from_utf8_lossy(&out.stderr));
        if state.join("env.next").exists() {
            std::fs::rename(state.join("env.next"), state.join("env")).expect("keeping the environment");
            std::fs::rename(state.join("cwd.next"), state.join("cwd")).expect("keeping the directory");
        }
        if !out.status.success() {
            let code = out.status.code().unwrap_or(-1);
            build
                .log
                .push_str(&format!("[Container] Command did not exit successfully {command} exit status {code}\n"));
        }
        out.status.success()
    }

    fn exported(&self, names: &[String]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|name| {
                let script = format!(". {STATE}/env; printf %s \"${{{name}}}\"");
                let out = Command::new("docker")
                    .envs(self.docker_env.iter().cloned())
                    .args(["exec", &self.id, "bash", "-c", &script])
                    .output()
                    .expect("running docker exec");
                (name.clone(), String::from_utf8_lossy(&out.stdout).into_owned())
            })
            .collect()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").envs(self.docker_env.iter().cloned()).args(["rm", "-f", &self.id]).output();
    }
}

/// Copies the files under `base` that match `patterns` into `into`; returns how many.
fn collect(base: &Path, patterns: &[String], discard_paths: bool, into: &Path) -> usize {
    let mut files = Vec::new();
    walk(base, base, &mut files);
    let mut copied = 0;
    for rel in files {
        let text = rel.to_string_lossy();
        if !patterns.iter().any(|p| glob_match(p.trim_start_matches("./"), &text)) {
            continue;
        }
        let dest = if discard_paths { into.join(rel.file_name().expect("a file name")) } else { into.join(&rel) };
        std::fs::create_dir_all(dest.parent().expect("a parent")).expect("an artifact directory");
        std::fs::copy(base.join(&rel), dest).expect("copying an artifact");
        copied += 1;
    }
    copied
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            walk(base, &path, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.to_owned());
        }
    }
}

/// `*` within a path segment, `**` across segments, `?` one character.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', b'/', rest @ ..] => (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && go(rest, &s[i..])),
            [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| go(rest, &s[i..])),
            [b'*', rest @ ..] => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| go(rest, &s[i..])),
            [b'?', rest @ ..] => !s.is_empty() && s[0] != b'/' && go(rest, &s[1..]),
            [c, rest @ ..] => !s.is_empty() && s[0] == *c && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Serves the files of `dir` over HTTP on 127.0.0.1 for as long as the test process lives, as a
/// release's download host would; returns the base URL.
pub fn serve(dir: &Path) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let dir = dir.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Headers are read and dropped: the request line says everything needed.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let name = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
            let file = (!name.contains("..")).then(|| dir.join(&name)).and_then(|p| std::fs::read(p).ok());
            let mut stream = &stream;
            let _ = match file {
                Some(body) => stream
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                            .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(&body)),
                None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            };
        }
    });
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_the_artifacts_section_writes_them() {
        assert!(glob_match("release.json", "release.json"));
        assert!(glob_match("**/*", "a/b/c.txt"));
        assert!(glob_match("**/*", "c.txt"));
        assert!(glob_match("out/*.json", "out/x.json"));
        assert!(!glob_match("out/*.json", "out/a/x.json"));
        assert!(glob_match("out/**/*.json", "out/a/x.json"));
        assert!(!glob_match("release.json", "sub/release.json"));
    }

    #[test]
    fn secret_references_split_like_the_buildspec_reference() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCd";
        assert_eq!(secret_reference(&format!("{arn}:token::")), (arn.into(), Some("token".into()), None, None));
        assert_eq!(secret_reference(arn), (arn.into(), None, None, None));
        assert_eq!(
            secret_reference("tok:t:AWSCURRENT"),
            ("tok".into(), Some("t".into()), Some("AWSCURRENT".into()), None)
        );
    }
}
