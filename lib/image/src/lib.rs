//! imgbuild: a container image built through the Docker Engine API, tagged from git.
//!
//! - [`context`]: the context tar with `.dockerignore` applied; [`revision`]: what git says
//! - [`build`]: the engine call and its log; [`model`]: the `image` key and its schema

pub mod build;
pub mod cli;
pub mod context;
pub mod model;
pub mod revision;

use std::collections::{BTreeMap, HashMap};

use ekskit_core::document::Stdin;
use ekskit_core::image_ref::split_tag;
use ekskit_core::output::emit;
use ekskit_core::{Document, InputError};
use tracing::info;

use crate::cli::Args;
use crate::model::ImageDoc;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = Document::from_stdin(Stdin::WhenPiped)?;
    let context = args.context.canonicalize().map_err(|e| {
        InputError::new(format!("build context {}: {e}", args.context.display()))
            .hint("pass the directory that holds the Dockerfile")
    })?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => context.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_else(|| "image".into()),
    };
    cli::check_name(&name).map_err(|e| InputError::new(e).hint("pass --name"))?;
    for tag in &args.tags {
        cli::check_name(split_tag(tag).0).map_err(InputError::new)?;
    }
    let revision = if args.no_git { None } else { Some(revision::of(&context)?) };
    let mut tags: Vec<String> = revision.iter().map(|r| format!("{name}:{}", r.tag())).collect();
    // Written out whole (`name:latest`), so readers of `image.tags` never have to guess.
    tags.extend(args.tags.iter().map(|t| {
        let (repo, tag) = split_tag(t);
        format!("{repo}:{tag}")
    }));
    let labels = labels(&args, revision.as_ref());
    let (tar, files) = context::tar_context(&context, &args.dockerfile)?;
    info!("context {}: {files} files, {} KiB", context.display(), tar.len() / 1024);

    let docker = build::engine().await?;
    let api = docker.client_version().to_string();
    let builder = build::choose(&docker, args.builder).await?;
    info!("building with {}", builder.name());
    let request = build::Request {
        dockerfile: args.dockerfile.clone(),
        tags: tags.clone(),
        build_args: args.build_args.iter().cloned().collect(),
        labels: labels.clone().into_iter().collect::<HashMap<_, _>>(),
        target: args.target.clone(),
        platform: args.platform.clone(),
        cache_from: args.cache_from.clone(),
        builder,
    };
    let id = build::build(&docker, &request, tar).await?;
    let inspect = docker.inspect_image(&id).await.map_err(|e| anyhow::anyhow!("inspecting {id}: {e}"))?;
    info!("built {id} as {}", tags.join(", "));
    let image = ImageDoc {
        id,
        tags,
        revision: revision.map(|r| r.commit),
        labels,
        size: inspect.size.unwrap_or_default(),
        builder: builder.name().into(),
        engine_api: api,
    };
    doc.set("image", &image)?;
    emit(&doc)
}

/// The OCI labels from git, then --label extras (which win).
fn labels(args: &Args, revision: Option<&revision::Revision>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if let Some(r) = revision {
        labels.insert("org.opencontainers.image.revision".into(), r.commit.clone());
        labels.insert("org.opencontainers.image.created".into(), r.created.clone());
        labels.insert("org.opencontainers.image.version".into(), r.version.clone().unwrap_or_else(|| r.tag()));
        if let Some(source) = &r.source {
            labels.insert("org.opencontainers.image.source".into(), source.clone());
        }
    }
    labels.extend(args.labels.iter().cloned());
    labels
}
