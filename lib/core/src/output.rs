//! The one place that writes to stdout: the JSON document, and nothing else.

use std::io::Write;

use crate::Document;

/// Writes the document to stdout. A closed pipe (`mkvpc | head -c0`) is not an error.
#[allow(clippy::print_stdout)]
pub fn emit(doc: &Document) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{}", doc.to_pretty_json()).and_then(|()| stdout.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes human-facing text (a diff, a table) to stderr as it is, beside the logs.
#[allow(clippy::print_stderr)]
pub fn to_stderr(text: &str) {
    eprint!("{text}");
}
