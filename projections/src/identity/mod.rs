//! Identity views: who exists, where they belong, which sessions and keys
//! are live, and which usernames are locked.

mod api_keys;
mod login_failures;
mod membership_history;
mod orgs;
mod sessions;
mod users;

pub use api_keys::{ApiKeyRecord, ApiKeys};
pub use login_failures::{LOCKOUT_MICROS, LOCKOUT_THRESHOLD, LoginFailures};
pub use membership_history::MembershipHistory;
pub use orgs::{OrgRecord, Orgs};
pub use sessions::{SessionRecord, Sessions};
pub use users::{UserRecord, Users};
