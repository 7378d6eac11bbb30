//! Crypto interop: Cairn's sealed values, password hashes, fingerprints and
//! checkpoint signatures are checked by independent implementations (Python
//! `cryptography`, PyNaCl, argon2-cffi) in tests/py/crypto_interop.py, and
//! values those implementations produce are opened and verified by Cairn.
//! Agreement with a second implementation is what shows that the formats
//! are the documented ones and not just self-consistent.

use cairn_core::crypto::{
    CheckpointSigner, Fingerprinter, MasterKey, SealedValueError, hash_password, open_value,
    parse_sealed, seal_value, verify_checkpoint, verify_password,
};
use cairn_core::entropy::{OsEntropy, SeededEntropy, random_array};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support;

/// The seed of this run: `$CAIRN_TEST_SEED`, or a fresh one. Printed so a
/// failure can be reproduced (Python's own values are random each run and
/// appear in the failure message instead).
fn seed() -> u64 {
    let seed = match std::env::var("CAIRN_TEST_SEED") {
        Ok(text) => text.parse().expect("CAIRN_TEST_SEED must be a u64"),
        Err(_) => u64::from_le_bytes(random_array(&OsEntropy)),
    };
    println!("crypto_interop seed = {seed} (rerun with CAIRN_TEST_SEED={seed})");
    seed
}

/// Runs the Python peer with `request` on stdin and returns its JSON answer.
fn run_peer(request: &Value) -> Value {
    support::run_python_peer("crypto_interop.py", request)
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {pointer} in {value}"))
}

fn bytes(value: &Value, pointer: &str) -> Vec<u8> {
    hex::decode(text(value, pointer))
        .unwrap_or_else(|error| panic!("{pointer} is not hex: {error}"))
}

#[test]
fn rust_and_python_agree_both_ways() {
    let entropy = SeededEntropy::new(seed());
    let master = MasterKey::generate(&entropy);

    // Rust -> Python: a sealed value with non-ASCII and binary bytes.
    let owner_id = uuid::Builder::from_random_bytes(random_array(&entropy)).into_uuid();
    let mut plaintext = "sécret ✓ 🔑 ".as_bytes().to_vec();
    plaintext.extend_from_slice(&random_array::<32>(&entropy));
    plaintext.extend_from_slice(&[0x00, 0xff, 0x80]);
    let stored = seal_value(&master, owner_id, &plaintext, &entropy);

    // A long non-ASCII password: the peer also checks it is not truncated.
    let password = format!("pässwörd ✓ {}", hex::encode(random_array::<48>(&entropy)));
    let phc = hash_password(password.as_bytes(), &entropy).expect("hash password");

    let fingerprinted = random_array::<20>(&entropy);
    let fingerprint = Fingerprinter::new(&master).fingerprint(&fingerprinted);

    let signer = CheckpointSigner::new(&master);
    let seq = u64::from_le_bytes(random_array(&entropy));
    let hash = random_array::<32>(&entropy);
    let at_micros = 1_700_000_000_000_000 + i64::from(u32::from_le_bytes(random_array(&entropy)));
    let signature = signer.sign_checkpoint(seq, &hash, at_micros);
    verify_checkpoint(
        &signer.public_key(),
        &signer.key_id(),
        seq,
        &hash,
        at_micros,
        &signature,
    )
    .expect("own signature verifies");

    let request = json!({
        "master_key": master.to_base64().as_str(),
        "sealed": {
            "owner_id": owner_id.hyphenated().to_string(),
            "stored": stored,
            "plaintext_hex": hex::encode(&plaintext),
        },
        "password": { "phc": phc, "password_hex": hex::encode(password.as_bytes()) },
        "fingerprint": { "value_hex": hex::encode(fingerprinted), "fingerprint": fingerprint },
        "checkpoint": {
            "public_key_hex": hex::encode(signer.public_key()),
            "key_id": signer.key_id(),
            "seq": seq,
            "hash_hex": hex::encode(hash),
            "at_micros": at_micros,
            "signature_hex": hex::encode(signature),
        },
    });
    let answer = run_peer(&request);

    let checks: Vec<&str> = answer["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "sealed.opens_with_pynacl",
        "sealed.moved_to_other_owner_does_not_open",
        "password.param_memory_cost",
        "password.verifies_with_argon2_cffi",
        "password.truncated_password_does_not_verify",
        "fingerprint.matches_python_hmac",
        "checkpoint.signature_verifies_with_pynacl",
    ] {
        assert!(
            checks.contains(&expected),
            "the peer did not run {expected}: {checks:?}"
        );
    }

    // The value moved to another owner by the peer does not open here either.
    let moved = text(&answer, "/moved_stored");
    assert_ne!(
        parse_sealed(moved).expect("moved value parses").owner_id,
        owner_id
    );
    assert_eq!(
        open_value(&master, moved),
        Err(SealedValueError::DoesNotOpen)
    );

    // Python -> Rust: a value sealed with PyNaCl under the key derived by
    // `cryptography`, in the format rebuilt from its documentation.
    let python_stored = text(&answer, "/sealed/stored");
    let parsed = parse_sealed(python_stored).expect("python's sealed value parses");
    assert_eq!(
        parsed.owner_id,
        Uuid::parse_str(text(&answer, "/sealed/owner_id")).expect("owner id")
    );
    assert_eq!(parsed.to_stored(), python_stored, "one spelling per value");
    let opened = open_value(&master, python_stored).expect("python's sealed value opens");
    assert_eq!(
        opened.as_slice(),
        bytes(&answer, "/sealed/plaintext_hex").as_slice()
    );
    assert!(open_value(&MasterKey::generate(&OsEntropy), python_stored).is_err());

    // Python -> Rust: an argon2-cffi hash with the same parameters.
    let python_phc = text(&answer, "/password/phc");
    let python_password = bytes(&answer, "/password/password_hex");
    assert!(
        python_phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{python_phc}"
    );
    assert_eq!(verify_password(&python_password, python_phc), Ok(true));
    assert_eq!(
        verify_password(&python_password[..python_password.len() - 1], python_phc),
        Ok(false)
    );
    assert_eq!(verify_password(b"not the password", python_phc), Ok(false));
}
