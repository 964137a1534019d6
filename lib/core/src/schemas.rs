//! The JSON Schemas of the document's keys are generated from the output types and committed
//! under `schemas/`; each crate's test checks them with [`assert_committed`].

use std::path::Path;

/// Asserts that `schemas/<file>` at the workspace root holds each schema as generated;
/// with `UPDATE_SCHEMAS=1` (what `make schemas` sets) it rewrites them first.
/// `crate_dir` is the calling crate's `CARGO_MANIFEST_DIR` (two levels below the root).
pub fn assert_committed(crate_dir: &str, schemas: Vec<(&'static str, schemars::Schema)>) {
    let dir = Path::new(crate_dir).join("../../schemas");
    for (file, schema) in schemas {
        let path = dir.join(file);
        let text = serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n";
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).expect("writing the schema");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(committed, text, "{file} is stale: run `make schemas` and commit it");
    }
}
