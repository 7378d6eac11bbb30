//! Cairn's audit trail as people and programs read it: records rendered as
//! JSON (for `cairn events dump`, and later the audit API and exports),
//! with personal data opened under its subject's key or shown as erased,
//! and never a plaintext secret.

pub mod cef;
pub mod export_line;
pub mod export_stream;
pub mod export_verify;
pub mod ocsf;
pub mod outside_checkpoints;
pub mod record_json;
pub mod syslog;
pub mod time_format;

pub use record_json::{RecordView, render_record};
