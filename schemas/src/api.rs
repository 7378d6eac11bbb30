//! Request and response bodies of the HTTP API (DESIGN.md section 7).
//! Requests refuse unknown fields; passwords arrive as [`Password`], which
//! never prints and never serializes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::password::Password;

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username (normalized before comparison).
    pub username: String,
    /// The password.
    pub password: Password,
    /// The org to act in; the user's first org when absent.
    #[serde(default)]
    pub org: Option<Uuid>,
}

/// A user as the API shows it, within one org.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserBody {
    /// The user's id.
    pub id: Uuid,
    /// The normalized username.
    pub username: String,
    /// The email, if any.
    pub email: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
    /// A global admin.
    pub is_superuser: bool,
    /// The org this view is in.
    pub org_id: Option<Uuid>,
    /// The user's role in that org.
    pub role: Option<String>,
    /// When the account was created (RFC 3339).
    pub created_at: String,
}

/// The answer to a login.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The session token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Who logged in.
    pub user: UserBody,
}

/// `GET /api/v1/auth/me`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeResponse {
    /// The caller.
    pub user: UserBody,
    /// The org of the session or key.
    pub org_id: Uuid,
    /// The caller's role there.
    pub role: String,
    /// `session` or `api_key`.
    pub credential: String,
}

/// `POST /api/v1/users`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The username.
    pub username: String,
    /// The initial password.
    pub password: Password,
    /// An email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The org role (default `none`).
    #[serde(default)]
    pub role: Option<String>,
    /// Active now (default: `CAIRN_NEW_USER_IS_ACTIVE`).
    #[serde(default)]
    pub is_active: Option<bool>,
    /// A global admin (superusers only).
    #[serde(default)]
    pub is_superuser: Option<bool>,
    /// The org (superusers only; otherwise the caller's org).
    #[serde(default)]
    pub org_id: Option<Uuid>,
}

/// `PATCH /api/v1/users/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Activate or deactivate.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// A new role in the caller's org.
    #[serde(default)]
    pub role: Option<String>,
    /// A new password (an admin reset).
    #[serde(default)]
    pub password: Option<Password>,
}

/// `PUT /api/v1/users/me/password`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: Password,
    /// The password to set.
    pub new_password: Password,
}

/// `POST /api/v1/auth/api-keys`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label.
    pub name: String,
    /// Days until it expires (none: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// An API key as listed (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyBody {
    /// Its id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it expires (RFC 3339), if ever.
    pub expires_at: Option<String>,
    /// Revoked.
    pub revoked: bool,
}

/// The answer to creating an API key: the only time the key is shown.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKeyBody {
    /// The key's metadata.
    #[serde(flatten)]
    pub meta: ApiKeyBody,
    /// The key itself: store it now, it is never shown again.
    pub key: String,
}

/// `POST /api/v1/orgs`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// The org's name.
    pub name: String,
}

/// An org.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgBody {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// `POST /api/v1/orgs/{id}/members`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The user to add.
    pub user_id: Uuid,
    /// Their role.
    pub role: String,
}

/// A membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberBody {
    /// The org.
    pub org_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// Their role.
    pub role: String,
}

/// A page of a list: `next` is the cursor for `?after=`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, or null at the end.
    pub next: Option<String>,
}
