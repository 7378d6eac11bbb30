//! Users, orgs, logins, sessions, tokens, API keys and names.

pub(crate) mod account_attacks;
pub(crate) mod bootstrap;
pub(crate) mod cookie_session;
pub(crate) mod enumeration;
pub(crate) mod hygiene;
pub(crate) mod identity_api;
pub(crate) mod tokens;
