//! Sharing views: groups, the catalog of shareable resources, and the
//! grants on them.

mod catalog;
mod grants;
mod groups;

pub use catalog::{Catalog, CatalogEntry, MAX_NAMESPACE_DEPTH};
pub use grants::{GrantRecord, Grants};
pub use groups::{GroupRecord, Groups};
