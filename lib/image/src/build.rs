//! One build through the Docker Engine API: the context tar posted to `/build` with the
//! Dockerfile, build args, target, platform, cache sources and OCI labels; the log streamed to
//! stderr; the image id taken from the API's aux message; extra tags added afterwards.
//!
//! BuildKit when the engine offers it (API 1.39+ on Linux, as the docker CLI decides), with the
//! gRPC session it needs; the classic builder otherwise, or when asked (`--builder classic`,
//! `DOCKER_BUILDKIT=0`).

use std::collections::HashMap;

use std::collections::HashSet;

use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion, TagImageOptions};
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
    pub builder: Builder,
    /// How long the engine's build stream may stay silent.
    pub idle_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Builder {
    /// BuildKit when the engine offers it, else classic
    Auto,
    Buildkit,
    Classic,
}

impl Builder {
    pub fn name(self) -> &'static str {
        match self {
            Builder::Buildkit => "buildkit",
            _ => "classic",
        }
    }
}

/// The builder to use: `auto` means BuildKit on a Linux engine speaking API 1.39 or later (the
/// first with BuildKit sessions), unless DOCKER_BUILDKIT=0 says otherwise, as with the docker CLI.
pub async fn choose(docker: &Docker, wanted: Builder) -> anyhow::Result<Builder> {
    if wanted != Builder::Auto {
        return Ok(wanted);
    }
    if std::env::var("DOCKER_BUILDKIT").is_ok_and(|v| v == "0" || v.eq_ignore_ascii_case("false")) {
        return Ok(Builder::Classic);
    }
    let version = docker.version().await.map_err(|e| anyhow::anyhow!("asking the engine its version: {e}"))?;
    let api = version.api_version.as_deref().unwrap_or("0.0");
    let linux = version.os.as_deref().is_none_or(|os| os == "linux");
    Ok(if linux && api_at_least(api, 1, 39) { Builder::Buildkit } else { Builder::Classic })
}

fn api_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
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
    let options = match request.builder {
        Builder::Buildkit => {
            BuildImageOptions { version: BuilderVersion::BuilderBuildKit, session: Some(session_id()), ..options }
        }
        _ => options,
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut id: Option<String> = None;
    let mut log = BuildkitLog::default();
    while let Some(item) = next_within(&mut stream, request.idle_timeout).await? {
        let info = match item {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerStreamError { error }) => return Err(build_error(&log.explain(&error))),
            Err(e) => return Err(build_error(&e.to_string())),
        };
        if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
            to_stderr(text);
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(build_error(&log.explain(&error)));
        }
        match info.aux {
            Some(BuildInfoAux::Default(image)) => id = image.id.or(id),
            Some(BuildInfoAux::BuildKit(status)) => log.show(&status),
            None => {}
        }
    }
    let id =
        id.ok_or_else(|| Hinted::new("the engine finished the build without an image id", "see the build log above"))?;
    for tag in extra {
        let (repo, name) = ekskit_core::image_ref::split_tag(tag);
        let options = TagImageOptions { repo: Some(repo.to_owned()), tag: Some(name.to_owned()) };
        docker.tag_image(&id, Some(options)).await.map_err(|e| anyhow::anyhow!("tagging {id} as {tag}: {e}"))?;
    }
    Ok(id)
}

/// The stream's next item, or an error when the engine sent nothing for `idle`.
async fn next_within<S: futures::Stream + Unpin>(
    stream: &mut S,
    idle: std::time::Duration,
) -> anyhow::Result<Option<S::Item>> {
    tokio::time::timeout(idle, stream.next()).await.map_err(|_| {
        Hinted::new(
            format!("the Docker engine sent nothing for {} during the build", ekskit_core::wait::human(idle)),
            "check the engine (docker info, its log) and re-run; raise --idle-timeout for a step that is silent longer",
        )
        .into()
    })
}

/// A session id per build, as the docker CLI makes one.
fn session_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("imgbuild-{}-{nanos:x}", std::process::id())
}

/// BuildKit's progress as a plain log on stderr, like `--progress plain`: `#n step` when it
/// starts, its output, `#n DONE` or `#n CACHED`, and its error, which is kept for the message.
#[derive(Default)]
struct BuildkitLog {
    /// Step digests in the order they started: `#n` is the position.
    steps: Vec<String>,
    done: HashSet<String>,
    errors: Vec<String>,
}

impl BuildkitLog {
    fn show(&mut self, status: &bollard::moby::buildkit::v1::StatusResponse) {
        for v in &status.vertexes {
            if (v.started.is_some() || v.cached) && !self.steps.contains(&v.digest) {
                self.steps.push(v.digest.clone());
                to_stderr(&format!("#{} {}\n", self.steps.len(), v.name));
            }
            if (v.completed.is_some() || v.cached) && self.done.insert(v.digest.clone()) {
                let n = self.steps.iter().position(|d| d == &v.digest).map_or(0, |i| i + 1);
                to_stderr(&format!("#{n} {}\n", if v.cached { "CACHED" } else { "DONE" }));
            }
            if !v.error.is_empty() && !self.errors.contains(&v.error) {
                to_stderr(&format!("ERROR: {}: {}\n", v.name, v.error));
                self.errors.push(v.error.clone());
            }
        }
        for line in &status.logs {
            to_stderr(&String::from_utf8_lossy(&line.msg));
        }
    }

    /// The engine's final error, which for BuildKit is often only "failed to solve: …".
    fn explain(&self, error: &str) -> String {
        match self.errors.last() {
            Some(step) if !error.contains(step.as_str()) => format!("{error} ({step})"),
            _ => error.to_owned(),
        }
    }
}

/// A Dockerfile the engine cannot parse is bad input (exit 2); anything else is a failed build.
fn build_error(message: &str) -> anyhow::Error {
    let first = message.lines().next().unwrap_or(message).trim();
    let lower = first.to_lowercase();
    if lower.contains("dockerfile parse error")
        || lower.contains("unknown instruction")
        || lower.contains("cannot locate specified dockerfile")
        || lower.contains("failed to read dockerfile")
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

    #[tokio::test(start_paused = true)]
    async fn a_silent_build_stream_ends_with_the_idle_timeout() {
        let idle = std::time::Duration::from_secs(1800);
        let mut talking = futures::stream::iter([1, 2]);
        assert_eq!(next_within(&mut talking, idle).await.unwrap(), Some(1));
        let mut silent = futures::stream::pending::<u8>();
        let error = next_within(&mut silent, idle).await.unwrap_err();
        let hinted = error.downcast_ref::<Hinted>().unwrap();
        assert_eq!(hinted.message, "the Docker engine sent nothing for 30m during the build");
        assert!(hinted.hint.contains("--idle-timeout"));
    }

    #[test]
    fn api_versions_compare() {
        assert!(api_at_least("1.41", 1, 39));
        assert!(api_at_least("1.39", 1, 39));
        assert!(!api_at_least("1.38", 1, 39));
        assert!(api_at_least("2.0", 1, 39));
    }

    #[test]
    fn parse_errors_are_bad_input_and_step_failures_are_not() {
        let parse = build_error("dockerfile parse error line 3: unknown instruction: FORM");
        assert_eq!(ekskit_core::errors::exit_code(&parse), 2);
        let step = build_error("The command '/bin/sh -c false' returned a non-zero code: 1");
        assert_eq!(ekskit_core::errors::exit_code(&step), 1);
    }
}
