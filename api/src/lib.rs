//! Cairn's application layer and edge: commands turned into events
//! ([`app`]), the HTTP server ([`http`]), background jobs ([`jobs`]), and the
//! `cairn` command line ([`cli`]).
//!
//! API boundary: this is the only crate that knows HTTP, jsonwebtoken or
//! tracing-subscriber. Handlers parse, call the app, and map the result.

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod master_key;
pub mod serve;
