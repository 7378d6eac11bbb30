//! The Docker packaging names only variables the code reads: every
//! `CAIRN_*` name in docker/compose.yml, docker/.env.example, the
//! Dockerfile, the README's configuration table and docs/operations.md is
//! checked against the names declared in the source (api/src/config.rs and
//! the sinks' configuration), and the example values start a real server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{Server, test_master_key};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// What the code reads: exact names, and the per-sink suffixes of
/// `CAIRN_SINK_<NAME>_<SUFFIX>`.
struct KnownVariables {
    exact: BTreeSet<String>,
    sink_suffixes: BTreeSet<String>,
}

impl KnownVariables {
    fn from_source() -> KnownVariables {
        let config = read(&root().join("api/src/config.rs"));
        let sinks = read(&root().join("api/src/jobs/sinks/config.rs"));
        let serve = read(&root().join("api/src/serve.rs"));
        let mut exact = BTreeSet::new();
        // `env = "CAIRN_…"` (clap) and `const NAME: &str = "CAIRN_…"`.
        for text in [&config, &sinks] {
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with("//") {
                    continue;
                }
                let declares = line.contains("env = \"")
                    || (line.contains("const ") && line.contains(": &str = \""))
                    || line.contains("read(\"");
                if declares {
                    exact.extend(quoted_names(line, "CAIRN_"));
                }
            }
        }
        // RUST_LOG is read by the tracing set-up in serve.rs (through
        // config's one reader of the environment).
        if serve.contains("secret_env::raw(\"RUST_LOG\")") {
            exact.insert("RUST_LOG".to_string());
        }
        // The sinks' per-sink variables: `get("SUFFIX")` / `var("SUFFIX")`
        // inside `fn sink`, below `format!("CAIRN_SINK_{}_", …)`.
        assert!(
            sinks.contains("format!(\"CAIRN_SINK_{}_\""),
            "the sinks' variable prefix moved: update this test"
        );
        let mut sink_suffixes = BTreeSet::new();
        for line in sinks.lines().filter(|line| !line.trim().starts_with("//")) {
            for call in ["get(\"", "var(\""] {
                for piece in line.split(call).skip(1) {
                    if let Some(end) = piece.find('"') {
                        let suffix = &piece[..end];
                        if !suffix.is_empty()
                            && suffix.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                        {
                            sink_suffixes.insert(suffix.to_string());
                        }
                    }
                }
            }
        }
        assert!(
            exact.contains("CAIRN_MASTER_KEY") && exact.contains("CAIRN_DATA_DIR"),
            "the source scan found too little: {exact:?}"
        );
        assert!(
            sink_suffixes.contains("URL") && sink_suffixes.contains("HEC_TOKEN"),
            "the sinks scan found too little: {sink_suffixes:?}"
        );
        KnownVariables {
            exact,
            sink_suffixes,
        }
    }

    fn knows(&self, name: &str) -> bool {
        if self.exact.contains(name) {
            return true;
        }
        // CAIRN_SINK_<NAME>_<SUFFIX>, NAME being a sink name in capitals
        // (or the placeholder `<NAME>` of the docs).
        let Some(rest) = name.strip_prefix("CAIRN_SINK_") else {
            return false;
        };
        self.sink_suffixes.iter().any(|suffix| {
            rest.strip_suffix(suffix.as_str())
                .and_then(|sink| sink.strip_suffix('_'))
                .is_some_and(|sink| {
                    sink == "<NAME>"
                        || (!sink.is_empty()
                            && sink
                                .bytes()
                                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
                })
        })
    }
}

/// Every quoted string in `line` that starts with `prefix`.
fn quoted_names(line: &str, prefix: &str) -> Vec<String> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .filter(|text| text.starts_with(prefix) && is_variable_name(text))
        .map(str::to_string)
        .collect()
}

fn is_variable_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Every `CAIRN_…` token in a text (the docs' `<NAME>` placeholder kept).
fn mentioned_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("CAIRN_") {
        let tail = &rest[at..];
        let end = tail
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit() || "_<>".contains(*c)))
            .map_or(tail.len(), |(index, _)| index);
        let name = tail[..end].trim_end_matches('_');
        // `CAIRN_…` prefixes in prose ("never a CAIRN_ name") are not names.
        if name.len() > "CAIRN_".len() {
            names.insert(name.to_string());
        }
        rest = &tail[end.max(1)..];
    }
    names
}

/// `.env.example`: `NAME=value` lines, and commented-out `# NAME=value`
/// examples (they are names too).
fn env_example() -> (Vec<(String, String)>, BTreeSet<String>) {
    let text = read(&root().join("docker/.env.example"));
    let mut set = Vec::new();
    let mut commented = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((name, _)) = comment.trim().split_once('=')
                && is_variable_name(name)
            {
                commented.insert(name.to_string());
            }
            continue;
        }
        let (name, value) = line.split_once('=').unwrap_or_else(|| {
            panic!(
                "docker/.env.example line {}: not NAME=value: {line}",
                number + 1
            )
        });
        assert!(
            is_variable_name(name),
            "docker/.env.example line {}: {name:?} is not a variable name",
            number + 1
        );
        assert!(
            !set.iter().any(|(seen, _)| seen == name),
            "docker/.env.example sets {name} twice"
        );
        set.push((name.to_string(), value.to_string()));
    }
    (set, commented)
}

fn compose() -> Yaml {
    let text = read(&root().join("docker/compose.yml"));
    let mut documents = YamlLoader::load_from_str(&text).expect("docker/compose.yml is YAML");
    assert_eq!(documents.len(), 1, "compose.yml holds one document");
    documents.remove(0)
}

/// The `environment` of a compose service, in either of compose's forms
/// (a map, or a list of `NAME=value`).
fn service_environment(service: &Yaml) -> Vec<(String, String)> {
    match &service["environment"] {
        Yaml::Hash(map) => map
            .iter()
            .map(|(key, value)| {
                let name = key.as_str().expect("environment names are strings");
                let value = match value {
                    Yaml::String(text) => text.clone(),
                    Yaml::Integer(number) => number.to_string(),
                    Yaml::Boolean(flag) => flag.to_string(),
                    other => panic!("{name}: value {other:?} is not a scalar"),
                };
                (name.to_string(), value)
            })
            .collect(),
        Yaml::Array(items) => items
            .iter()
            .map(|item| {
                let text = item.as_str().expect("environment entries are strings");
                let (name, value) = text.split_once('=').unwrap_or((text, ""));
                (name.to_string(), value.to_string())
            })
            .collect(),
        Yaml::BadValue => Vec::new(),
        other => panic!("environment is neither a map nor a list: {other:?}"),
    }
}

#[test]
fn every_variable_the_docker_files_and_docs_name_is_one_the_code_reads() {
    let known = KnownVariables::from_source();
    let mut unknown = Vec::new();
    let mut check = |origin: &str, name: &str| {
        if !known.knows(name) {
            unknown.push(format!("{origin}: {name}"));
        }
    };

    let compose = compose();
    let services = compose["services"]
        .as_hash()
        .expect("compose.yml has services");
    assert!(!services.is_empty(), "compose.yml names no service");
    let cairn = &compose["services"]["cairn"];
    assert!(!cairn.is_badvalue(), "compose.yml has no `cairn` service");
    for (name, _) in service_environment(cairn) {
        check("docker/compose.yml", &name);
    }
    let env_files: Vec<&str> = match &cairn["env_file"] {
        Yaml::Array(items) => items.iter().filter_map(Yaml::as_str).collect(),
        Yaml::String(path) => vec![path.as_str()],
        _ => Vec::new(),
    };
    assert_eq!(
        env_files,
        [".env"],
        "the cairn service reads docker/.env (made from .env.example)"
    );
    // The data volume is mounted where CAIRN_DATA_DIR points.
    let data_dir = service_environment(cairn)
        .into_iter()
        .find(|(name, _)| name == "CAIRN_DATA_DIR")
        .map(|(_, value)| value)
        .expect("compose.yml sets CAIRN_DATA_DIR");
    let volumes: Vec<&str> = cairn["volumes"]
        .as_vec()
        .expect("volumes")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        volumes
            .iter()
            .any(|volume| volume.split(':').nth(1) == Some(data_dir.as_str())),
        "no volume is mounted on CAIRN_DATA_DIR={data_dir}: {volumes:?}"
    );

    let (set, commented) = env_example();
    for (name, _) in &set {
        check("docker/.env.example", name);
    }
    for name in &commented {
        check("docker/.env.example (commented)", name);
    }
    for name in [
        "CAIRN_MASTER_KEY",
        "CAIRN_JWT_SECRET",
        "CAIRN_ADMIN_USER",
        "CAIRN_ADMIN_PASSWORD",
        "CAIRN_RATE_LIMIT_REQUESTS",
        "CAIRN_SINKS",
    ] {
        assert!(
            set.iter().any(|(seen, _)| seen == name),
            "docker/.env.example does not set {name}"
        );
    }

    for file in ["docker/Dockerfile", "README.md", "docs/operations.md"] {
        let path = root().join(file);
        if !path.exists() {
            assert_ne!(file, "docker/Dockerfile", "docker/Dockerfile is missing");
            continue;
        }
        for name in mentioned_names(&read(&path)) {
            check(file, &name);
        }
    }
    assert!(
        unknown.is_empty(),
        "variables the code does not read: {unknown:#?}"
    );
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_with_a_data_volume_and_a_healthcheck() {
    let dockerfile = read(&root().join("docker/Dockerfile"));
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let starting = |word: &str| {
        instructions
            .iter()
            .filter(|line| line.starts_with(word))
            .copied()
            .collect::<Vec<_>>()
    };
    assert!(starting("FROM ").len() >= 2, "not multi-stage");
    assert!(
        starting("COPY --from=")
            .iter()
            .any(|line| line.contains("cairn")),
        "the runtime stage does not take the binary from the build stage"
    );
    let users = starting("USER ");
    let last_user = users.last().expect("a USER instruction");
    assert!(
        !last_user.contains("root") && !last_user.ends_with(" 0") && !last_user.contains(" 0:"),
        "the image runs as root: {last_user}"
    );
    assert!(
        starting("VOLUME ")
            .iter()
            .any(|line| line.contains("/data")),
        "no /data volume"
    );
    assert!(
        dockerfile.contains("CAIRN_DATA_DIR=/data"),
        "CAIRN_DATA_DIR does not point at the volume"
    );
    let healthcheck = dockerfile
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK");
    assert!(
        healthcheck.contains("/health"),
        "the healthcheck is not /health"
    );
    // The build context is the repository root: target/ must stay out.
    let ignore = read(&root().join(".dockerignore"));
    assert!(ignore.lines().any(|line| line.trim() == "target/"));
    assert!(ignore.lines().any(|line| line.trim().ends_with(".env")));
}

#[test]
fn the_scan_catches_a_variable_the_code_does_not_know() {
    let known = KnownVariables::from_source();
    assert!(known.knows("CAIRN_RUN_WORKERS"));
    assert!(known.knows("CAIRN_SINK_SIEM_CA_FILE"));
    assert!(known.knows("CAIRN_SINK_<NAME>_URL"));
    assert!(!known.knows("CAIRN_RATE_LIMIT"));
    assert!(!known.knows("CAIRN_SINK_SIEM_PASSWORD"));
    assert!(!known.knows("CAIRN_LISTEN"));
    assert_eq!(
        mentioned_names(
            "set `CAIRN_BIND=0.0.0.0:8080`; never a CAIRN_ name; CAIRN_SINK_<NAME>_URL"
        ),
        BTreeSet::from([
            "CAIRN_BIND".to_string(),
            "CAIRN_SINK_<NAME>_URL".to_string()
        ])
    );
}

/// The example's values, with the blanks an operator must fill in filled
/// (and the compose file's own environment on top), start the server in
/// production mode: the example is a working configuration, not only a
/// list of names.
#[test]
fn the_env_example_with_its_blanks_filled_starts_a_server() {
    let compose = compose();
    let (set, _) = env_example();
    let key = test_master_key(61);
    let mut envs: Vec<(String, String)> = Vec::new();
    for (name, value) in set {
        let value = match name.as_str() {
            "CAIRN_MASTER_KEY" => key.clone(),
            "CAIRN_ADMIN_PASSWORD" => "docker-example-passphrase-61".to_string(),
            _ => value,
        };
        envs.push((name, value));
    }
    for (name, value) in service_environment(&compose["services"]["cairn"]) {
        // The test runs the binary on its own data dir and a free port.
        if name != "CAIRN_DATA_DIR" && name != "CAIRN_BIND" {
            envs.retain(|(seen, _)| *seen != name);
            envs.push((name, value));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs: Vec<(&str, &str)> = envs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let server = Server::start(&dir.path().join("data"), &pairs);
    let client = reqwest::blocking::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", server.base_url))
        .json(&serde_json::json!({"username": "admin", "password": "docker-example-passphrase-61"}))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200, "the bootstrap admin logs in");
    let hsts = client
        .get(format!("{}/health", server.base_url))
        .send()
        .expect("health");
    assert!(
        hsts.headers().contains_key("strict-transport-security"),
        "CAIRN_TLS_TERMINATED=true from the example is in effect"
    );
    assert_eq!(server.stop(), Some(0));
}
