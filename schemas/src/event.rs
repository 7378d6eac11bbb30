//! The event vocabulary: actions (`noun.past_tense`), actors, resources and
//! outcomes, with their stable names.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

named_enum! {
    /// What happened. Named `noun.past_tense`.
    Action {
        /// A user account was created.
        UserCreated => "user.created",
        /// A user account was activated.
        UserActivated => "user.activated",
        /// A user account was deactivated.
        UserDeactivated => "user.deactivated",
        /// A user account was deleted.
        UserDeleted => "user.deleted",
        /// A user's password was changed or reset.
        UserPasswordChanged => "user.password_changed",
        /// A user's org role was changed.
        UserRoleChanged => "user.role_changed",
        /// A login succeeded.
        AuthLoginSucceeded => "auth.login_succeeded",
        /// A login failed.
        AuthLoginFailed => "auth.login_failed",
        /// A session was ended by its user.
        AuthLogout => "auth.logout",
        /// A session was revoked.
        SessionRevoked => "session.revoked",
        /// An API key was created.
        ApiKeyCreated => "api_key.created",
        /// An API key was revoked.
        ApiKeyRevoked => "api_key.revoked",
        /// An organization was created.
        OrgCreated => "org.created",
        /// A user joined an organization.
        OrgMemberAdded => "org.member_added",
        /// A user left an organization.
        OrgMemberRemoved => "org.member_removed",
        /// A group was created.
        GroupCreated => "group.created",
        /// A group was deleted.
        GroupDeleted => "group.deleted",
        /// A user joined a group.
        GroupMemberAdded => "group.member_added",
        /// A user left a group.
        GroupMemberRemoved => "group.member_removed",
        /// A group member's role changed.
        GroupMemberRoleChanged => "group.member_role_changed",
        /// A namespace was created.
        NamespaceCreated => "namespace.created",
        /// A flow was created.
        FlowCreated => "flow.created",
        /// A flow was updated.
        FlowUpdated => "flow.updated",
        /// A flow was deleted.
        FlowDeleted => "flow.deleted",
        /// A secret was created.
        SecretCreated => "secret.created",
        /// A secret got a new value.
        SecretRotated => "secret.rotated",
        /// A secret was deleted.
        SecretDeleted => "secret.deleted",
        /// A secret's value was shown to its owner.
        SecretRevealed => "secret.revealed",
        /// A secret was resolved for a run.
        SecretResolved => "secret.resolved",
        /// A connection was created.
        ConnectionCreated => "connection.created",
        /// A connection was updated.
        ConnectionUpdated => "connection.updated",
        /// A connection was deleted.
        ConnectionDeleted => "connection.deleted",
        /// A grant was created.
        GrantCreated => "grant.created",
        /// A grant was revoked.
        GrantRevoked => "grant.revoked",
        /// A run was requested.
        RunRequested => "run.requested",
        /// A run started.
        RunStarted => "run.started",
        /// A step of a run finished.
        RunStepFinished => "run.step_finished",
        /// A run finished.
        RunFinished => "run.finished",
        /// A schedule was created.
        ScheduleCreated => "schedule.created",
        /// A schedule was deleted.
        ScheduleDeleted => "schedule.deleted",
        /// A schedule fired (or was missed).
        ScheduleFired => "schedule.fired",
        /// An authorization check denied a request.
        AuthzDenied => "authz.denied",
        /// An HTTP request was served.
        HttpRequest => "http.request",
        /// The audit log was queried.
        AuditQueried => "audit.queried",
        /// The audit log was exported.
        AuditExported => "audit.exported",
        /// Retention pruned payloads.
        RetentionPruned => "retention.pruned",
        /// A checkpoint of the chain was signed.
        CheckpointSigned => "checkpoint.signed",
        /// The server started.
        SystemStarted => "system.started",
        /// The bootstrap admin was created.
        SystemBootstrapAdmin => "system.bootstrap_admin",
        /// Configuration changed.
        ConfigChanged => "config.changed",
        /// A namespace was renamed.
        NamespaceUpdated => "namespace.updated",
        /// An empty namespace was deleted.
        NamespaceDeleted => "namespace.deleted",
        /// A deleted user's personal data was erased (their subject key
        /// deleted; GDPR art. 17).
        UserErased => "user.erased",
        /// The rate limits refused requests of one client (or, past the
        /// tracked-client cap, of many): one summary per client per
        /// window, instead of one event per refused request.
        HttpThrottled => "http.throttled",
    }
}

named_enum! {
    /// How long an event's payload is kept (headers are kept for ever).
    RetentionClass {
        /// Auth, admin, grants, secrets, config.
        Security => "security",
        /// Runs and schedules.
        Activity => "activity",
        /// Per-request records.
        Operational => "operational",
    }
}

impl Action {
    /// The retention class of this action's payload.
    pub fn retention_class(self) -> RetentionClass {
        use Action::*;
        match self {
            RunRequested | RunStarted | RunStepFinished | RunFinished | ScheduleFired => {
                RetentionClass::Activity
            }
            HttpRequest | HttpThrottled => RetentionClass::Operational,
            _ => RetentionClass::Security,
        }
    }
}

named_enum! {
    /// The kind of principal that acted.
    ActorKind {
        /// A person, through a session.
        User => "user",
        /// A person's API key (acting with its creator's rights).
        ApiKey => "api_key",
        /// A schedule firing on behalf of its member.
        Schedule => "schedule",
        /// A run acting on behalf of its invoker.
        Run => "run",
        /// Cairn itself.
        System => "system",
        /// Nobody authenticated (for example a failed login).
        Anonymous => "anonymous",
    }
}

named_enum! {
    /// The kind of thing an event is about.
    ResourceKind {
        /// A user account.
        User => "user",
        /// An organization (tenant).
        Org => "org",
        /// A group.
        Group => "group",
        /// A login session.
        Session => "session",
        /// An API key.
        ApiKey => "api_key",
        /// A namespace.
        Namespace => "namespace",
        /// A flow.
        Flow => "flow",
        /// A secret.
        Secret => "secret",
        /// A connection.
        Connection => "connection",
        /// A grant.
        Grant => "grant",
        /// A run.
        Run => "run",
        /// A schedule.
        Schedule => "schedule",
        /// The audit log itself.
        AuditLog => "audit_log",
        /// The Cairn instance.
        System => "system",
    }
}

named_enum! {
    /// Whether the attempt was allowed and succeeded.
    Outcome {
        /// Allowed and done.
        Success => "success",
        /// Refused by authentication or authorization.
        Denied => "denied",
        /// Allowed but failed (bad input, an error).
        Failure => "failure",
    }
}

/// Who acted: a kind and, except for anonymous and system actors, an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActorRef {
    /// The kind of principal.
    pub kind: ActorKind,
    /// Its id.
    pub id: Option<Uuid>,
}

impl ActorRef {
    /// Cairn itself.
    pub const SYSTEM: ActorRef = ActorRef {
        kind: ActorKind::System,
        id: None,
    };
}

/// What an event is about: a kind and, where it has one, an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The kind of resource.
    pub kind: ResourceKind,
    /// Its id.
    pub id: Option<Uuid>,
}

impl ResourceRef {
    /// The Cairn instance as a whole.
    pub const SYSTEM: ResourceRef = ResourceRef {
        kind: ResourceKind::System,
        id: None,
    };

    /// The audit log itself (what queries, exports, backups and retention
    /// act on).
    pub const AUDIT_LOG: ResourceRef = ResourceRef {
        kind: ResourceKind::AuditLog,
        id: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-disk index of each variant is its position: pin it, so that a
    /// reordering (which would silently reinterpret old logs) fails here.
    #[test]
    fn action_order_is_stable() {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.first(), Some(&"user.created"));
        assert_eq!(
            names.iter().position(|n| *n == "checkpoint.signed"),
            Some(46)
        );
        assert_eq!(names.iter().position(|n| *n == "http.request"), Some(42));
        assert_eq!(names.iter().position(|n| *n == "config.changed"), Some(49));
        assert_eq!(
            names.iter().position(|n| *n == "namespace.deleted"),
            Some(51)
        );
        assert_eq!(names.iter().position(|n| *n == "user.erased"), Some(52));
        assert_eq!(names.iter().position(|n| *n == "http.throttled"), Some(53));
    }

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(*action));
            let (noun, verb) = action.as_str().split_once('.').expect("noun.past_tense");
            assert!(!noun.is_empty() && !verb.is_empty());
        }
        for kind in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(Action::parse("user.exploded"), None);
    }

    #[test]
    fn retention_classes() {
        assert_eq!(
            Action::HttpRequest.retention_class(),
            RetentionClass::Operational
        );
        assert_eq!(
            Action::RunStarted.retention_class(),
            RetentionClass::Activity
        );
        assert_eq!(
            Action::GrantCreated.retention_class(),
            RetentionClass::Security
        );
    }
}
