//! The local stack itself: every part answers on 127.0.0.1 the way the tools will use it.

use std::process::Command;

use ekskit_tests::*;

fn all() -> &'static std::collections::BTreeMap<String, String> {
    stack_env(&[])
}

#[test]
fn the_aws_emulator_answers_signed_requests() {
    let env = all();
    assert!(env["AWS_ENDPOINT_URL"].starts_with("http://127.0.0.1:"), "{env:?}");
    assert_eq!(env["AWS_EC2_METADATA_DISABLED"], "true");
    let ec2 = aws_sdk_ec2::Client::new(&aws_config(env, "us-east-1"));
    let zones = block_on(ec2.describe_availability_zones().send()).expect("DescribeAvailabilityZones");
    assert!(zones.availability_zones().len() >= 3);
}

#[test]
fn the_registry_serves_the_v2_api_on_loopback() {
    let registry = &all()["EKSKIT_REGISTRY"];
    assert!(registry.starts_with("127.0.0.1:"));
    let out = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{registry}/v2/"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}

#[test]
fn the_git_remote_takes_a_push_and_serves_it_back() {
    let env = all();
    let dir = std::env::temp_dir().join(unique_stack("git"));
    let bare = format!("{}/{}.git", env["EKSKIT_GIT_ROOT"], dir.file_name().unwrap().to_string_lossy());
    let git = |args: &[&str], cwd: &std::path::Path| {
        let out = Command::new("git").args(args).current_dir(cwd).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::create_dir_all(&dir).unwrap();
    git(&["init", "-q", "--bare", &bare], &dir);
    git(&["init", "-q", "-b", "main"], &dir);
    std::fs::write(dir.join("values.yaml"), "image:\n  tag: \"1.20\"\n").unwrap();
    git(&["add", "."], &dir);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first"], &dir);
    let url = format!("{}/{}.git", env["EKSKIT_GIT_URL"], dir.file_name().unwrap().to_string_lossy());
    git(&["push", "-q", &url, "main"], &dir);
    let remote = git(&["ls-remote", &url, "refs/heads/main"], &dir);
    let local = git(&["rev-parse", "HEAD"], &dir);
    assert_eq!(remote.split_whitespace().next(), Some(local.trim()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&bare).ok();
}

#[test]
fn the_docker_engine_runs_the_locally_built_base_image() {
    let env = all();
    let out = Command::new("docker")
        .env("DOCKER_HOST", &env["DOCKER_HOST"])
        .args(["run", "--rm", "--network", "none", &env["EKSKIT_BASE_IMAGE"], "cat", "/etc/debian_version"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("12."), "a bookworm image");
}
