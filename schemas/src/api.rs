//! Request and response bodies of the HTTP API (docs/contract.md section 7).
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
    /// The password was set by someone else (an admin's reset): until the
    /// user changes it (`PUT /api/v1/users/me/password`), this session may
    /// only read `GET /api/v1/auth/me`, change the password, or log out.
    #[serde(default)]
    pub password_change_required: bool,
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
    /// The password was set by someone else (an admin's reset) and must be
    /// changed (`PUT /api/v1/users/me/password`) before anything but this,
    /// the change itself and logout is allowed.
    #[serde(default)]
    pub password_change_required: bool,
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

/// `POST /api/v1/groups`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// The group's name, unique in the org.
    pub name: String,
}

/// A group member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupMemberBody {
    /// The group.
    pub group_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// `owner`, `manager` or `member`.
    pub role: String,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Its members.
    pub members: Vec<GroupMemberBody>,
}

/// `POST /api/v1/groups/{id}/members`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGroupMemberRequest {
    /// The user to add (a member of the group's org).
    pub user_id: Uuid,
    /// `owner`, `manager` or `member`.
    pub role: String,
}

/// `PATCH /api/v1/groups/{id}/members/{user_id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupMemberRequest {
    /// The new role: `owner`, `manager` or `member`.
    pub role: String,
}

/// `POST /api/v1/namespaces`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespaceRequest {
    /// Its name, unique among its siblings.
    pub name: String,
    /// The namespace to create it in (a root when absent).
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

/// `PATCH /api/v1/namespaces/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNamespaceRequest {
    /// Its new name.
    pub name: String,
}

/// A namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamespaceBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its parent, if not a root.
    pub parent_id: Option<Uuid>,
    /// Its owner (none for a system namespace).
    pub owner_id: Option<Uuid>,
    /// A public system namespace (`General`, `default`).
    pub system: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// `POST /api/v1/flows`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFlowRequest {
    /// Its name, unique in its namespace.
    pub name: String,
    /// The namespace to create it in.
    pub namespace_id: Uuid,
    /// `{"steps":[…]}` (docs/contract.md section 6).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// `PUT /api/v1/flows/{id}`: the whole new state.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFlowRequest {
    /// Its name.
    pub name: String,
    /// Its namespace (moving it needs edit on both).
    pub namespace_id: Uuid,
    /// Its definition.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// A flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlowBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its namespace.
    pub namespace_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its owner.
    pub owner_id: Option<Uuid>,
    /// Its definition.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// `sha256:` and the hex SHA-256 of the definition's stored text.
    pub definition_digest: Option<String>,
    /// Who wrote the current definition (its last editor).
    pub definition_author_id: Option<Uuid>,
}

/// `POST /api/v1/grants`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// `namespace`, `flow`, `secret`, `connection` or `schedule`.
    pub resource_type: String,
    /// The resource.
    pub resource_id: Uuid,
    /// `user` or `group`.
    pub grantee_type: String,
    /// The user or group.
    pub grantee_id: Uuid,
    /// `use` or `manage`.
    pub level: String,
}

/// A grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GrantBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// The kind of resource.
    pub resource_type: String,
    /// The resource.
    pub resource_id: Uuid,
    /// `user` or `group`.
    pub grantee_type: String,
    /// The user or group.
    pub grantee_id: Uuid,
    /// `use` or `manage`.
    pub level: String,
    /// Who granted it.
    pub granted_by: Uuid,
    /// When (RFC 3339).
    pub created_at: String,
}

/// `GET /api/v1/access/explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExplainBody {
    /// Whether the action would be allowed now.
    pub allowed: bool,
    /// Why, naming the path: owner; grant G via group X at level L on
    /// namespace N; org role; superuser; or why denied.
    pub reason: String,
    /// The path as data: `owner`, `superuser`, `org_admin`, `org_role`,
    /// `namespace_owner`, `grant`, `public_namespace`, or null when the
    /// resource is not reachable at all.
    pub path: Option<String>,
    /// The grant on the path, when it is one.
    pub grant_id: Option<Uuid>,
    /// The group the grant was made to, when it was.
    pub via_group: Option<Uuid>,
}

/// `POST /api/v1/secrets`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecretRequest {
    /// Its name, as flows reference it (`$secret.NAME`).
    pub name: String,
    /// The value: sealed at once, never shown again except to its owner's
    /// reveal.
    pub value: Password,
}

/// `PUT /api/v1/secrets/{id}`: rotate.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// The new value.
    pub value: Password,
}

/// A secret's metadata (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// Its name.
    pub name: String,
    /// The current version (1 for the first value).
    pub version: u32,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// `POST /api/v1/secrets/{id}/reveal`: the owner's alone, and audited.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevealedSecretBody {
    /// The secret.
    pub id: Uuid,
    /// The version shown.
    pub version: u32,
    /// The value.
    pub value: String,
}

/// `POST /api/v1/connections`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// Its name, unique among its owner's connections.
    pub name: String,
    /// `postgres`, `http`, `s3` or `smtp`.
    pub kind: String,
    /// Where it points (host, port, endpoint, protocol…): not secret.
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    /// The credentials: sealed at once, never shown again.
    #[schema(value_type = Object)]
    pub credentials: serde_json::Value,
}

/// `PATCH /api/v1/connections/{id}`. Changing the target needs new
/// credentials unless the caller owns the connection.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new target.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub target: Option<serde_json::Value>,
    /// New credentials.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
}

/// A connection (never its credentials).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it connects to.
    pub kind: String,
    /// Where it points.
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunStepBody {
    /// The step's id.
    pub id: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Its output, with every resolved value masked as `***`.
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
}

/// Who a run acts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunActorBody {
    /// `user` (started by hand) or `schedule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The member it runs as.
    pub user_id: Uuid,
    /// The schedule, when one fired it.
    pub schedule_id: Option<Uuid>,
}

/// A run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunBody {
    /// Its id.
    pub id: Uuid,
    /// The flow.
    pub flow_id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `denied`.
    pub status: String,
    /// Who it acts for.
    pub actor: RunActorBody,
    /// Its finished steps.
    pub steps: Vec<RunStepBody>,
    /// Why it failed or was denied (masked).
    pub error: Option<String>,
    /// When it was requested (RFC 3339).
    pub requested_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The definition it runs: `sha256:` and the hex SHA-256 of the
    /// definition's stored text (none for runs recorded before digests).
    pub definition_digest: Option<String>,
    /// Who wrote that definition (the flow's last editor at that digest).
    pub definition_author_id: Option<Uuid>,
}

/// `POST /api/v1/schedules`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduleRequest {
    /// The flow to run.
    pub flow_id: Uuid,
    /// A cron expression, in UTC (5 fields, or 6 with seconds first).
    pub cron: String,
}

/// A schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleBody {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The member it runs as.
    pub owner_id: Uuid,
    /// The cron expression.
    pub cron: String,
    /// The next due time (RFC 3339).
    pub next_at: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Whether it fires: false once suspended (someone else changed the
    /// flow) or paused, until its owner re-enables it.
    pub enabled: bool,
    /// Why it does not fire, when it does not.
    pub suspended_reason: Option<String>,
    /// Who suspended it (the flow's editor, or its owner pausing it).
    pub suspended_by: Option<Uuid>,
    /// The definition it runs: `sha256:` and the hex SHA-256 of the
    /// definition's stored text.
    pub pinned_digest: Option<String>,
}

/// `PATCH /api/v1/schedules/{id}`: only its owner may change it;
/// `{"enabled":true}` re-enables it pinned to the flow's current
/// definition, `{"enabled":false}` pauses it.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScheduleRequest {
    /// Whether it fires.
    pub enabled: bool,
}

/// `POST /api/v1/flows/{id}/runs`: no body, or an empty object. A run
/// takes no options yet; unknown fields are refused.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {}

/// `POST /api/v1/secrets/{id}/reveal`: no body, or an empty object.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealSecretRequest {}

/// `POST /api/v1/users/{id}/erase`: no body, or an empty object.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseUserRequest {}

/// `GET /api/v1/audit/events`: events in the exported form (docs/contract.md
/// section 3), oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEventsPage {
    /// The events.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// The seq to pass as `after` for the next page, or null at the head.
    pub next: Option<String>,
}

/// A chain position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainHeadBody {
    /// The seq.
    pub seq: u64,
    /// The record's hash (hex).
    pub hash: String,
}

/// `GET /api/v1/audit/verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyBody {
    /// Whether the whole chain verified.
    pub ok: bool,
    /// Records checked.
    pub checked: u64,
    /// The last good record.
    pub head: ChainHeadBody,
    /// The first record that failed, if any.
    pub first_bad: Option<u64>,
    /// Checkpoint signatures verified on the way.
    pub checkpoints_verified: u64,
}

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckpointBody {
    /// The seq covered (everything up to and including it).
    pub seq: u64,
    /// The hash of the record at `seq` (hex).
    pub hash: String,
    /// When it was signed (RFC 3339).
    pub at: String,
    /// The signing key's id.
    pub key_id: String,
    /// The Ed25519 signature (hex).
    pub signature: String,
}

/// `GET /api/v1/audit/public-key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKeyBody {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The key id checkpoints name.
    pub key_id: String,
    /// The public key (hex, 32 bytes).
    pub public_key: String,
}

/// One class's retention: how often it is pruned, how old and how many
/// payloads it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassPolicyBody {
    /// How often the class is pruned, in seconds (at least 60).
    pub cadence_secs: u64,
    /// Payloads older than this many days are dropped (at least the
    /// class's floor: security 90, activity 7, operational 1).
    pub max_age_days: u32,
    /// At most this many of the class's newest events keep their payload
    /// (at least 100); `null`: no limit by count. Never prunes a payload
    /// younger than the class's floor.
    pub max_count: Option<u64>,
}

/// `PUT /api/v1/audit/retention`: the whole policy, one entry per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicyBody {
    /// Auth, admin, grants, secrets, config.
    pub security: ClassPolicyBody,
    /// Runs and schedules.
    pub activity: ClassPolicyBody,
    /// Per-request records (`http.request`).
    pub operational: ClassPolicyBody,
}

/// Where one class stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassRetentionBody {
    /// `security`, `activity` or `operational`.
    pub class: String,
    /// No payload younger than this many days is ever dropped.
    pub floor_days: u32,
    /// Events of this class in the log (pruned or not).
    pub events: u64,
    /// Every payload of this class up to this seq may be gone (0: none).
    pub pruned_up_to_seq: u64,
    /// The time of the last pruned event of this class (RFC 3339).
    pub pruned_up_to: Option<String>,
}

/// The last prune.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastPruneBody {
    /// The seq of its `retention.pruned` event.
    pub seq: u64,
    /// When it ran (RFC 3339).
    pub time: String,
    /// The snapshot of the views written before it.
    pub snapshot_seq: u64,
    /// Payloads it dropped, per class.
    pub pruned: std::collections::BTreeMap<String, u64>,
}

/// `GET`/`PUT /api/v1/audit/retention`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetentionBody {
    /// The policy in force.
    pub policy: RetentionPolicyBody,
    /// Whether it is the default policy (none was set).
    pub default: bool,
    /// Each class's floor, size and horizon.
    pub classes: Vec<ClassRetentionBody>,
    /// The last prune, if any.
    pub last_prune: Option<LastPruneBody>,
    /// Whether payloads a prune dropped may still be readable in the
    /// store's files: the compaction that removes them has not run yet
    /// (`CAIRN_RETENTION_COMPACT` is off, or it failed and the next pass
    /// retries). `cairn compact` on the stopped data dir clears it.
    pub compaction_pending: bool,
}
