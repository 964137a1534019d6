//! The registry's own HTTP API (distribution v2), for what the engine does not tell: whether a
//! tag is already there and which image it holds, the digest a tag points at, and deleting a
//! manifest. Auth follows the registry's challenge: Basic, or a Bearer token from its realm.

use std::time::Duration;

use ekskit_core::wait::{Backoff, GaveUp, Limit, Retry, retry_asked};
use ekskit_core::{Hinted, ServiceError};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tracing::warn;

use crate::auth::Credentials;

/// Single-image manifests first: with an OCI-only Accept, distribution 2.8 converts to schema 1.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json";

/// What a tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    /// The image config's digest, which is the engine's image id; `None` for an index.
    pub config: Option<String>,
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    path: String,
    credentials: Option<Credentials>,
    /// The Authorization the last challenge asked for (Basic, or a Bearer token), sent with every
    /// request until refused: a request sent without it only to draw the challenge is one more
    /// that can be throttled or fail.
    authorization: Mutex<Option<String>>,
    /// Retries after the first attempt of each request.
    retries: u32,
}

impl Api {
    /// `host` serves the API for repository `path`; each request is tried `retries` more times
    /// on 408/429/5xx and lost connections. Loopback hosts speak plain HTTP, as the engine
    /// treats 127.0.0.0/8 as an insecure registry; every other host HTTPS.
    pub fn new(host: &str, path: &str, credentials: Option<Credentials>, retries: u32) -> anyhow::Result<Self> {
        let scheme = if ekskit_core::net::loopback(host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("ekskit-imgpush/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: format!("{scheme}://{host}"),
            path: path.to_owned(),
            credentials,
            authorization: Mutex::new(None),
            retries,
        })
    }

    /// What `reference` (a tag or digest) points at, or `None` when the registry has no such tag.
    pub async fn manifest(&self, reference: &str) -> anyhow::Result<Option<Manifest>> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.path);
        let response = self.send(Method::GET, &url).await?;
        match response.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if !s.is_success() => return Err(refused(response, &format!("reading {}:{reference}", self.path)).await),
            _ => {}
        }
        let header = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await?;
        let digest = header.unwrap_or_else(|| format!("sha256:{:x}", Sha256::digest(&body)));
        #[derive(Deserialize)]
        struct Body {
            config: Option<Descriptor>,
        }
        #[derive(Deserialize)]
        struct Descriptor {
            digest: String,
        }
        let parsed: Body = serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("the manifest of {}:{reference} is not JSON: {e}", self.path))?;
        Ok(Some(Manifest { digest, config: parsed.config.map(|c| c.digest) }))
    }

    /// Deletes the manifest `digest` (every tag on it goes with it). `false` when it was not there.
    pub async fn delete_manifest(&self, digest: &str) -> anyhow::Result<bool> {
        let url = format!("{}/v2/{}/manifests/{digest}", self.base, self.path);
        let response = self.send(Method::DELETE, &url).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            StatusCode::METHOD_NOT_ALLOWED => Err(Hinted::new(
                format!("the registry at {} does not allow deleting {}@{digest}", self.base, self.path),
                "enable deletes in the registry's configuration (storage.delete.enabled), or delete the tag in its UI",
            )
            .into()),
            s if s.is_success() => Ok(true),
            _ => Err(refused(response, &format!("deleting {}@{digest}", self.path)).await),
        }
    }

    /// Whether the registry takes the credentials: its API root answers with success once they
    /// are sent as its challenge asks. A registry that cannot be reached does not count as
    /// taking them.
    pub async fn credentials_accepted(&self) -> bool {
        let url = format!("{}/v2/", self.base);
        matches!(self.send(Method::GET, &url).await, Ok(r) if r.status().is_success())
    }

    /// One request with auth, retried on 408/429/5xx and connection errors: 0.5s, 1s, then 2s
    /// apart, or as long as the registry's Retry-After asks. The last answer is returned
    /// whatever its status.
    async fn send(&self, method: Method, url: &str) -> anyhow::Result<reqwest::Response> {
        let policy = Retry {
            backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(2), factor: 2.0 },
            limit: Limit::Retries(self.retries),
        };
        let what = format!("{method} {url}");
        let once = |_| async {
            match self.send_once(method.clone(), url).await {
                Ok(r) if retryable_status(r.status()) => Err(Sent::Status(r)),
                Ok(r) => Ok(r),
                Err(e) => Err(Sent::Failed(e)),
            }
        };
        match retry_asked(&what, policy, Sent::transient, Sent::asked, once).await {
            Ok(r) | Err(GaveUp { error: Sent::Status(r), .. }) => Ok(r),
            Err(GaveUp { error: Sent::Failed(e), .. }) => Err(Hinted::new(
                format!("cannot reach the registry at {}: {}", self.base, ekskit_core::errors::chain_text(&e, true)),
                "check the repository's host and port, and that the registry is up",
            )
            .into()),
        }
    }

    async fn send_once(&self, method: Method, url: &str) -> reqwest::Result<reqwest::Response> {
        let known = self.authorization.lock().await.clone();
        let response = self.request(method.clone(), url, known).send().await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge =
            response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let authorization = if challenge.to_ascii_lowercase().starts_with("bearer") {
            match self.token(&challenge, &method).await? {
                Some(token) => format!("Bearer {token}"),
                None => return Ok(response),
            }
        } else {
            match &self.credentials {
                Some(c) => c.basic(),
                None => return Ok(response),
            }
        };
        *self.authorization.lock().await = Some(authorization.clone());
        self.request(method, url, Some(authorization)).send().await
    }

    fn request(&self, method: Method, url: &str, authorization: Option<String>) -> reqwest::RequestBuilder {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, MANIFEST_TYPES.parse().expect("static header"));
        let mut builder = self.http.request(method, url).headers(headers);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder
    }

    /// A token from the challenge's realm for this repository, with the credentials if any.
    async fn token(&self, challenge: &str, method: &Method) -> reqwest::Result<Option<String>> {
        let params = challenge_params(challenge);
        let Some(realm) = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone()) else { return Ok(None) };
        let actions = if *method == Method::DELETE { "delete" } else { "pull" };
        let mut query: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k == "service").collect();
        query.push(("scope".into(), format!("repository:{}:{actions}", self.path)));
        let Ok(url) = reqwest::Url::parse_with_params(&realm, &query) else { return Ok(None) };
        let mut request = self.http.get(url.clone());
        if let Some(c) = &self.credentials {
            if realm_may_have_credentials(&self.base, &url) {
                request = request.header(AUTHORIZATION, c.basic());
            } else {
                warn!(
                    "not sending the credentials for {} to the token service it names, {realm}: not HTTPS on the registry's own domain; asking for an anonymous token",
                    self.base
                );
            }
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body: Token = response.json().await?;
        Ok(body.token.or(body.access_token))
    }
}

/// Whether the registry's credentials may go to the token service (realm) its challenge names:
/// over HTTPS (or plain HTTP from loopback to the same loopback host), on the registry's own
/// host or within its parent domain (`registry-1.docker.io` → `auth.docker.io`,
/// `registry.gitlab.com` → `gitlab.com`). A registry cannot send them anywhere else.
fn realm_may_have_credentials(base: &str, realm: &reqwest::Url) -> bool {
    let Ok(base) = reqwest::Url::parse(base) else { return false };
    let (Some(registry), Some(target)) = (base.host_str(), realm.host_str()) else { return false };
    let (registry, target) = (registry.to_ascii_lowercase(), target.to_ascii_lowercase());
    let secure = realm.scheme() == "https" || (base.scheme() == "http" && target == registry);
    // The parent domain counts only while it still has a dot: `example.org`, never `org`.
    let parent = registry.split_once('.').map(|(_, p)| p).filter(|p| p.contains('.'));
    let within = |p: &str| target == p || target.ends_with(&format!(".{p}"));
    let related = target == registry || (parent.is_some_and(within) && target.parse::<std::net::IpAddr>().is_err());
    secure && related
}

/// A request [`Api::send`] may retry: one answered with a retryable status, or one that failed.
enum Sent {
    Status(reqwest::Response),
    Failed(reqwest::Error),
}

impl Sent {
    /// How long the registry asked to wait (Retry-After in seconds; its date form is not used).
    fn asked(&self) -> Option<Duration> {
        let Sent::Status(response) = self else { return None };
        let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
        value.trim().parse().ok().map(Duration::from_secs)
    }

    fn transient(&self) -> bool {
        match self {
            Sent::Status(_) => true,
            Sent::Failed(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        }
    }
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sent::Status(r) => write!(f, "{}", r.status()),
            Sent::Failed(e) => write!(f, "{e}"),
        }
    }
}

fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"` → pairs.
fn challenge_params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge.split_once(' ').map_or("", |(_, r)| r);
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars
            .by_ref()
            .take_while(|&c| c != '=')
            .collect::<String>()
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_owned();
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            let v = chars.by_ref().take_while(|&c| c != '"').collect();
            while chars.peek().is_some_and(|&c| c == ',' || c == ' ') {
                chars.next();
            }
            v
        } else {
            chars.by_ref().take_while(|&c| c != ',').collect::<String>().trim().to_owned()
        };
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

/// The registry said no: its status and error body (distribution's `errors[].message`).
async fn refused(response: reqwest::Response, doing: &str) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    let (code, message) = match serde_json::from_str::<Errors>(&body) {
        Ok(e) if !e.errors.is_empty() => {
            (e.errors[0].code.clone().unwrap_or_default(), e.errors[0].message.clone().unwrap_or_default())
        }
        _ => (status.as_u16().to_string(), body.lines().next().unwrap_or_default().to_owned()),
    };
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Some(
            "check the credentials (docker login, --username with --password-file, or the AWS identity for ECR)"
                .to_owned(),
        ),
        _ => None,
    };
    anyhow::Error::new(ServiceError { code, message, hint }).context(doing.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let p = challenge_params(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p.len(), 3);
        assert_eq!(
            challenge_params(r#"Basic realm="Registry Realm""#),
            [("realm".to_owned(), "Registry Realm".to_owned())]
        );
    }

    /// A registry answering with `answers` (status line and headers, no body), in turn.
    fn canned_registry(answers: Vec<&'static str>) -> (String, std::sync::mpsc::Receiver<String>) {
        crate::canned::serve(answers.into_iter().map(|a| (a, "")).collect())
    }

    fn credentials() -> Option<Credentials> {
        Some(Credentials { username: "AWS".into(), password: "pw".into(), source: "ecr-token".into() })
    }

    const CHALLENGE: &str = "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm=\"r\"";

    #[test]
    fn credentials_go_to_a_token_service_on_the_registrys_own_domain_over_https() {
        let may = |base: &str, realm: &str| realm_may_have_credentials(base, &reqwest::Url::parse(realm).unwrap());
        assert!(may("https://registry-1.docker.io", "https://auth.docker.io/token"));
        assert!(may("https://registry.gitlab.com", "https://gitlab.com/jwt/auth"));
        assert!(may("https://ghcr.io", "https://ghcr.io/token"));
        assert!(may("https://europe-docker.pkg.dev", "https://europe-docker.pkg.dev/v2/token"));
        assert!(may("http://127.0.0.1:5001", "http://127.0.0.1:5002/token"));
        // Elsewhere, or in plain HTTP: never.
        assert!(!may("https://registry-1.docker.io", "http://auth.docker.io/token"));
        assert!(!may("https://ghcr.io", "https://attacker.example/token"));
        assert!(!may("https://registry.example.org", "https://example.org.attacker.example/token"));
        assert!(!may("https://myregistry.com", "https://other.com/token"), "a top-level domain is no parent");
        assert!(!may("https://ghcr.io", "https://io/token"));
        assert!(!may("http://127.0.0.1:5001", "http://localhost:5002/token"));
        assert!(!may("http://127.0.0.1:5001", "http://10.0.0.1/token"));
    }

    /// A realm the registry names elsewhere gets no credentials; its own host does.
    #[tokio::test]
    async fn a_token_service_elsewhere_is_asked_without_the_credentials() {
        for (realm_host, sent) in [("localhost", false), ("127.0.0.1", true)] {
            let (auth, asked) = canned_registry(vec!["HTTP/1.1 200 OK"]);
            let port = auth.rsplit_once(':').unwrap().1;
            let challenge = format!(
                "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"http://{realm_host}:{port}/token\",service=\"r\""
            );
            let (host, heads) = canned_registry(vec![Box::leak(challenge.into_boxed_str()), "HTTP/1.1 200 OK"]);
            Api::new(&host, "app", credentials(), 0).unwrap().credentials_accepted().await;
            let to_realm = asked.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
            assert!(to_realm.starts_with("GET /token?service=r&scope=repository%3Aapp%3Apull "), "{to_realm}");
            let basic = credentials().unwrap().basic();
            assert_eq!(to_realm.contains(&basic), sent, "{realm_host}: {to_realm}");
            assert!(heads.try_iter().all(|h| !h.contains(&basic)), "the registry never got them unasked");
        }
    }

    #[tokio::test]
    async fn credentials_are_accepted_when_the_api_root_takes_them() {
        let (host, heads) = canned_registry(vec![CHALLENGE, "HTTP/1.1 200 OK"]);
        assert!(Api::new(&host, "app", credentials(), 3).unwrap().credentials_accepted().await);
        let sent: Vec<String> = heads.try_iter().collect();
        assert!(sent[0].starts_with("GET /v2/ ") && !sent[0].to_ascii_lowercase().contains("authorization"));
        assert!(sent[1].contains(&credentials().unwrap().basic()), "the second request carries them");

        let (host, _) = canned_registry(vec![CHALLENGE, CHALLENGE]);
        assert!(!Api::new(&host, "app", credentials(), 3).unwrap().credentials_accepted().await, "refused");
        let (host, _) = canned_registry(vec![CHALLENGE]);
        assert!(!Api::new(&host, "app", None, 3).unwrap().credentials_accepted().await, "none to send");
    }

    #[tokio::test]
    async fn the_authorization_a_challenge_asked_for_goes_with_the_next_requests() {
        let (host, heads) = canned_registry(vec![CHALLENGE, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
        let api = Api::new(&host, "app", credentials(), 3).unwrap();
        assert!(api.credentials_accepted().await && api.credentials_accepted().await);
        let sent: Vec<String> = heads.try_iter().collect();
        assert_eq!(sent.len(), 3, "no second challenge");
        assert!(sent[2].contains(&credentials().unwrap().basic()));
    }

    #[tokio::test]
    async fn a_throttled_request_is_retried_no_sooner_than_the_registry_asks() {
        let throttled = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1";
        let (host, _) = canned_registry(vec![throttled, CHALLENGE, "HTTP/1.1 200 OK"]);
        let started = std::time::Instant::now();
        assert!(Api::new(&host, "app", credentials(), 3).unwrap().credentials_accepted().await);
        assert!(started.elapsed() >= Duration::from_secs(1), "not the 0.5s backoff: {:?}", started.elapsed());
        let (host, _) = canned_registry(vec![throttled]);
        assert!(!Api::new(&host, "app", credentials(), 0).unwrap().credentials_accepted().await, "no retries");
    }

    #[test]
    fn which_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 401, 403, 404, 405] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
