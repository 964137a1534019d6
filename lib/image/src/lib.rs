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
        build_args: build_args(&args, revision.as_ref()),
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

/// What git says about the build: (OCI label, build arg, value). The same values go into the
/// labels and into the build args a Dockerfile can declare to use them (`ARG REVISION`, e.g. to
/// let the app tell which commit it runs); a Dockerfile that declares none ignores them.
fn from_git(r: &revision::Revision) -> Vec<(&'static str, &'static str, String)> {
    let mut found = vec![
        ("org.opencontainers.image.revision", "REVISION", r.commit.clone()),
        ("org.opencontainers.image.created", "CREATED", r.created.clone()),
        ("org.opencontainers.image.version", "VERSION", r.version.clone().unwrap_or_else(|| r.tag())),
    ];
    if let Some(source) = &r.source {
        found.push(("org.opencontainers.image.source", "SOURCE", source.clone()));
    }
    found
}

/// The OCI labels from git, then --label extras (which win).
fn labels(args: &Args, revision: Option<&revision::Revision>) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> =
        revision.map(from_git).unwrap_or_default().into_iter().map(|(label, _, v)| (label.into(), v)).collect();
    labels.extend(args.labels.iter().cloned());
    labels
}

/// REVISION, CREATED, VERSION and SOURCE from git, then --build-arg (which wins).
fn build_args(args: &Args, revision: Option<&revision::Revision>) -> HashMap<String, String> {
    let mut build_args: HashMap<String, String> =
        revision.map(from_git).unwrap_or_default().into_iter().map(|(_, arg, v)| (arg.into(), v)).collect();
    build_args.extend(args.build_args.iter().cloned());
    build_args
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn revision() -> revision::Revision {
        revision::Revision {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            short: "01234567".into(),
            dirty: false,
            source: Some("https://example.com/o/r.git".into()),
            created: "2025-01-02T03:04:05Z".into(),
            version: None,
        }
    }

    #[test]
    fn the_build_args_carry_what_the_labels_say_and_build_arg_wins() {
        let args = Args::parse_from(["imgbuild", "--build-arg", "VERSION=v9", "--build-arg", "BASE_IMAGE=b"]);
        let r = revision();
        let built = build_args(&args, Some(&r));
        assert_eq!(built["REVISION"], r.commit);
        assert_eq!(built["CREATED"], "2025-01-02T03:04:05Z");
        assert_eq!(built["SOURCE"], "https://example.com/o/r.git");
        assert_eq!(built["VERSION"], "v9", "--build-arg wins");
        assert_eq!(built["BASE_IMAGE"], "b");
        let labels = labels(&args, Some(&r));
        assert_eq!(labels["org.opencontainers.image.revision"], r.commit);
        assert_eq!(labels["org.opencontainers.image.version"], "01234567");
    }

    #[test]
    fn without_git_only_the_given_build_args() {
        let args = Args::parse_from(["imgbuild", "--no-git", "--tag", "x:1", "--build-arg", "A=1"]);
        assert_eq!(build_args(&args, None), HashMap::from([("A".to_owned(), "1".to_owned())]));
        assert!(labels(&args, None).is_empty());
    }
}
