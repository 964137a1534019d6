//! imgpush: an image pushed through the Docker engine to Amazon ECR or any registry.
//!
//! - [`reference`]: `--repository` (tags: `ekskit_core::image_ref`); [`auth`]: where credentials come from
//! - [`ecr`]: the repository, its token, cleanup; [`api`]: the registry's own API (what a tag
//!   holds, deletes); [`push`]: the engine push, its retries; [`model`]: the JSON keys

pub mod api;
pub mod auth;
#[cfg(test)]
mod canned;
pub mod cli;
pub mod ecr;
pub mod model;
pub mod options;
pub mod push;
pub mod reference;

use ekskit_core::document::Stdin;
use ekskit_core::image_ref::{check_tag, split_tag};
use ekskit_core::output::emit;
use ekskit_core::{Document, Hinted, InputError};
use ekskit_model::image::ImageRef;
use tracing::{info, warn};

use crate::api::{Api, Manifest};
use crate::auth::Credentials;
use crate::cli::Args;
use crate::ecr::EcrRepository;
use crate::model::{DeletedDoc, EcrDoc, LayersDoc, PlanDoc, PushDoc, TagAction, TagPlan};
use crate::options::PushOptions;
use crate::reference::Repository;

/// Written into the `ekskit.io/managed-by` tag of ECR repositories.
pub const TOOL: &str = "imgpush";

/// Where the push goes, once ECR (if any) has said its host.
struct Target {
    repo: Repository,
    /// The host the engine and the API talk to.
    endpoint: String,
    credentials: Option<Credentials>,
    ecr: Option<EcrTarget>,
}

/// The ECR side of a target: the client, the repository (`None` until a run creates it) and
/// the region.
struct EcrTarget {
    client: aws_sdk_ecr::Client,
    repository: Option<EcrRepository>,
    region: String,
}

impl Target {
    fn engine_ref(&self) -> String {
        format!("{}/{}", self.endpoint, self.repo.path)
    }
    fn api(&self, retries: u32) -> anyhow::Result<Api> {
        let host = if self.endpoint == self.repo.host { self.repo.api_host() } else { &self.endpoint };
        Api::new(host, &self.repo.path, self.credentials.clone(), retries)
    }
    fn immutable(&self) -> bool {
        self.ecr.as_ref().and_then(|e| e.repository.as_ref()).is_some_and(|r| r.immutable)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mode = if args.password_stdin { Stdin::Never } else { args.stdin.mode() };
    let mut doc = Document::from_stdin(mode)?;
    let previous: Option<PushDoc> = doc.get("push")?;
    let text =
        args.repository.clone().or_else(|| previous.as_ref().map(|p| p.repository.clone())).ok_or_else(|| {
            InputError::new("no repository to push to")
                .hint("pass --repository, e.g. 127.0.0.1:5001/comments or ecr:comments")
        })?;
    let repo = Repository::parse(&text)?;
    if let Some(endpoint) = &args.registry_endpoint {
        Repository::parse(&format!("{endpoint}/x"))
            .map_err(|_| InputError::new(format!("--registry-endpoint `{endpoint}` is not HOST[:PORT]")))?;
    }
    let password = match (&args.username, &args.password_file) {
        (Some(user), Some(file)) => Some(auth::password_from(file, user)?),
        (Some(user), None) if args.password_stdin => Some(auth::password_from(std::path::Path::new("-"), user)?),
        _ => None,
    };
    if repo.ecr.is_some() && password.is_some() {
        return Err(InputError::new("ECR credentials come from the AWS credential chain, not --username")
            .hint("drop --username and the password; set AWS_PROFILE or the AWS credentials instead")
            .into());
    }
    let options = PushOptions::from(&args);
    if args.delete.on {
        let target = target(&options, &doc, repo, password, false).await?;
        return delete(&options, doc, previous, target).await;
    }

    let (image_ref, default_tags) = image_source(args.image.as_deref(), &doc)?;
    let mut tags = if args.tags.is_empty() { default_tags } else { args.tags.clone() };
    dedup(&mut tags);
    if tags.is_empty() {
        return Err(InputError::new(format!("no tag to push {image_ref} under")).hint("pass --tag").into());
    }
    for tag in &tags {
        check_tag(tag)?;
    }
    let docker = push::engine().await?;
    let image_id = docker
        .inspect_image(&image_ref)
        .await
        .map_err(|e| {
            InputError::new(format!(
                "the engine has no image {image_ref}: {}",
                ekskit_core::errors::chain_text(&e, true)
            ))
            .hint("build it first (imgbuild), or pass --image with a local image")
        })?
        .id
        .unwrap_or_default();
    let target = target(&options, &doc, repo, password, !options.dry_run).await?;
    let api = target.api(args.retries)?;
    // An ECR repository a dry run did not create holds no tag yet.
    let missing = target.ecr.as_ref().is_some_and(|e| e.repository.is_none());
    let mut plans = Vec::new();
    for tag in &tags {
        let current = if missing { None } else { api.manifest(tag).await? };
        plans.push(plan_tag(tag, current, &image_id, target.immutable()));
    }
    if args.dry_run.on {
        let plan = PlanDoc { repository: target.repo.uri(), image_id, create_repository: missing, tags: plans };
        doc.set_nested("plan", "push", &plan)?;
        return emit(&doc);
    }
    if let Some(conflict) = plans.iter().find(|p| p.action == TagAction::Conflict) {
        return Err(Hinted::new(
            format!(
                "{}:{} already holds another image ({}) and the repository's tags are immutable",
                target.repo.uri(),
                conflict.tag,
                conflict.current.as_deref().unwrap_or("unknown digest")
            ),
            "push under a new tag (a new commit gives one), or delete that tag from the repository first",
        )
        .into());
    }
    if let (Some(keep), Some(EcrTarget { client, repository: Some(ecr), .. })) = (args.keep_images, &target.ecr) {
        ecr::put_lifecycle(client, ecr, keep, &args.expire_tag_prefix).await?;
    }
    let out = push_all(&docker, &image_id, &target, &api, &plans, args.retries, args.keep_images).await?;
    info!("{} is at {}", out.reference, out.tags.join(", "));
    doc.set("push", &out)?;
    emit(&doc)
}

/// The image to push and the tags it comes with: --image, else the stdin document's `image`.
fn image_source(image: Option<&str>, doc: &Document) -> anyhow::Result<(String, Vec<String>)> {
    if let Some(image) = image {
        let is_id = image.starts_with("sha256:") || (image.len() >= 12 && image.chars().all(|c| c.is_ascii_hexdigit()));
        let tags = if is_id { Vec::new() } else { vec![split_tag(image).1.to_owned()] };
        return Ok((image.to_owned(), tags));
    }
    let image: ImageRef = doc.get("image")?.ok_or_else(|| {
        InputError::new("no image to push: the stdin document has no `image` key")
            .hint("pipe imgbuild's output (imgbuild app/ | imgpush ...), or pass --image")
    })?;
    let tags = image.tags.iter().map(|t| split_tag(t).1.to_owned()).collect();
    Ok((image.id, tags))
}

fn dedup(tags: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.clone()));
}

fn plan_tag(tag: &str, current: Option<Manifest>, image_id: &str, immutable: bool) -> TagPlan {
    let action = match &current {
        None => TagAction::Push,
        Some(m) if m.config.as_deref() == Some(image_id) || m.digest == image_id => TagAction::Unchanged,
        Some(_) if immutable => TagAction::Conflict,
        Some(_) => TagAction::Move,
    };
    TagPlan { tag: tag.to_owned(), action, current: current.map(|m| m.digest) }
}

/// Resolves the target: for ECR the repository (created when `create`), its host and token;
/// otherwise the password given, else the Docker config's credentials.
async fn target(
    options: &PushOptions,
    doc: &Document,
    mut repo: Repository,
    password: Option<Credentials>,
    create: bool,
) -> anyhow::Result<Target> {
    let Some(ecr_ref) = repo.ecr.clone() else {
        let credentials = match password {
            Some(p) => Some(p),
            None => match auth::docker_config_path() {
                Some(path) => auth::from_docker_config(&path, repo.credentials_key())?,
                None => None,
            },
        };
        let endpoint = options.registry_endpoint.clone().unwrap_or_else(|| repo.host.clone());
        return Ok(Target { repo, endpoint, credentials, ecr: None });
    };
    let mut aws = options.aws.clone();
    if let Some(region) = &ecr_ref.region {
        if aws.region.as_ref().is_some_and(|r| r != region) {
            return Err(InputError::new(format!("--region disagrees with the repository's region {region}")).into());
        }
        aws.region = Some(region.clone());
    }
    let config = ekskit_aws::load(&aws, ekskit_aws::document_region(doc)?.as_deref()).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let client = aws_sdk_ecr::Client::new(&config);
    let account = ecr_ref.account.as_deref();
    let found = if create {
        let stack = document_stack(doc)?.unwrap_or_else(|| repo.path.replace('/', "-"));
        Some(ecr::ensure(&client, account, &repo.path, &stack, TOOL).await?)
    } else {
        ecr::find(&client, account, &repo.path).await?
    };
    if let Some(r) = &found {
        repo.host = r.uri.split('/').next().unwrap_or_default().to_owned();
    }
    let credentials = Some(ecr::token(&client).await?);
    let endpoint = options.registry_endpoint.clone().unwrap_or_else(|| repo.host.clone());
    Ok(Target { repo, endpoint, credentials, ecr: Some(EcrTarget { client, repository: found, region }) })
}

async fn push_all(
    docker: &bollard::Docker,
    image_id: &str,
    target: &Target,
    api: &Api,
    plans: &[TagPlan],
    retries: u32,
    keep: Option<u32>,
) -> anyhow::Result<PushDoc> {
    let engine_ref = target.engine_ref();
    let mut layers = LayersDoc::default();
    let (mut pushed, mut unchanged, mut digest) = (Vec::new(), Vec::new(), None);
    for plan in plans {
        if plan.action == TagAction::Unchanged {
            info!("{engine_ref}:{} already holds this image; not pushed", plan.tag);
            digest = digest.or(plan.current.clone());
            unchanged.push(plan.tag.clone());
            continue;
        }
        if plan.action == TagAction::Move {
            warn!(
                "{engine_ref}:{} held another image ({}); it moves to this one",
                plan.tag,
                plan.current.as_deref().unwrap_or("?")
            );
        }
        let result =
            push::push(docker, image_id, &engine_ref, &plan.tag, target.credentials.as_ref(), api, retries).await?;
        layers.pushed += result.layers_pushed;
        layers.existing += result.layers_existing;
        digest = Some(result.digest);
        pushed.push(plan.tag.clone());
    }
    let digest = digest.unwrap_or_default();
    let uri = target.repo.uri();
    Ok(PushDoc {
        reference: format!("{uri}@{digest}"),
        repository: uri,
        registry: target.endpoint.clone(),
        tags: plans.iter().map(|p| p.tag.clone()).collect(),
        digest,
        image_id: image_id.to_owned(),
        pushed,
        unchanged,
        layers,
        credentials: target.credentials.as_ref().map_or_else(|| "none".to_owned(), |c| c.source.clone()),
        ecr: target.ecr.as_ref().and_then(|e| e.repository.as_ref().map(|r| ecr_doc(r, &e.region, keep))),
    })
}

fn ecr_doc(r: &EcrRepository, region: &str, keep: Option<u32>) -> EcrDoc {
    EcrDoc {
        name: r.name.clone(),
        arn: r.arn.clone(),
        registry_id: r.registry_id.clone(),
        region: region.to_owned(),
        created: r.created,
        scan_on_push: r.scan_on_push,
        immutable_tags: r.immutable,
        keep_images: keep,
    }
}

/// `--delete`: the tags (from --tag, else the stdin `push`) leave the repository; an ECR
/// repository imgpush created goes too once empty.
async fn delete(
    options: &PushOptions,
    mut doc: Document,
    previous: Option<PushDoc>,
    target: Target,
) -> anyhow::Result<()> {
    let mut tags =
        if options.tags.is_empty() { previous.map(|p| p.tags).unwrap_or_default() } else { options.tags.clone() };
    dedup(&mut tags);
    if tags.is_empty() {
        return Err(InputError::new("no tag to delete").hint("pass --tag, or pipe the document imgpush wrote").into());
    }
    for tag in &tags {
        check_tag(tag)?;
    }
    let mut gone = Vec::new();
    let through_ecr_api = options.registry_endpoint.is_none();
    match &target.ecr {
        Some(EcrTarget { client, repository: Some(repo), .. }) if through_ecr_api => {
            if !options.dry_run {
                gone = ecr::delete_tags(client, repo, &tags).await?;
            }
        }
        Some(EcrTarget { repository: None, .. }) => {}
        _ => {
            let api = target.api(options.retries)?;
            for tag in &tags {
                if let Some(m) = api.manifest(tag).await? {
                    if !options.dry_run {
                        api.delete_manifest(&m.digest).await?;
                        info!("deleted {}:{tag} ({})", target.repo.uri(), m.digest);
                    }
                    gone.push(tag.clone());
                }
            }
        }
    }
    let repository_deleted = match &target.ecr {
        Some(EcrTarget { client, repository: Some(repo), .. }) if !options.dry_run => {
            ecr::delete_if_ours_and_empty(client, repo, TOOL).await?
        }
        _ => false,
    };
    let absent = tags.iter().filter(|t| !gone.contains(t)).cloned().collect();
    let out = DeletedDoc { repository: target.repo.uri(), tags: gone, absent, repository_deleted };
    if options.dry_run {
        doc.set_nested("plan", "deleted_push", &out)?;
    } else {
        doc.remove("push");
        doc.set_nested("deleted", "push", &out)?;
    }
    emit(&doc)
}

/// The stack an ECR repository belongs to: the piped VPC's or cluster's name.
fn document_stack(doc: &Document) -> anyhow::Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Named {
        stack: Option<String>,
        name: Option<String>,
    }
    let vpc = doc.get::<Named>("vpc")?.and_then(|v| v.stack);
    Ok(match vpc {
        Some(s) => Some(s),
        None => doc.get::<Named>("cluster")?.and_then(|c| c.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config: &str) -> Option<Manifest> {
        Some(Manifest { digest: "sha256:m".into(), config: Some(config.into()) })
    }

    #[test]
    fn tag_plans() {
        assert_eq!(plan_tag("a", None, "sha256:i", true).action, TagAction::Push);
        assert_eq!(plan_tag("a", manifest("sha256:i"), "sha256:i", true).action, TagAction::Unchanged);
        assert_eq!(plan_tag("a", manifest("sha256:other"), "sha256:i", true).action, TagAction::Conflict);
        let moved = plan_tag("a", manifest("sha256:other"), "sha256:i", false);
        assert_eq!((moved.action, moved.current.as_deref()), (TagAction::Move, Some("sha256:m")));
    }

    #[test]
    fn images_from_flags_and_documents() {
        use clap::Parser;
        let args = Args::try_parse_from(["imgpush", "--image", "127.0.0.1:5001/app:v1"]).unwrap();
        assert_eq!(
            image_source(args.image.as_deref(), &Document::new()).unwrap(),
            ("127.0.0.1:5001/app:v1".into(), vec!["v1".into()])
        );
        let args = Args::try_parse_from(["imgpush", "--image", "127.0.0.1:5001/app"]).unwrap();
        assert_eq!(
            image_source(args.image.as_deref(), &Document::new()).unwrap().1,
            ["latest"],
            "the port is not a tag"
        );
        let args = Args::try_parse_from(["imgpush"]).unwrap();
        let doc = Document::parse(r#"{"image":{"id":"sha256:i","tags":["app:abcdef12","app:latest"],"revision":null,"labels":{},"size":1,"builder":"classic","engine_api":"1.41"}}"#).unwrap();
        assert_eq!(
            image_source(args.image.as_deref(), &doc).unwrap(),
            ("sha256:i".into(), vec!["abcdef12".into(), "latest".into()])
        );
        let err = image_source(args.image.as_deref(), &Document::new()).unwrap_err();
        assert_eq!(ekskit_core::errors::exit_code(&err), 2);
    }
}
