//! tagbump with `--repo` against the stack's smart-HTTP remote that wants a token, through a
//! front that fails as a forge's load balancer does (502, 503). tagbump has no `--delete`: after
//! each run the remote's `main` is put back at its base commit, on the bare repository itself.
//! The inventory is what tagbump leaves: its commits on the remote, the file at the tip, the
//! remote's refs, and what is in its TMPDIR (the clone of a run killed outright, until the next
//! run sweeps it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ekskit_tests::faults::{Service, Upstream};
use ekskit_tests::{git, git_remote, stack_env, temp_dir, write_file};
use serde_json::Value;

use super::{Subject, check, place};

const FILE: &str = "deploy/environments/dev/kustomization.yaml";
const KUSTOMIZATION: &str = "# dev\nimages:\n  - name: comments   # the app\n    newTag: \"latest\"\n";
/// What imgpush prints for the image whose tag is set.
const PUSHED: &str =
    r#"{"push": {"repository": "127.0.0.1:5001/comments", "tags": ["0123abcd"], "digest": "sha256:5eed"}}"#;

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["git"])
}

#[test]
fn tagbump_killed_at_any_request_converges_and_leaves_nothing_behind() {
    let name = git_remote(env(), |work| write_file(work, FILE, KUSTOMIZATION));
    let bare = PathBuf::from(&env()["EKSKIT_GIT_ROOT"]).join(&name);
    let base = on(&bare, &["rev-parse", "main"]);
    let tmp = temp_dir(place("chaos-tagbump", "chs-tagbump"));
    let create = [FILE, "--branch", "main", "--push", "--token-file", &env()["EKSKIT_GIT_HTTP_TOKEN_FILE"]];
    let (run_in, listed) = (tmp.clone(), tmp.clone());
    let (reset_bare, listed_bare) = (bare.clone(), bare);
    let reset_base = base.clone();
    check(Subject {
        tool: "tagbump",
        env: env(),
        services: vec![(Upstream::Http(env()["EKSKIT_GIT_HTTP_URL"].clone()), Service::Git)],
        // Outside any clone (a CodeBuild source without .git), with a TMPDIR of its own.
        aim: Box::new(move |cmd, fronts| {
            cmd.current_dir(&run_in).env("TMPDIR", &run_in).args(["--repo", &format!("{}/{name}", fronts[0])]);
        }),
        stdin: Box::new(|_| Some(PUSHED.to_owned())),
        create: create.iter().map(|a| a.to_string()).collect(),
        cleanup: None,
        reset: Some(Box::new(move || {
            on(&reset_bare, &["update-ref", "refs/heads/main", &reset_base]);
        })),
        normalize,
        inventory: Box::new(move || inventory(&listed_bare, &base, &listed)),
    });
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `git` on the bare repository.
fn on(bare: &Path, args: &[&str]) -> String {
    git(Path::new("/"), &[&["--git-dir", bare.to_str().unwrap()], args].concat())
}

/// Its commits on `main` above `base` and the file at the tip, the remote's refs, and what is in
/// the TMPDIR. A commit's message and the file's text are what must equal a clean run's, so a
/// digest of each is part of the kind the runner compares (`commit:…`, `file:…`); the rest of a
/// line is for people.
fn inventory(bare: &Path, base: &str, tmp: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for commit in on(bare, &["rev-list", &format!("{base}..main")]).lines() {
        let message = on(bare, &["show", "-s", "--format=%B", commit]);
        let subject = message.lines().next().unwrap_or_default();
        found.push(format!("commit:{:016x} {commit} {subject}", digest(&message)));
    }
    let text = on(bare, &["show", &format!("main:{FILE}")]);
    found.push(format!("file:{:016x} {FILE}", digest(&text)));
    found.extend(on(bare, &["for-each-ref", "--format=%(refname)"]).lines().map(|r| format!("ref {r}")));
    for entry in std::fs::read_dir(tmp).unwrap() {
        found.push(format!("tmp {}", entry.unwrap().file_name().to_string_lossy()));
    }
    found.sort();
    found
}

/// FNV-1a: equal texts, equal digests.
fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// A further run finds the tag set: it makes no commit and pushes nothing (`commit` null,
/// `pushed` false), and reports the tag it found (`old`). Everything else is printed again.
fn normalize(doc: &mut Value) {
    if let Some(bump) = doc.get_mut("bump").and_then(Value::as_object_mut) {
        for key in ["commit", "pushed", "old"] {
            bump.remove(key);
        }
    }
}
