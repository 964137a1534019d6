//! mkpipeline against moto (with the devstack shim for CodeConnections): create, look behind the
//! tool's back, re-run, dry-run, delete twice; bad input and someone else's resources.

use std::collections::BTreeMap;
use std::process::Output;

use ekskit_tests::{assert_schema, aws_config, block_on, run, stack_env, stderr, stdout_json, tool, unique_stack};
use serde_json::Value;

const REGION: &str = "us-east-1";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

fn mkpipeline(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool("mkpipeline", env());
    cmd.args(["--region", REGION]).args(args);
    run(cmd, stdin)
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "failed ({:?}):\n{}", out.status, stderr(out));
    stdout_json(out)
}

fn create_args(stack: &str) -> Vec<String> {
    ["--name", stack, "--repository", "acme/comments", "--token-secret", SECRET].map(String::from).to_vec()
}

struct Aws {
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    cb: aws_sdk_codebuild::Client,
    cp: aws_sdk_codepipeline::Client,
    cc: aws_sdk_codeconnections::Client,
}

fn aws() -> Aws {
    let c = aws_config(env(), REGION);
    Aws {
        s3: aws_sdk_s3::Client::new(&c),
        iam: aws_sdk_iam::Client::new(&c),
        cb: aws_sdk_codebuild::Client::new(&c),
        cp: aws_sdk_codepipeline::Client::new(&c),
        cc: aws_sdk_codeconnections::Client::new(&c),
    }
}

/// The bucket's name while it needs no cutting (short stack names; names.rs tests the cut).
fn bucket_of(stack: &str) -> String {
    // The emulated account devstack drew.
    let account = &env()["EKSKIT_AWS_ACCOUNT"];
    let name = format!("ekskit-{}-artifacts-{account}-{REGION}", stack.to_lowercase());
    assert!(name.len() <= 63, "use a shorter test stack name than {stack}");
    name
}

/// What moto holds for the stack, looked up by name behind mkpipeline's back.
fn owned(aws: &Aws, stack: &str) -> Vec<String> {
    block_on(async {
        let mut found = Vec::new();
        if aws.s3.head_bucket().bucket(bucket_of(stack)).send().await.is_ok() {
            found.push(format!("s3-bucket {}", bucket_of(stack)));
        }
        for role in aws.iam.list_roles().send().await.unwrap().roles() {
            if role.role_name().starts_with(&format!("ekskit-{stack}-")) {
                found.push(format!("iam-role {}", role.role_name()));
            }
        }
        let project = format!("ekskit-{stack}-build");
        if !aws.cb.batch_get_projects().names(&project).send().await.unwrap().projects().is_empty() {
            found.push(format!("codebuild-project {project}"));
        }
        let pipeline = format!("ekskit-{stack}-release");
        if aws.cp.get_pipeline().name(&pipeline).send().await.is_ok() {
            found.push(format!("pipeline {pipeline}"));
        }
        for c in aws.cc.list_connections().send().await.unwrap().connections() {
            if c.connection_name() == Some(&format!("ekskit-{stack}")) {
                found.push(format!("connection {}", c.connection_name().unwrap()));
            }
        }
        found.sort();
        found
    })
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap().to_owned(), a["kind"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn creates_reruns_without_changes_and_deletes_to_nothing() {
    let aws = aws();
    let stack = unique_stack("pl").to_lowercase();
    let args = create_args(&stack);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // --dry-run on a new stack: all create, nothing made.
    let plan = ok(&mkpipeline(&[&args[..], &["--dry-run"]].concat(), None));
    assert_schema("plan.pipeline.schema.json", &plan["plan"]["pipeline"]);
    let kinds: Vec<String> = actions(&plan["plan"]["pipeline"]).into_iter().map(|(a, k)| format!("{a} {k}")).collect();
    assert_eq!(
        kinds,
        [
            "create s3-bucket",
            "create connection",
            "create iam-role",
            "create iam-role",
            "create codebuild-project",
            "create pipeline"
        ]
    );
    assert!(owned(&aws, &stack).is_empty(), "--dry-run created {:?}", owned(&aws, &stack));

    let input = r#"{"vpc": {"stack": "other", "id": "vpc-1"}}"#;
    let out = mkpipeline(&args, Some(input));
    let doc = ok(&out);
    assert_eq!(doc["vpc"]["id"], "vpc-1", "the stdin document is kept");
    let p = &doc["pipeline"];
    assert_schema("pipeline.schema.json", p);
    assert_eq!(p["name"], format!("ekskit-{stack}-release"));
    assert_eq!(p["pipeline_type"], "V2");
    assert_eq!(p["bucket"], bucket_of(&stack));
    assert_eq!(
        (p["connection"]["status"].as_str(), p["connection"]["managed"].as_bool()),
        (Some("PENDING"), Some(true))
    );
    assert!(p["next_step"].as_str().unwrap().contains("console"), "{p:#}");
    assert!(stderr(&out).contains("PENDING"), "{}", stderr(&out));
    assert_eq!(
        owned(&aws, &stack),
        [
            format!("codebuild-project ekskit-{stack}-build"),
            format!("connection ekskit-{stack}"),
            format!("iam-role ekskit-{stack}-codebuild"),
            format!("iam-role ekskit-{stack}-codepipeline"),
            format!("pipeline ekskit-{stack}-release"),
            format!("s3-bucket {}", bucket_of(&stack)),
        ]
    );
    check_behind_the_back(&aws, &stack, p);

    // Re-run fed its own output, no flags: everything kept, nothing created twice.
    let again = ok(&mkpipeline(&[], Some(&doc.to_string())));
    assert_eq!(again["pipeline"], doc["pipeline"]);
    let plan = ok(&mkpipeline(&["--dry-run"], Some(&doc.to_string())));
    assert!(actions(&plan["plan"]["pipeline"]).iter().all(|(a, _)| a == "keep"), "{plan:#}");
    assert_eq!(owned(&aws, &stack).len(), 6);

    // A changed flag updates in place.
    let plan = ok(&mkpipeline(&["--dry-run", "--branch", "release"], Some(&doc.to_string())));
    let updates: Vec<_> = actions(&plan["plan"]["pipeline"]).into_iter().filter(|(a, _)| a != "keep").collect();
    assert_eq!(updates, [("update".to_owned(), "pipeline".to_owned())]);
    let moved = ok(&mkpipeline(&["--branch", "release"], Some(&doc.to_string())));
    assert_eq!(moved["pipeline"]["branch"], "release");
    assert_eq!(moved["pipeline"]["arn"], doc["pipeline"]["arn"]);

    // Objects in every version are removed with the bucket.
    block_on(async {
        for body in ["one", "two"] {
            aws.s3
                .put_object()
                .bucket(bucket_of(&stack))
                .key("art/x.zip")
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
        aws.s3.delete_object().bucket(bucket_of(&stack)).key("art/x.zip").send().await.unwrap();
    });
    let plan = ok(&mkpipeline(&["--delete", "--dry-run"], Some(&moved.to_string())));
    assert_schema("plan.pipeline.schema.json", &plan["plan"]["pipeline"]);
    assert_eq!(actions(&plan["plan"]["pipeline"]).len(), 6);
    assert_eq!(owned(&aws, &stack).len(), 6, "--delete --dry-run deleted something");

    let gone = ok(&mkpipeline(&["--delete"], Some(&moved.to_string())));
    assert_schema("deleted.pipeline.schema.json", &gone["deleted"]["pipeline"]);
    assert!(gone.get("pipeline").is_none());
    assert_eq!(gone["deleted"]["pipeline"]["resources"].as_array().unwrap().len(), 6);
    assert_eq!(owned(&aws, &stack), Vec::<String>::new());

    let twice = ok(&mkpipeline(&["--delete", "--name", &stack], None));
    assert_eq!(twice["deleted"]["pipeline"]["resources"], serde_json::json!([]));
}

fn check_behind_the_back(aws: &Aws, stack: &str, p: &Value) {
    let tagged = |pairs: Vec<(String, String)>| pairs.contains(&("ekskit.io/stack".into(), stack.into()));
    block_on(async {
        let bucket = bucket_of(stack);
        let v = aws.s3.get_bucket_versioning().bucket(&bucket).send().await.unwrap();
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
        aws.s3.get_bucket_encryption().bucket(&bucket).send().await.expect("default encryption");
        let block = aws.s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
        let c = block.public_access_block_configuration().unwrap();
        assert_eq!(c.block_public_acls(), Some(true));
        assert_eq!(c.restrict_public_buckets(), Some(true));
        let tags = aws.s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap();
        assert!(tagged(tags.tag_set().iter().map(|t| (t.key().into(), t.value().into())).collect()));

        let role =
            aws.iam.get_role().role_name(format!("ekskit-{stack}-codebuild")).send().await.unwrap().role.unwrap();
        assert!(tagged(role.tags().iter().map(|t| (t.key().into(), t.value().into())).collect()));
        let policy =
            aws.iam.get_role_policy().role_name(role.role_name()).policy_name("ekskit-pipeline").send().await.unwrap();
        // IAM returns policy documents URL-encoded.
        let document = policy.policy_document().replace("%3A", ":");
        assert!(document.contains(SECRET), "{document}");

        let projects = aws.cb.batch_get_projects().names(format!("ekskit-{stack}-build")).send().await.unwrap();
        let project = &projects.projects()[0];
        assert!(tagged(project.tags().iter().map(|t| (t.key().unwrap().into(), t.value().unwrap().into())).collect()));
        let env = project.environment().unwrap();
        assert_eq!(env.privileged_mode(), Some(true));
        let vars: Vec<(&str, &str)> = env.environment_variables().iter().map(|v| (v.name(), v.value())).collect();
        assert!(
            vars.contains(&("GITOPS_TOKEN_SECRET", SECRET)) && vars.contains(&("REPOSITORY", "ecr:comments")),
            "{vars:?}"
        );
        assert_eq!(project.source().unwrap().buildspec(), Some("buildspec.yml"));
        assert_eq!(project.service_role(), Some(p["roles"]["codebuild"].as_str().unwrap()));

        let got = aws.cp.get_pipeline().name(p["name"].as_str().unwrap()).send().await.unwrap();
        let d = got.pipeline().unwrap();
        assert_eq!(d.pipeline_type().map(|t| t.as_str()), Some("V2"));
        let source = &d.stages()[0].actions()[0];
        let config = source.configuration().unwrap();
        assert_eq!(config["FullRepositoryId"], "acme/comments");
        assert_eq!(config["ConnectionArn"], p["connection"]["arn"].as_str().unwrap());
        assert_eq!(d.triggers()[0].provider_type().as_str(), "CodeStarSourceConnection");
        let arn = p["arn"].as_str().unwrap();
        let tags = aws.cp.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        assert!(tagged(tags.tags().iter().map(|t| (t.key().into(), t.value().into())).collect()));

        let conn = p["connection"]["arn"].as_str().unwrap();
        let tags = aws.cc.list_tags_for_resource().resource_arn(conn).send().await.unwrap();
        assert!(tagged(tags.tags().iter().map(|t| (t.key().into(), t.value().into())).collect()));
    });
}

#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let aws = aws();
    let stack = unique_stack("plb").to_lowercase();
    for (args, says) in [
        (vec!["--name", &stack, "--repository", "acme", "--token-secret", SECRET], "OWNER/NAME"),
        (vec!["--name", &stack, "--repository", "acme/comments"], "token secret"),
        (vec!["--name", &stack, "--repository", "acme/comments", "--token-secret", "gitops-token"], "ARN"),
        (
            vec!["--name", &stack, "--repository", "a/b", "--token-secret", SECRET, "--buildspec", "../x.yml"],
            "buildspec",
        ),
        (vec!["--repository", "a/b", "--token-secret", SECRET], "no stack name"),
        (
            vec!["--name", &stack, "--repository", "a/b", "--token-secret", SECRET, "--provider", "gitea"],
            "possible values",
        ),
    ] {
        let out = mkpipeline(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("mkpipeline: error:"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert!(owned(&aws, &stack).is_empty());
}

#[test]
fn someone_elses_bucket_or_role_of_the_same_name_is_refused_and_left_alone() {
    let aws = aws();
    let stack = unique_stack("plf").to_lowercase();
    let args = create_args(&stack);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    block_on(async {
        aws.s3.create_bucket().bucket(bucket_of(&stack)).send().await.unwrap();
        let tag = aws_sdk_s3::types::Tag::builder().key("team").value("other").build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        aws.s3.put_bucket_tagging().bucket(bucket_of(&stack)).tagging(tagging).send().await.unwrap();
    });
    let out = mkpipeline(&args, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains(&format!("S3 bucket {} exists but does not carry ekskit.io/stack={stack}", bucket_of(&stack))),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint: "), "{}", stderr(&out));
    assert_eq!(owned(&aws, &stack), [format!("s3-bucket {}", bucket_of(&stack))], "only the foreign bucket");
    // --delete leaves it alone.
    let gone = ok(&mkpipeline(&["--delete", "--name", &stack], None));
    assert_eq!(gone["deleted"]["pipeline"]["resources"], serde_json::json!([]));
    assert_eq!(owned(&aws, &stack).len(), 1);
    block_on(async { aws.s3.delete_bucket().bucket(bucket_of(&stack)).send().await.unwrap() });

    // A role of the CodeBuild role's name without our tag.
    let role = format!("ekskit-{stack}-codebuild");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    block_on(async { aws.iam.create_role().role_name(&role).assume_role_policy_document(trust).send().await.unwrap() });
    let out = mkpipeline(&args, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("IAM role {role} exists but does not carry")), "{}", stderr(&out));
    ok(&mkpipeline(&["--delete", "--name", &stack], None));
    let left = owned(&aws, &stack);
    assert_eq!(left, [format!("iam-role {role}")], "delete removes ours, leaves theirs");
    block_on(async { aws.iam.delete_role().role_name(&role).send().await.unwrap() });
}

#[test]
fn an_existing_connection_is_used_and_never_deleted() {
    let aws = aws();
    let stack = unique_stack("plc").to_lowercase();
    let arn = block_on(async {
        let out = aws
            .cc
            .create_connection()
            .connection_name(format!("shared-{}", std::process::id()))
            .provider_type(aws_sdk_codeconnections::types::ProviderType::from("GitLab"))
            .send()
            .await
            .unwrap();
        out.connection_arn().to_owned()
    });
    let mut args = create_args(&stack);
    args.extend(["--connection-arn".to_owned(), arn.clone(), "--provider".into(), "GitLab".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plan = ok(&mkpipeline(&[&args[..], &["--dry-run"]].concat(), None));
    assert!(actions(&plan["plan"]["pipeline"]).contains(&("use".to_owned(), "connection".to_owned())));
    let doc = ok(&mkpipeline(&args, None));
    let c = &doc["pipeline"]["connection"];
    assert_eq!(
        (c["arn"].as_str(), c["managed"].as_bool(), c["provider"].as_str()),
        (Some(arn.as_str()), Some(false), Some("GitLab"))
    );
    assert!(!owned(&aws, &stack).iter().any(|r| r.starts_with("connection ")));
    let gone = ok(&mkpipeline(&["--delete"], Some(&doc.to_string())));
    assert_eq!(gone["deleted"]["pipeline"]["resources"].as_array().unwrap().len(), 5);
    block_on(async {
        let still = aws.cc.get_connection().connection_arn(&arn).send().await.unwrap();
        assert_eq!(still.connection().unwrap().connection_arn(), Some(arn.as_str()));
        aws.cc.delete_connection().connection_arn(&arn).send().await.unwrap();
    });
}

#[test]
fn a_run_killed_after_creating_the_bucket_is_finished_by_the_next() {
    let aws = aws();
    let stack = unique_stack("plk").to_lowercase();
    // What a run killed between CreateBucket and PutBucketTagging leaves: our name, no tags, empty.
    block_on(async { aws.s3.create_bucket().bucket(bucket_of(&stack)).send().await.unwrap() });
    let args = create_args(&stack);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plan = ok(&mkpipeline(&[&args[..], &["--dry-run"]].concat(), None));
    let bucket = &actions(&plan["plan"]["pipeline"])[0];
    assert_eq!((bucket.0.as_str(), bucket.1.as_str()), ("update", "s3-bucket"));
    let doc = ok(&mkpipeline(&args, None));
    assert_eq!(doc["pipeline"]["bucket"], bucket_of(&stack));
    assert_eq!(owned(&aws, &stack).len(), 6);
    let plan = ok(&mkpipeline(&["--dry-run"], Some(&doc.to_string())));
    assert!(actions(&plan["plan"]["pipeline"]).iter().all(|(a, _)| a == "keep"), "{plan:#}");
    ok(&mkpipeline(&["--delete"], Some(&doc.to_string())));
    assert!(owned(&aws, &stack).is_empty());
}
