//! Erasure at the log level: after a subject key is deleted, `cairn events
//! dump` shows that subject's personal fields as erased (and nothing of
//! them), another subject's stay readable, and `cairn audit verify` still
//! exits 0.

use std::sync::Arc;

use cairn_core::crypto::MasterKey;
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, PersonalData, ResourceRef,
};
use uuid::Uuid;

use crate::support::{cairn, run, test_master_key, texts};

#[test]
fn an_erased_subject_reads_as_erased_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = test_master_key(0x42);
    let master = MasterKey::parse(&key).expect("key");
    let alice = Uuid::from_u128(0xA11CE);
    let bob = Uuid::from_u128(0xB0B);
    let alice_name = "alice-canary-5f1e9";
    let alice_ip = "203.0.113.77";
    {
        let config = LogConfig {
            dir: dir.path().to_path_buf(),
            create: true,
            cadence: Default::default(),
        };
        let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
            .expect("open");
        for n in 0..6u64 {
            let event = NewEvent::new(
                Action::HttpRequest,
                ActorRef {
                    kind: ActorKind::User,
                    id: Some(if n % 2 == 0 { alice } else { bob }),
                },
                ResourceRef::SYSTEM,
                Outcome::Success,
            )
            .with_payload(EventPayload::HttpRequest(HttpRequest {
                method: "GET".into(),
                path: format!("/n/{n}"),
                status: 200,
                duration_micros: n,
            }))
            .with_personal(
                alice,
                PersonalData {
                    name: Some(alice_name.into()),
                    ip: Some(alice_ip.into()),
                    ..PersonalData::default()
                },
            )
            .with_personal(
                bob,
                PersonalData {
                    name: Some("bob".into()),
                    ..PersonalData::default()
                },
            );
            log.append(vec![event]).expect("append");
        }
        log.wait_durable(6).expect("durable");

        // Before erasure, the dump shows alice.
        drop(log);
        let before = dump(&dir, &key, false);
        assert!(before.contains(alice_name));
        let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
            .expect("open");
        assert!(log.erase_subject(alice).expect("erase"));
    }

    let after = dump(&dir, &key, false);
    assert!(
        !after.contains(alice_name) && !after.contains(alice_ip),
        "alice's data must be gone: {after}"
    );
    for line in after.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("json");
        let personal = event["personal"].as_array().expect("personal");
        assert_eq!(personal.len(), 2);
        assert_eq!(personal[0]["subject"], alice.to_string());
        assert_eq!(personal[0]["erased"], true);
        assert!(personal[0].get("name").is_none());
        assert_eq!(personal[1]["name"], "bob");
    }
    let raw = dump(&dir, &key, true);
    assert!(
        raw.contains("\"ciphertext\"") && !raw.contains(alice_name),
        "raw keeps the sealed bytes only"
    );

    let mut command = cairn(dir.path());
    command
        .args(["audit", "verify"])
        .env("CAIRN_MASTER_KEY", &key);
    let output = run(command);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
}

fn dump(dir: &tempfile::TempDir, key: &str, raw: bool) -> String {
    crate::support::events_dump(dir.path(), key, raw)
}
