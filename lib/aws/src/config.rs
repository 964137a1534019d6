//! AWS client configuration: region, profile, endpoint and credentials.
//!
//! The standard chains do the work (environment, profile, SSO, process, container and instance
//! credentials; `AWS_ENDPOINT_URL` for emulators). What this adds: the region may come from the
//! stdin document, and missing region or credentials are input errors (exit 2) found before
//! anything is changed, with a hint instead of a failed request half way through.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use clap::Args;
use ekskit_core::InputError;

#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS region [default: from the stdin document, then AWS_REGION, then the profile]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Named profile from the AWS config files [default: AWS_PROFILE, then `default`]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Loads the SDK configuration. `document_region` is the region recorded in the stdin
/// document; `--region` overrides it, and it overrides the environment.
pub async fn load(args: &AwsArgs, document_region: Option<&str>) -> Result<SdkConfig, InputError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(60))
            .operation_timeout(Duration::from_secs(300))
            .build(),
    );
    if let Some(retry) = default_retry(|name| std::env::var_os(name).is_some()) {
        loader = loader.retry_config(retry);
    }
    if let Some(region) = args.region.as_deref().or(document_region) {
        loader = loader.region(Region::new(region.to_owned()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let Some(region) = config.region() else {
        return Err(InputError::new("no AWS region is set")
            .hint("pass --region, or set AWS_REGION (or a region in your AWS profile)"));
    };
    validate_region(region.as_ref())?;
    check_credentials(&config).await?;
    Ok(config)
}

/// Why 8: a run of mkvpc makes about 150 calls (create, re-run, delete); at 25% of them
/// throttled or failed, 5 attempts leave 150 x 0.25^5, about one run in seven, failing on a call
/// that failed every time (seen in `make chaos`); 8 attempts, one in 400. The backoff between
/// them sums to at most about 70 s, inside the 5 minutes a call may take in all.
const MAX_ATTEMPTS: u32 = 8;

/// Standard retries (exponential backoff with jitter on throttling, 5xx and connection
/// errors, within the SDK's retry quota), 8 attempts in all instead of 3; each attempt is
/// bounded by the timeouts above. Not the adaptive mode: its client-side rate limiter falls to
/// its floor (about one request per 2 s) at the first throttle and a short-lived tool never
/// earns it back: a 53-call mkvpc run at 25% injected faults took 140 s adaptive, 2 s standard
/// (tests/e2e/chaos/). `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` win when the user sets them
/// (the SDK then reads them itself; AWS_RETRY_MODE=adaptive for an account throttled hard).
fn default_retry(is_set: impl Fn(&str) -> bool) -> Option<RetryConfig> {
    let user_set = ["AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"].iter().any(|name| is_set(name));
    (!user_set).then(|| RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
}

/// The region a piped document records: the `cluster`'s (mkeks), else the `vpc`'s (mkvpc).
pub fn document_region(doc: &ekskit_core::Document) -> Result<Option<String>, InputError> {
    #[derive(serde::Deserialize)]
    struct Regional {
        region: Option<String>,
    }
    let from = |key: &str| doc.get::<Regional>(key).map(|r| r.and_then(|r| r.region));
    Ok(from("cluster")?.or(from("vpc")?))
}

/// Region names look like `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
fn validate_region(region: &str) -> Result<(), InputError> {
    let shape_ok = region.split('-').count() >= 3
        && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.ends_with(|c: char| c.is_ascii_digit());
    if shape_ok {
        Ok(())
    } else {
        Err(InputError::new(format!("`{region}` is not an AWS region name"))
            .hint("use a region code such as us-east-1 or eu-central-1"))
    }
}

/// Resolves credentials once, up front, so a missing or broken chain is exit 2, not a
/// failure in the middle of creating things. The secret itself is never printed.
async fn check_credentials(config: &SdkConfig) -> Result<(), InputError> {
    let hint = "set AWS_PROFILE (and run `aws sso login` if it uses SSO), or AWS_ACCESS_KEY_ID \
                and AWS_SECRET_ACCESS_KEY; for the local emulator: eval \"$(scripts/devstack env)\"";
    let Some(provider) = config.credentials_provider() else {
        return Err(InputError::new("no AWS credentials provider is configured").hint(hint));
    };
    match provider.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(e) => Err(InputError::new(format!("no usable AWS credentials: {}", describe(&e))).hint(hint)),
    }
}

/// The credential error's own words, including its causes, which carry the useful part.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_standard_with_5_attempts_unless_the_user_says_otherwise() {
        let ours = default_retry(|_| false).unwrap();
        assert_eq!(ours.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(ours.max_attempts(), MAX_ATTEMPTS);
        assert!(default_retry(|name| name == "AWS_MAX_ATTEMPTS").is_none());
    }

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-5"] {
            assert!(validate_region(ok).is_ok(), "{ok}");
        }
        for bad in ["", "useast1", "us-east", "US-EAST-1", "us east 1"] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }
}
