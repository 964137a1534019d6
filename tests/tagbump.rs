//! tagbump against real git remotes of the local stack: `git daemon` (git://) and the smart HTTP
//! remote that wants a token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use ekskit_tests::{assert_schema, git, git_remote, run, stack_env, stderr, stdout_json, tool, unique_stack};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws", "git"])
}

/// A remote holding `files` on `main`; returns its name.
fn remote(files: &[(&str, &str)]) -> String {
    git_remote(env(), |work| {
        for (path, text) in files {
            let file = work.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
    })
}

fn clone(url: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_stack("clone"));
    git(Path::new("/"), &["clone", "-q", url, dir.to_str().unwrap()]);
    dir
}

fn daemon_url(name: &str) -> String {
    format!("{}/{name}", env()["EKSKIT_GIT_URL"])
}

fn tagbump(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("tagbump", env());
    cmd.current_dir(dir).args(args).env("GIT_AUTHOR_NAME", "CI Bot").env("GIT_AUTHOR_EMAIL", "ci@example.com");
    run(cmd, stdin)
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "tagbump failed ({:?}):\n{}", out.status, stderr(out));
    stdout_json(out)
}

/// Real-world shapes: (file, text, path flag, old literal, new literal as written).
const CORPUS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "values.yaml",
        "# Default values for comments.\n# This is a YAML-formatted file.\n\nreplicaCount: 2\n\nimage:\n  repository: 123456789012.dkr.ecr.us-east-1.amazonaws.com/comments  # ECR\n  pullPolicy: IfNotPresent\n  # Overrides the image tag whose default is the chart appVersion.\n  tag: \"abcdef12\"\n\nzebra: last   # keys are not sorted\nalpha: first\n",
        "",
        "\"abcdef12\"",
        "\"1.20\"",
    ),
    (
        "crlf.yaml",
        "image:\r\n  repository: comments\r\n  tag: abcdef12\r\n\r\nservice:\r\n  port: 80\r\n",
        "",
        "abcdef12",
        "\"1.20\"",
    ),
    (
        "anchors.yaml",
        "defaults: &defaults\n  pullPolicy: Always\nimage:\n  <<: *defaults\n  tag: &tag 'abcdef12'\nsidecar:\n  tag: *tag\n",
        "",
        "'abcdef12'",
        "'1.20'",
    ),
    (
        "flow.yaml",
        "image: {repository: comments, tag: abcdef12}  # flow style\nports: [80, 443]\n",
        "",
        "abcdef12",
        "\"1.20\"",
    ),
    (
        "multi.yaml",
        "# first document\nkind: ConfigMap\n---\napp:\n  image:\n    tag: abcdef12\n---\nkind: Secret\n",
        "--path=app.image.tag",
        "abcdef12",
        "\"1.20\"",
    ),
    (
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n  - name: nginx\n    newTag: \"1.27\"\n  - name: comments   # the app\n    newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/comments\n    newTag: abcdef12\n",
        "--image=comments",
        "abcdef12",
        "\"1.20\"",
    ),
];

#[test]
fn edits_are_byte_exact_on_a_corpus_and_a_rerun_commits_nothing() {
    let files: Vec<(&str, &str)> = CORPUS.iter().map(|(f, t, ..)| (*f, *t)).collect();
    let dir = clone(&daemon_url(&remote(&files)));
    for (file, text, flag, old, new) in CORPUS {
        let mut args = vec![*file, "--tag", "1.20"];
        if !flag.is_empty() {
            args.push(flag);
        }
        let doc = ok(&tagbump(&dir, &args, None));
        assert_schema("bump.schema.json", &doc["bump"]);
        assert_eq!((doc["bump"]["old"].as_str(), doc["bump"]["new"].as_str()), (Some("abcdef12"), Some("1.20")));
        let expected = text.replacen(old, new, 1);
        assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), expected, "{file}: only the tag's bytes change");
        let head = git(&dir, &["rev-parse", "HEAD"]);
        assert_eq!(doc["bump"]["commit"], head.as_str());
        assert_eq!(
            git(&dir, &["show", "-s", "--format=%an <%ae>|%s", "HEAD"]).split('|').next(),
            Some("CI Bot <ci@example.com>")
        );
        assert_eq!(git(&dir, &["status", "--porcelain"]), "", "the work tree and index follow the commit");

        let again = ok(&tagbump(&dir, &args, None));
        assert_eq!(again["bump"]["commit"], Value::Null, "{file}: the tag is already set");
        assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_targets_are_exit_2_and_leave_the_file_and_the_branch_alone() {
    let files = [("values.yaml", "image:\n  tag: v1\n  list: [a]\n"), ("notes.txt", "image: [unclosed\n")];
    let dir = clone(&daemon_url(&remote(&files)));
    let head = git(&dir, &["rev-parse", "HEAD"]);
    for (args, why) in [
        (vec!["values.yaml", "--tag", "v2", "--path", "image.missing"], "image.missing does not exist"),
        (vec!["values.yaml", "--tag", "v2", "--path", "image.list"], "is not a scalar"),
        (vec!["values.yaml", "--tag", "v2", "--path", "image..tag"], "is not a path"),
        (vec!["notes.txt", "--tag", "v2"], "not YAML"),
        (vec!["values.yaml", "--tag=-v2"], "not a valid image tag"),
        (vec!["values.yaml"], "no tag to set"),
        (vec!["missing.yaml", "--tag", "v2"], "missing.yaml"),
    ] {
        let out = tagbump(&dir, &args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).lines().next().unwrap_or_default().contains(why), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(dir.join("values.yaml")).unwrap(), files[0].1);
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);

    std::fs::write(dir.join("values.yaml"), "image:\n  tag: v1\n  list: [a]\n# local edit\n").unwrap();
    let out = tagbump(&dir, &["values.yaml", "--tag", "v2"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("uncommitted changes"), "{}", stderr(&out));
    assert!(std::fs::read_to_string(dir.join("values.yaml")).unwrap().ends_with("# local edit\n"));

    git(&dir, &["checkout", "-q", "values.yaml"]);
    let plan = ok(&tagbump(&dir, &["values.yaml", "--tag", "1.0", "--dry-run"], None));
    assert_schema("plan.bump.schema.json", &plan["plan"]["bump"]);
    assert!(plan["plan"]["bump"]["diff"].as_str().unwrap().contains("+  tag: \"1.0\""));
    assert_eq!(std::fs::read_to_string(dir.join("values.yaml")).unwrap(), files[0].1, "a dry run writes nothing");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn racing_pushes_all_land_one_after_the_other() {
    let envs = ["dev", "stage", "prod", "qa"];
    let files: Vec<(String, String)> =
        envs.iter().map(|e| (format!("deploy/{e}/values.yaml"), "image:\n  tag: v1\n".to_owned())).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    let name = remote(&refs);
    // Every push waits a moment on the server, so all four fetch the same tip and three lose.
    let hook = PathBuf::from(&env()["EKSKIT_GIT_ROOT"]).join(&name).join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\ncat >/dev/null\nsleep 0.5\n").unwrap();
    make_executable(&hook);
    let clones: Vec<PathBuf> = envs.iter().map(|_| clone(&daemon_url(&name))).collect();
    let children: Vec<_> = envs
        .iter()
        .zip(&clones)
        .map(|(e, dir)| {
            let mut cmd = tool("tagbump", env());
            cmd.current_dir(dir).args([&format!("deploy/{e}/values.yaml"), "--tag", &format!("{e}-2"), "--push"]);
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut attempts = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let doc = ok(&out);
        assert_eq!(doc["bump"]["pushed"], true);
        attempts += doc["bump"]["attempts"].as_u64().unwrap();
    }
    assert!(attempts > 4, "some pushes lost the race and were redone ({attempts} attempts)");
    let check = clone(&daemon_url(&name));
    for e in envs {
        let text = std::fs::read_to_string(check.join(format!("deploy/{e}/values.yaml"))).unwrap();
        assert_eq!(text, format!("image:\n  tag: {e}-2\n"), "no update was lost");
    }
    assert_eq!(git(&check, &["rev-list", "--count", "HEAD"]), "5");
    for dir in clones.iter().chain([&check]) {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn tokens_push_over_https_style_remotes_and_never_show() {
    let token = std::fs::read_to_string(&env()["EKSKIT_GIT_HTTP_TOKEN_FILE"]).unwrap().trim().to_owned();
    let name = remote(&[("values.yaml", "image:\n  tag: v1\n")]);
    let url = format!("{}/{name}", env()["EKSKIT_GIT_HTTP_URL"]);
    // Cloned with the token in a header for this one command: nothing of it is stored.
    let dir = std::env::temp_dir().join(unique_stack("clone"));
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x:{token}"));
    git(
        Path::new("/"),
        &["-c", &format!("http.extraHeader=Authorization: Basic {basic}"), "clone", "-q", &url, dir.to_str().unwrap()],
    );

    let out = tagbump(&dir, &["values.yaml", "--tag", "v2", "--push"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: give a token"), "{}", stderr(&out));

    let mut cmd = tool("tagbump", env());
    cmd.current_dir(&dir).args(["values.yaml", "--tag", "v3", "--push"]).env("GIT_TOKEN", &token);
    let by_env = run(cmd, None);
    let doc = ok(&by_env);
    assert_eq!(doc["bump"]["pushed"], true);

    let file = std::env::temp_dir().join(unique_stack("token"));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let by_file =
        tagbump(&dir, &["values.yaml", "--tag", "v4", "--push", "--token-file", file.to_str().unwrap()], None);
    assert_eq!(ok(&by_file)["bump"]["pushed"], true);

    let secret = create_secret(&format!("{{\"token\": \"{token}\"}}"));
    let by_secret = tagbump(&dir, &["values.yaml", "--tag", "v5", "--push", "--token-secret", &secret], None);
    assert_eq!(ok(&by_secret)["bump"]["pushed"], true);

    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    for (what, text) in [
        ("stdout/stderr", format!("{}{}", String::from_utf8_lossy(&by_env.stdout), stderr(&by_env))),
        ("stdout/stderr", format!("{}{}", String::from_utf8_lossy(&by_file.stdout), stderr(&by_file))),
        ("stdout/stderr", format!("{}{}", String::from_utf8_lossy(&by_secret.stdout), stderr(&by_secret))),
        (".git/config", config),
    ] {
        assert!(!text.contains(&token), "the token leaked into {what}");
    }
    let check = clone(&daemon_url(&name));
    assert_eq!(std::fs::read_to_string(check.join("values.yaml")).unwrap(), "image:\n  tag: v5\n");
    for d in [&dir, &check] {
        std::fs::remove_dir_all(d).unwrap();
    }
    std::fs::remove_file(file).unwrap();
}

fn create_secret(value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&ekskit_tests::aws_config(env(), "us-east-1"));
    let out =
        ekskit_tests::block_on(client.create_secret().name(unique_stack("git-token")).secret_string(value).send())
            .unwrap();
    out.arn().unwrap().to_owned()
}
