//! The docs hold what the code does: every `sh` example of docs/api.md
//! runs, in order, against a live server; docs/events.md lists every
//! action with the retention class and OCSF class the code gives it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use cairn_schemas::Action;

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
}

/// The ```sh blocks of a Markdown text, with the line each starts on.
/// Indented fences count too (examples inside list items).
fn sh_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String, usize)> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut current {
            None if trimmed == "```sh" => current = Some((number + 1, String::new(), indent)),
            None => {}
            Some(_) if trimmed == "```" => {
                if let Some((start, text, _)) = current.take() {
                    blocks.push((start, text));
                }
            }
            Some((_, text, indent)) => {
                text.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

#[test]
fn every_curl_example_of_the_api_doc_runs_against_a_live_server() {
    let markdown = read("docs/api.md");
    let blocks = sh_blocks(&markdown);
    assert!(blocks.len() >= 15, "only {} sh examples", blocks.len());

    let temp = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&temp.path().join("data"), &[]);
    // One script, so later examples use the variables earlier ones set
    // (TOKEN, ALICE, FLOW, ...), exactly as a reader pasting them would.
    let mut script = String::from("set -euo pipefail\n");
    for (index, (line, block)) in blocks.iter().enumerate() {
        script.push_str(&format!(
            "echo '=== example {index} (docs/api.md line {line})' >&2\n{block}echo >&2\necho '=== done {index}' >&2\n"
        ));
    }
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", temp.path())
        .env("CAIRN_URL", &api.server.base_url)
        .env("CAIRN_ADMIN_USER", ADMIN_USER)
        .env("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .current_dir(temp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let finished = stderr.matches("=== done ").count();
    assert!(
        output.status.success() && finished == blocks.len(),
        "example {finished} of docs/api.md failed (exit {}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    // What the examples say they show, they show.
    assert!(
        stdout.contains("after the revoke, alice reads the flow: 404"),
        "{stdout}"
    );
    assert!(
        stdout.contains("after logout the token gets: 401"),
        "{stdout}"
    );
    assert!(stdout.contains("CAIRN-BACKUP/v2"), "{stdout}");
    assert!(stdout.contains("\"allowed\":true"), "explain: {stdout}");
    // The run's answer never holds the secret's value (only the reveal does).
    let run = stdout
        .split("\"steps\":")
        .nth(1)
        .and_then(|rest| rest.split("\"error\"").next())
        .expect("the run's steps");
    assert!(!run.contains("rotated-value-2"), "unmasked: {run}");
    let export = std::fs::read_to_string(temp.path().join("audit.jsonl")).expect("audit.jsonl");
    assert!(export.lines().count() > 20);
    assert_eq!(api.server.stop(), Some(0));
}

/// `| `name` | retention | OCSF | records |` rows of docs/events.md.
fn events_doc_rows() -> BTreeMap<String, (String, String, String)> {
    let mut rows = BTreeMap::new();
    for line in read("docs/events.md").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 6 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let previous = rows.insert(
            name.clone(),
            (
                cells[2].to_string(),
                cells[3].to_string(),
                cells[4].to_string(),
            ),
        );
        assert!(previous.is_none(), "docs/events.md lists {name} twice");
    }
    rows
}

/// The classes schemas/ocsf-mapping.md gives each action (section 1).
fn ocsf_classes() -> BTreeMap<String, Vec<String>> {
    let mut classes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mapping = read("schemas/ocsf-mapping.md");
    let section = mapping
        .split("## 1. Actions to classes")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("section 1 of ocsf-mapping.md");
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1]
            .split('`')
            .nth(1)
            .expect("a quoted action")
            .to_string();
        let class = cells[2].to_string();
        let entry = classes.entry(name).or_default();
        if !entry.contains(&class) {
            entry.push(class);
        }
    }
    classes
}

#[test]
fn the_events_doc_lists_every_action_with_its_retention_and_ocsf_class() {
    let rows = events_doc_rows();
    let classes = ocsf_classes();
    let mut problems = Vec::new();
    for action in Action::ALL {
        let name = action.as_str();
        let Some((retention, ocsf, records)) = rows.get(name) else {
            problems.push(format!("{name} is missing"));
            continue;
        };
        let expected = action.retention_class().as_str();
        if retention != expected {
            problems.push(format!(
                "{name}: retention {retention}, the code says {expected}"
            ));
        }
        match classes.get(name) {
            Some(mapped) if *ocsf == mapped.join(" / ") => {}
            Some(mapped) => problems.push(format!(
                "{name}: OCSF {ocsf:?}, ocsf-mapping.md says {:?}",
                mapped.join(" / ")
            )),
            None => problems.push(format!("{name}: not in schemas/ocsf-mapping.md")),
        }
        if records.len() < 10 {
            problems.push(format!("{name}: says nothing about what it records"));
        }
    }
    for name in rows.keys() {
        if Action::parse(name).is_none() {
            problems.push(format!("{name} is not an action of the code"));
        }
    }
    assert!(problems.is_empty(), "docs/events.md: {problems:#?}");
    assert_eq!(rows.len(), Action::ALL.len());
}
