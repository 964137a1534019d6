//! imgbuild: a container image built through the Docker Engine API, tagged with its revision.
//!
//! - [`context`]: the context tar with `.dockerignore` applied; [`revision`]: the commit, from
//!   --revision, git or the CI system's variables
//! - [`build`]: the engine call and its log; [`model`]: the `image` key and its schema

pub mod build;
pub mod cli;
pub mod context;
pub mod model;
pub mod revision;

use std::collections::{BTreeMap, HashMap};

use ekskit_core::image_ref::split_tag;
use ekskit_core::output::emit;
use ekskit_core::{Document, InputError};
use tracing::{info, warn};

use crate::cli::Args;
use crate::model::ImageDoc;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = Document::from_stdin(args.stdin.mode())?;
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
    let mut revision = if args.no_git {
        None
    } else {
        Some(revision::of(&context, &args.context, args.revision.as_deref(), &|name| std::env::var(name).ok())?)
    };
    let (tar, files) = context::tar_context(&context, &args.dockerfile)?;
    info!("context {}: {} files, {} KiB", context.display(), files.len(), tar.len() / 1024);
    if let Some(r) = revision.as_mut().filter(|r| !r.dirty) {
        let untracked = not_in_git(&context, &files, &args.untracked_ok)?;
        if let Some(first) = untracked.first() {
            warn!(
                "{} file(s) of the context are not in git ({first}{}): the tag is {}-dirty; commit them, leave them \
                 out in .dockerignore, or pass --untracked-ok GLOB for files a tracked file pins",
                untracked.len(),
                if untracked.len() > 1 { ", …" } else { "" },
                r.short
            );
            r.mark_dirty();
        }
    }
    let mut tags: Vec<String> = revision.iter().map(|r| format!("{name}:{}", r.tag())).collect();
    // Written out whole (`name:latest`), so readers of `image.tags` never have to guess.
    tags.extend(args.tags.iter().map(|t| {
        let (repo, tag) = split_tag(t);
        format!("{repo}:{tag}")
    }));
    let labels = labels(&args.labels, revision.as_ref());

    let docker = build::engine().await?;
    let api = docker.client_version().to_string();
    let builder = build::choose(&docker, args.builder).await?;
    info!("building with {}", builder.name());
    let request = build::Request {
        dockerfile: args.dockerfile.clone(),
        tags: tags.clone(),
        build_args: build_args(&args.build_args, revision.as_ref()),
        labels: labels.clone().into_iter().collect::<HashMap<_, _>>(),
        target: args.target.clone(),
        platform: args.platform.clone(),
        cache_from: args.cache_from.clone(),
        builder,
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
    };
    let id = build::build(&docker, &request, tar).await?;
    let inspect = docker.inspect_image(&id).await.map_err(|e| anyhow::anyhow!("inspecting {id}: {e}"))?;
    info!("built {id} as {}", tags.join(", "));
    let image = ImageDoc {
        id,
        tags,
        revision_source: revision.as_ref().map(|r| r.from),
        revision: revision.map(|r| r.commit),
        labels,
        size: inspect.size.unwrap_or_default(),
        builder: builder.name().into(),
        engine_api: api,
    };
    doc.set("image", &image)?;
    emit(&doc)
}

/// The files sent that git does not track, but those `--untracked-ok` names.
fn not_in_git(context: &std::path::Path, files: &[String], ok: &[String]) -> anyhow::Result<Vec<String>> {
    let pinned = context::Ignore::parse(&ok.join("\n"));
    Ok(revision::untracked(context, files)?.into_iter().filter(|f| !pinned.excludes(f)).collect())
}

/// What is known of the revision: (OCI label, build arg, value). The same values go into the
/// labels and into the build args a Dockerfile can declare to use them (`ARG REVISION`, e.g. to
/// let the app tell which commit it runs); a Dockerfile that declares none ignores them. Without
/// a git repository there is no commit time (CREATED only from SOURCE_DATE_EPOCH: never the
/// build time, which would make every build a new image) and no VERSION.
fn from_revision(r: &revision::Revision) -> Vec<(&'static str, &'static str, String)> {
    let mut found = vec![("org.opencontainers.image.revision", "REVISION", r.commit.clone())];
    if let Some(created) = &r.created {
        found.push(("org.opencontainers.image.created", "CREATED", created.clone()));
    }
    if let Some(version) = &r.version {
        found.push(("org.opencontainers.image.version", "VERSION", version.clone()));
    }
    if let Some(source) = &r.source {
        found.push(("org.opencontainers.image.source", "SOURCE", source.clone()));
    }
    found
}

/// The OCI labels of the revision, then --label extras (which win).
fn labels(extra: &[(String, String)], revision: Option<&revision::Revision>) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> =
        revision.map(from_revision).unwrap_or_default().into_iter().map(|(label, _, v)| (label.into(), v)).collect();
    labels.extend(extra.iter().cloned());
    labels
}

/// REVISION, CREATED, VERSION and SOURCE of the revision, then --build-arg (which wins).
fn build_args(extra: &[(String, String)], revision: Option<&revision::Revision>) -> HashMap<String, String> {
    let mut build_args: HashMap<String, String> =
        revision.map(from_revision).unwrap_or_default().into_iter().map(|(_, arg, v)| (arg.into(), v)).collect();
    build_args.extend(extra.iter().cloned());
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
            created: Some("2025-01-02T03:04:05Z".into()),
            version: Some("01234567".into()),
            from: revision::RevisionSource::Git,
        }
    }

    #[test]
    fn the_build_args_carry_what_the_labels_say_and_build_arg_wins() {
        let args = Args::parse_from(["imgbuild", "--build-arg", "VERSION=v9", "--build-arg", "BASE_IMAGE=b"]);
        let r = revision();
        let built = build_args(&args.build_args, Some(&r));
        assert_eq!(built["REVISION"], r.commit);
        assert_eq!(built["CREATED"], "2025-01-02T03:04:05Z");
        assert_eq!(built["SOURCE"], "https://example.com/o/r.git");
        assert_eq!(built["VERSION"], "v9", "--build-arg wins");
        assert_eq!(built["BASE_IMAGE"], "b");
        let labels = labels(&args.labels, Some(&r));
        assert_eq!(labels["org.opencontainers.image.revision"], r.commit);
        assert_eq!(labels["org.opencontainers.image.version"], "01234567");
    }

    #[test]
    fn without_a_repository_no_created_or_version_is_invented() {
        let args = Args::parse_from(["imgbuild", "--label", "org.opencontainers.image.version=1.2.3"]);
        let r = revision::Revision {
            created: None,
            version: None,
            source: None,
            from: revision::RevisionSource::CodeBuild,
            ..revision()
        };
        let built = build_args(&args.build_args, Some(&r));
        assert_eq!(built, HashMap::from([("REVISION".to_owned(), r.commit.clone())]));
        let labels = labels(&args.labels, Some(&r));
        assert_eq!(
            labels.keys().collect::<Vec<_>>(),
            ["org.opencontainers.image.revision", "org.opencontainers.image.version"]
        );
        assert_eq!(labels["org.opencontainers.image.version"], "1.2.3", "from --label");
    }

    #[test]
    fn without_git_only_the_given_build_args() {
        let args = Args::parse_from(["imgbuild", "--no-git", "--tag", "x:1", "--build-arg", "A=1"]);
        assert_eq!(build_args(&args.build_args, None), HashMap::from([("A".to_owned(), "1".to_owned())]));
        assert!(labels(&args.labels, None).is_empty());
    }
}
