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

/// Repeats an idempotent call (a GET, a LIST, a server-side apply) that failed in a way a retry
/// may get past: a connection closed before the answer, a 429 or 5xx the client's own retries
/// did not get past. Three retries, 0.5 s doubling; `what` names the call in the log.
pub async fn idempotent<T, F, Fut>(what: &str, mut call: F) -> kube::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = kube::Result<T>>,
{
    use ekskit_core::wait::{Backoff, Limit, Retry, retry};
    let policy = Retry {
        backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(4), factor: 2.0 },
        limit: Limit::Retries(3),
    };
    retry(what, policy, |e| transient(e).is_some(), |_| call()).await.map_err(|gave_up| gave_up.error)
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

    #[tokio::test]
    async fn an_idempotent_call_is_repeated_past_transient_failures_only() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let flaky = || async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 | 1 => Err(api(503, 0)),
                _ => Ok("applied"),
            }
        };
        assert_eq!(idempotent("applying x", flaky).await.unwrap(), "applied");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);

        let refused = std::sync::atomic::AtomicU32::new(0);
        let forbidden = || async {
            refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<(), _>(api(403, 0))
        };
        assert!(idempotent("applying x", forbidden).await.is_err());
        assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 1, "a 403 is not retried");
    }
}
