//! Cairn's end-to-end test crate. The tests live in `tests/e2e/`; this
//! library holds nothing but the crash-safety harness binary's home.
