//! One tag pushed through the Docker engine: tagged locally as the target reference, pushed
//! with the credentials in X-Registry-Auth, layer outcomes counted (the engine asks the registry
//! before sending a layer, so layers it has are not sent again), and retried with backoff when
//! the registry or the network fails in a way a retry can fix.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use ekskit_core::Hinted;
use ekskit_core::wait::{Backoff, GaveUp, Limit, Retry, retry};
use futures::StreamExt;
use tracing::{info, warn};

use crate::api::Api;
use crate::auth::Credentials;

/// Connects to DOCKER_HOST (or the default socket) at the API version the engine speaks.
// The same connection as imgbuild's, kept here so imgpush does not depend on lib/image.
pub async fn engine() -> anyhow::Result<Docker> {
    let unreachable = |e: &dyn std::fmt::Display| {
        Hinted::new(
            format!(
                "cannot reach the Docker engine at {}: {e}",
                std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
            ),
            "start the engine (or scripts/devstack up docker), or set DOCKER_HOST",
        )
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
    let docker = docker.negotiate_version().await.map_err(|e| unreachable(&e))?;
    docker.ping().await.map_err(|e| unreachable(&e))?;
    Ok(docker)
}

/// What one push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    pub digest: String,
    pub layers_pushed: u32,
    pub layers_existing: u32,
}

/// How a failed push ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 408, 429, 5xx, a reset connection or a timeout: worth another try.
    Retry,
    /// The tag exists and the repository does not let it move.
    Immutable,
    /// The registry refused the credentials.
    Auth,
    Other,
}

pub fn classify(message: &str) -> Failure {
    let m = message.to_ascii_lowercase();
    if m.contains("immutable") || m.contains("cannot be overwritten") {
        Failure::Immutable
    } else if m.contains("unauthorized")
        || m.contains("authentication required")
        || m.contains("denied")
        || m.contains("no basic auth")
    {
        Failure::Auth
    } else if [
        "408",
        "429",
        "500",
        "502",
        "503",
        "504",
        // The distribution spec's error codes, as the engine prints them alone ("toomanyrequests")
        "toomanyrequests",
        "unavailable",
        "too many requests",
        "service unavailable",
        "bad gateway",
        "gateway timeout",
        "internal server error",
    ]
    .iter()
    .any(|s| m.contains(s))
        || [
            "connection reset",
            "broken pipe",
            "unexpected eof",
            "i/o timeout",
            "tls handshake timeout",
            "connection refused",
            ": eof",
        ]
        .iter()
        .any(|s| m.contains(s))
    {
        Failure::Retry
    } else {
        Failure::Other
    }
}

/// A failed push: the engine's message and what it means.
#[derive(Debug)]
struct Attempt {
    message: String,
    failure: Failure,
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a refusal of the engine's push means once the registry's API has said whether it takes
/// the credentials: the engine sends them only after its first request (`GET /v2/`) drew the
/// registry's challenge, so when that request was throttled or failed, the whole push goes
/// without them and is refused. Credentials the registry takes make that refusal transient.
fn after_refusal(failure: Failure, credentials_accepted: bool) -> Failure {
    match failure {
        Failure::Auth if credentials_accepted => Failure::Retry,
        other => other,
    }
}

/// How long a push failing transiently is redone, in time spent waiting between attempts.
pub const PUSH_RETRY_FOR: Duration = Duration::from_secs(90);

/// A push is a dozen requests (the challenge, a token, a HEAD per blob, uploads, the manifest)
/// redone as one, and a registry that fails one request in four fails most attempts: a fixed
/// count of redos is soon spent, while each redo sends only what the registry still lacks. So
/// a push is redone while its failures are transient, for up to [`PUSH_RETRY_FOR`] of backoff
/// (0.5 s doubling to 4 s); `--retries 0` turns redos off.
fn push_retry(retries: u32) -> Retry {
    Retry {
        backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(4), factor: 2.0 },
        limit: if retries == 0 { Limit::Retries(0) } else { Limit::Waited(PUSH_RETRY_FOR) },
    }
}

/// Pushes `image_id` as `target:tag` (`target` is `host/path`); `api` is the same registry's,
/// to tell refused credentials from a push the engine sent without them.
pub async fn push(
    docker: &Docker,
    image_id: &str,
    target: &str,
    tag: &str,
    credentials: Option<&Credentials>,
    api: &Api,
    retries: u32,
) -> anyhow::Result<Pushed> {
    let options = TagImageOptions { repo: Some(target.to_owned()), tag: Some(tag.to_owned()) };
    docker
        .tag_image(image_id, Some(options))
        .await
        .map_err(|e| anyhow::anyhow!("tagging {image_id} as {target}:{tag}: {e}"))?;
    let server = target.split('/').next().unwrap_or(target);
    let policy = push_retry(retries);
    let what = format!("pushing {target}:{tag}");
    let attempt = |_| async {
        let message = match push_once(docker, target, tag, credentials.map(|c| c.for_engine(server))).await {
            Ok(pushed) => return Ok(pushed),
            Err(message) => message,
        };
        let refused = classify(&message);
        let accepted = refused == Failure::Auth && credentials.is_some() && api.credentials_accepted().await;
        if accepted {
            warn!("the registry refused {target}:{tag} but takes the credentials: the engine sent none");
        }
        Err(Attempt { message, failure: after_refusal(refused, accepted) })
    };
    let pushed = retry(&what, policy, |a: &Attempt| a.failure == Failure::Retry, attempt);
    let GaveUp { error: Attempt { message, failure }, attempts } = match pushed.await {
        Ok(pushed) => return Ok(pushed),
        Err(gave_up) => gave_up,
    };
    let (message, hint) = match failure {
        Failure::Immutable => (
            format!(
                "{target}:{tag} already exists with another image and the repository's tags are immutable: {message}"
            ),
            "push under a new tag (a new commit gives one), or delete the tag from the repository first",
        ),
        Failure::Auth => (
            format!("the registry refused the push of {target}:{tag}: {message}"),
            "check the credentials: the AWS identity for ECR, `docker login`, or --username with --password-file",
        ),
        Failure::Retry | Failure::Other => {
            let tries = if attempts > 1 { format!(" after {attempts} attempts") } else { String::new() };
            (
                format!("pushing {target}:{tag} failed{tries}: {message}"),
                "run the same command again; layers already pushed are not sent twice",
            )
        }
    };
    Err(Hinted::new(message, hint).into())
}

/// One push; `Err` carries the engine's message.
async fn push_once(
    docker: &Docker,
    target: &str,
    tag: &str,
    auth: Option<bollard::auth::DockerCredentials>,
) -> Result<Pushed, String> {
    let options = PushImageOptions { tag: Some(tag.to_owned()), ..PushImageOptions::default() };
    let mut stream = docker.push_image(target, Some(options), auth);
    let (mut pushed, mut existing) = (0, 0);
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match e {
            bollard::errors::Error::DockerStreamError { error } => error,
            other => ekskit_core::errors::chain_text(&other, true),
        })?;
        let Some(status) = info.status else { continue };
        if let Some(d) = digest_of(&status, tag) {
            digest = Some(d);
        }
        match final_layer_state(&status) {
            Some(LayerState::Pushed) => pushed += 1,
            Some(LayerState::Existing) => existing += 1,
            None => {}
        }
    }
    let digest = digest.ok_or_else(|| format!("the engine finished pushing {target}:{tag} without a digest"))?;
    info!("pushed {target}:{tag} ({digest}): {pushed} layers sent, {existing} already in the registry");
    Ok(Pushed { digest, layers_pushed: pushed, layers_existing: existing })
}

/// `abcdef12: digest: sha256:… size: 1234` → the digest.
fn digest_of(status: &str, tag: &str) -> Option<String> {
    let rest = status.strip_prefix(tag)?.strip_prefix(": digest: ")?;
    let digest = rest.split_whitespace().next()?;
    (digest.starts_with("sha256:") && digest.len() == 71).then(|| digest.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LayerState {
    Pushed,
    Existing,
}

/// A layer's last status line (its id is in a field this bollard version does not keep).
fn final_layer_state(status: &str) -> Option<LayerState> {
    if status == "Pushed" {
        Some(LayerState::Pushed)
    } else if status == "Layer already exists" || status.starts_with("Mounted from") {
        Some(LayerState::Existing)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified() {
        assert_eq!(classify("received unexpected HTTP status: 503 Service Unavailable"), Failure::Retry);
        assert_eq!(classify("Put \"http://x/v2/\": read tcp: connection reset by peer"), Failure::Retry);
        assert_eq!(classify("toomanyrequests: 429 Too Many Requests"), Failure::Retry);
        // What the engine printed for a registry's TOOMANYREQUESTS and UNAVAILABLE errors.
        assert_eq!(classify("toomanyrequests"), Failure::Retry);
        assert_eq!(classify("unavailable: service unavailable"), Failure::Retry);
        assert_eq!(classify("unavailable"), Failure::Retry);
        assert_eq!(
            classify(
                "tag invalid: The image tag 'v1' already exists in the 'comments' repository and cannot be overwritten because the repository is immutable."
            ),
            Failure::Immutable
        );
        assert_eq!(classify("unauthorized: authentication required"), Failure::Auth);
        assert_eq!(classify("denied: requested access to the resource is denied"), Failure::Auth);
        assert_eq!(classify("manifest invalid: manifest invalid"), Failure::Other);
    }

    #[test]
    fn a_refusal_is_retried_only_when_the_registry_takes_the_credentials() {
        assert_eq!(after_refusal(Failure::Auth, true), Failure::Retry, "the engine went without them");
        assert_eq!(after_refusal(Failure::Auth, false), Failure::Auth);
        assert_eq!(after_refusal(Failure::Immutable, true), Failure::Immutable);
        assert_eq!(after_refusal(Failure::Other, true), Failure::Other);
    }

    #[test]
    fn digests_come_from_the_final_status() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(digest_of(&format!("abcdef12: digest: {d} size: 1570"), "abcdef12"), Some(d.clone()));
        assert_eq!(digest_of(&format!("other: digest: {d} size: 1"), "abcdef12"), None);
        assert_eq!(final_layer_state("Mounted from library/x"), Some(LayerState::Existing));
        assert_eq!(final_layer_state("Pushing"), None);
    }
}
