//! Cairn's end-to-end tests: one integration-test binary. Each test starts
//! the real `cairn` binary (or the log-only harness) on its own temporary
//! data dir and free loopback port, so they run in parallel.

mod audit;
mod flows;
mod identity;
mod log;
mod server;
mod sharing;
mod support;
