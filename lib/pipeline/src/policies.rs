//! The IAM documents of the roles: who may assume them, and least-privilege inline policies
//! whose every statement names its resources (the one `*` is ecr:GetAuthorizationToken and
//! sts:GetCallerIdentity, which take no resource).
//!
//! The two git tokens are kept apart: the release project's role may read only the release's
//! token secret (`token_secret`, which may push to the dev GitOps branch), the promotion
//! project's role only the promotion's (`PromoteScope::token_secret`), so that a release build
//! cannot push to the promoted environment's branch. Only the release role may push images.

pub use ekskit_aws::iam::parse_document;
use serde_json::{Value, json};

/// What the policies are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub bucket: String,
    pub project: String,
    pub pipeline: String,
    pub log_group: String,
    pub ecr_repository: String,
    /// The release's token secret: the only one the release role reads.
    pub token_secret: String,
    pub connection: String,
    /// The promotion's project, when there is one.
    pub promotion: Option<PromoteScope>,
}

/// What the promotion project's role is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteScope {
    pub project: String,
    pub log_group: String,
    /// The promotion's token secret: the only one the promotion role reads.
    pub token_secret: String,
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

/// Who may assume a role: `service`, acting for `source` (the stack's own project or pipeline)
/// in this account only. These are the conditions CodeBuild and CodePipeline set against the
/// confused deputy: without them a project or pipeline of another account could use the role.
pub fn trust(service: &str, account: &str, source: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": source}},
        }],
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

    /// The promotion's project; every project of the account when there is none to name.
    pub fn promote_project_arn(&self) -> String {
        let project = self.promotion.as_ref().map_or("*", |p| p.project.as_str());
        self.arn("codebuild", true, &format!("project/{project}"))
    }

    pub fn pipeline_arn(&self) -> String {
        self.arn("codepipeline", true, &self.pipeline)
    }

    fn log_group_arns(&self, log_group: &str) -> Vec<String> {
        let group = self.arn("logs", true, &format!("log-group:{log_group}"));
        vec![group.clone(), format!("{group}:*")]
    }

    /// The release project's role: its log group, the artifacts, the image push, the release's
    /// git token (never the promotion's), the connection (for builds that clone through it) and
    /// who-am-I.
    pub fn codebuild_policy(&self) -> Value {
        let (bucket, objects) = self.bucket_arns();
        let repository = self.arn("ecr", true, &format!("repository/{}", self.ecr_repository));
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Logs", "Effect": "Allow",
                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": self.log_group_arns(&self.log_group)},
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

    /// The promotion project's role: its log group, reading the artifacts (release.json of the
    /// build), the promotion's git token (never the release's) and who-am-I. No image push: the
    /// promotion moves a tag in git, it builds nothing.
    pub fn promote_policy(&self, promote: &PromoteScope) -> Value {
        let (bucket, objects) = self.bucket_arns();
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Logs", "Effect": "Allow",
                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": self.log_group_arns(&promote.log_group)},
                {"Sid": "Artifacts", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                 "Resource": [bucket, objects]},
                {"Sid": "GitToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": promote.token_secret},
                {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
            ],
        })
    }

    /// CodePipeline's role: the artifacts, starting and following the builds (release, and the
    /// promotion's when there is one), the connection.
    pub fn codepipeline_policy(&self) -> Value {
        let (bucket, objects) = self.bucket_arns();
        let projects = match &self.promotion {
            None => json!(self.project_arn()),
            Some(p) => json!([self.project_arn(), self.arn("codebuild", true, &format!("project/{}", p.project))]),
        };
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Artifacts", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl",
                            "s3:GetBucketVersioning", "s3:GetBucketLocation"],
                 "Resource": [bucket, objects]},
                {"Sid": "Build", "Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                 "Resource": projects},
                {"Sid": "Connection", "Effect": "Allow",
                 "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                 "Resource": self.connection},
            ],
        })
    }
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
            pipeline: "ekskit-demo".into(),
            log_group: "/aws/codebuild/ekskit-demo-build".into(),
            ecr_repository: "comments".into(),
            token_secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gitops-token-AbCdEf".into(),
            connection: "arn:aws:codeconnections:eu-west-1:123456789012:connection/1234".into(),
            promotion: None,
        }
    }

    const PROMOTE_SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gitops-prod-token-XyZ123";

    fn promoting() -> Scope {
        Scope {
            promotion: Some(PromoteScope {
                project: "ekskit-demo-promote".into(),
                log_group: "/aws/codebuild/ekskit-demo-promote".into(),
                token_secret: PROMOTE_SECRET.into(),
            }),
            ..scope()
        }
    }

    fn promote_policy() -> Value {
        let s = promoting();
        s.promote_policy(s.promotion.as_ref().unwrap())
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
        for policy in [scope().codebuild_policy(), scope().codepipeline_policy(), promote_policy()] {
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
    }

    #[test]
    fn each_role_trusts_its_service_for_this_stacks_project_or_pipeline_only() {
        let s = promoting();
        let trust = trust("codepipeline.amazonaws.com", &s.account, &s.pipeline_arn());
        let statement = &trust["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "codepipeline.amazonaws.com");
        assert_eq!(statement["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(
            statement["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:codepipeline:eu-west-1:123456789012:ekskit-demo"
        );
        assert_eq!(s.promote_project_arn(), "arn:aws:codebuild:eu-west-1:123456789012:project/ekskit-demo-promote");
        assert_eq!(scope().promote_project_arn(), "arn:aws:codebuild:eu-west-1:123456789012:project/*");
    }

    #[test]
    fn each_token_is_read_by_its_own_role_only() {
        let s = promoting();
        let secrets = |policy: &Value| -> Vec<String> {
            statements(policy)
                .into_iter()
                .filter(|(_, a, _)| a.iter().any(|a| a.starts_with("secretsmanager:")))
                .flat_map(|(_, _, r)| r)
                .collect()
        };
        let release = s.codebuild_policy();
        assert_eq!(secrets(&release), [s.token_secret.as_str()]);
        assert!(!release.to_string().contains(PROMOTE_SECRET));
        let promote = promote_policy();
        assert_eq!(secrets(&promote), [PROMOTE_SECRET]);
        assert!(!promote.to_string().contains(&s.token_secret));
        assert!(secrets(&s.codepipeline_policy()).is_empty());
    }

    #[test]
    fn the_promotion_reads_artifacts_pushes_no_image_and_only_codepipeline_starts_it() {
        let s = statements(&promote_policy());
        assert!(s.iter().all(|(_, a, _)| a.iter().all(|a| !a.starts_with("ecr:") && !a.contains("UseConnection"))));
        let artifacts = s.iter().find(|(id, _, _)| id == "Artifacts").unwrap();
        assert!(artifacts.1.iter().all(|a| a.starts_with("s3:Get")), "{:?}", artifacts.1);
        let logs = s.iter().find(|(id, _, _)| id == "Logs").unwrap();
        assert_eq!(logs.2[0], "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/ekskit-demo-promote");
        let pipeline = statements(&promoting().codepipeline_policy());
        let build = pipeline.iter().find(|(id, _, _)| id == "Build").unwrap();
        assert_eq!(
            build.2,
            [
                "arn:aws:codebuild:eu-west-1:123456789012:project/ekskit-demo-build",
                "arn:aws:codebuild:eu-west-1:123456789012:project/ekskit-demo-promote"
            ]
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
