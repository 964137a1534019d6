//! Nothing site-specific is hard-coded in what ekskit ships and runs: no account ids, regions,
//! ARNs naming an account, user names or repository URLs in `deploy/`, `scripts/`, `tools/`,
//! the CI definitions, the tools' assets and the add-on policies. Such values come from flags,
//! the document (kapply placeholders) or the environment.

use std::path::{Path, PathBuf};

use ekskit_tests::repo_root;

/// The places that ship or run against a real site.
const SCANNED: [&str; 7] =
    ["deploy", "scripts", "tools", "buildspec.yml", ".github", "lib/eks/policies", "lib/mon/assets"];

/// The user and repository of the seed this project grew from.
const KNOWN_SITE_WORDS: [&str; 2] = ["iriscafe", "devops-test"];

/// Forges whose repository URLs would be someone's repository (upstream chart and module hosts
/// such as `aws.github.io` or `github.com/<project>@v1` module paths are fine).
const FORGES: [&str; 3] = ["github.com", "gitlab.com", "bitbucket.org"];

/// The one line allowed to name a region: the local emulator's own, in scripts/devstack.
fn allowed(path: &Path, line: &str) -> bool {
    path.ends_with("scripts/devstack") && line.starts_with("EMULATOR_REGION=")
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = SCANNED.iter().map(|p| root.join(p)).filter(|p| p.exists()).collect();
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A 12-digit run not inside a longer number: the shape of an AWS account id.
fn has_account_id(line: &str) -> bool {
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..b.len()).any(|i| (i == 0 || !digit(i - 1)) && (i..i + 12).all(digit) && !digit(i + 12))
}

/// `us-east-1`, `eu-central-2`, `ap-southeast-4`, `us-gov-west-1`, ...: an AWS region name.
fn region_in(line: &str) -> Option<String> {
    const AREAS: [&str; 9] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];
    const DIRECTIONS: [&str; 9] =
        ["north", "south", "east", "west", "central", "northeast", "southeast", "northwest", "southwest"];
    let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
    words
        .filter(|w| {
            let parts: Vec<&str> = w.split('-').filter(|p| *p != "gov").collect();
            matches!(parts[..], [area, direction, number]
                if AREAS.contains(&area) && DIRECTIONS.contains(&direction)
                    && number.len() == 1 && number.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned)
        .next()
}

/// `https://github.com/owner/repo(.git)` or `git@github.com:owner/repo`: someone's repository.
fn repository_url(line: &str) -> bool {
    FORGES.iter().any(|forge| {
        line.contains(&format!("https://{forge}/"))
            || line.contains(&format!("http://{forge}/"))
            || line.contains(&format!("git@{forge}:"))
            || line.contains(&format!("ssh://git@{forge}"))
    })
}

fn findings(path: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), n + 1);
        if has_account_id(line) {
            found.push(format!("{at}: an account-id-shaped number: {line}"));
        }
        if let Some(region) = region_in(line).filter(|_| !allowed(path, line)) {
            found.push(format!("{at}: the region {region}: {line}"));
        }
        if repository_url(line) {
            found.push(format!("{at}: a repository URL: {line}"));
        }
        if let Some(word) = KNOWN_SITE_WORDS.iter().find(|w| line.contains(*w)) {
            found.push(format!("{at}: the seed's site value {word}: {line}"));
        }
    }
    found
}

#[test]
fn nothing_site_specific_is_hard_coded() {
    let root = repo_root();
    let mut found = Vec::new();
    let scanned = files(&root);
    assert!(scanned.len() > 50, "the scan found only {} files", scanned.len());
    for path in scanned {
        let Ok(text) = std::fs::read_to_string(&path) else { continue }; // binary
        found.extend(findings(path.strip_prefix(&root).unwrap(), &text));
    }
    assert!(found.is_empty(), "site-specific values:\n{}", found.join("\n"));
}

#[test]
fn the_scan_catches_what_it_looks_for() {
    let file = Path::new("deploy/x.yaml");
    let hits = |text: &str| findings(file, text).len();
    assert_eq!(hits("image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"), 2, "account and region");
    assert_eq!(hits("role: arn:aws:iam::210987654321:role/x"), 1);
    assert_eq!(hits("region: ap-southeast-4"), 1);
    assert_eq!(hits("region: us-gov-west-1"), 1);
    assert_eq!(hits("repoURL: https://github.com/someone/gitops.git"), 1);
    assert_eq!(hits("remote: git@gitlab.com:team/gitops.git"), 1);
    assert_eq!(hits("# from iriscafe's write-up"), 1);
    // Not site values: longer numbers, placeholders, upstream module paths, chart hosts.
    assert_eq!(hits("digest: sha256:1234567890123 and ${cluster.region}"), 0);
    assert_eq!(hits("go: github.com/cert-manager/cert-manager@v1.21.2 https://aws.github.io/eks-charts"), 0);
    assert_eq!(hits("name: us-east-10a-west"), 0);
    assert!(allowed(Path::new("scripts/devstack"), "EMULATOR_REGION=${EKSKIT_EMULATOR_REGION:-us-east-1}"));
    assert!(!allowed(Path::new("scripts/up"), "EMULATOR_REGION=us-east-1"));
}
