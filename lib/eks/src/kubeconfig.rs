//! `--kubeconfig FILE`: the cluster merged into a kubeconfig the way `aws eks update-kubeconfig`
//! does it: entries named by the cluster ARN, replacing an older entry of that name, the user an
//! `exec` of `aws eks get-token` (never a stored token), and the context made current.

use std::io::Write;
use std::path::{Path, PathBuf};

use ekskit_core::InputError;
use serde_yaml::{Mapping, Value};

/// What the kubeconfig entry needs to know.
pub struct Entry<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub region: &'a str,
    pub endpoint: &'a str,
    pub certificate_authority: &'a str,
    /// `--profile`, passed on to `aws` through AWS_PROFILE.
    pub profile: Option<&'a str>,
}

/// `existing` (a kubeconfig's text, or None for a new file) with `entry` merged in.
pub fn merge(existing: Option<&str>, entry: &Entry<'_>) -> Result<String, String> {
    let mut root = match existing.map(serde_yaml::from_str::<Value>) {
        None => Value::Mapping(Mapping::new()),
        Some(Ok(Value::Null)) => Value::Mapping(Mapping::new()),
        Some(Ok(v @ Value::Mapping(_))) => v,
        Some(Ok(_)) => return Err("it is not a kubeconfig (not a YAML mapping)".into()),
        Some(Err(e)) => return Err(format!("it is not valid YAML: {e}")),
    };
    let map = root.as_mapping_mut().expect("a mapping");
    map.entry("apiVersion".into()).or_insert("v1".into());
    map.entry("kind".into()).or_insert("Config".into());
    let cluster = yaml(serde_json::json!({
        "name": entry.arn,
        "cluster": {"server": entry.endpoint, "certificate-authority-data": entry.certificate_authority},
    }));
    let mut exec = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["--region", entry.region, "eks", "get-token", "--cluster-name", entry.name, "--output", "json"],
        "interactiveMode": "Never",
    });
    if let Some(profile) = entry.profile {
        exec["env"] = serde_json::json!([{"name": "AWS_PROFILE", "value": profile}]);
    }
    let user = yaml(serde_json::json!({"name": entry.arn, "user": {"exec": exec}}));
    let context = yaml(serde_json::json!({"name": entry.arn, "context": {"cluster": entry.arn, "user": entry.arn}}));
    for (key, item) in [("clusters", cluster), ("users", user), ("contexts", context)] {
        upsert(map, key, item)?;
    }
    map.insert("current-context".into(), entry.arn.into());
    serde_yaml::to_string(&root).map_err(|e| e.to_string())
}

fn yaml(v: serde_json::Value) -> Value {
    serde_yaml::to_value(v).expect("JSON is YAML")
}

/// Replaces the item of the same `name` in the list `key`, or appends it.
fn upsert(map: &mut Mapping, key: &str, item: Value) -> Result<(), String> {
    let list = map.entry(key.into()).or_insert_with(|| Value::Sequence(Vec::new()));
    if list.is_null() {
        *list = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = list else { return Err(format!("its `{key}` is not a list")) };
    match items.iter_mut().find(|i| i.get("name") == item.get("name")) {
        Some(slot) => *slot = item,
        None => items.push(item),
    }
    Ok(())
}

/// Fails (exit 2) when `path` exists and is no kubeconfig, before anything is created.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let probe =
        Entry { arn: "probe", name: "probe", region: "", endpoint: "", certificate_authority: "", profile: None };
    merged(path, &probe).map(|_| ())
}

fn merged(path: &Path, entry: &Entry<'_>) -> anyhow::Result<String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(InputError::new(format!("reading kubeconfig {}: {e}", path.display())).into()),
    };
    merge(existing.as_deref(), entry).map_err(|why| {
        InputError::new(format!("not writing {}: {why}", path.display())).hint("pass another --kubeconfig FILE").into()
    })
}

/// Merges `entry` into the file at `path` (created if missing, mode 0600, replaced atomically).
pub fn write(path: &Path, entry: &Entry<'_>) -> anyhow::Result<()> {
    let text = merged(path, entry)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let (tmp, mut file) = create_private_beside(path)?;
    let written =
        file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

/// A new file beside `path`, readable by its owner only from the moment it exists (not
/// chmod'ed after the umask let others open it), under a name no other file has: O_EXCL never
/// writes through a file or link someone put there first.
fn create_private_beside(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut attempt = 0;
    loop {
        let tmp = path.with_file_name(format!(".{name}.ekskit-{}-{attempt}", std::process::id()));
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            arn: "arn:aws:eks:us-east-1:123456789012:cluster/demo",
            name: "demo",
            region: "us-east-1",
            endpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com",
            certificate_authority: "LS0tLS1CRUdJTg==",
            profile: None,
        }
    }

    #[test]
    fn merges_beside_other_clusters_replaces_its_own_and_never_stores_a_token() {
        let other = "apiVersion: v1\nkind: Config\nclusters:\n- name: kind\n  cluster: {server: 'https://127.0.0.1:6443'}\n\
                     users:\n- name: kind\n  user: {token: abc}\ncontexts:\n- name: kind\n  context: {cluster: kind, user: kind}\n\
                     current-context: kind\n";
        let once = merge(Some(other), &entry()).unwrap();
        let twice = merge(Some(&once), &entry()).unwrap();
        assert_eq!(once, twice, "merging again changes nothing");
        let v: Value = serde_yaml::from_str(&twice).unwrap();
        assert_eq!(v["clusters"].as_sequence().unwrap().len(), 2);
        assert_eq!(v["current-context"], "arn:aws:eks:us-east-1:123456789012:cluster/demo");
        let user = &v["users"][1]["user"];
        assert_eq!(user["exec"]["command"], "aws");
        assert_eq!(user["exec"]["args"][3], "get-token");
        assert!(user.get("token").is_none());
        assert_eq!(v["users"][0]["user"]["token"], "abc", "other users are kept as they were");
        assert!(merge(Some("- a list"), &entry()).is_err());
        assert!(merge(Some("clusters: {a: 1}"), &entry()).is_err());
        let fresh: Value = serde_yaml::from_str(&merge(None, &entry()).unwrap()).unwrap();
        assert_eq!((fresh["apiVersion"].as_str(), fresh["kind"].as_str()), (Some("v1"), Some("Config")));
    }

    #[cfg(unix)]
    #[test]
    fn writes_0600_from_the_start_under_a_fresh_name_and_leaves_no_temporary_file() {
        use std::os::unix::fs::{MetadataExt, symlink};
        let dir = std::env::temp_dir().join(format!("ekskit-kubeconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        // What the old fixed temporary name would have written through.
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        symlink(&victim, path.with_extension("ekskit-tmp")).unwrap();
        symlink(&victim, dir.join(format!(".config.ekskit-{}-0", std::process::id()))).unwrap();

        write(&path, &entry()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&path).unwrap().contains("ABC.gr7"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let planted = format!(".config.ekskit-{}-0", std::process::id());
        assert_eq!(left, [planted.as_str(), "config", "config.ekskit-tmp", "victim"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
