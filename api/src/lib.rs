//! Cairn's edge: the HTTP server ([`http`]), background jobs ([`jobs`]),
//! session tokens on the wire ([`session_tokens`]), outgoing requests of
//! runs ([`step_runner`]), and the `cairn` command line ([`cli`]). The
//! commands themselves are decided in `cairn-app`.
//!
//! API boundary: this is the only crate that knows HTTP, jsonwebtoken,
//! reqwest or tracing-subscriber. Handlers parse, call the app, and map
//! the result.

pub mod cli;
pub mod cli_error;
pub mod config;
pub mod http;
pub mod jobs;
pub mod master_key;
pub mod serve;
pub mod session_tokens;
pub mod step_runner;
