//! The keys monstack writes (`monitoring`, `deleted.monitoring`). The types live in
//! `ekskit_model::monitoring`, with the other keys' and the schemas; this re-export keeps the
//! paths inside monstack short.

pub use ekskit_model::monitoring::{
    ComponentDoc, ComponentState, DeletedDoc, GrafanaAdminDoc, MonitoringDoc, PersistenceDoc, ServiceDoc,
};
