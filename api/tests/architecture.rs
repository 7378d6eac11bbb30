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

/// The module path of a source file of `crate_src` (`http/console/mod.rs`
/// is `["http", "console"]`, `serve.rs` is `["serve"]`).
fn module_path(crate_src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(crate_src).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// Every module path `text` names through `crate::`, `super::` or
/// `self::` (braced imports included), resolved from `module`, the path
/// of the module the text is in. Comments and the tests module are left
/// out.
fn referenced_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = text
        .split("\n#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    // `a::b::{c, d::e}` becomes `a::b::c` and `a::b::d::e`.
    let mut flat = String::new();
    let mut rest = code.as_str();
    while let Some(open) = rest.find("::{") {
        let start = rest[..open]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |at| at + 1);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        flat.push_str(&rest[..start]);
        let prefix = &rest[start..open];
        for item in rest[open + 3..open + close].split(',') {
            let item = item.trim().trim_start_matches('{');
            if !item.is_empty() {
                flat.push_str(&format!(" {prefix}::{item} "));
            }
        }
        rest = &rest[open + close + 1..];
    }
    flat.push_str(rest);

    let mut found = Vec::new();
    let bytes = flat.as_bytes();
    let mut at = 0;
    while at < flat.len() {
        if !flat.is_char_boundary(at) {
            at += 1;
            continue;
        }
        let boundary = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b':');
        let word = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|word| boundary && flat[at..].starts_with(word));
        let Some(word) = word else {
            at += 1;
            continue;
        };
        let end = flat[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(flat.len(), |end| at + end);
        let segments: Vec<&str> = flat[at..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        at = end;
        // `super` is the parent of the file's module (a mod.rs file's
        // module is its directory).
        let mut base: Vec<String> = match word {
            "crate::" => Vec::new(),
            _ => module.to_vec(),
        };
        let mut rest = segments.as_slice();
        if word == "crate::" || word == "self::" {
            rest = &rest[1..];
        }
        while let Some((&"super", tail)) = rest.split_first() {
            base.pop();
            rest = tail;
        }
        base.extend(rest.iter().map(|segment| segment.to_string()));
        found.push(base);
    }
    found
}

/// A cycle among the child modules of `scope`, if any.
fn module_cycle(
    files: &[(Vec<String>, Vec<Vec<String>>)],
    scope: &[String],
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, references) in files {
        if module.len() <= scope.len() || !module.starts_with(scope) {
            continue;
        }
        let from = &module[scope.len()];
        for reference in references {
            if reference.len() > scope.len() && reference.starts_with(scope) {
                let to = &reference[scope.len()];
                if to != from && children.contains(to) {
                    edges.entry(from.clone()).or_default().insert(to.clone());
                }
            }
        }
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), false);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(false) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(true) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), true);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node)
            && let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

/// Every module of `krate`'s sources with the paths it names.
fn module_references(krate: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let src = workspace_root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .filter(|file| !file.starts_with(src.join("bin")))
        .map(|file| {
            let module = module_path(&src, file);
            let text = std::fs::read_to_string(file).expect("read");
            let references = referenced_paths(&text, &module);
            (module, references)
        })
        .collect()
}

#[test]
fn the_api_crates_modules_import_each_other_without_cycles() {
    // Siblings that import each other read as one module split in two: a
    // shared piece gets its own module instead (cli_error, http::cookies).
    let files = module_references("api");
    let scopes: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|(module, _)| (0..module.len()).map(|len| module[..len].to_vec()))
        .collect();
    for scope in &scopes {
        let children: BTreeSet<String> = files
            .iter()
            .filter(|(module, _)| module.len() > scope.len() && module.starts_with(scope))
            .map(|(module, _)| module[scope.len()].clone())
            .collect();
        if let Some(cycle) = module_cycle(&files, scope, &children) {
            panic!(
                "in api/src/{}: the modules import each other: {}",
                scope.join("/"),
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    // Given two sibling modules that import each other (and a third that
    // only imports one of them),
    let module = |path: &str| -> Vec<String> { path.split('/').map(str::to_string).collect() };
    let files = vec![
        (
            module("http/caller"),
            referenced_paths("use super::csrf::check;\n", &module("http/caller")),
        ),
        (
            module("http/csrf"),
            referenced_paths(
                "use super::{caller::cookie, problem};\n",
                &module("http/csrf"),
            ),
        ),
        (
            module("http/problem"),
            referenced_paths("// super::caller in a comment\n", &module("http/problem")),
        ),
    ];
    let children: BTreeSet<String> = ["caller", "csrf", "problem"]
        .into_iter()
        .map(str::to_string)
        .collect();
    // then the check names the cycle, and finds none without the import back.
    let cycle = module_cycle(&files, &module("http"), &children).expect("a cycle");
    assert_eq!(cycle, ["caller", "csrf", "caller"]);
    assert_eq!(module_cycle(&files[1..], &module("http"), &children), None);
    // A mod.rs file's module is its directory, and crate:: paths resolve
    // from the root.
    assert_eq!(
        module_path(Path::new("src"), Path::new("src/http/console/mod.rs")),
        module("http/console")
    );
    assert_eq!(
        referenced_paths("use crate::cli_error::CliError;", &module("serve")),
        vec![module("cli_error/CliError")]
    );
}
