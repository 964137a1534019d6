//! Reading manifests: files, directories (recursive), `-` for stdin, URLs and kustomize
//! overlays, each a stream of YAML or JSON documents, into one list of objects.

use std::path::{Path, PathBuf};

use ekskit_core::InputError;
use futures::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, info};

/// Where manifests come from, in the order given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Stdin,
    Url(String),
    Kustomize(PathBuf),
}

impl Source {
    /// `-f` values: `-`, `http(s)://…`, or a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Source::Stdin
        } else if arg.starts_with("https://") || arg.starts_with("http://") {
            Source::Url(arg.to_owned())
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

/// One Kubernetes object and where it was read (`deploy/app.yaml#2` is its second document).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub origin: String,
    pub object: Value,
}

impl Manifest {
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str().filter(|ns| !ns.is_empty())
    }
}

/// Files parsed at the same time.
const PARSERS: usize = 4;

/// Reads every source; errors are input errors naming the file (nothing has been applied yet).
pub async fn load(sources: &[Source]) -> anyhow::Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    for source in sources {
        match source {
            Source::Stdin => {
                let text = tokio::task::spawn_blocking(|| std::io::read_to_string(std::io::stdin())).await??;
                manifests.extend(parse_stream(&text, "<stdin>")?);
            }
            Source::Path(path) => {
                // Files are parsed side by side: YAML parsing is most of the time of an unchanged
                // re-apply of CRD-heavy installs (megabytes of schemas).
                let parsed: Vec<Vec<Manifest>> = stream::iter(manifest_files(path)?)
                    .map(|file| async { anyhow::Ok(tokio::task::spawn_blocking(|| read_file(file)).await??) })
                    .buffered(PARSERS)
                    .try_collect()
                    .await?;
                manifests.extend(parsed.into_iter().flatten());
            }
            Source::Url(arg) => {
                let pinned = Pinned::parse(arg)?;
                manifests.extend(parse_stream(&fetch(&pinned).await?, &pinned.url)?)
            }
            Source::Kustomize(dir) => {
                manifests.extend(parse_stream(&kustomize(dir).await?, &format!("kustomize {}", dir.display()))?)
            }
        }
    }
    Ok(manifests)
}

fn read_file(file: PathBuf) -> Result<Vec<Manifest>, InputError> {
    let text =
        std::fs::read_to_string(&file).map_err(|e| InputError::new(format!("reading {}: {e}", file.display())))?;
    parse_stream(&text, &file.display().to_string())
}

/// The files under `path`: the path itself, or every `.yaml`, `.yml` and `.json` below a
/// directory in path order, leaving out kustomization files (those are for `-k`).
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        InputError::new(format!("{}: {e}", path.display())).hint("pass a file, a directory, a URL or - for stdin")
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir).map_err(|e| InputError::new(format!("reading {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry.map_err(|e| InputError::new(format!("reading {}: {e}", dir.display())))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if matches!(name, "kustomization.yaml" | "kustomization.yml" | "Kustomization") {
            info!("skipping {} (apply overlays with -k DIR)", path.display());
        } else if [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext)) {
            files.push(path);
        } else {
            debug!("skipping {}: not .yaml, .yml or .json", path.display());
        }
    }
    Ok(())
}

/// Splits a YAML (or JSON) stream into objects; `List` kinds are opened into their items.
pub fn parse_stream(text: &str, origin: &str) -> Result<Vec<Manifest>, InputError> {
    let mut out = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let at = format!("{origin}#{}", index + 1);
        let value = Value::deserialize(doc).map_err(|e| {
            InputError::new(format!("{at}: not valid YAML or JSON: {e}"))
                .hint("fix the document; `kubectl apply` would refuse it too")
        })?;
        match value {
            Value::Null => continue,
            Value::Object(_)
                if value["kind"].as_str().is_some_and(|k| k.ends_with("List")) && value["items"].is_array() =>
            {
                for (i, item) in value["items"].as_array().into_iter().flatten().enumerate() {
                    out.push(check(Manifest { origin: format!("{at}.items[{i}]"), object: item.clone() })?);
                }
            }
            _ => out.push(check(Manifest { origin: at, object: value })?),
        }
    }
    Ok(out)
}

fn check(m: Manifest) -> Result<Manifest, InputError> {
    let bad = |what: &str| {
        InputError::new(format!("{}: {what}", m.origin))
            .hint("every object needs apiVersion, kind and metadata.name (server-side apply cannot use generateName)")
    };
    if !m.object.is_object() {
        return Err(bad("is not a mapping"));
    }
    if m.api_version().is_empty() {
        return Err(bad("has no apiVersion"));
    }
    if m.kind().is_empty() {
        return Err(bad("has no kind"));
    }
    if m.name().is_empty() {
        return Err(bad(&format!("{} has no metadata.name", m.kind())));
    }
    Ok(m)
}

/// Manifests are text: the largest common bundles (Argo CD's install.yaml, operators' CRDs) are a
/// few MiB. A body past this is refused rather than read into memory.
const MAX_FETCH_BYTES: usize = 64 << 20;

/// A `-f URL`, checked before anything is fetched: HTTPS, or plain HTTP to this machine only
/// (manifests fetched in the clear can be altered on the way, and kapply applies them with all
/// the rights it has). `#sha256=HEX` pins the body's digest, as pip's URLs do.
#[derive(Debug, PartialEq, Eq)]
struct Pinned {
    url: String,
    sha256: Option<String>,
}

impl Pinned {
    fn parse(arg: &str) -> Result<Pinned, InputError> {
        let (url, fragment) = arg.split_once('#').map_or((arg, None), |(url, f)| (url, Some(f)));
        if !ekskit_core::net::tls_or_loopback(url) {
            return Err(InputError::new(format!("-f {url}: plain HTTP to another machine")).hint(
                "use https:// (plain http:// only from this machine), or download the file, check it and pass it",
            ));
        }
        let sha256 = match fragment.filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => match f.strip_prefix("sha256=") {
                Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Some(hex.to_ascii_lowercase())
                }
                _ => {
                    return Err(InputError::new(format!("-f {arg}: `#{f}` is not a pin")).hint(
                        "pin the body with #sha256=<64 hex digits> (sha256sum of the file), or leave the fragment out",
                    ));
                }
            },
        };
        Ok(Pinned { url: url.to_owned(), sha256 })
    }

    /// The body, if it is what the pin says.
    fn check(&self, body: String) -> Result<String, InputError> {
        use sha2::{Digest, Sha256};
        let Some(want) = &self.sha256 else { return Ok(body) };
        let got = format!("{:x}", Sha256::digest(body.as_bytes()));
        if &got != want {
            return Err(InputError::new(format!("-f {}: its sha256 is {got}, the pin says {want}", self.url)).hint(
                "the file changed where it is served: read what changed, then pin the new digest (nothing was applied)",
            ));
        }
        Ok(body)
    }
}

/// Redirects are followed to HTTPS only (or, from this machine, within it), at most ten.
fn redirects(from_loopback: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let to = attempt.url();
        if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else if to.scheme() == "https" || (from_loopback && ekskit_core::net::tls_or_loopback(to.as_str())) {
            attempt.follow()
        } else {
            let to = to.to_string();
            attempt.error(format!("redirected to {to}, plain HTTP to another machine"))
        }
    })
}

/// The body of a successful answer, refused past [`MAX_FETCH_BYTES`] or when it is not text.
async fn body(mut response: reqwest::Response) -> Result<String, Fetch> {
    let too_big = || Fetch::Refused(format!("the body is larger than {} MiB", MAX_FETCH_BYTES >> 20));
    if response.content_length().is_some_and(|n| n > MAX_FETCH_BYTES as u64) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Fetch::Transient(format!("reading the body: {e}")))? {
        if bytes.len() + chunk.len() > MAX_FETCH_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Fetch::Refused("the body is not UTF-8 text".into()))
}

/// Why one attempt to fetch a URL failed, and whether another attempt may do better.
#[derive(Debug)]
enum Fetch {
    /// No connection, a timeout, a 429 or a 5xx.
    Transient(String),
    /// A 4xx: the URL is wrong.
    Refused(String),
}

impl std::fmt::Display for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fetch::Transient(why) | Fetch::Refused(why) => f.write_str(why),
        }
    }
}

/// GET with a connect and a total timeout (a stalled server ends the run with a reason instead
/// of hanging it), retried on a transient failure three times with backoff; the body checked
/// against its pin.
async fn fetch(pinned: &Pinned) -> anyhow::Result<String> {
    use ekskit_core::wait::{Backoff, GaveUp, Limit, Retry, retry};
    let url = pinned.url.as_str();
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .redirect(redirects(url.starts_with("http://")))
        .user_agent(concat!("ekskit-kapply/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let policy = Retry {
        backoff: Backoff {
            initial: std::time::Duration::from_millis(500),
            max: std::time::Duration::from_secs(5),
            factor: 2.0,
        },
        limit: Limit::Retries(3),
    };
    let attempt = |_| async {
        let response = http.get(url).send().await.map_err(|e| {
            let why = ekskit_core::errors::chain_text(&e, true);
            if e.is_redirect() { Fetch::Refused(why) } else { Fetch::Transient(why) }
        })?;
        let status = response.status();
        if status.is_success() {
            return body(response).await;
        }
        let why = format!("HTTP {status}");
        let transient = status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        Err(if transient { Fetch::Transient(why) } else { Fetch::Refused(why) })
    };
    match retry(&format!("fetching {url}"), policy, |e| matches!(e, Fetch::Transient(_)), attempt).await {
        Ok(text) => Ok(pinned.check(text)?),
        Err(GaveUp { error: Fetch::Refused(why), .. }) => {
            Err(InputError::new(format!("fetching {url}: {why}")).hint("check the URL").into())
        }
        Err(GaveUp { error: Fetch::Transient(why), attempts }) => Err(ekskit_core::Hinted::new(
            format!("fetching {url}: {why} (after {attempts} attempts)"),
            "check the URL and the network, or download it and pass the file",
        )
        .into()),
    }
}

/// `kustomize build DIR`, else `kubectl kustomize DIR`.
async fn kustomize(dir: &Path) -> anyhow::Result<String> {
    let (program, mut args) = if let Some(p) = find_program("kustomize") {
        (p, vec!["build".to_owned()])
    } else if let Some(p) = find_program("kubectl") {
        (p, vec!["kustomize".to_owned()])
    } else {
        return Err(InputError::new(format!("-k {}: neither kustomize nor kubectl is in PATH", dir.display()))
            .hint("install kustomize (or kubectl), or render the overlay yourself and pipe it: kustomize build DIR | kapply -f -")
            .into());
    };
    args.push(dir.display().to_string());
    debug!("running {} {}", program.display(), args.join(" "));
    let out = tokio::process::Command::new(&program).args(&args).output().await?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(InputError::new(format!("{} {} failed: {}", program.display(), args.join(" "), stderr.trim()))
            .hint("fix the overlay; the message above is kustomize's")
            .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_this_machine_and_may_carry_a_sha256_pin() {
        let pin = "ab".repeat(32);
        let pinned = Pinned::parse(&format!("https://example.org/install.yaml#sha256={}", pin.to_uppercase())).unwrap();
        assert_eq!(pinned, Pinned { url: "https://example.org/install.yaml".into(), sha256: Some(pin) });
        assert_eq!(Pinned::parse("http://127.0.0.1:8080/a.yaml").unwrap().sha256, None);
        let plain = Pinned::parse("http://example.org/install.yaml").unwrap_err();
        assert!(plain.message.contains("plain HTTP to another machine"), "{}", plain.message);
        for bad in ["https://x/a.yaml#sha256=abc", "https://x/a.yaml#md5=00", "https://x/a.yaml#section"] {
            assert!(Pinned::parse(bad).unwrap_err().message.contains("is not a pin"), "{bad}");
        }
        let body = "apiVersion: v1\n".to_owned();
        let wrong = Pinned { url: "https://x/a.yaml".into(), sha256: Some("0".repeat(64)) };
        let error = wrong.check(body.clone()).unwrap_err();
        assert!(error.message.contains("the pin says"), "{}", error.message);
        use sha2::{Digest, Sha256};
        let right = Pinned { sha256: Some(format!("{:x}", Sha256::digest(body.as_bytes()))), ..wrong };
        assert_eq!(right.check(body.clone()).unwrap(), body);
    }

    #[test]
    fn splits_yaml_streams_skips_empty_documents_and_opens_lists() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n\
                    {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\
                    {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}]}\n";
        let ms = parse_stream(text, "x.yaml").unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!((ms[0].kind(), ms[0].name(), ms[0].origin.as_str()), ("Namespace", "a", "x.yaml#1"));
        assert_eq!((ms[1].kind(), ms[1].origin.as_str()), ("ConfigMap", "x.yaml#3.items[0]"));
    }

    #[test]
    fn malformed_documents_name_the_file_and_document() {
        let err = parse_stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [oops\n", "bad.yaml")
            .unwrap_err();
        assert!(err.message.starts_with("bad.yaml#2: not valid YAML"), "{}", err.message);
        let err = parse_stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "m.yaml").unwrap_err();
        assert_eq!(err.message, "m.yaml#1: ConfigMap has no metadata.name");
        let err = parse_stream("kind: ConfigMap\nmetadata: {name: a}\n", "m.yaml").unwrap_err();
        assert_eq!(err.message, "m.yaml#1: has no apiVersion");
        assert!(parse_stream("- 1\n- 2\n", "m.yaml").unwrap_err().message.contains("is not a mapping"));
    }

    #[test]
    fn directories_are_read_recursively_in_order_without_kustomizations() {
        let dir = std::env::temp_dir().join(format!("kapply-walk-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("b/c")).unwrap();
        for f in ["b/c/2.yaml", "a.json", "b/1.yml", "kustomization.yaml", "README.md", ".hidden.yaml"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let files: Vec<String> =
            manifest_files(&dir).unwrap().iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(files, ["a.json", "b/1.yml", "b/c/2.yaml"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sources_from_arguments() {
        assert_eq!(Source::from_arg("-"), Source::Stdin);
        assert_eq!(Source::from_arg("https://x/y.yaml"), Source::Url("https://x/y.yaml".into()));
        assert_eq!(Source::from_arg("deploy"), Source::Path("deploy".into()));
    }
}
