//! Kubernetes API errors as ekskit errors: what failed, the server's reason, what to do next.

use std::time::Duration;

use anyhow::anyhow;
use ekskit_core::errors::chain_text;
use ekskit_core::{Hinted, ServiceError};

/// Wraps a kube error: `doing` says what failed and on which object. An error a later attempt
/// may get past (see [`retry_after`]) says so in a way [`retry_after`] reads back.
pub fn kube_error(err: kube::Error, doing: impl Into<String>) -> anyhow::Error {
    let doing = doing.into();
    match transient(&err) {
        Some(after) => wrap(err, Retryable { doing, after }),
        None => wrap(err, doing),
    }
}

/// What failed, where a retry may succeed: the server's 429 or 5xx, or no connection.
#[derive(Debug)]
struct Retryable {
    doing: String,
    after: Duration,
}

impl std::fmt::Display for Retryable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.doing)
    }
}

/// How long to wait before trying again when `err` came from a failure a retry may get past:
/// the server's `retryAfterSeconds` on a 429 (what its Retry-After header says), else a second.
pub fn retry_after(err: &anyhow::Error) -> Option<Duration> {
    err.downcast_ref::<Retryable>().map(|r| r.after)
}

/// In a poll loop that ends at `deadline`: sleeps out a retryable `err` (see [`retry_after`])
/// when the next poll still fits, else hands the error back to end the loop with it.
// The one sleep of the polls' error path: the waits in waiting.rs and delete.rs share it.
#[allow(clippy::disallowed_methods)]
pub async fn sleep_out(err: anyhow::Error, deadline: tokio::time::Instant) -> anyhow::Result<()> {
    match retry_after(&err) {
        Some(after) if tokio::time::Instant::now() + after < deadline => {
            tracing::warn!("{err:#}; polling again in {}", ekskit_core::wait::human(after));
            tokio::time::sleep(after).await;
            Ok(())
        }
        _ => Err(err),
    }
}

fn transient(err: &kube::Error) -> Option<Duration> {
    const DEFAULT: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30);
    match err {
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            let asked = status.details.as_ref().map_or(0, |d| d.retry_after_seconds);
            Some(if asked > 0 { Duration::from_secs(asked.into()).min(MAX) } else { DEFAULT })
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(DEFAULT),
        _ => None,
    }
}

fn wrap<C>(err: kube::Error, doing: C) -> anyhow::Error
where
    C: std::fmt::Display + std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        kube::Error::Api(status) => {
            let hint = match (status.code, status.reason.as_str()) {
                (401, _) => {
                    Some("the server refused the credentials: renew them (or check the cluster's access entries)")
                }
                (403, _) => Some("the credentials lack RBAC permission for this; grant it or use another context"),
                (409, "Conflict") if status.message.contains("conflict") => {
                    Some("another field manager owns these fields; re-run with --force-conflicts to take them over")
                }
                (422, _) | (400, "BadRequest") => Some("the server rejected the manifest; fix the fields it names"),
                (404, _) => Some("the object or its namespace does not exist"),
                (429, _) | (500..=599, _) => Some("the API server is overloaded or failing; re-run in a moment"),
                _ => None,
            };
            let code = if status.reason.is_empty() { status.code.to_string() } else { status.reason.clone() };
            anyhow!(ServiceError { code, message: status.message.clone(), hint: hint.map(str::to_owned) })
                .context(doing)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => anyhow!(Hinted::new(
            format!("cannot reach the Kubernetes API server: {}", chain_text(&err, true)),
            "check that the cluster runs and that --kubeconfig/--context (or the `cluster` key) point at it",
        ))
        .context(doing),
        kube::Error::Auth(_) => anyhow!(Hinted::new(
            format!("cannot get credentials for the cluster: {}", chain_text(&err, true)),
            "check the kubeconfig user (or AWS credentials for an EKS `cluster` document)",
        ))
        .context(doing),
        other => anyhow!(other).context(doing),
    }
}

/// True for an API 404.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, retry_after: u32) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": "TooManyRequests", "message": "too many requests",
            "details": {"retryAfterSeconds": retry_after}
        }))
        .unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn throttling_and_server_errors_are_retried_after_what_the_server_asks() {
        assert_eq!(retry_after(&kube_error(api(429, 3), "reading x")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&kube_error(api(429, 0), "reading x")), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&kube_error(api(503, 600), "reading x")), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&kube_error(api(404, 0), "reading x")), None);
        assert_eq!(retry_after(&kube_error(api(403, 0), "reading x")), None);
        // The message is the same either way.
        let text = format!("{:#}", kube_error(api(429, 3), "reading x"));
        assert!(text.starts_with("reading x: "), "{text}");
    }
}
