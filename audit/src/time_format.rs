//! Event times as RFC 3339 UTC with microseconds: core's
//! [`cairn_core::time_format`], named here too for the exports' callers.

pub use cairn_core::time_format::{parse_rfc3339_micros, rfc3339_micros};
