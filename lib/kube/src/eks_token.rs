//! The bearer token EKS accepts, made the way `aws eks get-token` and aws-iam-authenticator
//! make it: a presigned STS `GetCallerIdentity` URL that also signs the header
//! `x-k8s-aws-id: <cluster name>`, base64url-encoded without padding behind `k8s-aws-v1.`.
//! The cluster's authenticator calls the URL and learns who we are; no AWS CLI is needed.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const PREFIX: &str = "k8s-aws-v1.";
/// The header naming the cluster; signing it stops a token for one cluster working on another.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL claims to be valid; the authenticator accepts tokens for 15 minutes.
const URL_EXPIRES: Duration = Duration::from_secs(60);
/// When callers should fetch a new token: a minute before the authenticator stops taking it.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// The STS endpoint to presign for: `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL` when set (as the
/// AWS SDKs do, e.g. for a local emulator), else the regional endpoint.
pub fn sts_endpoint(region: &str) -> String {
    ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
}

/// A token for `cluster`, signed with `credentials` at `time`.
pub fn token(
    cluster: &str,
    region: &str,
    endpoint: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> anyhow::Result<String> {
    let url = format!("{endpoint}/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .context("building the STS signing parameters")?
        .into();
    let request = SignableRequest::new("GET", &url, [(CLUSTER_HEADER, cluster)].into_iter(), SignableBody::Bytes(&[]))
        .context("preparing the STS request to sign")?;
    let (instructions, _signature) = sign(request, &params).context("signing the STS request")?.into_parts();
    let mut presigned = http::Request::builder().uri(&url).body(()).context("building the STS URL")?;
    instructions.apply_to_request_http1x(&mut presigned);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(presigned.uri().to_string())))
}

/// A fresh token with the standard credential chain (env, profile, SSO, IMDS …).
pub async fn token_now(cluster: &str, region: &str) -> anyhow::Result<String> {
    use aws_credential_types::provider::ProvideCredentials;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await;
    let provider = config.credentials_provider().ok_or_else(|| {
        ekskit_core::InputError::new("no AWS credentials found to sign the EKS token")
            .hint("set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    })?;
    let credentials = provider.provide_credentials().await.map_err(|e| {
        ekskit_core::InputError::new(format!("no usable AWS credentials to sign the EKS token: {e}"))
            .hint("set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    })?;
    token(cluster, region, &sts_endpoint(region), &credentials, SystemTime::now())
}

/// The `ExecCredential` a kubeconfig `exec` plugin prints, carrying `token`.
pub fn exec_credential(token: &str, now: SystemTime) -> serde_json::Value {
    let expires = now + TOKEN_LIFETIME;
    let secs = expires.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": ekskit_core::time::rfc3339(secs as i64), "token": token},
    })
}

/// When this process was started as its own kubeconfig exec plugin (`<tool> --eks-token ...`,
/// see [`exec_plugin_main`]): its exit code. Every tool that reaches a cluster from a `cluster`
/// document calls this first in `main`, as the kubeconfig it builds runs the tool itself.
pub fn as_exec_plugin() -> Option<std::process::ExitCode> {
    let mut args = std::env::args().skip(1);
    (args.next().as_deref() == Some(crate::cluster::EKS_TOKEN_FLAG)).then(|| exec_plugin_main(args.collect()))
}

/// `kapply --eks-token CLUSTER --region REGION`: prints an `ExecCredential` for the cluster on
/// stdout, as `aws eks get-token` does. kapply runs itself this way from the kubeconfig it builds
/// for a `cluster` document, so the client renews the token before it expires.
pub fn exec_plugin_main(args: Vec<String>) -> std::process::ExitCode {
    let global = ekskit_core::cli::GlobalArgs { verbose: 0, quiet: true };
    let (cluster, region) = match args.as_slice() {
        [cluster, flag, region] if flag == "--region" => (cluster.clone(), region.clone()),
        _ => (String::new(), String::new()),
    };
    ekskit_core::run::main("kapply", &global, async move {
        if cluster.is_empty() {
            return Err(ekskit_core::InputError::new("usage: kapply --eks-token CLUSTER --region REGION").into());
        }
        let token = token_now(&cluster, &region).await?;
        let mut doc = ekskit_core::Document::new();
        for (key, value) in exec_credential(&token, SystemTime::now()).as_object().into_iter().flatten() {
            doc.set(key, value)?;
        }
        ekskit_core::output::emit(&doc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        let b64 = token.strip_prefix(PREFIX).expect("token starts with k8s-aws-v1.");
        assert!(!b64.contains('=') && !b64.contains('+') && !b64.contains('/'), "base64url without padding");
        String::from_utf8(URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_url_that_signs_the_cluster_header() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
        let t = token("demo", "us-east-1", "https://sts.us-east-1.amazonaws.com", &creds, time).unwrap();
        let url = decode(&t);
        assert!(url.starts_with("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"));
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
        ] {
            assert!(url.contains(part), "{part} missing in {url}");
        }
        let signature = url.split("X-Amz-Signature=").nth(1).unwrap();
        assert_eq!(signature.len(), 64);
        assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!url.contains("wJalrXUtnFEMI"), "the secret key never appears");
        // Same inputs, same token; another cluster, another signature.
        assert_eq!(t, token("demo", "us-east-1", "https://sts.us-east-1.amazonaws.com", &creds, time).unwrap());
        assert_ne!(t, token("other", "us-east-1", "https://sts.us-east-1.amazonaws.com", &creds, time).unwrap());
    }

    #[test]
    fn session_tokens_are_signed_in_and_exec_credentials_expire_in_14_minutes() {
        let creds = Credentials::new("ASIAEXAMPLE", "secret", Some("SESSION".into()), None, "test");
        let url = decode(&token("demo", "eu-west-1", "http://127.0.0.1:4566", &creds, SystemTime::now()).unwrap());
        assert!(url.starts_with("http://127.0.0.1:4566/?Action=GetCallerIdentity"));
        assert!(url.contains("X-Amz-Security-Token=SESSION"));
        let cred = exec_credential("k8s-aws-v1.x", SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert_eq!(cred["status"]["expirationTimestamp"], "2023-11-14T22:27:20Z");
        assert_eq!(cred["status"]["token"], "k8s-aws-v1.x");
    }
}
