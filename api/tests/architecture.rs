//! Tidy tests: the architecture invariants of docs/ARCHITECTURE.md, checked
//! by reading `cargo metadata` and the sources rather than left to review.
//! (This integration test also makes `cargo test --workspace` build the
//! `cairn` binary that the end-to-end tests run.)

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo metadata` of the workspace, offline, with `extra` arguments.
fn cargo_metadata(extra: &[&str]) -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(extra)
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("metadata json")
}

/// Package name -> its normal (non-dev, non-build) dependencies.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let metadata = cargo_metadata(&["--no-deps"]);
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|dep| dep["kind"].is_null())
                .map(|dep| dep["name"].as_str().expect("name").to_string())
                .collect();
            (package["name"].as_str().expect("name").to_string(), deps)
        })
        .collect()
}

#[test]
fn crates_depend_only_downwards() {
    let layers = [
        "cairn-schemas",
        "cairn-core",
        "cairn-projections",
        "cairn-audit",
        "cairn-app",
        "cairn-api",
    ];
    let deps = dependencies();
    for (position, package) in layers.iter().enumerate() {
        let own = deps
            .get(*package)
            .unwrap_or_else(|| panic!("{package} is not in the workspace"));
        for (above, higher) in layers.iter().enumerate().skip(position) {
            if above == position {
                continue;
            }
            assert!(
                !own.contains(*higher),
                "{package} depends on {higher}: dependencies point down only"
            );
        }
    }
    assert!(
        !deps["cairn-schemas"]
            .iter()
            .any(|dep| dep.starts_with("cairn-")),
        "schemas depends on nothing of ours"
    );
}

/// Everything `package` reaches through normal dependencies, transitively
/// (from the resolved graph of the whole workspace).
fn reaches(package: &str) -> BTreeSet<String> {
    let metadata = cargo_metadata(&[]);
    let name_of: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let normal_deps: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .expect("kinds")
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().expect("pkg"))
                .collect();
            (node["id"].as_str().expect("id"), deps)
        })
        .collect();
    let start = name_of
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .expect("package");
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in normal_deps.get(id).into_iter().flatten() {
            if seen.insert(name_of[dep].to_string()) {
                stack.push(dep);
            }
        }
    }
    seen
}

#[test]
fn core_never_reaches_the_http_stack() {
    let reached = reaches("cairn-core");
    for forbidden in [
        "axum",
        "hyper",
        "jsonwebtoken",
        "tower-http",
        "tracing-subscriber",
        "reqwest",
    ] {
        assert!(
            !reached.contains(forbidden),
            "cairn-core reaches {forbidden} (transitively)"
        );
    }
    assert!(
        reached.contains("sled"),
        "sanity: the graph walk sees core's own dependencies"
    );
}

/// What only the HTTP edge may reach: the web stack, outgoing HTTP, JWT.
const EDGE_ONLY: [&str; 8] = [
    "axum",
    "hyper",
    "tower",
    "tower-http",
    "jsonwebtoken",
    "tracing-subscriber",
    "reqwest",
    "dotenvy",
];

/// The forbidden crates `package` reaches, transitively.
fn edge_crates_reached(package: &str) -> Vec<&'static str> {
    let reached = reaches(package);
    EDGE_ONLY
        .into_iter()
        .filter(|forbidden| reached.contains(*forbidden))
        .collect()
}

#[test]
fn the_app_never_reaches_the_http_stack_even_transitively() {
    // Given every crate the app crate reaches through normal dependencies
    // Then none of the edge's is among them
    assert_eq!(
        edge_crates_reached("cairn-app"),
        Vec::<&str>::new(),
        "cairn-app decides commands; HTTP, outgoing requests and JWTs are the edge's (ports: StepRunner, Env, the claims)"
    );
    // And the walk does see the app's own dependencies (it would pass
    // vacuously otherwise), and the edge's reach is seen as such
    assert!(reaches("cairn-app").contains("cairn-core"));
    assert!(edge_crates_reached("cairn-api").contains(&"axum"));
}

#[test]
fn only_the_api_crate_knows_http_and_the_lower_crates_do_no_io() {
    let deps = dependencies();
    for package in [
        "cairn-schemas",
        "cairn-core",
        "cairn-projections",
        "cairn-audit",
        "cairn-app",
    ] {
        for dep in EDGE_ONLY {
            assert!(
                !deps[package].contains(dep),
                "{package} must not depend on {dep}"
            );
        }
    }
    for dep in ["sled", "tokio", "bincode"] {
        assert!(
            !deps["cairn-schemas"].contains(dep),
            "schemas is plain data: no {dep}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn product_sources() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = Vec::new();
    for krate in ["schemas", "core", "projections", "audit", "app", "api"] {
        rust_files(&root.join(krate).join("src"), &mut files);
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let relative = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            (relative, text)
        })
        .collect()
}

#[test]
fn only_the_log_store_touches_sled() {
    for (path, text) in product_sources() {
        if path.ends_with("core/src/log/store.rs") {
            continue;
        }
        assert!(
            !text.contains("sled::"),
            "{path} touches sled; only core/src/log/store.rs may"
        );
    }
}

#[test]
fn core_uses_no_network_types_and_reads_the_clock_in_one_place() {
    let mut clock_reads = Vec::new();
    for (path, text) in product_sources() {
        if path.starts_with("core/") {
            assert!(
                !text.contains("tokio::net"),
                "{path}: core never imports tokio's network types"
            );
        }
        if text.contains("SystemTime::now") {
            clock_reads.push(path);
        }
    }
    assert_eq!(
        clock_reads,
        vec!["core/src/clock.rs".to_string()],
        "SystemTime::now appears in exactly one place"
    );
}

/// The files of the product sources (tests modules included) where
/// `needle` appears outside comments.
fn files_using(needle: &str) -> Vec<String> {
    product_sources()
        .into_iter()
        .filter(|(_, text)| {
            text.lines()
                .any(|line| !line.trim_start().starts_with("//") && line.contains(needle))
        })
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn time_ids_and_the_environment_are_read_in_one_place_each() {
    // The wall clock: core's SystemClock.
    assert_eq!(files_using("SystemTime::now"), vec!["core/src/clock.rs"]);
    // Ids: core's IdSource builds them from a clock and an entropy; the
    // uuid crate's own clock-and-randomness constructors appear nowhere.
    assert_eq!(files_using("now_v7"), Vec::<String>::new());
    assert_eq!(files_using("Uuid::new_v4"), Vec::<String>::new());
    // The process environment: the binary's config (clap reads the
    // declared variables; everything else asks `secret_env::raw`).
    assert_eq!(files_using("env::var"), vec!["api/src/config.rs"]);
}

#[test]
fn every_module_says_why_it_exists() {
    for (path, text) in product_sources() {
        if path.ends_with("main.rs") {
            continue;
        }
        assert!(
            text.trim_start().starts_with("//!"),
            "{path} must open with a //! module comment"
        );
    }
}
