//! Event payloads: the details of each action, encoded with bincode and
//! stored beside the header. A payload never holds a plaintext secret, a
//! password, a password hash, a session token or an API key.

use serde::{Deserialize, Serialize};

use crate::identity::{
    ApiKeyCreated, ApiKeyRevoked, BootstrapAdmin, LoginFailed, LoginSucceeded, Logout, OrgCreated,
    OrgMemberAdded, OrgMemberRemoved, UserCreated, UserPasswordChanged, UserRef, UserRoleChanged,
};
use crate::retention::{RetentionPolicySet, RetentionPruned};
use crate::runs::{
    RunDefinitionPinned, RunFinished, RunRef, RunRequested, RunStepFinished, ScheduleCreated,
    ScheduleDeleted, ScheduleFired, SchedulePinned, ScheduleSuspended,
};
use crate::secrets::{
    ConnectionCreated, ConnectionUpdated, SecretCreated, SecretRef, SecretResolved, SecretRevealed,
    SecretRotated,
};
use crate::sharing::{
    AccessDenied, FlowCreated, FlowDeleted, FlowUpdated, GrantCreated, GrantRevoked, GroupCreated,
    GroupDeleted, GroupMemberAdded, GroupMemberRemoved, GroupMemberRoleChanged, NamespaceCreated,
    NamespaceDeleted, NamespaceUpdated,
};

/// The details of an event. Variants are only appended; a released variant
/// never changes shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventPayload {
    /// `system.started`.
    SystemStarted(SystemStarted),
    /// `checkpoint.signed`.
    CheckpointSigned(CheckpointSigned),
    /// `http.request`.
    HttpRequest(HttpRequest),
    /// `user.created`.
    UserCreated(UserCreated),
    /// `user.activated`.
    UserActivated(UserRef),
    /// `user.deactivated`.
    UserDeactivated(UserRef),
    /// `user.deleted`.
    UserDeleted(UserRef),
    /// `user.password_changed`.
    UserPasswordChanged(UserPasswordChanged),
    /// `user.role_changed`.
    UserRoleChanged(UserRoleChanged),
    /// `auth.login_succeeded`.
    LoginSucceeded(LoginSucceeded),
    /// `auth.login_failed`.
    LoginFailed(LoginFailed),
    /// `auth.logout`.
    Logout(Logout),
    /// `api_key.created`.
    ApiKeyCreated(ApiKeyCreated),
    /// `api_key.revoked`.
    ApiKeyRevoked(ApiKeyRevoked),
    /// `org.created`.
    OrgCreated(OrgCreated),
    /// `org.member_added`.
    OrgMemberAdded(OrgMemberAdded),
    /// `org.member_removed`.
    OrgMemberRemoved(OrgMemberRemoved),
    /// `system.bootstrap_admin`.
    BootstrapAdmin(BootstrapAdmin),
    /// `group.created`.
    GroupCreated(GroupCreated),
    /// `group.deleted`.
    GroupDeleted(GroupDeleted),
    /// `group.member_added`.
    GroupMemberAdded(GroupMemberAdded),
    /// `group.member_removed`.
    GroupMemberRemoved(GroupMemberRemoved),
    /// `group.member_role_changed`.
    GroupMemberRoleChanged(GroupMemberRoleChanged),
    /// `namespace.created`.
    NamespaceCreated(NamespaceCreated),
    /// `namespace.updated`.
    NamespaceUpdated(NamespaceUpdated),
    /// `namespace.deleted`.
    NamespaceDeleted(NamespaceDeleted),
    /// `flow.created`.
    FlowCreated(FlowCreated),
    /// `flow.updated`.
    FlowUpdated(FlowUpdated),
    /// `flow.deleted`.
    FlowDeleted(FlowDeleted),
    /// `grant.created`.
    GrantCreated(GrantCreated),
    /// `grant.revoked`.
    GrantRevoked(GrantRevoked),
    /// `authz.denied` with the reason.
    AccessDenied(AccessDenied),
    /// `secret.created`.
    SecretCreated(SecretCreated),
    /// `secret.rotated`.
    SecretRotated(SecretRotated),
    /// `secret.deleted`.
    SecretDeleted(SecretRef),
    /// `secret.revealed`.
    SecretRevealed(SecretRevealed),
    /// `secret.resolved`.
    SecretResolved(SecretResolved),
    /// `connection.created`.
    ConnectionCreated(ConnectionCreated),
    /// `connection.updated`.
    ConnectionUpdated(ConnectionUpdated),
    /// `connection.deleted` (the id is the connection's).
    ConnectionDeleted(SecretRef),
    /// `run.requested`.
    RunRequested(RunRequested),
    /// `run.started`.
    RunStarted(RunRef),
    /// `run.step_finished`.
    RunStepFinished(RunStepFinished),
    /// `run.finished`.
    RunFinished(RunFinished),
    /// `schedule.created`.
    ScheduleCreated(ScheduleCreated),
    /// `schedule.deleted`.
    ScheduleDeleted(ScheduleDeleted),
    /// `schedule.fired`.
    ScheduleFired(ScheduleFired),
    /// `audit.queried`.
    AuditQueried(AuditQueried),
    /// `audit.exported`.
    AuditExported(AuditExported),
    /// `user.erased`.
    UserErased(UserRef),
    /// `config.changed`: the retention policy was set.
    RetentionPolicySet(RetentionPolicySet),
    /// `retention.pruned`.
    RetentionPruned(RetentionPruned),
    /// `http.throttled`.
    HttpThrottled(HttpThrottled),
    /// `schedule.pinned`.
    SchedulePinned(SchedulePinned),
    /// `schedule.suspended`.
    ScheduleSuspended(ScheduleSuspended),
    /// `schedule.resumed` (re-pinned to the definition named).
    ScheduleResumed(SchedulePinned),
    /// `run.definition_pinned`.
    RunDefinitionPinned(RunDefinitionPinned),
}

/// `audit.queried`: someone read the audit log; reading it is an event too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQueried {
    /// The query string as sent (at most 512 characters).
    pub query: String,
    /// How many events were returned.
    pub returned: u32,
    /// The seq the page continues after, if there is more.
    pub next: Option<u64>,
}

/// `audit.exported`: someone exported the audit log (through the API or
/// `cairn audit export`); the export covers the events up to `to_seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditExported {
    /// `jsonl`, `ocsf` or `cef`.
    pub format: String,
    /// The filters as sent (at most 512 characters).
    pub query: String,
    /// The first seq the export reads.
    pub from_seq: u64,
    /// The last seq the export reads (the head when it began).
    pub to_seq: u64,
}

/// The server opened the log and started serving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStarted {
    /// The Cairn version that started.
    pub version: String,
    /// The record format it writes.
    pub record_format: u8,
    /// The head seq it recovered to before this event.
    pub recovered_head: u64,
    /// Records dropped from a torn tail during recovery.
    pub torn_records_dropped: u64,
}

/// An Ed25519 signature over `(key_id, seq, hash, at)` of the head before
/// this event, so that anyone with the public key can check an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSigned {
    /// Identifies the signing key: hex of the first 8 bytes of
    /// SHA-256(public key).
    pub key_id: String,
    /// The seq the checkpoint covers (everything up to and including it).
    pub seq: u64,
    /// The hash of the record at `seq`.
    pub hash: [u8; 32],
    /// When it was signed, in microseconds since the Unix epoch.
    pub at: i64,
    /// The 64-byte Ed25519 signature.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// One HTTP request served (operational retention class).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// How long it took, in microseconds.
    pub duration_micros: u64,
}

/// `http.throttled`: the requests the rate limits refused in one window,
/// counted instead of recorded one by one (refusing must stay cheap, and a
/// flood must not become a flood of events). The client's address is the
/// event's sealed personal data; the summary of the clients beyond the
/// tracked-client cap has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpThrottled {
    /// Requests answered 429: the client was over its limit.
    pub rate_limited: u64,
    /// Requests answered 503: the limiter tracked too many clients to take
    /// on another.
    pub shed: u64,
    /// The first refusal of the window, in microseconds since the epoch.
    pub first_at: i64,
    /// The last refusal of the window.
    pub last_at: i64,
    /// The length of the window, in seconds.
    pub window_secs: u32,
    /// Whether this summary counts the clients beyond the tracked-client
    /// cap together (then it names no address).
    pub overflow: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pin the on-disk variant order.
    #[test]
    fn payload_variant_indices_are_stable() {
        let config = bincode::config::standard();
        let started = EventPayload::SystemStarted(SystemStarted {
            version: String::new(),
            record_format: 1,
            recovered_head: 0,
            torn_records_dropped: 0,
        });
        let bytes = bincode::serde::encode_to_vec(&started, config).expect("encode");
        assert_eq!(bytes[0], 0);
        let request = EventPayload::HttpRequest(HttpRequest {
            method: String::new(),
            path: String::new(),
            status: 200,
            duration_micros: 1,
        });
        let bytes = bincode::serde::encode_to_vec(&request, config).expect("encode");
        assert_eq!(bytes[0], 2);
        let deleted = EventPayload::GroupDeleted(GroupDeleted {
            group_id: uuid::Uuid::nil(),
        });
        let bytes = bincode::serde::encode_to_vec(&deleted, config).expect("encode");
        assert_eq!(bytes[0], 19);
        let revoked = EventPayload::GrantRevoked(GrantRevoked {
            grant_id: uuid::Uuid::nil(),
        });
        let bytes = bincode::serde::encode_to_vec(&revoked, config).expect("encode");
        assert_eq!(bytes[0], 30);
        let throttled = EventPayload::HttpThrottled(HttpThrottled {
            rate_limited: 1,
            shed: 0,
            first_at: 0,
            last_at: 0,
            window_secs: 60,
            overflow: false,
        });
        let bytes = bincode::serde::encode_to_vec(&throttled, config).expect("encode");
        assert_eq!(bytes[0], 52);
    }
}
