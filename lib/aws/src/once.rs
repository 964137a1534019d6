//! Creates that AWS takes no idempotency token for, or one ekskit cannot use (EC2's CreateVpc,
//! CreateSubnet, CreateInternetGateway, AllocateAddress, CreateSecurityGroup, CreateRouteTable;
//! KMS CreateKey; CodeConnections CreateConnection). The SDK retries
//! a call whose answer was lost (a connection reset, a timeout, a 5xx) and AWS then makes a
//! second resource, which the next run finds twice. [`create_once`] sends such a create with the
//! SDK's retries off (the caller puts [`no_retries`] on that one call) and, after an answer that
//! leaves the outcome unknown, looks for what the call would have made (the caller's lookup by
//! tag or name) before sending it again.

use std::cell::Cell;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use ekskit_core::wait::{Backoff, Limit, Retry, retry};

use crate::errors::aws_code;

/// For `.customize().config_override(<service>::config::Builder::default().retry_config(no_retries()))`.
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// As the SDK's standard mode as configured in [`crate::config`]: 8 attempts, backoff from 1 s
/// doubling to at most 20 s.
const POLICY: Retry = Retry {
    backoff: Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(20), factor: 2.0 },
    limit: Limit::Retries(7),
};

/// Runs `create` (sent without SDK retries) until it succeeds or fails for good. After an
/// attempt whose outcome is unknown, `find` runs first and what it finds is the result.
pub async fn create_once<T, C, CF, F, FF>(what: &str, create: C, find: F) -> anyhow::Result<T>
where
    C: Fn() -> CF,
    CF: Future<Output = anyhow::Result<T>>,
    F: Fn() -> FF,
    FF: Future<Output = anyhow::Result<Option<T>>>,
{
    let lost = &Cell::new(false);
    let (create, find) = (&create, &find);
    let attempt = move |_| async move {
        if lost.get()
            && let Some(found) = find().await?
        {
            tracing::info!("{what}: the answer to the last attempt was lost, and AWS had done it");
            return Ok(found);
        }
        let result = create().await;
        lost.set(result.as_ref().err().is_some_and(outcome_unknown));
        result
    };
    retry(what, POLICY, transient, attempt).await.map_err(|gave_up| gave_up.error)
}

/// Worth another attempt: throttled, or an outcome AWS did not tell.
fn transient(err: &anyhow::Error) -> bool {
    throttled(err) || outcome_unknown(err)
}

/// AWS refused the call for its rate; it did nothing.
fn throttled(err: &anyhow::Error) -> bool {
    matches!(
        aws_code(err),
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "EC2ThrottledException"
                | "SlowDown"
                | "PriorRequestNotComplete"
        )
    )
}

/// The call may or may not have been carried out: no answer, or AWS's own failure.
fn outcome_unknown(err: &anyhow::Error) -> bool {
    matches!(
        aws_code(err),
        Some(
            "ConnectionFailed"
                | "Timeout"
                | "RequestFailed"
                | "InternalError"
                | "InternalFailure"
                | "InternalServerError"
                | "InternalServiceError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "Unavailable"
                | "KMSInternalException"
        )
    )
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use ekskit_core::ServiceError;

    use super::*;

    fn aws(code: &str) -> anyhow::Error {
        ServiceError { code: code.into(), message: "m".into(), hint: None }.into()
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_looked_up_before_the_create_is_sent_again() {
        // The first create reaches AWS and its answer is lost; the lookup then finds it.
        let made = RefCell::new(Vec::new());
        let create = || async {
            made.borrow_mut().push("vpc-1");
            Err::<&str, _>(aws("ConnectionFailed"))
        };
        let find = || async { Ok(made.borrow().first().copied()) };
        assert_eq!(create_once("creating the VPC", create, find).await.unwrap(), "vpc-1");
        assert_eq!(made.borrow().len(), 1, "created once");
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_creates_are_sent_again_without_a_lookup_and_others_fail_at_once() {
        let calls = Cell::new(0);
        let create = || async {
            calls.set(calls.get() + 1);
            if calls.get() < 3 { Err(aws("RequestLimitExceeded")) } else { Ok("vpc-2") }
        };
        let find = || async { panic!("a throttled call did nothing: no lookup") };
        assert_eq!(create_once("creating", create, find).await.unwrap(), "vpc-2");
        let refused =
            create_once("creating", || async { Err::<(), _>(aws("VpcLimitExceeded")) }, || async { Ok(None) });
        assert_eq!(aws_code(&refused.await.unwrap_err()), Some("VpcLimitExceeded"));
    }
}
