//! Registry credentials, from the first of: the ECR token (GetAuthorizationToken through the
//! standard AWS credential chain), `--username` with a password file or stdin, the Docker config
//! (`auths`, `credHelpers`, `credsStore`). Never from a flag, and never printed: [`Credentials`]
//! has no Display and its Debug hides the secret.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bollard::auth::DockerCredentials;
use ekskit_core::{Hinted, InputError};
use serde::Deserialize;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Where they came from, for the output: `ecr-token`, `password-file`, `docker-config`, …
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({} from {}, password hidden)", self.username, self.source)
    }
}

impl Credentials {
    /// The engine's X-Registry-Auth for `server`.
    pub fn for_engine(&self, server: &str) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(server.to_owned()),
            ..DockerCredentials::default()
        }
    }

    /// `Basic …` for the registry API.
    pub fn basic(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.username, self.password)))
    }

    /// An ECR authorization token: base64 of `AWS:<password>`.
    pub fn from_ecr_token(token: &str) -> anyhow::Result<Self> {
        let (username, password) = decode_pair(token)
            .ok_or_else(|| anyhow::anyhow!("the ECR authorization token is not base64 of user:password"))?;
        Ok(Self { username, password, source: "ecr-token".into() })
    }
}

/// A password read from a file (`-` is stdin), its trailing newline dropped as `docker login
/// --password-stdin` does.
pub fn password_from(path: &Path, username: &str) -> Result<Credentials, InputError> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| InputError::new(format!("reading the registry password from {}: {e}", path.display())))?;
    let password = text.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(InputError::new(format!("the registry password in {} is empty", path.display())));
    }
    let source = if path == Path::new("-") { "password-stdin" } else { "password-file" };
    Ok(Credentials { username: username.to_owned(), password, source: source.into() })
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: std::collections::HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// The Docker config's credentials for `key` (a host, or Docker Hub's index URL), if any.
pub fn from_docker_config(path: &Path, key: &str) -> anyhow::Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    };
    let config: DockerConfig = serde_json::from_str(&text)
        .map_err(|e| InputError::new(format!("{} is not a Docker config: {e}", path.display())))?;
    if let Some(helper) = config.cred_helpers.get(key).or(config.creds_store.as_ref()) {
        return from_helper(helper, key);
    }
    let entry = config.auths.get(key).or_else(|| config.auths.get(&format!("https://{key}")));
    let Some(encoded) = entry.and_then(|e| e.auth.as_deref()) else { return Ok(None) };
    let (username, password) = decode_pair(encoded).ok_or_else(|| {
        InputError::new(format!("the `auth` of {key} in {} is not base64 of user:password", path.display()))
    })?;
    Ok(Some(Credentials { username, password, source: "docker-config".into() }))
}

/// `docker-credential-<helper> get`, as the Docker CLI runs it.
fn from_helper(helper: &str, key: &str) -> anyhow::Result<Option<Credentials>> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Hinted::new(
                format!("running {program}: {e}"),
                "install the credential helper the Docker config names, or remove it",
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(key.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        // Helpers say "credentials not found in native keychain" when they have none.
        return Ok(None);
    }
    let answer: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|e| anyhow::anyhow!("{program} answered something else than credentials: {e}"))?;
    Ok(Some(Credentials {
        username: answer.username,
        password: answer.secret,
        source: format!("credential-helper {helper}"),
    }))
}

fn decode_pair(encoded: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_tokens_decode_and_never_show_the_password() {
        let creds = Credentials::from_ecr_token(&STANDARD.encode("AWS:s3cr3t-token")).unwrap();
        assert_eq!(creds.username, "AWS");
        assert!(!format!("{creds:?}").contains("s3cr3t"));
        assert!(Credentials::from_ecr_token("not base64!").is_err());
    }

    #[test]
    fn docker_config_auths() {
        let dir = std::env::temp_dir().join(format!("imgpush-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = STANDARD.encode("me:pw");
        std::fs::write(&path, format!(r#"{{"auths":{{"127.0.0.1:5002":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#)).unwrap();
        let found = from_docker_config(&path, "127.0.0.1:5002").unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("me", "pw"));
        assert!(from_docker_config(&path, "https://index.docker.io/v1/").unwrap().is_some());
        assert!(from_docker_config(&path, "other:1").unwrap().is_none());
        assert!(from_docker_config(&dir.join("missing.json"), "x").unwrap().is_none());
        std::fs::write(&path, "{").unwrap();
        assert!(from_docker_config(&path, "x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
