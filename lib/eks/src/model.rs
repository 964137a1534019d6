//! The JSON mkeks writes (`cluster`, `plan.cluster`, `deleted.cluster`). The types live in
//! `ekskit_model::cluster`, with the other keys' and the schemas; these re-exports keep the
//! paths inside mkeks short.

pub use ekskit_model::cluster::{
    AutoModeDoc, ClusterDoc, DeletedDoc, LaunchTemplateDoc, NodeGroupDoc, PlanDoc, RolesDoc, UpgradeDoc, VersionsDoc,
};
pub use ekskit_model::deleted::Deleted;
pub use ekskit_model::plan::{Action, PlannedAction};
