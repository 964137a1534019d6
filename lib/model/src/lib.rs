//! The keys of the JSON document the ekskit tools pass along, as types: one module per key,
//! what a tool writes and the narrow projections other tools read of it. Nothing here does I/O
//! or knows an SDK, so every tool's crate can depend on it without bringing in another tool's.
//!
//! The JSON Schemas under `schemas/` are generated from these types ([`schemas`]); the doc
//! comments are their descriptions.

pub mod apply;
pub mod bump;
pub mod cluster;
pub mod deleted;
pub mod image;
pub mod monitoring;
pub mod pipeline;
pub mod plan;
pub mod push;
pub mod vpc;

use schemars::{Schema, schema_for};

/// Every schema, by its file name under `schemas/`.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("vpc.schema.json", schema_for!(vpc::VpcDoc)),
        ("plan.vpc.schema.json", schema_for!(vpc::PlanDoc)),
        ("deleted.vpc.schema.json", schema_for!(vpc::DeletedDoc)),
        ("cluster.schema.json", schema_for!(cluster::ClusterDoc)),
        ("plan.cluster.schema.json", schema_for!(cluster::PlanDoc)),
        ("deleted.cluster.schema.json", schema_for!(cluster::DeletedDoc)),
        ("cluster.input.schema.json", schema_for!(cluster::ClusterInput)),
        ("image.schema.json", schema_for!(image::ImageDoc)),
        ("push.schema.json", schema_for!(push::PushDoc)),
        ("plan.push.schema.json", schema_for!(push::PlanDoc)),
        ("deleted.push.schema.json", schema_for!(push::DeletedDoc)),
        ("bump.schema.json", schema_for!(bump::BumpDoc)),
        ("plan.bump.schema.json", schema_for!(bump::PlanDoc)),
        ("apply.schema.json", schema_for!(apply::ApplyDoc)),
        ("deleted.apply.schema.json", schema_for!(apply::ApplyDoc)),
        ("monitoring.schema.json", schema_for!(monitoring::MonitoringDoc)),
        ("deleted.monitoring.schema.json", schema_for!(monitoring::DeletedDoc)),
        ("pipeline.schema.json", schema_for!(pipeline::PipelineDoc)),
        ("plan.pipeline.schema.json", schema_for!(pipeline::PlanDoc)),
        ("deleted.pipeline.schema.json", schema_for!(pipeline::DeletedDoc)),
    ]
}

/// A schema as committed: pretty JSON and a final newline.
pub fn schema_text(schema: &Schema) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The committed schemas match the types, and `schemas/` holds no other file.
    /// `UPDATE_SCHEMAS=1 cargo test -p ekskit-model` rewrites them (until `xtask generate` does).
    #[test]
    fn committed_schemas_match_the_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let schemas = schemas();
        for (file, schema) in &schemas {
            let path = dir.join(file);
            let text = schema_text(schema);
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::write(&path, &text).expect("writing the schema");
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(committed, text, "{file} is stale: regenerate the schemas and commit them");
        }
        let mut committed: Vec<String> = std::fs::read_dir(&dir)
            .expect("reading schemas/")
            .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
            .collect();
        committed.sort();
        let mut generated: Vec<String> = schemas.iter().map(|(f, _)| (*f).to_owned()).collect();
        generated.sort();
        assert_eq!(committed, generated, "schemas/ holds a file no type generates, or lacks one");
    }
}
