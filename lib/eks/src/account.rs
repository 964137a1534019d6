//! The AWS account, partition and region a cluster lives in: from the caller's identity before
//! the cluster exists (the trust policies name it), from the cluster's ARN after.

use ekskit_aws::AwsResultExt;

/// The account, partition and region of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub partition: String,
    pub region: String,
    pub id: String,
}

impl Account {
    /// From any ARN of the account (a cluster's, the caller's), and the region it names or `region`.
    pub fn from_arn(arn: &str) -> anyhow::Result<Account> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts[..] {
            ["arn", partition, _, region, id, ..] if !id.is_empty() => {
                Ok(Account { partition: partition.into(), region: region.into(), id: id.into() })
            }
            _ => anyhow::bail!("cannot read the account from the ARN `{arn}`"),
        }
    }

    /// The account of the AWS identity in use (sts:GetCallerIdentity), in `region`.
    pub async fn caller(sts: &aws_sdk_sts::Client, region: &str) -> anyhow::Result<Account> {
        let who = sts.get_caller_identity().send().await.aws("finding the AWS account (sts:GetCallerIdentity)")?;
        let mut account = Account::from_arn(who.arn().unwrap_or_default())?;
        region.clone_into(&mut account.region);
        Ok(account)
    }

    /// The ARN the cluster `name` has (or will have) in this account and region.
    pub fn cluster_arn(&self, name: &str) -> String {
        format!("arn:{}:eks:{}:{}:cluster/{name}", self.partition, self.region, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_arns() {
        let caller = Account::from_arn("arn:aws-cn:sts::123456789012:assumed-role/ci/session").unwrap();
        assert_eq!(
            (caller.partition.as_str(), caller.id.as_str(), caller.region.as_str()),
            ("aws-cn", "123456789012", "")
        );
        let cluster = Account::from_arn("arn:aws:eks:eu-west-1:123456789012:cluster/demo").unwrap();
        assert_eq!(cluster.cluster_arn("demo"), "arn:aws:eks:eu-west-1:123456789012:cluster/demo");
        assert!(Account::from_arn("not-an-arn").is_err());
    }
}
