//! Sharing views: groups, the catalog of shareable resources, and the
//! grants on them.

mod catalog;
mod flow_versions;
mod grants;
mod groups;

pub use catalog::{Catalog, CatalogEntry, MAX_NAMESPACE_DEPTH};
pub use flow_versions::{FlowVersion, FlowVersions, definition_digest};
pub use grants::{GrantRecord, Grants};
pub use groups::{GroupRecord, Groups};
