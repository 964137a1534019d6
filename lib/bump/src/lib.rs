//! tagbump: an image tag set in a YAML file in place, committed and pushed with git2.
//!
//! - [`path`]: `image.tag`, `images[name=app].newTag`; [`yaml`]: finding the scalar's bytes and
//!   replacing only them; [`resolve`]: which tags YAML readers take for strings when plain;
//!   [`git`]: commit, push, redo on a lost race; [`clone`]: `--repo`'s URL, paths and temporary
//!   directory; [`model`]: the JSON keys

pub mod cli;
pub mod clone;
pub mod git;
pub mod model;
pub mod options;
pub mod order;
pub mod path;
pub mod resolve;
pub mod yaml;

use ekskit_aws::AwsResultExt;
use std::path::Path;

use ekskit_core::image_ref::{check_tag, split_tag};
use ekskit_core::output::{emit, to_stderr};
use ekskit_core::{Document, InputError};
use tracing::info;

use crate::cli::Args;
use crate::model::{BumpDoc, PlanDoc};
use crate::options::BumpOptions;
use crate::path::YamlPath;

pub async fn run(args: Args) -> anyhow::Result<()> {
    args.check()?;
    let doc = Document::from_stdin(args.stdin.mode())?;
    let opts = BumpOptions::from(&args);
    let wanted = wanted(&opts, &doc)?;
    match &opts.repo {
        Some(url) => in_clone(&opts, doc, wanted, url).await,
        None => here(&opts, doc, wanted).await,
    }
}

/// The edit in the clone FILE is in (the work tree tells where the repository is).
async fn here(opts: &BumpOptions, mut doc: Document, wanted: Wanted) -> anyhow::Result<()> {
    let text = read_file(&opts.file)?;
    let from = opts.from.as_deref();
    let edit = prepare(opts, &wanted, &opts.file, &text, from, read_file)?;

    if opts.dry_run {
        return plan(doc, &opts.file, &text, edit);
    }

    let repo = git::Repo::open(&opts.file)?;
    repo.check_clean()?;
    let credentials = if opts.push { credentials(opts, &doc).await? } else { git::Credentials::default() };
    let options = opts.git(credentials);
    let change = edit.change(opts, &wanted, repo.relative(), from);
    let outcome = tokio::task::block_in_place(|| repo.bump(&change, &options))?;
    let bump = edit.output(opts, repo.relative(), from, outcome, None);
    doc.set("bump", &bump)?;
    emit(&doc)
}

/// `--repo`: the branch's tip fetched into a temporary bare repository, edited there, pushed;
/// the directory is removed when this returns, fails or is dropped (Ctrl-C).
async fn in_clone(opts: &BumpOptions, mut doc: Document, wanted: Wanted, url: &str) -> anyhow::Result<()> {
    let url = clone::RepoUrl::parse(url)?;
    let file = clone::inside(&opts.file)?;
    let from = opts.from.as_deref().map(clone::inside).transpose()?;
    let branch = opts.branch.clone().ok_or_else(|| InputError::new("--repo needs --branch"))?;
    let credentials = credentials(opts, &doc).await?;
    let options = opts.git(credentials);

    let dir = clone::TempDir::new("tagbump")?;
    let repo = git::Repo::ephemeral(dir.path(), &url.url, &url.shown, !url.local, file.clone())?;
    info!("fetching {branch} of {}", url.shown);
    let tip = tokio::task::block_in_place(|| repo.fetch(&options, &branch))?;
    let Some(tip) = tip else {
        let start = tokio::task::block_in_place(|| repo.remote_default_branch(&options)).unwrap_or("main".into());
        return Err(InputError::new(format!("{} has no branch {branch}", url.shown))
            .hint(format!(
                "create it, e.g. from {start} in a clone: git push origin {start}:{branch}; or pass an existing --branch"
            ))
            .into());
    };
    let read = |path: &Path| -> anyhow::Result<String> {
        repo.read(tip, path)?.ok_or_else(|| {
            InputError::new(format!("{} is not on branch {branch} of {}", path.display(), url.shown))
                .hint(format!(
                    "paths are from the repository's root; list them with: git ls-tree -r --name-only {branch}"
                ))
                .into()
        })
    };
    let text = read(&file)?;
    let edit = prepare(opts, &wanted, &file, &text, from.as_deref(), read)?;

    if opts.dry_run {
        return plan(doc, &file, &text, edit);
    }

    // A Ctrl-C received while fetching (the blocking calls above do not see it) stops the run
    // here, before anything is pushed; dropping the run removes the clone.
    tokio::task::yield_now().await;
    let change = edit.change(opts, &wanted, &file, from.as_deref());
    let outcome = tokio::task::block_in_place(|| repo.bump_from(&change, &options, &branch, Some(tip)))?;
    let bump = edit.output(opts, &file, from.as_deref(), outcome, Some(url.shown.clone()));
    doc.set("bump", &bump)?;
    drop(repo);
    drop(dir);
    emit(&doc)
}

fn read_file(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read(file).map_err(|e| {
        InputError::new(format!("{}: {e}", file.display())).hint("pass the values or kustomization file to edit")
    })?;
    Ok(String::from_utf8(text).map_err(|_| InputError::new(format!("{} is not UTF-8 text", file.display())))?)
}

/// `--dry-run`: the diff on stderr and in `plan.bump`; nothing written.
fn plan(mut doc: Document, file: &Path, text: &str, edit: Edit) -> anyhow::Result<()> {
    let diff = if edit.target.holds(&edit.new) {
        String::new()
    } else {
        let edited = yaml::edit(text, &edit.target, &edit.new).map_err(|e| file_error(file, e))?;
        unified_diff(&file.display().to_string(), text, &edited)
    };
    to_stderr(&diff);
    let plan = PlanDoc {
        file: file.display().to_string(),
        path: edit.path.to_string(),
        old: edit.target.value,
        new: edit.new,
        diff,
    };
    doc.set_nested("plan", "bump", &plan)?;
    emit(&doc)
}

/// What the flags and stdin ask for, before any file is read.
struct Wanted {
    /// The image name, when known: --image, else from stdin (not with --from).
    image: Option<String>,
    /// The tag, unless it is to be read from --from.
    tag: Option<String>,
    /// `push.digest` from stdin, when the tag set is one imgpush pushed.
    digest: Option<String>,
    /// The image's OCI `created` label from stdin (imgbuild's `image.labels`), when the tag
    /// set is that image's.
    created: Option<String>,
}

/// The image name and the new tag: flags, else imgpush's `push`, else imgbuild's `image`. With
/// --from, the tag comes from that file and stdin is not looked at.
fn wanted(opts: &BumpOptions, doc: &Document) -> anyhow::Result<Wanted> {
    #[derive(serde::Deserialize)]
    struct Push {
        repository: String,
        tags: Vec<String>,
        #[serde(default)]
        digest: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Image {
        tags: Vec<String>,
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
    }
    if opts.from.is_some() {
        if doc.contains("push") || doc.contains("image") {
            info!("--from: the stdin push and image keys are ignored; the tag comes from the file");
        }
        return Ok(Wanted { image: opts.image.clone(), tag: None, digest: None, created: None });
    }
    let push: Option<Push> = doc.get("push")?;
    let built: Option<Image> = doc.get("image")?;
    let from_image = built.as_ref().and_then(|i| i.tags.first()).map(|t| split_tag(t.as_str()));
    let image = opts
        .image
        .clone()
        .or_else(|| push.as_ref().map(|p| p.repository.clone()))
        .or_else(|| from_image.map(|(name, _)| name.to_owned()));
    let tag = opts
        .tag
        .clone()
        .or_else(|| push.as_ref().and_then(|p| p.tags.first().cloned()))
        .or_else(|| from_image.map(|(_, tag)| tag.to_owned()))
        .ok_or_else(|| {
            InputError::new("no tag to set")
                .hint("pass --tag or --from, or pipe imgpush's (or imgbuild's) output into tagbump")
        })?;
    // The digest names the image only when the tag set is one imgpush pushed it under.
    let pushed_tag = push.as_ref().is_some_and(|p| p.tags.contains(&tag));
    let built_tag = built.as_ref().is_some_and(|i| i.tags.iter().any(|t| split_tag(t).1 == tag));
    let created =
        built.filter(|_| pushed_tag || built_tag).and_then(|mut i| i.labels.remove("org.opencontainers.image.created"));
    let digest = push.filter(|p| p.tags.contains(&tag)).and_then(|p| p.digest);
    Ok(Wanted { image, tag: Some(tag), digest, created })
}

/// The edit, worked out on the file's text: where, and to what.
struct Edit {
    image: String,
    path: YamlPath,
    target: yaml::Target,
    new: String,
}

impl Edit {
    fn change<'a>(
        &'a self,
        opts: &BumpOptions,
        wanted: &'a Wanted,
        file: &'a Path,
        from: Option<&'a Path>,
    ) -> git::Change<'a> {
        git::Change {
            file,
            path: &self.path,
            document: opts.document.or(Some(self.target.document)),
            new: &self.new,
            image: &self.image,
            digest: wanted.digest.as_deref(),
            from,
            created: wanted.created.as_deref(),
        }
    }

    fn output(
        self,
        opts: &BumpOptions,
        file: &Path,
        from: Option<&Path>,
        outcome: git::Outcome,
        repository: Option<String>,
    ) -> BumpDoc {
        BumpDoc {
            file: file.display().to_string(),
            path: self.path.to_string(),
            image: self.image,
            old: outcome.old,
            new: self.new,
            commit: outcome.commit,
            branch: outcome.branch,
            remote: opts.remote.clone(),
            pushed: outcome.pushed,
            attempts: outcome.attempts,
            repository,
            from: from.map(|f| f.display().to_string()),
            refused: outcome.refused,
        }
    }
}

/// Finds the tag in `file` and the new value: --tag or stdin, else the value at the same path in
/// `from` (read with `read`).
fn prepare(
    opts: &BumpOptions,
    wanted: &Wanted,
    file: &Path,
    text: &str,
    from: Option<&Path>,
    read: impl FnOnce(&Path) -> anyhow::Result<String>,
) -> anyhow::Result<Edit> {
    let (path, target, image) = target(opts, file, text, wanted.image.as_deref())?;
    let new = match (&wanted.tag, from) {
        (Some(tag), _) => tag.clone(),
        (None, Some(from)) => {
            let source = read(from)?;
            let found = yaml::locate(&source, &path, opts.document).map_err(|e| {
                file_error(from, e).hint(format!("--from reads the tag at the same path as in {}", file.display()))
            })?;
            if found.value.is_empty() {
                return Err(InputError::new(format!("{} {path} is empty: there is no tag to copy", from.display()))
                    .hint("set it there first, or pass --tag")
                    .into());
            }
            info!("{} {path} is {}", from.display(), found.value);
            found.value
        }
        (None, None) => return Err(InputError::new("no tag to set").hint("pass --tag or --from").into()),
    };
    check_tag(&new)?;
    Ok(Edit { image, path, target, new })
}

/// The path to edit, where it is in the file, and the image's name: --path, else `image.tag`,
/// else in a kustomization the `images` entry named like the image (its whole name or its last
/// part), or its only entry when the image is not known.
fn target(
    opts: &BumpOptions,
    file: &Path,
    text: &str,
    image: Option<&str>,
) -> anyhow::Result<(YamlPath, yaml::Target, String)> {
    let locate = |path: &YamlPath| yaml::locate(text, path, opts.document).map_err(|e| file_error(file, e));
    let named = || image.unwrap_or("image").to_owned();
    if let Some(p) = &opts.path {
        let path: YamlPath = p.parse().map_err(InputError::new)?;
        let found = locate(&path)?;
        return Ok((path, found, named()));
    }
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if !matches!(name, "kustomization.yaml" | "kustomization.yml" | "Kustomization") {
        let path: YamlPath = "image.tag".parse().map_err(InputError::new)?;
        let found = locate(&path).map_err(|e| e.hint("pass --path for a tag that is not at image.tag"))?;
        return Ok((path, found, named()));
    }
    let Some(image) = image else {
        let only = only_image(text, opts.document).map_err(|e| file_error(file, e))?;
        let Some(only) = only else {
            return Err(InputError::new(format!("{}: which images entry? the image is not known", file.display()))
                .hint("pass --image NAME (or pipe imgpush's output); without it the kustomization must have one images entry")
                .into());
        };
        let path = images_path(&only);
        let found = locate(&path)?;
        return Ok((path, found, only));
    };
    let short = image.rsplit('/').next().unwrap_or(image);
    let mut last = None;
    for candidate in [image, short] {
        let path = images_path(candidate);
        match locate(&path) {
            Ok(found) => return Ok((path, found, image.to_owned())),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .expect("two candidates were tried")
        .hint(format!("the kustomization has no images entry named {image} or {short}: pass --image"))
        .into())
}

fn images_path(name: &str) -> YamlPath {
    YamlPath {
        segments: vec![
            path::Segment::Key("images".into()),
            path::Segment::Match("name".into(), name.to_owned()),
            path::Segment::Key("newTag".into()),
        ],
    }
}

/// The name of a kustomization's only `images` entry; `None` when it has none or several.
fn only_image(text: &str, document: Option<usize>) -> Result<Option<String>, yaml::EditError> {
    let at = |i| YamlPath {
        segments: vec![path::Segment::Key("images".into()), path::Segment::Index(i), path::Segment::Key("name".into())],
    };
    let first = match yaml::locate(text, &at(0), document) {
        Ok(found) => found.value,
        Err(yaml::EditError::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    match yaml::locate(text, &at(1), document) {
        Err(yaml::EditError::Missing(_)) => Ok(Some(first).filter(|n| !n.is_empty())),
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The push token: a file, Secrets Manager, or the environment variable (when set).
async fn credentials(opts: &BumpOptions, doc: &Document) -> anyhow::Result<git::Credentials> {
    let token = if let Some(file) = &opts.token_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| InputError::new(format!("reading the token file {}: {e}", file.display())))?;
        Some(text.trim().to_owned())
    } else if let Some(secret) = &opts.token_secret {
        Some(secret_token(opts, doc, secret).await?)
    } else {
        std::env::var(&opts.token_env).ok().filter(|t| !t.is_empty())
    };
    if token.as_ref().is_some_and(String::is_empty) {
        return Err(InputError::new("the push token is empty").into());
    }
    Ok(git::Credentials { token, token_user: opts.token_user.clone(), ssh_key: opts.ssh_key.clone() })
}

/// A token kept in AWS Secrets Manager, as plain text or JSON with a `token` (or `password`) key.
async fn secret_token(opts: &BumpOptions, doc: &Document, secret: &str) -> anyhow::Result<String> {
    let config = ekskit_aws::load(&opts.aws, ekskit_aws::document_region(doc)?.as_deref()).await?;
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(flags: &[&str]) -> BumpOptions {
        BumpOptions::from(&Args::try_parse_from([&["tagbump"], flags].concat()).unwrap())
    }

    const PUSHED: &str = r#"{"push": {"repository": "reg/comments", "tags": ["abc123", "latest"], "digest": "sha256:0123"},
        "image": {"tags": ["comments:built"]}}"#;

    #[test]
    fn the_tag_comes_from_the_flag_then_from_then_push_then_image() {
        let stdin = Document::parse(PUSHED).unwrap();
        let w = wanted(&args(&["v.yaml"]), &stdin).unwrap();
        assert_eq!((w.image.as_deref(), w.tag.as_deref()), (Some("reg/comments"), Some("abc123")));
        assert_eq!(w.digest.as_deref(), Some("sha256:0123"), "the tag imgpush pushed: its digest");

        let w = wanted(&args(&["v.yaml", "--tag", "latest"]), &stdin).unwrap();
        assert_eq!((w.tag.as_deref(), w.digest.as_deref()), (Some("latest"), Some("sha256:0123")));
        let w = wanted(&args(&["v.yaml", "--tag", "v9"]), &stdin).unwrap();
        assert_eq!((w.tag.as_deref(), w.digest), (Some("v9"), None), "no digest for a tag imgpush did not push");

        let w = wanted(&args(&["v.yaml", "--from", "dev.yaml"]), &stdin).unwrap();
        assert_eq!((w.image, w.tag, w.digest), (None, None, None), "--from ignores stdin");
        let w = wanted(&args(&["v.yaml", "--from", "dev.yaml", "--image", "app"]), &stdin).unwrap();
        assert_eq!(w.image.as_deref(), Some("app"));
        // A stdin `push` of another shape is not even read with --from.
        let odd = Document::parse(r#"{"push": 1}"#).unwrap();
        assert!(wanted(&args(&["v.yaml", "--from", "dev.yaml"]), &odd).is_ok());
        assert!(wanted(&args(&["v.yaml"]), &odd).is_err());

        let built = Document::parse(r#"{"image": {"tags": ["comments:built"]}}"#).unwrap();
        let w = wanted(&args(&["v.yaml"]), &built).unwrap();
        assert_eq!((w.image.as_deref(), w.tag.as_deref(), w.digest), (Some("comments"), Some("built"), None));
        let e = wanted(&args(&["v.yaml"]), &Document::new()).err().unwrap();
        assert!(e.to_string().contains("no tag to set"));
    }

    const PROD: &str = "images:\n  - name: comments\n    newTag: \"v1\"\n";
    const DEV: &str = "# dev\nimages:\n  - name: nginx\n    newTag: '1.27'\n  - name: comments\n    newTag: abc123\n";

    fn from_dev(flags: &[&str], file: &str, text: &str, source: &'static str) -> anyhow::Result<Edit> {
        let a = args(&[&[file, "--from", "dev/kustomization.yaml"], flags].concat());
        let w = wanted(&a, &Document::new())?;
        let read = |p: &Path| {
            assert_eq!(p, Path::new("dev/kustomization.yaml"));
            Ok(source.to_owned())
        };
        prepare(&a, &w, Path::new(file), text, a.from.as_deref(), read)
    }

    #[test]
    fn from_copies_the_tag_at_the_same_path() {
        let edit = from_dev(&[], "prod/kustomization.yaml", PROD, DEV).unwrap();
        assert_eq!(edit.path.to_string(), "images[name=comments].newTag");
        assert_eq!((edit.image.as_str(), edit.target.value.as_str(), edit.new.as_str()), ("comments", "v1", "abc123"));

        let edit = from_dev(&[], "values.yaml", "image:\n  tag: v1\n", "image: {tag: \"2.0\"}\n").unwrap();
        assert_eq!((edit.path.to_string().as_str(), edit.new.as_str()), ("image.tag", "2.0"));
        let edit = from_dev(&["--path", "app.tag"], "v.yaml", "app:\n  tag: v1\n", "app: {tag: v7}\n").unwrap();
        assert_eq!(edit.new, "v7");

        for (flags, text, source, why) in [
            (&[][..], PROD, "images:\n  - name: other\n    newTag: v2\n", "does not exist"),
            (&[], PROD, "images:\n  - name: comments\n    newTag:\n", "there is no tag to copy"),
            (&[], PROD, "images:\n  - name: comments\n    newTag: -v2\n", "not a valid image tag"),
            (&[], DEV, DEV, "which images entry"),
            (&["--image", "nginx"], PROD, DEV, "no images entry named nginx"),
        ] {
            let e = from_dev(flags, "prod/kustomization.yaml", text, source).err().unwrap();
            assert!(ekskit_core::errors::exit_code(&e) == 2, "{e:#}");
            let all = format!("{e:#} {:?}", ekskit_core::errors::hint_of(&e));
            assert!(all.contains(why), "{why}: {all}");
        }
        let edit = from_dev(&["--image", "nginx"], "prod/kustomization.yaml", DEV, DEV).unwrap();
        assert_eq!(edit.new, "1.27");
    }

    #[test]
    fn a_kustomization_with_one_images_entry_needs_no_image_name() {
        assert_eq!(only_image(PROD, None).unwrap().as_deref(), Some("comments"));
        assert_eq!(only_image(DEV, None).unwrap(), None);
        assert_eq!(only_image("resources: [a.yaml]\n", None).unwrap(), None);
        assert_eq!(only_image("images: []\n", None).unwrap(), None);
        let a = args(&["k/kustomization.yaml", "--tag", "v2"]);
        let w = wanted(&a, &Document::new()).unwrap();
        let edit = prepare(&a, &w, &a.file, PROD, None, |_| unreachable!()).unwrap();
        assert_eq!((edit.image.as_str(), edit.new.as_str()), ("comments", "v2"));
    }
}
