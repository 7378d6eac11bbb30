//! Authorization with reasons: roles (what a kind of member may do) and
//! access paths (ownership, org admin, superuser, grants direct or through
//! a group, inherited from the namespaces a resource sits in, public
//! system namespaces), combined by [`authorize`].

mod authorize;
mod decision;
mod roles;

pub use authorize::{
    GrantRefusal, Target, Who, acting_role, authorize, authorize_create, authorize_entry,
    best_path, check_grant,
};
pub use decision::{AccessLevel, AccessPath, Decision, Reason};
pub use roles::{role_actions, role_allows, role_may_create};
