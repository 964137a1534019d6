//! tagbump against real git remotes of the local stack: `git daemon` (git://) and the smart HTTP
//! remote that wants a token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use ekskit_tests::{
    assert_schema, git, git_clone, git_remote, helm, kubectl, ok_json, renderable_chart, run, stack_env, stderr,
    temp_dir, tool, unique_stack, write_file,
};
use serde_json::Value;

fn env() -> &'static BTreeMap<String, String> {
    // gitops: helm and the YAML readers; kube: kubectl (kustomize), to read the edits back.
    stack_env(&["aws", "git", "gitops", "kube"])
}

/// A remote holding `files` on `main`; returns its name.
fn remote(files: &[(&str, &str)]) -> String {
    git_remote(env(), |work| {
        for (path, text) in files {
            write_file(work, path, text);
        }
    })
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
    ok_json("tagbump", out)
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
    let dir = git_clone(&daemon_url(&remote(&files)));
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

/// Shapes real values files and kustomizations have that tagbump once corrupted or refused:
/// (file, text, flags, expected text after setting v1.2.3, old value reported).
const SHAPES: &[(&str, &str, &[&str], &str, &str)] = &[
    (
        "empty.yaml",
        "image:\n  repository: nginx\n  # Overrides the image tag whose default is the chart appVersion.\n  tag:   # empty: the chart's appVersion\n  pullPolicy: IfNotPresent\n",
        &[],
        "image:\n  repository: nginx\n  # Overrides the image tag whose default is the chart appVersion.\n  tag: v1.2.3   # empty: the chart's appVersion\n  pullPolicy: IfNotPresent\n",
        "",
    ),
    ("flow-empty.yaml", "image: {repository: r, tag: }\n", &[], "image: {repository: r, tag: v1.2.3 }\n", ""),
    ("null.yaml", "image:\n  tag: ~ # unset\n", &[], "image:\n  tag: v1.2.3 # unset\n", "~"),
    (
        "lenient.yaml",
        "controller:\n  description: \"a quoted scalar whose continuation\nline is less indented, as PyYAML accepts\"\n  image:\n    tag: v1\n",
        &["--path", "controller.image.tag"],
        "controller:\n  description: \"a quoted scalar whose continuation\nline is less indented, as PyYAML accepts\"\n  image:\n    tag: v1.2.3\n",
        "v1",
    ),
    (
        "kustomization.yaml",
        "images:\n- name: registry.k8s.io/ingress-nginx/controller\n  newTag: v1.0.0\n- name: comments\n  newTag: v1\n",
        &["--path", "images[name=registry.k8s.io/ingress-nginx/controller].newTag"],
        "images:\n- name: registry.k8s.io/ingress-nginx/controller\n  newTag: v1.2.3\n- name: comments\n  newTag: v1\n",
        "v1.0.0",
    ),
];

#[test]
fn empty_values_lenient_files_and_dotted_selectors_are_edited_in_place() {
    let files: Vec<(&str, &str)> = SHAPES.iter().map(|(f, t, ..)| (*f, *t)).collect();
    let dir = git_clone(&daemon_url(&remote(&files)));
    for (file, _, flags, expected, old) in SHAPES {
        let args = [&[*file, "--tag", "v1.2.3"], *flags].concat();
        let doc = ok(&tagbump(&dir, &args, None));
        assert_eq!(doc["bump"]["old"], *old, "{file}");
        assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), *expected, "{file}");
        let again = ok(&tagbump(&dir, &args, None));
        assert_eq!(again["bump"]["commit"], Value::Null, "{file}: a re-run finds the tag set");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_targets_are_exit_2_and_leave_the_file_and_the_branch_alone() {
    let files = [("values.yaml", "image:\n  tag: v1\n  list: [a]\n"), ("notes.txt", "image: [unclosed\n")];
    let dir = git_clone(&daemon_url(&remote(&files)));
    let head = git(&dir, &["rev-parse", "HEAD"]);
    for (args, why) in [
        (vec!["values.yaml", "--tag", "v2", "--path", "image.missing"], "image.missing does not exist"),
        (vec!["values.yaml", "--tag", "v2", "--path", "image.list"], "is not a scalar"),
        (vec!["values.yaml", "--tag", "v2", "--path", "image..tag"], "is not a path"),
        (vec!["values.yaml", "--tag", "v2", "--path", "images[name=x.y"], "an unclosed ["),
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
    let clones: Vec<PathBuf> = envs.iter().map(|_| git_clone(&daemon_url(&name))).collect();
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
    let check = git_clone(&daemon_url(&name));
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

    let secret = ekskit_tests::create_secret(env(), "git-token", &format!("{{\"token\": \"{token}\"}}"));
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
    let check = git_clone(&daemon_url(&name));
    assert_eq!(std::fs::read_to_string(check.join("values.yaml")).unwrap(), "image:\n  tag: v5\n");
    for d in [&dir, &check] {
        std::fs::remove_dir_all(d).unwrap();
    }
    std::fs::remove_file(file).unwrap();
}

/// Tags YAML readers type as something else when plain (YAML 1.1, 1.2 and go-yaml forms), and
/// random ones from a fixed seed, heavy in digits and the letters of number forms.
fn reader_corpus() -> Vec<String> {
    let mut tags: Vec<String> = [
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "N",
        "true",
        "False",
        "null",
        "NULL",
        "0b1010",
        "0b1_0",
        "0o17",
        "0O17",
        "017",
        "08",
        "0_7",
        "1_000",
        "_1",
        "1_",
        "1e3",
        "1E3",
        "1.0e5",
        "1.20",
        "1.",
        "0x1F",
        "0X1f",
        "0x_1",
        "2024-01-15",
        "2024-1-5",
        "2024-01-15T10",
        "20240115",
        "99999999999999999999",
        "12345678",
        "v1.2.3",
        "1.2.3",
        "abcdef12",
        "latest",
        "nan",
        "Inf",
        "e3",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let mut seed: u64 = 0x5eed_2026_1201;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let first = b"0123456789012345678901234567890123456789yYnNoOtTfF_";
    let rest = b"0123456789012345678901234567890123456789_.-eExXoObB";
    while tags.len() < 120 {
        let mut tag = String::from(first[next(first.len())] as char);
        for _ in 0..next(10) {
            tag.push(rest[next(rest.len())] as char);
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// What each reader got for each key, as (reader, key) → the value as JSON, or a type name.
type Readings = BTreeMap<(String, String), String>;

/// PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2) reading `values` (keys k0..): `str:"…"` or the type.
fn python_readers(values: &Path) -> Readings {
    let script = r#"
import json, sys, yaml
from ruamel.yaml import YAML
text = open(sys.argv[1]).read()
out = {}
for reader, doc in [("pyyaml", yaml.safe_load(text)), ("ruamel", YAML(typ="safe", pure=True).load(text))]:
    for key, item in doc.items():
        if key.startswith("k"):
            tag = item["tag"]
            out[reader + " " + key] = "str:" + json.dumps(tag) if isinstance(tag, str) else type(tag).__name__
print(json.dumps(out))
"#;
    let out = std::process::Command::new(&env()["EKSKIT_YAML_PYTHON"])
        .args(["-c", script, values.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "the Python readers failed: {}", String::from_utf8_lossy(&out.stderr));
    let read: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    read.into_iter()
        .map(|(k, v)| {
            let (reader, key) = k.split_once(' ').unwrap();
            ((reader.to_owned(), key.to_owned()), v)
        })
        .collect()
}

/// Helm (go-yaml through sigs.k8s.io/yaml) reading `values` into a chart that prints each tag.
fn helm_reader(values: &Path) -> Readings {
    let chart = values.parent().unwrap().join("reader-chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: reader\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        chart.join("templates/tags.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tags\ndata:\n{{- range $k, $v := .Values }}{{ if hasPrefix \"k\" $k }}\n  {{ $k }}: {{ ternary (printf \"str:%s\" (toJson $v.tag)) (kindOf $v.tag) (kindIs \"string\" $v.tag) | quote }}\n{{- end }}{{ end }}\n",
    )
    .unwrap();
    let out = helm(env(), &["template", "reader", chart.to_str().unwrap(), "-f", values.to_str().unwrap()]);
    assert!(out.status.success(), "helm template failed: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let data = doc["data"].as_mapping().unwrap();
    data.iter()
        .map(|(k, v)| (("helm".to_owned(), k.as_str().unwrap().to_owned()), v.as_str().unwrap().to_owned()))
        .collect()
}

/// kustomize (`kubectl kustomize`, kyaml) setting each `img-N` image to its `newTag`.
fn kustomize_reader(dir: &Path) -> Readings {
    let out = kubectl(env(), &["kustomize", dir.to_str().unwrap()]);
    if !out.status.success() {
        // A tag kustomize cannot read as a string fails the whole build: every key is wrong.
        return [(("kustomize".to_owned(), "error".to_owned()), stderr(&out))].into();
    }
    let doc: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let containers = doc["spec"]["template"]["spec"]["containers"].as_sequence().unwrap();
    containers
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap();
            let (name, tag) = image.split_once(':').unwrap_or((image, ""));
            let key = format!("k{}", name.trim_start_matches("img-"));
            (("kustomize".to_owned(), key), format!("str:{}", serde_json::to_string(tag).unwrap()))
        })
        .collect()
}

#[test]
fn every_tag_written_reads_back_as_the_same_string_in_pyyaml_ruamel_helm_and_kustomize() {
    let tags = reader_corpus();
    let shapes = [
        "k{i}:\n  repository: r\n  tag: v0 # pinned\n",
        "k{i}:\n  tag:\n",
        "k{i}:\n  tag:   # the chart's default\n",
        "k{i}: {repository: r, tag: }\n",
        "k{i}: {tag: 'v0', repository: r}\n",
        "k{i}:\n  tag: ~\n",
        "k{i}:\n  tag: \"v0\"\n",
        "k{i}:\n  tag: 1.0\n",
    ];
    let mut values = String::from("note:\n  text: \"a quoted scalar\ncontinued on a less indented line\"\n");
    let mut kustomization = String::from("resources:\n- deployment.yaml\nimages:\n");
    let mut containers = String::new();
    for i in 0..tags.len() {
        values += &shapes[i % shapes.len()].replace("{i}", &i.to_string());
        kustomization += &format!("- name: img-{i}\n  newTag: {}\n", ["v0", "'v0'", "", "1.0"][i % 4]);
        containers += &format!("      - {{name: c{i}, image: img-{i}}}\n");
    }
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: readers}}\nspec:\n  selector: {{matchLabels: {{app: r}}}}\n  template:\n    metadata: {{labels: {{app: r}}}}\n    spec:\n      containers:\n{containers}"
    );
    let files = [
        ("values.yaml", values.as_str()),
        ("k/kustomization.yaml", kustomization.as_str()),
        ("k/deployment.yaml", deployment.as_str()),
    ];
    let dir = git_clone(&daemon_url(&remote(&files)));
    for (i, tag) in tags.iter().enumerate() {
        ok(&tagbump(&dir, &["values.yaml", "--path", &format!("k{i}.tag"), "--tag", tag], None));
        ok(&tagbump(&dir, &["k/kustomization.yaml", "--image", &format!("img-{i}"), "--tag", tag], None));
    }
    let mut readings = python_readers(&dir.join("values.yaml"));
    readings.extend(helm_reader(&dir.join("values.yaml")));
    readings.extend(kustomize_reader(&dir.join("k")));
    let mut wrong: Vec<String> = readings.iter().filter(|((_, k), _)| k == "error").map(|(_, e)| e.clone()).collect();
    for reader in ["pyyaml", "ruamel", "helm", "kustomize"] {
        for (i, tag) in tags.iter().enumerate() {
            let want = format!("str:{}", serde_json::to_string(tag).unwrap());
            match readings.get(&(reader.to_owned(), format!("k{i}"))) {
                Some(got) if *got == want => {}
                got => wrong.push(format!("{reader} read {tag:?} as {got:?}")),
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {} readings differ:\n{}", wrong.len(), 4 * tags.len(), wrong.join("\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `tag` paths of image blocks (a mapping holding `repository` and `tag`) in a values file.
fn image_tag_paths(node: &serde_yaml::Value, at: &str, found: &mut Vec<(String, String)>) {
    let Some(map) = node.as_mapping() else { return };
    if let (Some(repository), Some(_)) = (map.get("repository").and_then(|r| r.as_str()), map.get("tag")) {
        found.push((format!("{at}.tag").trim_start_matches('.').to_owned(), repository.to_owned()));
    }
    for (key, value) in map {
        if let Some(key) = key.as_str().filter(|k| !k.contains('.')) {
            image_tag_paths(value, &format!("{at}.{key}"), found);
        }
    }
}

#[test]
fn upstream_charts_values_change_by_one_line_and_helm_renders_the_new_tag() {
    let charts = ["EKSKIT_EXTERNAL_SECRETS_CHART", "EKSKIT_KARPENTER_CHART", "EKSKIT_CERT_MANAGER_CHART"];
    let mut bumped = 0;
    for chart in charts.map(|c| PathBuf::from(&env()[c])) {
        let original = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
        let mut paths = Vec::new();
        image_tag_paths(&serde_yaml::from_str(&original).unwrap(), "", &mut paths);
        let dir = git_clone(&daemon_url(&remote(&[("values.yaml", &original)])));
        let renderable = renderable_chart(&chart);
        for (path, repository) in paths {
            let tag = "0123abcd";
            ok(&tagbump(&dir, &["values.yaml", "--path", &path, "--tag", tag], None));
            let edited = std::fs::read_to_string(dir.join("values.yaml")).unwrap();
            let changed: Vec<(&str, &str)> = original.lines().zip(edited.lines()).filter(|(a, b)| a != b).collect();
            assert_eq!(changed.len(), 1, "{}: {path}: one line changes: {changed:?}", chart.display());
            assert_eq!(original.lines().count(), edited.lines().count());
            let out = std::process::Command::new(&env()["EKSKIT_HELM"])
                .args(["template", "x", renderable.to_str().unwrap(), "-f", dir.join("values.yaml").to_str().unwrap()])
                .args(["--set", "settings.clusterName=c"])
                .output()
                .unwrap();
            let rendered = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "helm template {}: {}", chart.display(), stderr(&out));
            if rendered.contains(&format!("{repository}:")) {
                assert!(rendered.contains(&format!("{repository}:{tag}")), "{path}: helm renders {repository}:{tag}");
            }
            git(&dir, &["reset", "-q", "--hard", "HEAD~1"]);
            bumped += 1;
        }
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&renderable).unwrap();
    }
    assert!(bumped >= 4, "the cached charts hold image tags ({bumped} found)");
}

/// An empty directory for one `--repo` run's TMPDIR: empty again afterwards when tagbump removed
/// its temporary clone.
fn tmpdir() -> PathBuf {
    temp_dir("tmpdir")
}

fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// tagbump run outside any clone (a CodeBuild source without .git), with `tmp` as TMPDIR.
fn tagbump_repo(tmp: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("tagbump", env());
    cmd.current_dir(tmp).args(args).env("TMPDIR", tmp);
    cmd.env("GIT_AUTHOR_NAME", "CI Bot").env("GIT_AUTHOR_EMAIL", "ci@example.com");
    let out = run(cmd, stdin);
    assert_eq!(leftovers(tmp), Vec::<String>::new(), "the temporary clone is gone ({args:?}):\n{}", stderr(&out));
    out
}

const DEV_KUSTOMIZATION: &str = "# dev\nimages:\n  - name: comments   # the app\n    newTag: \"latest\"\n";
const PROD_KUSTOMIZATION: &str = "# prod: promoted\nimages:\n  - name: comments\n    newTag: v1.0.0 # pinned\n";

fn gitops_remote() -> String {
    remote(&[
        ("deploy/environments/dev/kustomization.yaml", DEV_KUSTOMIZATION),
        ("deploy/environments/prod/kustomization.yaml", PROD_KUSTOMIZATION),
    ])
}

/// The file at the tip of `main` of the remote, and the tip's message.
fn remote_file(name: &str, file: &str) -> (String, String) {
    let check = git_clone(&daemon_url(name));
    let text = std::fs::read_to_string(check.join(file)).unwrap();
    let message = git(&check, &["log", "-1", "--format=%B"]);
    std::fs::remove_dir_all(&check).unwrap();
    (text, message)
}

fn remote_head(name: &str) -> String {
    git(Path::new("/"), &["--git-dir", &format!("{}/{name}", env()["EKSKIT_GIT_ROOT"]), "rev-parse", "main"])
}

#[test]
fn repo_clones_the_token_remote_pushes_and_leaves_nothing_behind() {
    let token_file = &env()["EKSKIT_GIT_HTTP_TOKEN_FILE"];
    let token = std::fs::read_to_string(token_file).unwrap().trim().to_owned();
    let name = gitops_remote();
    let url = format!("{}/{name}", env()["EKSKIT_GIT_HTTP_URL"]);
    let file = "deploy/environments/dev/kustomization.yaml";
    let tmp = tmpdir();
    let pushed =
        r#"{"push": {"repository": "127.0.0.1:5001/comments", "tags": ["0123abcd"], "digest": "sha256:5eed"}}"#;
    let args = [file, "--repo", &url, "--branch", "main", "--push", "--token-file", token_file];

    let first = tagbump_repo(&tmp, &args, Some(pushed));
    let doc = ok(&first);
    assert_schema("bump.schema.json", &doc["bump"]);
    assert_eq!(doc["push"]["digest"], "sha256:5eed", "the stdin document is kept");
    let bump = &doc["bump"];
    assert_eq!((bump["repository"].as_str(), bump["file"].as_str()), (Some(url.as_str()), Some(file)));
    assert_eq!((bump["old"].as_str(), bump["new"].as_str()), (Some("latest"), Some("0123abcd")));
    assert_eq!(
        (bump["pushed"].as_bool(), bump["branch"].as_str(), bump["attempts"].as_u64()),
        (Some(true), Some("main"), Some(1))
    );
    assert!(bump.get("from").is_none());
    let (text, message) = remote_file(&name, file);
    assert_eq!(text, DEV_KUSTOMIZATION.replace("latest", "0123abcd"), "only the tag's bytes change");
    assert!(message.ends_with("\n\nImage-Digest: sha256:5eed"), "{message}");
    assert_eq!(remote_head(&name), bump["commit"].as_str().unwrap());

    let mut by_env = tool("tagbump", env());
    by_env.current_dir(&tmp).env("TMPDIR", &tmp).env("GIT_TOKEN", &token);
    by_env.args([file, "--repo", &url, "--branch", "main", "--push"]);
    let second = run(by_env, Some(pushed));
    assert!(leftovers(&tmp).is_empty());
    let again = ok(&second);
    assert_eq!((again["bump"]["commit"].clone(), again["bump"]["pushed"].clone()), (Value::Null, Value::Bool(false)));
    assert_eq!(remote_head(&name), bump["commit"].as_str().unwrap(), "a re-run commits nothing");

    // No token: the fetch is refused; exit 1 naming the URL.
    let refused = tagbump_repo(&tmp, &[file, "--repo", &url, "--branch", "main", "--push", "--tag", "v9"], None);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains(&format!("fetching {url} failed")), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("hint: give a token"), "{}", stderr(&refused));

    for out in [&first, &second, &refused] {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
        assert!(!all.contains(&token), "the token leaked");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn repo_refuses_a_missing_branch_bad_paths_and_unreachable_remotes() {
    let name = gitops_remote();
    let url = daemon_url(&name);
    let head = remote_head(&name);
    let tmp = tmpdir();
    let file = "deploy/environments/dev/kustomization.yaml";
    let unreachable = format!("http://127.0.0.1:{}/gitops.git", ekskit_tests::free_port());
    for (args, code, why) in [
        (vec![file, "--repo", &url, "--branch", "gitops", "--push", "--tag", "v2"], 2, "has no branch gitops"),
        (vec!["../kustomization.yaml", "--repo", &url, "-b", "main", "--push", "--tag", "v2"], 2, "not a path inside"),
        (
            vec!["/etc/kustomization.yaml", "--repo", &url, "-b", "main", "--push", "--tag", "v2"],
            2,
            "not a path inside",
        ),
        (
            vec!["deploy/kustomization.yaml", "--repo", &url, "-b", "main", "--push", "--tag", "v2"],
            2,
            "deploy/kustomization.yaml is not on branch main of",
        ),
        (vec![file, "--repo", &url, "-b", "main", "--push", "--from", "../dev.yaml"], 2, "not a path inside"),
        (
            vec![file, "--repo", &url, "-b", "main", "--push", "--from", "missing.yaml"],
            2,
            "missing.yaml is not on branch main",
        ),
        (vec![file, "--repo", &url, "-b", "main", "--tag", "v2"], 2, "--repo needs --push"),
        (vec![file, "--repo", &url, "--push", "--tag", "v2"], 2, "--repo needs --branch"),
        (
            vec![file, "--repo", "https://x:s3cr3t@git.example.org/g.git", "-b", "main", "--push", "--tag", "v2"],
            2,
            "https://git.example.org/g.git carries credentials",
        ),
        (
            vec![file, "--repo", &unreachable, "-b", "main", "--push", "--tag", "v2"],
            1,
            &format!("fetching {unreachable} failed"),
        ),
    ] {
        let out = tagbump_repo(&tmp, &args, None);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        let error = stderr(&out).lines().find(|l| l.starts_with("tagbump: error: ")).unwrap_or_default().to_owned();
        assert!(error.contains(why), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("s3cr3t"));
    }
    let missing = tagbump_repo(&tmp, &[file, "--repo", &url, "--branch", "gitops", "--push", "--tag", "v2"], None);
    assert!(
        stderr(&missing).contains("hint: create it, e.g. from main in a clone: git push origin main:gitops"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(remote_head(&name), head, "nothing was pushed");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn from_promotes_the_tag_of_another_file_in_a_clone_and_with_repo() {
    let name = gitops_remote();
    let dev = "deploy/environments/dev/kustomization.yaml";
    let prod = "deploy/environments/prod/kustomization.yaml";
    // In a clone: dev gets a build's tag, prod copies it; stdin's push is ignored with --from.
    let dir = git_clone(&daemon_url(&name));
    ok(&tagbump(&dir, &[dev, "--tag", "0123abcd", "--push"], None));
    let pushed = r#"{"push": {"repository": "comments", "tags": ["ignored"], "digest": "sha256:0"}}"#;
    let doc = ok(&tagbump(&dir, &[prod, "--from", dev], Some(pushed)));
    assert_schema("bump.schema.json", &doc["bump"]);
    assert_eq!((doc["bump"]["from"].as_str(), doc["bump"]["new"].as_str()), (Some(dev), Some("0123abcd")));
    assert_eq!((doc["bump"]["old"].as_str(), doc["bump"]["image"].as_str()), (Some("v1.0.0"), Some("comments")));
    assert!(doc["bump"].get("repository").is_none());
    assert_eq!(std::fs::read_to_string(dir.join(prod)).unwrap(), PROD_KUSTOMIZATION.replace("v1.0.0", "0123abcd"));
    let message = git(&dir, &["log", "-1", "--format=%B"]);
    assert!(message.contains(&format!("copied from {dev}")) && !message.contains("Image-Digest"), "{message}");
    let out = tagbump(&dir, &[prod, "--from", dev, "--tag", "v2"], None);
    assert_eq!(out.status.code(), Some(2), "--from conflicts with --tag");
    std::fs::remove_dir_all(&dir).unwrap();

    // With --repo: the dry run shows the diff and pushes nothing; the real run pushes.
    let tmp = tmpdir();
    let url = daemon_url(&name);
    let work = git_clone(&url);
    ok(&tagbump(&work, &[dev, "--tag", "v2.0.0", "--push"], None));
    std::fs::remove_dir_all(&work).unwrap();
    let head = remote_head(&name);
    let plan = ok(&tagbump_repo(&tmp, &[prod, "--repo", &url, "-b", "main", "--from", dev, "--dry-run"], None));
    assert_schema("plan.bump.schema.json", &plan["plan"]["bump"]);
    assert!(plan["plan"]["bump"]["diff"].as_str().unwrap().contains("+    newTag: v2.0.0 # pinned"), "{plan:#}");
    assert_eq!(remote_head(&name), head, "a dry run pushes nothing");
    let doc = ok(&tagbump_repo(&tmp, &[prod, "--repo", &url, "-b", "main", "--from", dev, "--push"], None));
    assert_eq!((doc["bump"]["from"].as_str(), doc["bump"]["repository"].as_str()), (Some(dev), Some(url.as_str())));
    assert_eq!(doc["bump"]["pushed"], true);
    assert_eq!(remote_file(&name, prod).0, PROD_KUSTOMIZATION.replace("v1.0.0", "v2.0.0"));
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Holds the first push to `bare` in its pre-receive hook until `<marks>/go` exists (at most 30 s);
/// `<marks>/waiting` says it is held.
fn hold_first_push(bare: &Path, marks: &Path) {
    let hook = bare.join("hooks/pre-receive");
    let m = marks.display();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\nif mkdir {m}/first 2>/dev/null; then\n  touch {m}/waiting\n  i=0\n  while [ ! -e {m}/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\nfi\n"
        ),
    )
    .unwrap();
    make_executable(&hook);
}

/// Starts `cmd` (output piped) and returns once its push is held by [`hold_first_push`].
#[allow(clippy::disallowed_methods, reason = "polls the hook's mark file")]
fn spawn_until_held(mut cmd: std::process::Command, marks: &Path) -> std::process::Child {
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    while !marks.join("waiting").exists() {
        assert!(started.elapsed().as_secs() < 60, "tagbump never pushed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

#[test]
fn a_push_lost_to_a_commit_made_after_the_shallow_clone_is_redone_on_the_new_tip() {
    let name = gitops_remote();
    let bare = PathBuf::from(&env()["EKSKIT_GIT_ROOT"]).join(&name);
    let marks = std::env::temp_dir().join(unique_stack("race"));
    std::fs::create_dir_all(&marks).unwrap();
    // Some history, so that the depth-1 clone lacks its tip's parent.
    let other = git_clone(&daemon_url(&name));
    std::fs::write(other.join("README.md"), "gitops\n").unwrap();
    git(&other, &["add", "README.md"]);
    git(&other, &["commit", "-qm", "readme"]);
    git(&other, &["push", "-q", "origin", "HEAD:main"]);
    // The first push waits in pre-receive until the test has pushed another commit: its ref
    // update then fails, as a push racing another pipeline's does.
    hold_first_push(&bare, &marks);
    std::fs::write(other.join("NOTES.md"), "another pipeline's commit\n").unwrap();
    git(&other, &["add", "NOTES.md"]);
    git(&other, &["commit", "-qm", "notes"]);

    let tmp = tmpdir();
    let mut cmd = tool("tagbump", env());
    let prod = "deploy/environments/prod/kustomization.yaml";
    cmd.current_dir(&tmp).env("TMPDIR", &tmp);
    cmd.args([prod, "--repo", &daemon_url(&name), "--branch", "main", "--push", "--tag", "v3", "-v"]);
    let child = spawn_until_held(cmd, &marks);
    git(&other, &["push", "-q", bare.to_str().unwrap(), "HEAD:main"]);
    std::fs::write(marks.join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let doc = ok(&out);
    assert!(stderr(&out).contains("depth 1"), "the clone is shallow:\n{}", stderr(&out));
    assert!(stderr(&out).contains("rejected"), "{}", stderr(&out));
    assert_eq!((doc["bump"]["pushed"].as_bool(), doc["bump"]["attempts"].as_u64()), (Some(true), Some(2)));
    assert!(leftovers(&tmp).is_empty(), "the temporary clone is gone");
    let check = git_clone(&daemon_url(&name));
    assert_eq!(std::fs::read_to_string(check.join("NOTES.md")).unwrap(), "another pipeline's commit\n");
    assert_eq!(std::fs::read_to_string(check.join(prod)).unwrap(), PROD_KUSTOMIZATION.replace("v1.0.0", "v3"));
    assert_eq!(git(&check, &["rev-list", "--count", "HEAD"]), "4", "seed, readme, the other commit, the bump on top");
    for dir in [&other, &check, &tmp, &marks] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
#[allow(clippy::disallowed_methods, reason = "lets the run get going before the signal")]
fn ctrl_c_during_a_repo_run_leaves_no_clone_behind() {
    let name = gitops_remote();
    let bare = PathBuf::from(&env()["EKSKIT_GIT_ROOT"]).join(&name);
    let marks = std::env::temp_dir().join(unique_stack("sigint"));
    std::fs::create_dir_all(&marks).unwrap();
    // The push waits on the server until the test has sent SIGINT.
    hold_first_push(&bare, &marks);
    let tmp = tmpdir();
    let mut cmd = tool("tagbump", env());
    cmd.current_dir(&tmp).env("TMPDIR", &tmp);
    cmd.args([
        "deploy/environments/prod/kustomization.yaml",
        "--repo",
        &daemon_url(&name),
        "-b",
        "main",
        "--push",
        "--tag",
        "v4",
    ]);
    let child = spawn_until_held(cmd, &marks);
    assert!(!leftovers(&tmp).is_empty(), "the clone exists while tagbump runs");
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::write(marks.join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    // The push under way ends either way; the run then stops (130) or reports it (0).
    assert!(matches!(out.status.code(), Some(0 | 130)), "{:?}: {}", out.status, stderr(&out));
    assert!(leftovers(&tmp).is_empty(), "the temporary clone is gone after Ctrl-C: {:?}", leftovers(&tmp));
    for dir in [&tmp, &marks] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn only_the_bump_is_pushed_and_a_branch_with_the_users_commits_is_never_moved() {
    let name = remote(&[("values.yaml", "image:\n  tag: v1\n")]);
    let dir = git_clone(&daemon_url(&name));
    // The user's own work on the branch, not pushed: tagbump must neither push nor move it.
    write_file(&dir, "notes.txt", "mine\n");
    git(&dir, &["add", "notes.txt"]);
    git(&dir, &["-c", "user.name=U", "-c", "user.email=u@example.com", "commit", "-qm", "my work"]);
    let mine = git(&dir, &["rev-parse", "HEAD"]);

    let out = tagbump(&dir, &["values.yaml", "--tag", "v2", "--push"], None);
    let doc = ok(&out);
    assert_eq!(doc["bump"]["pushed"], true);
    assert!(stderr(&out).contains("left alone (not pushed)"), "{}", stderr(&out));
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), mine, "the user's branch is where it was");
    let check = git_clone(&daemon_url(&name));
    assert_eq!(std::fs::read_to_string(check.join("values.yaml")).unwrap(), "image:\n  tag: v2\n");
    assert!(!check.join("notes.txt").exists(), "the user's commit was not pushed");
    assert_eq!(git(&check, &["rev-list", "--count", "HEAD"]), "2");

    // A tagbump commit left by a run that did not push is superseded: the next pushing run
    // goes on the remote's tip and the local branch follows it.
    let fresh = git_clone(&daemon_url(&name));
    ok(&tagbump(&fresh, &["values.yaml", "--tag", "v3"], None));
    let pushed = ok(&tagbump(&fresh, &["values.yaml", "--tag", "v4", "--push"], None));
    assert_eq!(pushed["bump"]["pushed"], true);
    assert_eq!(git(&fresh, &["rev-parse", "HEAD"]), pushed["bump"]["commit"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(fresh.join("values.yaml")).unwrap(), "image:\n  tag: v4\n");
    assert_eq!(git(&fresh, &["status", "--porcelain"]), "", "the work tree followed the branch");
    let check2 = git_clone(&daemon_url(&name));
    assert!(git(&check2, &["log", "--format=%s", "-1"]).ends_with(": v2 -> v4"), "built on the remote's v2");
    for d in [dir, check, fresh, check2] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
