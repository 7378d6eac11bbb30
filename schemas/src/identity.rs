//! Identity events: users, organizations, memberships, logins, sessions and
//! API keys. Names, emails and addresses never appear here: they travel in
//! the header's sealed personal data. Password hashes travel only sealed
//! under their user's subject key, so erasing the user erases the hash too.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::record::Sealed;

crate::named_enum! {
    /// A member's role in an organization (docs/contract.md section 4).
    OrgRole {
        /// Everything in the org.
        Admin => "admin",
        /// Create and edit flows and their resources.
        FlowEditor => "flow_editor",
        /// Read and run what they can use.
        FlowExecutor => "flow_executor",
        /// Read the org's audit log and reports.
        AuditViewer => "audit_viewer",
        /// Manage connections, secrets and API keys.
        IntegrationManager => "integration_manager",
        /// Read runs and activity reports.
        AnalyticsViewer => "analytics_viewer",
        /// Read what they can use.
        Viewer => "viewer",
        /// Log in; nothing else.
        None => "none",
    }
}

/// Why a login failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoginFailure {
    /// No user has that name.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The password matched but the account is not active.
    Inactive,
    /// The username is locked after repeated failures.
    Locked,
    /// The user is not a member of the requested organization.
    NoMembership,
}

impl LoginFailure {
    /// The stable name used in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::Inactive => "inactive",
            LoginFailure::Locked => "locked",
            LoginFailure::NoMembership => "no_membership",
        }
    }
}

/// A user named by id (the payload of events about one user).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user.
    pub user_id: Uuid,
}

/// `user.created`: the username and email are in the sealed personal data
/// of subject `user_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreated {
    /// The new user.
    pub user_id: Uuid,
    /// The org they were created in (their first membership).
    pub org_id: Uuid,
    /// Their role there.
    pub role: OrgRole,
    /// Whether they may log in now.
    pub is_active: bool,
    /// Whether they are a global admin.
    pub is_superuser: bool,
    /// The argon2id PHC string, sealed under the user's subject key.
    pub credential: Sealed,
}

/// `user.password_changed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPasswordChanged {
    /// The user.
    pub user_id: Uuid,
    /// The new PHC string, sealed under the user's subject key.
    pub credential: Sealed,
    /// True when an admin reset it, false when the user changed it.
    pub reset_by_admin: bool,
}

/// `user.role_changed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRoleChanged {
    /// The user.
    pub user_id: Uuid,
    /// The org of the membership.
    pub org_id: Uuid,
    /// The role before.
    pub previous: OrgRole,
    /// The role now.
    pub role: OrgRole,
}

/// `auth.login_succeeded`: a session began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSucceeded {
    /// Who logged in.
    pub user_id: Uuid,
    /// The org of the session.
    pub org_id: Uuid,
    /// The session id (the `sid` claim); not a token.
    pub session_id: Uuid,
    /// When the session ends, in microseconds since the epoch.
    pub expires_at: i64,
    /// HMAC of the normalized username: a success resets its failures.
    pub username_fingerprint: [u8; 32],
}

/// `auth.login_failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailed {
    /// HMAC of the normalized username (never the name itself): lockout
    /// counts failures per name, known or not, and SIEMs can correlate.
    pub username_fingerprint: [u8; 32],
    /// The user, when the name matched one.
    pub user_id: Option<Uuid>,
    /// Why it failed.
    pub reason: LoginFailure,
}

/// `auth.logout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logout {
    /// The session that ended.
    pub session_id: Uuid,
}

/// `api_key.created`: only the SHA-256 digest of the key is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    /// The key's id.
    pub key_id: Uuid,
    /// Its owner; the key acts with the owner's rights and no more.
    pub user_id: Uuid,
    /// The org it acts in.
    pub org_id: Uuid,
    /// A label chosen by the owner.
    pub name: String,
    /// SHA-256 of the key.
    pub digest: [u8; 32],
    /// The key's first characters, to recognise it in a list.
    pub prefix: String,
    /// When it stops working, if ever (microseconds since the epoch).
    pub expires_at: Option<i64>,
}

/// `api_key.revoked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    /// The key.
    pub key_id: Uuid,
}

/// `org.created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCreated {
    /// The org.
    pub org_id: Uuid,
    /// Its name (an organization's name is not personal data).
    pub name: String,
}

/// `org.member_added`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgMemberAdded {
    /// The org.
    pub org_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// Their role.
    pub role: OrgRole,
}

/// `org.member_removed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgMemberRemoved {
    /// The org.
    pub org_id: Uuid,
    /// The former member.
    pub user_id: Uuid,
}

/// `system.bootstrap_admin`: the superuser created at first start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapAdmin {
    /// The superuser.
    pub user_id: Uuid,
    /// Their personal org.
    pub org_id: Uuid,
}
