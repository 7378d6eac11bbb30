//! What a command can answer instead of success, separating the caller's
//! mistakes (4xx) from the machine's (5xx). The HTTP edge maps each to a
//! problem+json response; nothing here knows HTTP.

use cairn_core::log::{AppendError, DurabilityError, PersonalError};
use cairn_projections::ApplyError;
use cairn_schemas::{AccessAction, ResourceRef};

/// An authorization refusal, for the audit trail: what was attempted on
/// what, and why `authorize` said no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// What was attempted (none for a refusal that is not about a
    /// resource, like creating a group without the admin role).
    pub action: Option<AccessAction>,
    /// The resource.
    pub resource: ResourceRef,
    /// Whether the caller may know the resource exists: when not, the
    /// answer is exactly that of a missing resource (404).
    pub visible: bool,
    /// The explanation, naming the path.
    pub reason: String,
}

/// Why a command did not happen. For every variant, nothing was changed
/// except the refusal event the command may have recorded.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as named in the request.
        field: &'static str,
        /// What is wrong with it (never its value).
        message: String,
    },
    /// The request as a whole is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// A login failed: the same answer for an unknown user and a wrong
    /// password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Not there, or not visible to the caller (the same answer).
    #[error("not found")]
    NotFound,
    /// Refused by authorization: 404 when the resource is not visible
    /// (exactly like a missing one), 403 otherwise.
    #[error("{}", .0.reason)]
    Denied(Box<Denial>),
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The username is locked after repeated failures.
    #[error("too many failed logins for this username; try again later")]
    Locked {
        /// Seconds until the lock ends.
        retry_after_secs: u64,
    },
    /// Too much work queued: shed rather than queue without bound.
    #[error("the server is busy; try again shortly")]
    Overloaded,
    /// A per-member limit is reached (the message names it): 429.
    #[error("{message}")]
    Limited {
        /// Which limit, and its value.
        message: String,
        /// Seconds to wait before trying again.
        retry_after_secs: u64,
    },
    /// Something failed inside; the cause is kept, for the log only.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    /// A failure inside, its cause kept (an error, or a sentence when
    /// there is no error value to keep).
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> CommandError {
        CommandError::Internal(cause.into())
    }

    /// A field-level validation error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> CommandError {
        CommandError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Rejected(message) => CommandError::BadRequest(message),
            other => CommandError::internal(other),
        }
    }
}

impl From<ApplyError> for CommandError {
    fn from(error: ApplyError) -> Self {
        CommandError::internal(error)
    }
}

impl From<DurabilityError> for CommandError {
    fn from(error: DurabilityError) -> Self {
        CommandError::internal(error)
    }
}

impl From<PersonalError> for CommandError {
    fn from(error: PersonalError) -> Self {
        CommandError::internal(error)
    }
}

impl From<crate::CommitError> for CommandError {
    fn from(error: crate::CommitError) -> Self {
        match error {
            crate::CommitError::Append(error) => CommandError::from(error),
            other => CommandError::internal(other),
        }
    }
}
