//! The CI definitions: the GitHub workflows pass actionlint (with shellcheck on their scripts);
//! buildspec.yml and buildspec-promote.yml run through the kit's local CodeBuild
//! (`ekskit_tests::codebuild`: a zip without .git, phases in a container, CodeBuild's variables)
//! and release the app against the local stack: moto for ECR and Secrets Manager, the htpasswd
//! registry for ECR's registry host, the token-protected git remote for the GitOps branches, the
//! tools from their release tarball (`make dist`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ekskit_tests::codebuild::{self, Artifact, Request};
use ekskit_tests::{
    app_wheels, create_secret, git, git_remote, repo_root, stack_env, temp_dir, unique_stack, write_file,
};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "docker", "registry", "git", "base", "gitops"])
}

#[test]
fn the_workflows_pass_actionlint() {
    let shellcheck =
        String::from_utf8(Command::new("sh").args(["-c", "command -v shellcheck"]).output().unwrap().stdout).unwrap();
    let out = Command::new(&env()["EKSKIT_ACTIONLINT"])
        .current_dir(repo_root())
        .args(["-shellcheck", shellcheck.trim()])
        .args(workflows())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Every workflow file, as a path from the repository's root.
fn workflows() -> Vec<String> {
    let dir = repo_root().join(".github/workflows");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml") || name.ends_with(".yaml"))
        .map(|name| format!(".github/workflows/{name}"))
        .collect();
    found.sort();
    found
}

/// A tag can be moved to other code after review; a commit cannot. And a checkout that keeps its
/// token in .git/config hands it to every later step (tagbump gets its own token explicitly).
#[test]
fn the_workflows_pin_every_action_by_commit_and_keep_no_checkout_credentials() {
    let mut wrong = Vec::new();
    for file in workflows() {
        let text = std::fs::read_to_string(repo_root().join(&file)).unwrap();
        let steps: Value = serde_yaml::from_str(&text).unwrap();
        for (job, body) in steps["jobs"].as_object().unwrap() {
            for step in body["steps"].as_array().into_iter().flatten() {
                let Some(uses) = step["uses"].as_str() else { continue };
                let pinned = uses.rsplit_once('@').is_some_and(|(_, r)| {
                    r.len() == 40 && r.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                });
                if !pinned && !uses.starts_with("./") && !uses.starts_with("docker://") {
                    wrong.push(format!("{file} {job}: {uses} is not pinned by a commit SHA"));
                }
                if uses.starts_with("actions/checkout@") && step["with"]["persist-credentials"] != Value::Bool(false) {
                    wrong.push(format!("{file} {job}: {uses} keeps its credentials (persist-credentials: false)"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A repository holding `files` in one commit; returns its directory and the commit.
fn repository(files: &[(&str, &str)]) -> (PathBuf, String) {
    let dir = temp_dir("repo");
    git(&dir, &["init", "-q"]);
    for (path, text) in files {
        write_file(&dir, path, text);
    }
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "files"]);
    let commit = git(&dir, &["rev-parse", "HEAD"]);
    (dir, commit)
}

/// The stack's AWS endpoint and credentials, standing in for the service role's in the container.
fn aws_host(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"]
        .iter()
        .map(|k| ((*k).to_owned(), env[*k].clone()))
        .collect()
}

fn request(env: &BTreeMap<String, String>, buildspec: &str, source: Artifact, commit: &str) -> Request {
    Request {
        project: unique_stack("project"),
        pipeline: "demo".into(),
        image: env["EKSKIT_PYTHON_IMAGE"].clone(),
        buildspec: buildspec.into(),
        source,
        commit: commit.into(),
        secondary: Vec::new(),
        variables: Vec::new(),
        host: aws_host(env),
    }
}

const RULES: &str = r#"version: 0.2
env:
  shell: bash
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
  secrets-manager:
    TOKEN: SECRET_ARN:token
  exported-variables:
    - LEFT
phases:
  install:
    commands:
      - test ! -e .git
      - test -f run.sh && test ! -x run.sh
      - export LEFT=install && cd sub
  pre_build:
    commands:
      - test "$(basename "$PWD")" = sub && test "$LEFT" = install
      - test "$OVERRIDDEN" = project && test "$FROM_SPEC" = spec
      - test "$CODEBUILD_RESOLVED_SOURCE_VERSION" = "$EXPECT_COMMIT" && test "$CODEBUILD_SRC_DIR/sub" = "$PWD"
      - test "$CODEBUILD_INITIATOR" = codepipeline/demo && test "$CODEBUILD_BUILD_SUCCEEDING" = 1
      - echo "the token is $TOKEN"
  build:
    commands:
      - false | true
      - exit 3
      - echo never printed
    finally:
      - echo finally ran
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING" | tee out.txt
artifacts:
  files:
    - sub/*.txt
"#;

const EARLY_FAILURE: &str = "version: 0.2\nphases:\n  install:\n    commands:\n      - exit 1\n  build:\n    commands:\n      - echo never printed\n  post_build:\n    commands:\n      - echo never printed\nartifacts:\n  files: ['**/*']\n";

/// The runner itself keeps CodeBuild's rules: no .git and no file modes in the source, the
/// environment and directory carried from command to command, variables' precedence, secrets
/// masked, a failed build phase still running finally and post_build, a failed install ending
/// the build with nothing uploaded.
#[test]
fn the_local_codebuild_keeps_codebuilds_rules() {
    let env = env();
    let arn = create_secret(env, "secret", r#"{"token": "s3cr3t-value-42"}"#);
    let (repo, _) = repository(&[
        ("buildspec.yml", &RULES.replace("SECRET_ARN", &arn)),
        ("fail.yml", EARLY_FAILURE),
        (
            "colon.yml",
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo never printed: a mapping to YAML\n",
        ),
        ("run.sh", "echo hi\n"),
        ("sub/keep", ""),
    ]);
    std::fs::set_permissions(repo.join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "an executable script"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    let source = codebuild::source_zip(&repo, &commit, "SourceOutput");

    let mut rules = request(env, "buildspec.yml", source.clone(), &commit);
    rules.variables = vec![("OVERRIDDEN".into(), "project".into()), ("EXPECT_COMMIT".into(), commit.clone())];
    let build = codebuild::run(&rules, env);
    let log = &build.log;
    assert!(!build.succeeded, "{log}");
    let phases: Vec<_> = codebuild::PHASES.iter().map(|p| build.phase(p)).collect();
    assert_eq!(phases, ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"], "{log}");
    assert!(log.contains("finally ran") && log.contains("succeeding=0"), "{log}");
    assert!(!log.contains("never printed"), "{log}");
    assert!(log.contains("the token is ***") && !log.contains("s3cr3t-value-42"), "{log}");
    assert_eq!(build.exported["LEFT"], "install");
    let out = std::fs::read_to_string(build.artifacts.join("sub/out.txt")).unwrap();
    assert_eq!(out, "succeeding=0\n");

    let early = codebuild::run(&request(env, "fail.yml", source.clone(), &commit), env);
    let phases: Vec<_> = codebuild::PHASES.iter().map(|p| early.phase(p)).collect();
    assert_eq!(phases, ["FAILED", "SKIPPED", "SKIPPED", "SKIPPED"], "{}", early.log);
    assert!(!early.succeeded && !early.log.contains("never printed"));
    assert_eq!(std::fs::read_dir(&early.artifacts).unwrap().count(), 0, "nothing uploaded");

    // `: ` in an unquoted command makes it a mapping: CodeBuild refuses the buildspec.
    let colon = codebuild::run(&request(env, "colon.yml", source.clone(), &commit), env);
    assert!(!colon.succeeded && colon.phases.is_empty(), "{}", colon.log);
    assert!(colon.log.contains("YAML_FILE_ERROR") && !colon.log.contains("never printed\n"), "{}", colon.log);
    std::fs::remove_dir_all(&repo).ok();
    std::fs::remove_file(&source.zip).ok();
}

/// The tools' release tarball (`make dist`), served over HTTP as a release's assets are.
fn tools_url() -> String {
    let out = repo_root().join("dist/out");
    let tarball = std::fs::read_dir(&out)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .find(|n| n.ends_with("-x86_64-unknown-linux-musl.tar.gz"))
        .unwrap_or_else(|| panic!("no tools tarball in {}: run `make dist` first", out.display()));
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    format!("{}/{tarball}", URL.get_or_init(|| codebuild::serve(&out)))
}

/// The app's repository as a pipeline sees it, on the token-protected remote: main holds the
/// app (with its wheels, for an offline image build), and the GitOps tree is on `gitops` (dev)
/// and `gitops-prod` (prod), branches the pipeline does not watch.
fn app_remote(env: &BTreeMap<String, String>) -> (String, PathBuf) {
    let root = repo_root();
    app_wheels();
    let name = git_remote(env, |work| {
        for part in ["app", "deploy", "scripts", ".gitignore", "buildspec.yml", "buildspec-promote.yml"] {
            let status = Command::new("cp")
                .args(["-r", root.join(part).to_str().unwrap(), work.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        git(work, &["add", "-f", "app/.wheels"]);
    });
    let bare = PathBuf::from(&env["EKSKIT_GIT_ROOT"]).join(&name);
    for branch in ["gitops", "gitops-prod"] {
        git(&bare, &["branch", branch, "main"]);
    }
    (name, bare)
}

fn file_on(bare: &Path, branch: &str, path: &str) -> String {
    git(bare, &["show", &format!("{branch}:{path}")])
}

/// buildspec.yml as CodeBuild runs it for the pipeline: from a zip without .git, with the tools
/// from their release tarball; the release lands on the GitOps branch and nowhere else, and a
/// second build of the same commit commits nothing. Then buildspec-promote.yml, as the
/// pipeline runs it after the approval, puts the very image the release pushed into prod.
#[test]
fn the_buildspec_releases_from_a_zip_and_promotes_to_prod() {
    let env = env();
    let (name, bare) = app_remote(env);
    let main = git(&bare, &["rev-parse", "main"]);
    let token = std::fs::read_to_string(&env["EKSKIT_GIT_HTTP_TOKEN_FILE"]).unwrap().trim().to_owned();
    let dev_secret = create_secret(env, "secret", &format!("{{\"token\": \"{token}\"}}"));
    let repository = format!("ecr:{}/comments", unique_stack("release"));
    let gitops_url = format!("{}/{name}", env["EKSKIT_GIT_HTTP_URL"]);
    let imgbuild_args = format!("--build-arg BASE_IMAGE={} --build-arg PIP_NO_INDEX=1", env["EKSKIT_PYTHON_IMAGE"]);
    let source = codebuild::source_zip(&bare, &main, "SourceOutput");
    let mut release = request(env, "buildspec.yml", source.clone(), &main);
    release.variables = vec![
        ("GITOPS_TOKEN_SECRET".into(), dev_secret),
        ("GITOPS_REPO_URL".into(), gitops_url.clone()),
        ("GITOPS_BRANCH".into(), "gitops".into()),
        ("REPOSITORY".into(), repository),
        ("IMGBUILD_ARGS".into(), imgbuild_args),
        ("IMGPUSH_REGISTRY_ENDPOINT".into(), env["EKSKIT_REGISTRY_AUTH"].clone()),
        ("EKSKIT_TOOLS_URL".into(), tools_url()),
    ];

    let build = codebuild::run(&release, env);
    assert!(build.succeeded, "the release failed:\n{}", build.log);
    assert!(!build.log.contains(&token), "the git token leaked");
    assert!(build.log.contains("released "), "{}", build.log);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(build.artifacts.join("release.json")).unwrap()).unwrap();
    assert_eq!(doc["image"]["revision"], main.as_str(), "the commit CodePipeline checked out");
    assert_eq!(doc["image"]["revision_source"], "CODEBUILD_RESOLVED_SOURCE_VERSION");
    assert_eq!(doc["push"]["credentials"], "ecr-token");
    let tag = doc["push"]["tags"][0].as_str().unwrap().to_owned();
    assert_eq!(tag, main[..8]);
    assert_eq!(doc["bump"]["new"], tag.as_str());
    assert_eq!(doc["bump"]["pushed"], true);
    let dev = "deploy/environments/dev/kustomization.yaml";
    assert!(file_on(&bare, "gitops", dev).contains(&format!("newTag: \"{tag}\"")));
    assert_eq!(git(&bare, &["rev-parse", "main"]), main, "the watched branch got no commit");
    let gitops_head = git(&bare, &["rev-parse", "gitops"]);
    let changed = git(&bare, &["diff-tree", "--no-commit-id", "--name-only", "-r", &gitops_head]);
    assert_eq!(changed, dev, "the bump commit touches the kustomization only");

    let again = codebuild::run(&release, env);
    assert!(again.succeeded, "{}", again.log);
    assert_eq!(git(&bare, &["rev-parse", "gitops"]), gitops_head, "a second build of the same commit commits nothing");

    // The promotion, with its own token's secret, reads this execution's release.json.
    let prod_secret = create_secret(env, "secret", &token);
    let mut promote = request(env, "buildspec-promote.yml", source.clone(), &main);
    promote.secondary = vec![build.artifact_zip("BuildOutput")];
    promote.variables = vec![
        ("GITOPS_TOKEN_SECRET".into(), prod_secret),
        ("GITOPS_REPO_URL".into(), gitops_url),
        ("GITOPS_BRANCH".into(), "gitops-prod".into()),
        ("EKSKIT_TOOLS_URL".into(), tools_url()),
    ];
    let promoted = codebuild::run(&promote, env);
    assert!(promoted.succeeded, "the promotion failed:\n{}", promoted.log);
    assert!(!promoted.log.contains(&token), "the git token leaked");
    let prod = "deploy/environments/prod/kustomization.yaml";
    assert!(file_on(&bare, "gitops-prod", prod).contains(&format!("newTag: \"{tag}\"")));
    let message = git(&bare, &["log", "-1", "--format=%B", "gitops-prod"]);
    assert!(message.contains(doc["push"]["digest"].as_str().unwrap()), "{message}");
    assert_eq!(git(&bare, &["rev-parse", "gitops"]), gitops_head, "the promotion leaves dev alone");
    std::fs::remove_file(&source.zip).ok();
}

/// completions/, man/, docs/tools/ and schemas/ are what `cargo xtask generate` writes from the
/// clap definitions and output types today (the release ships completions and man pages).
#[test]
fn the_committed_completions_and_man_pages_have_not_drifted() {
    let out = Command::new(ekskit_tests::bin("xtask")).args(["generate", "--check"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "generated files drifted; run `cargo xtask generate`:\n{said}");
    assert!(out.stdout.is_empty(), "--check writes nothing to stdout");
}
