//! The audit API, exports, sinks, reports and replay.

pub(crate) mod audit_api;
pub(crate) mod audit_export;
pub(crate) mod audit_sinks;
pub(crate) mod export_tamper;
pub(crate) mod replay;
pub(crate) mod reports;
pub(crate) mod rsyslog;
pub(crate) mod sink_cursor;
