//! AWS errors as users need them: the service's error code and message (never a bare
//! "service error"), and a hint for the codes people hit most.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use ekskit_core::ServiceError;

/// Turns an SDK error into a [`ServiceError`] with the AWS code, message and a hint.
pub fn aws_error<E, R>(err: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, message) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            (e.code().unwrap_or("Unknown").to_owned(), e.message().map(str::to_owned).unwrap_or_else(|| e.to_string()))
        }
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), "the request to AWS timed out".to_owned()),
        SdkError::DispatchFailure(d) => (
            "ConnectionFailed".to_owned(),
            format!("could not reach the AWS endpoint: {}", chain_text(&err).unwrap_or_else(|| format!("{d:?}"))),
        ),
        _ => ("RequestFailed".to_owned(), chain_text(&err).unwrap_or_else(|| err.to_string())),
    };
    let hint = hint_for(&code).map(str::to_owned);
    ServiceError { code, message, hint }.into()
}

/// The AWS error code of an error built by [`aws_error`], to branch on expected codes
/// (`InvalidGroup.NotFound` while deleting, say).
pub fn aws_code(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(|e| e.downcast_ref::<ServiceError>()).map(|s| s.code.as_str())
}

/// `.aws("creating VPC")`: converts the SDK error and says what was being done.
pub trait AwsResultExt<T> {
    fn aws(self, doing: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn aws(self, doing: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| aws_error(e).context(doing.into()))
    }
}

fn chain_text(err: &(dyn StdError + 'static)) -> Option<String> {
    Some(ekskit_core::errors::chain_text(err, false)).filter(|t| !t.is_empty())
}

/// Advice for the AWS error codes that have one clear next step.
pub fn hint_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "AddressLimitExceeded" => {
            "release unused Elastic IPs, request a higher EC2-VPC Elastic IPs quota, or use fewer NAT gateways (--nat single or --nat none)"
        }
        "NatGatewayLimitExceeded" => "request a higher NAT gateways per AZ quota, or pass --nat single",
        "VpcLimitExceeded" => "delete unused VPCs in this region or request a higher VPCs per Region quota",
        "InternetGatewayLimitExceeded" => "delete unused internet gateways or request a higher quota",
        "SubnetLimitExceeded" | "RouteTableLimitExceeded" | "RouteLimitExceeded" => {
            "request a higher quota for this VPC resource, or delete unused ones"
        }
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            "the AWS identity in use lacks this permission; check `aws sts get-caller-identity` and its IAM policies"
        }
        "AuthFailure" | "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" => {
            "the AWS credentials are invalid or expired; refresh them (e.g. `aws sso login`) and re-run"
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the AWS session has expired; refresh the credentials and re-run: the tool resumes where it stopped"
        }
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
            "AWS is throttling requests; wait a minute and re-run: the tool resumes where it stopped"
        }
        "DependencyViolation" => {
            "something else still uses this resource; delete what depends on it (load balancers, ENIs, instances) and re-run"
        }
        "InvalidAvailabilityZone" => "pick zones this account can use: `aws ec2 describe-availability-zones`",
        "OptInRequired" => "this region or service is not enabled for the account; opt in first or use another region",
        "ConnectionFailed" | "Timeout" => {
            "check the network and AWS_ENDPOINT_URL (for the local stack: scripts/devstack up)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_codes_have_hints() {
        assert!(hint_for("AddressLimitExceeded").unwrap().contains("--nat"));
        assert!(hint_for("DependencyViolation").is_some());
        assert_eq!(hint_for("SomethingNew"), None);
    }

    #[test]
    fn the_code_is_found_under_context() {
        let err = anyhow::Error::new(ServiceError {
            code: "InvalidGroup.NotFound".into(),
            message: "gone".into(),
            hint: None,
        })
        .context("deleting security group sg-1");
        assert_eq!(aws_code(&err), Some("InvalidGroup.NotFound"));
    }
}
