//! kapply: the edge around the Kubernetes engine in ekskit-kube. [`cli`] holds the flags and the
//! options they make; [`run`] reads the manifests and the stdin document, has the engine apply
//! (or delete) them, and writes the document with `apply` (or `deleted.apply`) added.

pub mod cli;

use ekskit_core::output::emit;
use ekskit_core::{ChangesFound, Document, InputError};
use ekskit_kube::manifests::{self, Source};
use ekskit_kube::timing::Stages;
use ekskit_kube::{ApplyOptions, ClusterOptions, applyset, cluster, placeholders};

use crate::cli::Args;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut doc = stdin_document(&args)?;
    let sources: Vec<Source> = args
        .files
        .iter()
        .map(|f| Source::from_arg(f))
        .chain(args.kustomize.iter().cloned().map(Source::Kustomize))
        .collect();
    let delete_whole_app = args.delete.on && args.app.is_some();
    if sources.is_empty() && !delete_whole_app {
        return Err(InputError::new("no manifests given").hint("pass -f FILE|DIR|URL|- or -k DIR").into());
    }
    if let Some(app) = &args.app {
        applyset::check_app_name(app)?; // before anything else happens
    }
    let mut stages = Stages::start();
    // Discovery needs no manifests: it runs while they are parsed (errors in them still win).
    let cluster = cluster::connect(&ClusterOptions::from(&args.cluster), &doc).await;
    let discovery =
        cluster.as_ref().ok().map(|c| tokio::spawn(ekskit_kube::discover(c.client.clone(), c.server.clone())));
    let mut manifests = manifests::load(&sources).await?;
    placeholders::fill(&mut manifests, &doc.as_value())?;
    if args.prune && manifests.is_empty() {
        return Err(InputError::new("--prune with no objects in the input would delete the whole app")
            .hint("check the input paths; to delete the app on purpose use --delete --app NAME")
            .into());
    }
    if manifests.is_empty() && !delete_whole_app {
        return Err(InputError::new("the input holds no objects").hint("check the paths given to -f/-k").into());
    }

    stages.lap("load");
    let cluster = cluster?;
    let discovery = async { discovery.expect("started once connected").await? };
    let report = ekskit_kube::execute_with(&ApplyOptions::from(&args), &cluster, manifests, discovery).await?;
    stages.lap("execute");
    let changed = report.objects.iter().any(|o| o.action.is_change());
    if args.delete.on {
        doc.remove("apply");
        doc.set_nested("deleted", "apply", &report)?;
    } else {
        doc.set("apply", &report)?;
    }
    emit(&doc)?;
    stages.lap("output");
    stages.log("");
    if args.diff && changed {
        return Err(ChangesFound.into());
    }
    Ok(())
}

/// The stdin document; none when stdin carries the manifests (`-f -`), which it cannot do
/// while also carrying the document (`-`).
fn stdin_document(args: &Args) -> anyhow::Result<Document> {
    if !args.manifests_on_stdin() {
        return Ok(Document::from_stdin(args.stdin.mode())?);
    }
    if args.stdin.dash.is_some() {
        return Err(InputError::new("stdin cannot carry both the manifests (-f -) and the document (-)")
            .hint("pass the manifests as files or directories (-f PATH) and the document on stdin")
            .into());
    }
    Ok(Document::new())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn stdin_carries_the_manifests_or_the_document_not_both() {
        let both = Args::try_parse_from(["kapply", "-f", "-", "-"]).unwrap();
        let err = stdin_document(&both).unwrap_err().to_string();
        assert!(err.contains("both the manifests (-f -) and the document (-)"), "{err}");
        let manifests = Args::try_parse_from(["kapply", "-f", "-"]).unwrap();
        assert!(stdin_document(&manifests).unwrap().as_value().as_object().unwrap().is_empty());
    }
}
