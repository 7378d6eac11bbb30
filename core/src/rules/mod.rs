//! Rules that need no state: pure functions that decide whether a value is
//! acceptable, shared by the command handlers, the CLI and the tests so that
//! every entry point applies the same policy.
//!
//! - [`username`]: Unicode normalization of usernames and the characters and
//!   names they may not use.
//! - [`display_name`]: the characters of group, org and namespace names,
//!   and when two of them look the same.
//! - [`password_policy`]: the length window and the refusal of common or
//!   easily guessed passwords.
//!
//! - [`retention_policy`]: the retention defaults and the floors no
//!   policy may go below.
//! - [`flow_definition`]: the step schema of a flow definition and the
//!   references (`$secret.NAME`, `$env.NAME`) its strings may hold.

pub mod display_name;
pub mod flow_definition;
pub mod password_policy;
pub mod retention_policy;
pub mod username;

pub use flow_definition::{FlowDefinitionError, Reference, check_flow_definition, references};
pub use password_policy::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PasswordPolicyError, check_password,
};
pub use retention_policy::{
    DEFAULT_POLICY, RetentionPolicyError, check_retention_policy, protected_days,
};
pub use username::{
    MAX_USERNAME_CHARS, RESERVED_USERNAMES, Username, UsernameError, normalize_username,
};
