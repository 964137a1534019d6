//! tagbump: an image tag set in a YAML file in place, committed and pushed with git2.
//!
//! - [`path`]: `image.tag`, `images[name=app].newTag`; [`yaml`]: finding the scalar's bytes and
//!   replacing only them; [`resolve`]: which tags YAML readers take for strings when plain; [`git`]: commit, push, redo on a lost race; [`model`]: the JSON keys

pub mod cli;
pub mod git;
pub mod model;
pub mod path;
pub mod resolve;
pub mod yaml;

use ekskit_aws::AwsResultExt;
use ekskit_core::document::Stdin;
use ekskit_core::image_ref::{check_tag, split_tag};
use ekskit_core::output::{emit, to_stderr};
use ekskit_core::{Document, InputError};

use crate::cli::Args;
use crate::model::{BumpDoc, PlanDoc};
use crate::path::YamlPath;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = Document::from_stdin(Stdin::WhenPiped)?;
    let text = std::fs::read(&args.file).map_err(|e| {
        InputError::new(format!("{}: {e}", args.file.display())).hint("pass the values or kustomization file to edit")
    })?;
    let text =
        String::from_utf8(text).map_err(|_| InputError::new(format!("{} is not UTF-8 text", args.file.display())))?;
    let (image, new) = image_and_tag(&args, &doc)?;
    check_tag(&new)?;
    let (path, target) = target(&args, &text, &image)?;

    if args.dry_run {
        let diff = if target.holds(&new) {
            String::new()
        } else {
            let edited = yaml::edit(&text, &target, &new).map_err(|e| file_error(&args.file, e))?;
            unified_diff(&args.file.display().to_string(), &text, &edited)
        };
        to_stderr(&diff);
        let plan =
            PlanDoc { file: args.file.display().to_string(), path: path.to_string(), old: target.value, new, diff };
        doc.set_nested("plan", "bump", &plan)?;
        return emit(&doc);
    }

    let repo = git::Repo::open(&args.file)?;
    repo.check_clean()?;
    let credentials = if args.push { credentials(&args, &doc).await? } else { git::Credentials::default() };
    let options = git::Options {
        branch: args.branch.clone(),
        push: args.push,
        remote: args.remote.clone(),
        retries: args.retries,
        author: args.author.clone(),
        credentials,
    };
    let change = git::Change {
        file: &args.file,
        path: &path,
        document: args.document.or(Some(target.document)),
        new: &new,
        image: &image,
    };
    let outcome = tokio::task::block_in_place(|| repo.bump(&change, &options))?;
    let bump = BumpDoc {
        file: repo.relative().display().to_string(),
        path: path.to_string(),
        image,
        old: outcome.old,
        new,
        commit: outcome.commit,
        branch: outcome.branch,
        remote: args.remote.clone(),
        pushed: outcome.pushed,
        attempts: outcome.attempts,
    };
    doc.set("bump", &bump)?;
    emit(&doc)
}

/// The image name and the new tag: flags, else imgpush's `push`, else imgbuild's `image`.
fn image_and_tag(args: &Args, doc: &Document) -> anyhow::Result<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Push {
        repository: String,
        tags: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Image {
        tags: Vec<String>,
    }
    let push: Option<Push> = doc.get("push")?;
    let built: Option<Image> = doc.get("image")?;
    let from_image = built.as_ref().and_then(|i| i.tags.first()).map(|t| split_tag(t.as_str()));
    let image = args
        .image
        .clone()
        .or_else(|| push.as_ref().map(|p| p.repository.clone()))
        .or_else(|| from_image.map(|(name, _)| name.to_owned()))
        .unwrap_or_else(|| "image".to_owned());
    let tag = args
        .tag
        .clone()
        .or_else(|| push.as_ref().and_then(|p| p.tags.first().cloned()))
        .or_else(|| from_image.map(|(_, tag)| tag.to_owned()))
        .ok_or_else(|| {
            InputError::new("no tag to set").hint("pass --tag, or pipe imgpush's (or imgbuild's) output into tagbump")
        })?;
    Ok((image, tag))
}

/// The path to edit and where it is in the file: --path, else `image.tag`, else in a
/// kustomization the `images` entry named like the image (its whole name or its last part).
fn target(args: &Args, text: &str, image: &str) -> anyhow::Result<(YamlPath, yaml::Target)> {
    let locate = |path: &YamlPath| yaml::locate(text, path, args.document).map_err(|e| file_error(&args.file, e));
    if let Some(p) = &args.path {
        let path: YamlPath = p.parse().map_err(InputError::new)?;
        let found = locate(&path)?;
        return Ok((path, found));
    }
    let name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if !matches!(name, "kustomization.yaml" | "kustomization.yml" | "Kustomization") {
        let path: YamlPath = "image.tag".parse().map_err(InputError::new)?;
        let found = locate(&path).map_err(|e| e.hint("pass --path for a tag that is not at image.tag"))?;
        return Ok((path, found));
    }
    let short = image.rsplit('/').next().unwrap_or(image);
    let mut last = None;
    for candidate in [image, short] {
        let path = YamlPath {
            segments: vec![
                path::Segment::Key("images".into()),
                path::Segment::Match("name".into(), candidate.to_owned()),
                path::Segment::Key("newTag".into()),
            ],
        };
        match locate(&path) {
            Ok(found) => return Ok((path, found)),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .expect("two candidates were tried")
        .hint(format!("the kustomization has no images entry named {image} or {short}: pass --image"))
        .into())
}

/// The push token: a file, Secrets Manager, or the environment variable (when set).
async fn credentials(args: &Args, doc: &Document) -> anyhow::Result<git::Credentials> {
    let token = if let Some(file) = &args.token_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| InputError::new(format!("reading the token file {}: {e}", file.display())))?;
        Some(text.trim().to_owned())
    } else if let Some(secret) = &args.token_secret {
        Some(secret_token(args, doc, secret).await?)
    } else {
        std::env::var(&args.token_env).ok().filter(|t| !t.is_empty())
    };
    if token.as_ref().is_some_and(String::is_empty) {
        return Err(InputError::new("the push token is empty").into());
    }
    Ok(git::Credentials { token, token_user: args.token_user.clone(), ssh_key: args.ssh_key.clone() })
}

/// A token kept in AWS Secrets Manager, as plain text or JSON with a `token` (or `password`) key.
async fn secret_token(args: &Args, doc: &Document, secret: &str) -> anyhow::Result<String> {
    let config = ekskit_aws::load(&args.aws, ekskit_aws::document_region(doc)?.as_deref()).await?;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out =
        client.get_secret_value().secret_id(secret).send().await.aws(format!("reading the token secret {secret}"))?;
    let text = out.secret_string().ok_or_else(|| InputError::new(format!("the secret {secret} holds no text")))?;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        for key in ["token", "password"] {
            if let Some(serde_json::Value::String(t)) = map.get(key) {
                return Ok(t.clone());
            }
        }
        return Err(InputError::new(format!("the secret {secret} is JSON without a `token` key")).into());
    }
    Ok(text.trim().to_owned())
}

fn file_error(file: &std::path::Path, e: yaml::EditError) -> InputError {
    InputError::new(format!("{}: {e}", file.display()))
}

fn unified_diff(name: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(2).header(name, name).to_string()
}
