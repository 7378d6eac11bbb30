//! Shared helpers for the end-to-end tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The `cairn` binary built by `cargo test --workspace`.
pub fn cairn_binary() -> PathBuf {
    // target/debug/deps/e2e-<hash> -> target/debug/cairn
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("cairn");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `bash scripts/test.sh` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// The Python interpreter that has the independent peers installed
/// (PyNaCl, cryptography, argon2-cffi, ...): `$CAIRN_TEST_PYTHON`, set by
/// scripts/test.sh.
pub fn python() -> PathBuf {
    match std::env::var_os("CAIRN_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "CAIRN_TEST_PYTHON is not set: run the tests with `bash scripts/test.sh`, which prepares the Python peers"
        ),
    }
}

/// The directory of the Python helper scripts.
pub fn py_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py")
}
