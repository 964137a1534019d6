//! Kubernetes API errors as ekskit errors: what failed, the server's reason, what to do next.

use anyhow::anyhow;
use ekskit_core::errors::chain_text;
use ekskit_core::{Hinted, ServiceError};

/// Wraps a kube error: `doing` says what failed and on which object.
pub fn kube_error(err: kube::Error, doing: impl Into<String>) -> anyhow::Error {
    let doing = doing.into();
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
