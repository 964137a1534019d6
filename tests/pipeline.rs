//! The CI definitions: the GitHub workflows pass actionlint (with shellcheck on their scripts),
//! and buildspec.yml is well formed and its commands, run in order as CodeBuild runs them, release
//! the app against the local stack: moto for ECR and Secrets Manager, the htpasswd registry for
//! ECR's registry host, the token-protected git remote for the repository.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ekskit_tests::{git, git_remote, repo_root, stack_env, unique_stack};
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
        .args(["-shellcheck", shellcheck.trim(), ".github/workflows/test.yml", ".github/workflows/release.yml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

/// The buildspec's variables and its commands in phase order.
fn buildspec() -> (Vec<(String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(repo_root().join("buildspec.yml")).unwrap();
    let spec: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(spec["version"], 0.2, "buildspec version 0.2");
    assert_eq!(spec["env"]["shell"], "bash");
    let phases = spec["phases"].as_object().unwrap();
    for name in phases.keys() {
        assert!(PHASES.contains(&name.as_str()), "unknown phase {name}");
    }
    let variables = spec["env"]["variables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("variable {k} is not a string")).to_owned()))
        .collect();
    let commands = PHASES
        .iter()
        .filter_map(|p| phases.get(*p))
        .flat_map(|p| p["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()))
        .collect();
    assert!(spec["artifacts"]["files"].as_array().is_some_and(|f| !f.is_empty()));
    (variables, commands)
}

#[test]
fn the_buildspec_releases_against_the_local_stack() {
    let env = env();
    let (variables, commands) = buildspec();
    let root = repo_root();
    assert!(Command::new(root.join("scripts/app-wheels")).status().unwrap().success());

    // The repository as CodeBuild checks it out, on a remote that wants the token.
    let token = std::fs::read_to_string(&env["EKSKIT_GIT_HTTP_TOKEN_FILE"]).unwrap().trim().to_owned();
    let name = git_remote(env, |work| {
        for part in ["app", "deploy", "scripts", ".gitignore", "buildspec.yml"] {
            let status = Command::new("cp")
                .args(["-r", root.join(part).to_str().unwrap(), work.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::remove_dir_all(work.join("app/.wheels")).ok();
    });
    let checkout = std::env::temp_dir().join(unique_stack("codebuild"));
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x:{token}"));
    let url = format!("{}/{name}", env["EKSKIT_GIT_HTTP_URL"]);
    git(
        Path::new("/"),
        &[
            "-c",
            &format!("http.extraHeader=Authorization: Basic {basic}"),
            "clone",
            "-q",
            &url,
            checkout.to_str().unwrap(),
        ],
    );
    let status = Command::new("cp")
        .args(["-r", root.join("app/.wheels").to_str().unwrap(), checkout.join("app").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());

    let secret = {
        let client = aws_sdk_secretsmanager::Client::new(&ekskit_tests::aws_config(env, "us-east-1"));
        let out = ekskit_tests::block_on(
            client
                .create_secret()
                .name(unique_stack("gitops-token"))
                .secret_string(format!("{{\"token\": \"{token}\"}}"))
                .send(),
        )
        .unwrap();
        out.arn().unwrap().to_owned()
    };
    let bin = ekskit_tests::bin("imgpush").parent().unwrap().to_owned();
    let repository = format!("ecr:{}/comments", unique_stack("release"));
    let overrides = [
        ("GITOPS_TOKEN_SECRET", secret.as_str()),
        ("REPOSITORY", repository.as_str()),
        ("IMGPUSH_REGISTRY_ENDPOINT", env["EKSKIT_REGISTRY_AUTH"].as_str()),
        ("EKSKIT_BIN", bin.to_str().unwrap()),
    ];
    let imgbuild_args = format!("--build-arg BASE_IMAGE={} --build-arg PIP_NO_INDEX=1", env["EKSKIT_PYTHON_IMAGE"]);

    // One bash, as CodeBuild's `shell: bash` runs the phases: variables exported, then commands.
    let mut script = String::from("set -eo pipefail\n");
    for (k, v) in &variables {
        let v = if k == "IMGBUILD_ARGS" { imgbuild_args.clone() } else { v.clone() };
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    for (k, v) in overrides {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    for c in &commands {
        script.push_str(c);
        script.push('\n');
    }
    let config = std::env::temp_dir().join(unique_stack("dockercfg"));
    std::fs::create_dir_all(&config).unwrap();
    let out = Command::new("bash")
        .current_dir(&checkout)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", std::env::var("HOME").unwrap())
        .env("DOCKER_CONFIG", &config)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(env)
        .args(["-c", &script])
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the buildspec failed:\n{all}");
    assert!(!all.contains(&token), "the git token leaked");
    assert!(all.contains("released "), "{all}");

    let release: Value =
        serde_json::from_str(&std::fs::read_to_string(checkout.join("release.json")).unwrap()).unwrap();
    assert_eq!(release["push"]["credentials"], "ecr-token");
    assert_eq!(release["push"]["ecr"]["created"], true);
    assert_eq!(release["bump"]["pushed"], true);
    let tag = release["push"]["tags"][0].as_str().unwrap();
    assert_eq!(release["bump"]["new"], tag);

    let check = std::env::temp_dir().join(unique_stack("check"));
    git(Path::new("/"), &["clone", "-q", &format!("{}/{name}", env["EKSKIT_GIT_URL"]), check.to_str().unwrap()]);
    let kustomization = std::fs::read_to_string(check.join("deploy/environments/dev/kustomization.yaml")).unwrap();
    assert!(kustomization.contains(&format!("newTag: \"{tag}\"")), "{kustomization}");
    for dir in [&checkout, &check, &config] {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// completions/ and man/ are what `make completions` writes from the clap definitions today.
#[test]
fn the_committed_completions_and_man_pages_have_not_drifted() {
    let out = std::env::temp_dir().join(unique_stack("docgen"));
    let status = Command::new(ekskit_tests::bin("ekskit-docgen")).arg(&out).status().unwrap();
    assert!(status.success());
    let root = repo_root();
    for dir in ["completions/bash", "completions/zsh", "completions/fish", "man"] {
        let mut generated: Vec<_> = std::fs::read_dir(out.join(dir)).unwrap().map(|e| e.unwrap().file_name()).collect();
        let mut committed: Vec<_> =
            std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().file_name()).collect();
        generated.sort();
        committed.sort();
        assert_eq!(generated, committed, "{dir}: run `make completions`");
        for file in generated {
            let fresh = std::fs::read(out.join(dir).join(&file)).unwrap();
            let kept = std::fs::read(root.join(dir).join(&file)).unwrap();
            assert!(fresh == kept, "{dir}/{}: out of date; run `make completions`", file.to_string_lossy());
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}
