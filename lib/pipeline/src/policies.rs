//! The IAM documents of the two roles: who may assume them, and least-privilege inline policies
//! whose every statement names its resources (the one `*` is ecr:GetAuthorizationToken and
//! sts:GetCallerIdentity, which take no resource).

use serde_json::{Value, json};

/// What the policies are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub bucket: String,
    pub project: String,
    pub log_group: String,
    pub ecr_repository: String,
    pub token_secret: String,
    pub connection: String,
}

/// `aws`, `aws-cn` or `aws-us-gov`, from the region's name.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub fn trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })
}

impl Scope {
    fn arn(&self, service: &str, region: bool, resource: &str) -> String {
        let region = if region { self.region.as_str() } else { "" };
        format!("arn:{}:{service}:{region}:{}:{resource}", self.partition, self.account)
    }

    fn bucket_arns(&self) -> (String, String) {
        let bucket = format!("arn:{}:s3:::{}", self.partition, self.bucket);
        (bucket.clone(), format!("{bucket}/*"))
    }

    pub fn project_arn(&self) -> String {
        self.arn("codebuild", true, &format!("project/{}", self.project))
    }

    /// CodeBuild's role: its log group, the artifacts, the image push, the git token, the
    /// connection (for builds that clone through it) and who-am-I.
    pub fn codebuild_policy(&self) -> Value {
        let group = self.arn("logs", true, &format!("log-group:{}", self.log_group));
        let (bucket, objects) = self.bucket_arns();
        let repository = self.arn("ecr", true, &format!("repository/{}", self.ecr_repository));
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Logs", "Effect": "Allow",
                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": [group.clone(), format!("{group}:*")]},
                {"Sid": "Artifacts", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                 "Resource": [bucket, objects]},
                {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {"Sid": "EcrPush", "Effect": "Allow",
                 "Action": ["ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:TagResource", "ecr:PutLifecyclePolicy",
                            "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                            "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"],
                 "Resource": repository},
                {"Sid": "GitToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": self.token_secret},
                {"Sid": "Connection", "Effect": "Allow",
                 "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                 "Resource": self.connection},
                {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
            ],
        })
    }

    /// CodePipeline's role: the artifacts, starting and following the build, the connection.
    pub fn codepipeline_policy(&self) -> Value {
        let (bucket, objects) = self.bucket_arns();
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Artifacts", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl",
                            "s3:GetBucketVersioning", "s3:GetBucketLocation"],
                 "Resource": [bucket, objects]},
                {"Sid": "Build", "Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                 "Resource": self.project_arn()},
                {"Sid": "Connection", "Effect": "Allow",
                 "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                 "Resource": self.connection},
            ],
        })
    }
}

/// An IAM policy document as read back: IAM returns them URL-encoded; moto does not.
pub fn parse_document(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            bucket: "ekskit-demo-artifacts-123456789012-eu-west-1".into(),
            project: "ekskit-demo-build".into(),
            log_group: "/aws/codebuild/ekskit-demo-build".into(),
            ecr_repository: "comments".into(),
            token_secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gitops-token-AbCdEf".into(),
            connection: "arn:aws:codeconnections:eu-west-1:123456789012:connection/1234".into(),
        }
    }

    fn statements(policy: &Value) -> Vec<(String, Vec<String>, Vec<String>)> {
        let list = |v: &Value| match v {
            Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            other => vec![other.as_str().unwrap().to_owned()],
        };
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["Sid"].as_str().unwrap().to_owned(), list(&s["Action"]), list(&s["Resource"])))
            .collect()
    }

    #[test]
    fn only_actions_without_resources_get_a_star() {
        for policy in [scope().codebuild_policy(), scope().codepipeline_policy()] {
            for (sid, actions, resources) in statements(&policy) {
                assert!(actions.iter().all(|a| !a.contains('*')), "{sid}: {actions:?}");
                if resources.contains(&"*".to_owned()) {
                    assert!(
                        actions == ["ecr:GetAuthorizationToken"] || actions == ["sts:GetCallerIdentity"],
                        "{sid} uses * for {actions:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn codebuild_reaches_exactly_its_log_group_bucket_repository_secret_and_connection() {
        let s = statements(&scope().codebuild_policy());
        let by = |sid: &str| s.iter().find(|(id, _, _)| id == sid).unwrap().2.clone();
        assert_eq!(
            by("Logs"),
            [
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/ekskit-demo-build",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/ekskit-demo-build:*"
            ]
        );
        assert_eq!(
            by("Artifacts"),
            [
                "arn:aws:s3:::ekskit-demo-artifacts-123456789012-eu-west-1",
                "arn:aws:s3:::ekskit-demo-artifacts-123456789012-eu-west-1/*"
            ]
        );
        assert_eq!(by("EcrPush"), ["arn:aws:ecr:eu-west-1:123456789012:repository/comments"]);
        assert_eq!(by("GitToken"), [scope().token_secret]);
        assert_eq!(by("Connection"), [scope().connection]);
        let get_secret: Vec<_> =
            s.iter().filter(|(_, a, _)| a.iter().any(|a| a.starts_with("secretsmanager:"))).collect();
        assert_eq!(get_secret.len(), 1);
        assert_eq!(get_secret[0].1, ["secretsmanager:GetSecretValue"]);
    }

    #[test]
    fn codepipeline_starts_only_its_project() {
        let s = statements(&scope().codepipeline_policy());
        let build = s.iter().find(|(id, _, _)| id == "Build").unwrap();
        assert_eq!(build.1, ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]);
        assert_eq!(build.2, ["arn:aws:codebuild:eu-west-1:123456789012:project/ekskit-demo-build"]);
        assert!(
            s.iter().all(|(_, a, _)| a.iter().all(|a| !a.starts_with("ecr:") && !a.starts_with("secretsmanager:")))
        );
        assert_eq!(
            trust("codepipeline.amazonaws.com")["Statement"][0]["Principal"]["Service"],
            "codepipeline.amazonaws.com"
        );
    }

    #[test]
    fn partitions_and_encoded_documents() {
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-east-1"), "aws");
        let doc = scope().codepipeline_policy();
        let encoded = doc.to_string().replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace(':', "%3A");
        assert_eq!(parse_document(&encoded), Some(doc.clone()));
        assert_eq!(parse_document(&doc.to_string()), Some(doc));
    }
}
