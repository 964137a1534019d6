//! scripts/lib.sh, which scripts/up, deploy and down share: the stack's lock and the document's
//! atomic replacement. No local stack needed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use ekskit_tests::{repo_root, unique_stack};

/// A bash that has sourced lib.sh for `stack` and runs `script`.
fn lib_sh(stack: &str, script: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail; source scripts/lib.sh; {script}"))
        .current_dir(repo_root())
        .env("STACK", stack);
    cmd
}

#[test]
fn a_second_run_on_the_same_stack_waits_for_the_first() {
    let stack = unique_stack("lock");
    // The first run holds the lock until its stdin closes.
    let mut first = lib_sh(&stack, "lock_stack; echo locked; read -r _ || true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "locked");

    let mut second =
        lib_sh(&stack, "lock_stack; echo got it").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut waiting = BufReader::new(second.stderr.take().unwrap()).lines();
    let said = waiting.next().unwrap().unwrap();
    assert!(said.contains("waiting for the other run on stack"), "{said}");

    first.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(first.wait().unwrap().success());
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got it\n");

    // Another stack's lock is another file: no wait.
    let other = lib_sh(&unique_stack("lock"), "lock_stack 2>&1; echo free").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&other.stdout), "free\n");
    cleanup(&stack);
}

/// `ARGOCD_CAPABILITY=1` is refused (exit 2, before anything runs) on the local stack, whose Argo
/// CD is installed, and without the Identity Center instance EKS' Argo CD signs users in with.
#[test]
fn up_refuses_the_argocd_capability_where_it_cannot_work() {
    for (local, idc, says) in [
        (true, Some("arn:aws:sso:::instance/ssoins-0123456789abcdef"), "ARGOCD_CAPABILITY=1 is for AWS"),
        (false, None, "ARGOCD_CAPABILITY=1 needs IDC_INSTANCE_ARN"),
    ] {
        let stack = unique_stack("argocap");
        let mut up = Command::new(repo_root().join("scripts/up"));
        up.env("STACK", &stack)
            .env("ARGOCD_CAPABILITY", "1")
            .env("GITOPS_URL", "https://git.example.org/shop/ekskit.git");
        up.env("IMAGE_REPOSITORY", "registry.example.org/shop/comments").env_remove("EKSKIT_KUBECONFIG");
        if local {
            up.env("EKSKIT_KUBECONFIG", "/nonexistent/kubeconfig");
        }
        match idc {
            Some(arn) => up.env("IDC_INSTANCE_ARN", arn),
            None => up.env_remove("IDC_INSTANCE_ARN"),
        };
        let out = up.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(out.stdout.is_empty());
        cleanup(&stack);
    }
}

#[test]
fn urls_lose_their_credentials_before_they_are_written_anywhere() {
    let cases = [
        ("https://x-access-token:ghp_s3cr3t@github.com/acme/gitops.git", "https://github.com/acme/gitops.git"),
        ("https://oauth2:glpat-s3cr3t@gitlab.com/acme/gitops.git", "https://gitlab.com/acme/gitops.git"),
        ("https://github.com/acme/gitops.git", "https://github.com/acme/gitops.git"),
        ("git@github.com:acme/gitops.git", "git@github.com:acme/gitops.git"),
        ("ssh://git@github.com/acme/gitops.git", "ssh://git@github.com/acme/gitops.git"),
        ("HTTP://user:pw@127.0.0.1:9418/r.git", "HTTP://127.0.0.1:9418/r.git"),
        ("https://github.com/acme/a@b.git", "https://github.com/acme/a@b.git"),
    ];
    for (url, bare) in cases {
        let out = lib_sh(&unique_stack("url"), &format!("without_credentials '{url}'")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), bare, "{url}");
    }
}

#[test]
fn a_failed_step_leaves_the_document_whole_and_no_temporary_file() {
    let stack = unique_stack("doc");
    let script = r#"
        mkdir -p "$(dirname "$DOC")"; echo '{"kept": 1}' >"$DOC"
        set_key added '{"n": 2}'
        ( step "a tool that fails half way" bash -c 'echo "{\"partial\":"; exit 1' ) || echo "failed as it should"
        jq -c . "$DOC"; ls "$DOC".* 2>/dev/null || true
    "#;
    let out = lib_sh(&stack, script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("failed as it should"));
    let doc: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(doc, serde_json::json!({"kept": 1, "added": {"n": 2}}));
    assert_eq!(lines.next(), None, "no temporary document is left: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the document"), "the error names the document");
    cleanup(&stack);
}

fn cleanup(stack: &str) {
    for name in [format!("{stack}.json"), format!("{stack}.json.lock")] {
        let _ = std::fs::remove_file(repo_root().join(".ekskit").join(name));
    }
}
