//! mkpipeline against moto (with the devstack shim for CodeConnections): create, look behind the
//! tool's back, re-run, dry-run, delete twice; a promotion behind a manual approval; bad input
//! and someone else's resources.

use std::collections::BTreeMap;
use std::process::Output;

use aws_sdk_codepipeline::types::PipelineDeclaration;
use ekskit_tests::{assert_schema, aws_config, block_on, ok_json, run_tool, stack_env, stderr, unique_stack};
use serde_json::Value;

// The pure trigger evaluation of ekskit-pipeline, compiled in here (it needs only the
// CodePipeline SDK types, which this crate has): it reads the declaration moto hands back.
#[path = "../../lib/pipeline/src/trigger.rs"]
mod trigger;

const REGION: &str = "us-east-1";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-token-AbCdEf";
const PROD_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitops-prod-token-GhIjKl";

fn env() -> &'static BTreeMap<String, String> {
    stack_env(&["aws"])
}

fn mkpipeline(args: &[&str], stdin: Option<&str>) -> Output {
    run_tool("mkpipeline", env(), &[&["--region", REGION], args].concat(), stdin)
}

fn ok(out: &Output) -> Value {
    ok_json("mkpipeline", out)
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
        let mut roles = aws.iam.list_roles().into_paginator().items().send();
        while let Some(role) = roles.next().await {
            let role = role.unwrap();
            if role.role_name().starts_with(&format!("ekskit-{stack}-")) {
                found.push(format!("iam-role {}", role.role_name()));
            }
        }
        for project in [format!("ekskit-{stack}-build"), format!("ekskit-{stack}-promote")] {
            if !aws.cb.batch_get_projects().names(&project).send().await.unwrap().projects().is_empty() {
                found.push(format!("codebuild-project {project}"));
            }
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
        // The GitOps change goes to another branch than the watched one.
        assert!(vars.contains(&("GITOPS_BRANCH", "gitops")), "{vars:?}");
        assert!(vars.contains(&("GITOPS_REPO_URL", "https://github.com/acme/comments.git")), "{vars:?}");
        assert_ne!(Some(vars.iter().find(|(k, _)| *k == "GITOPS_BRANCH").unwrap().1), p["branch"].as_str());
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
        check_trigger(d, "main");
        let stages: Vec<&str> = d.stages().iter().map(|s| s.name()).collect();
        assert_eq!(stages, ["Source", "Build"], "no promotion asked, no approval");
        let arn = p["arn"].as_str().unwrap();
        let tags = aws.cp.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        assert!(tagged(tags.tags().iter().map(|t| (t.key().into(), t.value().into())).collect()));

        let conn = p["connection"]["arn"].as_str().unwrap();
        let tags = aws.cc.list_tags_for_resource().resource_arn(conn).send().await.unwrap();
        assert!(tagged(tags.tags().iter().map(|t| (t.key().into(), t.value().into())).collect()));
    });
}

/// The push trigger as moto hands it back: the watched branch, the release's files; and what
/// CodePipeline makes of pushes (a release's GitOps commit starts nothing).
fn check_trigger(d: &PipelineDeclaration, branch: &str) {
    let git = d.triggers()[0].git_configuration().expect("a git trigger");
    assert_eq!(git.source_action_name(), "Source");
    let push = &git.push()[0];
    assert_eq!(push.branches().unwrap().includes(), [branch]);
    assert_eq!(
        push.file_paths().expect("filePaths kept").includes(),
        ["app/**", "buildspec.yml", "scripts/install-tools"]
    );
    let starts = |branch: &str, files: &[&str]| trigger::starts(d, "Source", branch, files);
    assert!(!starts("gitops", &["deploy/environments/dev/kustomization.yaml"]), "a GitOps push starts nothing");
    assert!(!starts("gitops-prod", &["deploy/environments/prod/kustomization.yaml"]));
    assert!(starts(branch, &["app/comments/api.py"]), "a change to the app starts a release");
    assert!(!starts(branch, &["README.md"]), "a change to the README starts nothing");
}

fn nine_trigger_paths() -> Vec<&'static str> {
    ["a", "b", "c", "d", "e", "f", "g", "h", "i"].into_iter().flat_map(|p| ["--trigger-path", p]).collect()
}

fn policy(aws: &Aws, role: &str) -> String {
    block_on(async {
        let out = aws.iam.get_role_policy().role_name(role).policy_name("ekskit-pipeline").send().await.unwrap();
        // IAM returns policy documents URL-encoded; moto does not.
        out.policy_document().replace("%3A", ":").replace("%2F", "/")
    })
}

#[test]
fn promotes_behind_a_manual_approval_with_its_own_project_role_and_token() {
    let aws = aws();
    let stack = unique_stack("plp").to_lowercase();
    let mut args = create_args(&stack);
    args.extend(["--promote-to", "prod", "--promote-token-secret", PROD_SECRET].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let plan = ok(&mkpipeline(&[&args[..], &["--dry-run"]].concat(), None));
    assert_schema("plan.pipeline.schema.json", &plan["plan"]["pipeline"]);
    let planned: Vec<String> = plan["plan"]["pipeline"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!("{} {} {}", a["action"].as_str().unwrap(), a["kind"].as_str().unwrap(), a["name"].as_str().unwrap())
        })
        .collect();
    assert!(planned.contains(&format!("create iam-role ekskit-{stack}-promote-codebuild")), "{planned:#?}");
    assert!(planned.contains(&format!("create codebuild-project ekskit-{stack}-promote")), "{planned:#?}");
    assert_eq!(planned.len(), 8, "{planned:#?}");
    assert!(owned(&aws, &stack).is_empty());

    let doc = ok(&mkpipeline(&args, None));
    let p = &doc["pipeline"];
    assert_schema("pipeline.schema.json", p);
    let promotion = &p["promotion"];
    assert_eq!(promotion["environment"], "prod");
    assert_eq!(promotion["branch"], "gitops-prod");
    assert_eq!(promotion["token_secret"], PROD_SECRET);
    assert_eq!(promotion["project"]["name"], format!("ekskit-{stack}-promote"));
    assert_eq!(owned(&aws, &stack).len(), 8, "{:#?}", owned(&aws, &stack));

    block_on(async {
        let got = aws.cp.get_pipeline().name(p["name"].as_str().unwrap()).send().await.unwrap();
        let d = got.pipeline().unwrap();
        let stages: Vec<&str> = d.stages().iter().map(|s| s.name()).collect();
        assert_eq!(stages, ["Source", "Build", "Approve-prod", "Promote-prod"]);
        let approve = &d.stages()[2].actions()[0];
        let t = approve.action_type_id().unwrap();
        assert_eq!(
            (t.category().as_str(), t.owner().as_str(), t.provider(), t.version()),
            ("Approval", "AWS", "Manual", "1")
        );
        let text = &approve.configuration().unwrap()["CustomData"];
        assert!(text.starts_with("Promote comments") && text.ends_with("to prod"), "{text}");
        let promote = &d.stages()[3].actions()[0];
        let config = promote.configuration().unwrap();
        assert_eq!(config["ProjectName"], format!("ekskit-{stack}-promote"));
        assert_eq!(config["PrimarySource"], "SourceOutput");
        let inputs: Vec<&str> = promote.input_artifacts().iter().map(|a| a.name()).collect();
        assert_eq!(inputs, ["SourceOutput", "BuildOutput"]);
        check_trigger(d, "main");

        let projects = aws.cb.batch_get_projects().names(format!("ekskit-{stack}-promote")).send().await.unwrap();
        let project = &projects.projects()[0];
        assert_eq!(project.source().unwrap().buildspec(), Some("buildspec-promote.yml"));
        assert_eq!(project.service_role(), promotion["role"].as_str());
        assert_ne!(project.service_role(), p["roles"]["codebuild"].as_str(), "a role of its own");
        let env = project.environment().unwrap();
        let vars: BTreeMap<&str, &str> = env.environment_variables().iter().map(|v| (v.name(), v.value())).collect();
        assert_eq!(
            vars,
            BTreeMap::from([
                ("ENVIRONMENT", "prod"),
                ("GITOPS_BRANCH", "gitops-prod"),
                ("GITOPS_REPO_URL", "https://github.com/acme/comments.git"),
                ("GITOPS_TOKEN_SECRET", PROD_SECRET),
            ])
        );
        let tags: Vec<(&str, &str)> = project.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
        assert!(tags.contains(&("ekskit.io/stack", stack.as_str())), "{tags:?}");
    });

    // Each role reads its own token's secret only; the promotion pushes no image.
    let release = policy(&aws, &format!("ekskit-{stack}-codebuild"));
    let promote = policy(&aws, &format!("ekskit-{stack}-promote-codebuild"));
    assert!(release.contains(SECRET) && !release.contains(PROD_SECRET), "{release}");
    assert!(promote.contains(PROD_SECRET) && !promote.contains(SECRET), "{promote}");
    assert!(!promote.contains("ecr:"), "{promote}");
    let pipeline_role = policy(&aws, &format!("ekskit-{stack}-codepipeline"));
    assert!(pipeline_role.contains(&format!("project/ekskit-{stack}-promote")), "{pipeline_role}");

    // A second run fed its own output: everything kept.
    let plan = ok(&mkpipeline(&["--dry-run"], Some(&doc.to_string())));
    assert!(actions(&plan["plan"]["pipeline"]).iter().all(|(a, _)| a == "keep"), "{plan:#}");
    let again = ok(&mkpipeline(&[], Some(&doc.to_string())));
    assert_eq!(again["pipeline"], doc["pipeline"]);
    assert_eq!(owned(&aws, &stack).len(), 8);

    // Without the promotion: the pipeline is updated, the promotion's project and role go.
    let mut plain = doc.clone();
    plain["pipeline"].as_object_mut().unwrap().remove("promotion");
    let plan = ok(&mkpipeline(&["--dry-run"], Some(&plain.to_string())));
    let changes: Vec<_> = actions(&plan["plan"]["pipeline"]).into_iter().filter(|(a, _)| a != "keep").collect();
    let expected =
        [("update", "iam-role"), ("update", "pipeline"), ("delete", "codebuild-project"), ("delete", "iam-role")];
    assert_eq!(changes, expected.map(|(a, k)| (a.to_owned(), k.to_owned())), "{plan:#}");
    let dropped = ok(&mkpipeline(&[], Some(&plain.to_string())));
    assert!(dropped["pipeline"].get("promotion").is_none());
    assert_eq!(owned(&aws, &stack).len(), 6, "{:#?}", owned(&aws, &stack));
    let back = ok(&mkpipeline(&[], Some(&doc.to_string())));
    assert_eq!(back["pipeline"]["promotion"]["environment"], "prod");
    assert_eq!(owned(&aws, &stack).len(), 8);

    let gone = ok(&mkpipeline(&["--delete"], Some(&back.to_string())));
    assert_schema("deleted.pipeline.schema.json", &gone["deleted"]["pipeline"]);
    assert_eq!(gone["deleted"]["pipeline"]["resources"].as_array().unwrap().len(), 8, "{gone:#}");
    assert_eq!(owned(&aws, &stack), Vec::<String>::new());
}

#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let aws = aws();
    let stack = unique_stack("plb").to_lowercase();
    let base = ["--name", &stack, "--repository", "acme/comments", "--token-secret", SECRET];
    let with = |extra: &[&'static str]| [&base[..], extra].concat();
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
        (with(&["--gitops-branch", "main"]), "every release would start the next"),
        (
            with(&["--gitops-repo", "https://github.com/acme/comments.git", "--gitops-branch", "main"]),
            "every release would start the next",
        ),
        (with(&["--promote-to", "prod"]), "no token secret for the promotion"),
        (with(&["--promote-to", "prod", "--promote-token-secret", SECRET]), "could bump prod"),
        (with(&nine_trigger_paths()), "at most 8"),
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
