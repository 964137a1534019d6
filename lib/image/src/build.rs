//! One build through the Docker Engine API: the context tar posted to `/build` with the
//! Dockerfile, build args, target, platform, cache sources and OCI labels; the log streamed to
//! stderr; the image id taken from the API's aux message; extra tags added afterwards.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use ekskit_core::{Hinted, InputError};
use futures::StreamExt;

use ekskit_core::output::to_stderr;

pub struct Request {
    pub dockerfile: String,
    pub tags: Vec<String>,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub cache_from: Vec<String>,
}

/// Connects to DOCKER_HOST (or the default socket) at the API version the engine speaks.
pub async fn engine() -> anyhow::Result<Docker> {
    let unreachable = |e: &dyn std::fmt::Display| {
        Hinted::new(
            format!(
                "cannot reach the Docker engine at {}: {e}",
                std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
            ),
            "start the engine (or scripts/devstack up docker), or set DOCKER_HOST",
        )
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
    let docker = docker.negotiate_version().await.map_err(|e| unreachable(&e))?;
    docker.ping().await.map_err(|e| unreachable(&e))?;
    Ok(docker)
}

/// Builds and returns the image id.
pub async fn build(docker: &Docker, request: &Request, context: Vec<u8>) -> anyhow::Result<String> {
    let (first, extra) = request.tags.split_first().ok_or_else(|| anyhow::anyhow!("no tag to build"))?;
    let options = BuildImageOptions {
        dockerfile: request.dockerfile.clone(),
        t: Some(first.clone()),
        rm: true,
        forcerm: true,
        buildargs: Some(request.build_args.clone()),
        labels: Some(request.labels.clone()),
        target: request.target.clone().unwrap_or_default(),
        platform: request.platform.clone().unwrap_or_default(),
        cachefrom: (!request.cache_from.is_empty()).then(|| request.cache_from.clone()),
        ..BuildImageOptions::default()
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut id: Option<String> = None;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => return Err(build_error(&e.to_string())),
        };
        if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
            to_stderr(text);
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(build_error(&error));
        }
        if let Some(image) = info.aux {
            id = image.id;
        }
    }
    let id =
        id.ok_or_else(|| Hinted::new("the engine finished the build without an image id", "see the build log above"))?;
    for tag in extra {
        let (repo, name) = crate::cli::split_tag(tag);
        let options = TagImageOptions { repo: Some(repo.to_owned()), tag: Some(name.to_owned()) };
        docker.tag_image(&id, Some(options)).await.map_err(|e| anyhow::anyhow!("tagging {id} as {tag}: {e}"))?;
    }
    Ok(id)
}

/// A Dockerfile the engine cannot parse is bad input (exit 2); anything else is a failed build.
fn build_error(message: &str) -> anyhow::Error {
    let first = message.lines().next().unwrap_or(message).trim();
    let lower = first.to_lowercase();
    if lower.contains("dockerfile parse error")
        || lower.contains("unknown instruction")
        || lower.contains("cannot locate specified dockerfile")
    {
        InputError::new(format!("the Dockerfile is invalid: {first}"))
            .hint("fix the Dockerfile; nothing was built")
            .into()
    } else {
        Hinted::new(format!("the build failed: {first}"), "the build log above shows the failing step").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_are_bad_input_and_step_failures_are_not() {
        let parse = build_error("dockerfile parse error line 3: unknown instruction: FORM");
        assert_eq!(ekskit_core::errors::exit_code(&parse), 2);
        let step = build_error("The command '/bin/sh -c false' returned a non-zero code: 1");
        assert_eq!(ekskit_core::errors::exit_code(&step), 1);
    }
}
