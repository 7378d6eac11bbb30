//! Cairn's contract types and nothing else: the record envelope stored in
//! the log, the event vocabulary (actions, actors, resources, outcomes) and
//! the event payloads.
//!
//! Architecture invariant: no logic and no IO live here. Every type is plain
//! data with serde derives, so that other programs (exporters, SIEM
//! integrations, replay tools) can be written against it.
//!
//! API bodies (`api`) are JSON only and may use serde attributes freely;
//! stored types are encoded positionally (bincode): they use no
//! `#[serde(flatten)]`, no untagged or internally tagged enums and no
//! `skip_serializing_if`. Enum variants are only ever appended, never
//! reordered or removed, and a released payload never changes shape: a new
//! shape is a new variant. `tests` in each module pin the variant order.

/// Declares a closed, append-only enum with a stable wire name per variant.
/// The variant order is part of the on-disk format: only append.
#[macro_export]
#[doc(hidden)]
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in on-disk order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in exports, filters and the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a stable name; `None` for an unknown one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod api;
pub mod event;
pub mod identity;
pub mod password;
pub mod payload;
pub mod record;
pub mod retention;
pub mod runs;
pub mod secrets;
pub mod sharing;

pub use event::{Action, ActorKind, ActorRef, Outcome, ResourceKind, ResourceRef, RetentionClass};
pub use identity::{
    ApiKeyCreated, ApiKeyRevoked, BootstrapAdmin, LoginFailed, LoginFailure, LoginSucceeded,
    Logout, OrgCreated, OrgMemberAdded, OrgMemberRemoved, OrgRole, UserCreated,
    UserPasswordChanged, UserRef, UserRoleChanged,
};
pub use password::Password;
pub use payload::{
    AuditExported, AuditQueried, CheckpointSigned, EventPayload, HttpRequest, HttpThrottled,
    SystemStarted,
};
pub use record::{Header, PersonalData, RECORD_FORMAT, Record, Sealed};
pub use retention::{
    ClassHorizon, ClassPolicy, RetentionPolicy, RetentionPolicySet, RetentionPruned,
};
pub use runs::{
    FireOutcome, RunDefinitionPinned, RunFinished, RunRef, RunRequested, RunStatus,
    RunStepFinished, ScheduleCreated, ScheduleDeleted, ScheduleFired, SchedulePinned,
    ScheduleSuspended, StepStatus,
};
pub use secrets::{
    ConnectionCreated, ConnectionKind, ConnectionUpdated, SecretCreated, SecretRef, SecretResolved,
    SecretRevealed, SecretRotated,
};
pub use sharing::{
    AccessAction, AccessDenied, FlowCreated, FlowDeleted, FlowUpdated, GrantCreated, GrantLevel,
    GrantRevoked, GranteeKind, GroupCreated, GroupDeleted, GroupMemberAdded, GroupMemberRemoved,
    GroupMemberRoleChanged, GroupRole, NamespaceCreated, NamespaceDeleted, NamespaceUpdated,
};
