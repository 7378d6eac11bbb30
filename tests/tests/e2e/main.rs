//! Cairn's end-to-end tests: one integration-test binary. Each test starts
//! the real `cairn` binary (or the log-only harness) on its own temporary
//! data dir and free loopback port, so they run in parallel.

mod account_attacks;
mod adversarial_matrix;
mod anchoring;
mod api_client;
mod audit_api;
mod audit_export;
mod audit_sinks;
mod backup;
mod bootstrap;
mod compaction;
mod console;
mod cookie_session;
mod crash_safety;
mod crypto_interop;
mod docker_config;
mod docs;
mod egress;
mod enumeration;
mod erasure;
mod erasure_api;
mod erasure_restore;
mod export_tamper;
mod file_modes;
mod floods;
mod hygiene;
mod identity_api;
mod masking;
mod replay;
mod reports;
mod retention;
mod rsyslog;
mod runs;
mod schedule_attacks;
mod schemathesis;
mod secrets_api;
mod serve;
mod sharing_matrix;
mod sink_cursor;
mod support;
mod tamper;
mod tokens;
