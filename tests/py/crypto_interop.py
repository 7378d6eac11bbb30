#!/usr/bin/env python3
"""Independent peer for tests/tests/e2e/crypto_interop.rs.

Reads one JSON object on stdin (secrets never go on the command line) with
values Cairn produced, checks each of them with independent implementations
(`cryptography` for HKDF, PyNaCl for XSalsa20-Poly1305 and Ed25519,
argon2-cffi for argon2id), and rebuilds every format from its documented
layout rather than from Cairn's code. Then it produces values of its own for
Cairn to check, and prints them as one JSON object on stdout.

Exit status 0 means every check passed; on the first failure it prints the
reason on stderr and exits with status 1.

Input:
  master_key    URL-safe base64 of the 32-byte master key
  sealed        {owner_id, stored, plaintext_hex}
  password      {phc, password_hex}
  fingerprint   {value_hex, fingerprint}
  checkpoint    {public_key_hex, key_id, seq, hash_hex, at_micros, signature_hex}

Output:
  checks        names of the checks that passed, in order
  sealed        {owner_id, stored, plaintext_hex}, sealed here with PyNaCl
  moved_stored  Cairn's sealed value with its owner id replaced (must not open)
  password      {phc, password_hex}, hashed here with argon2-cffi
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import uuid

import argon2
import nacl.exceptions
import nacl.secret
import nacl.signing
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"cairn/v1"
SEALED_RE = re.compile(r"^\$cairn\$1\$([0-9a-f-]{36})\$([A-Za-z0-9_-]+)$")
CHECKPOINT_DOMAIN = b"cairn/checkpoint/v1"
OWASP = {"type": argon2.Type.ID, "version": 19, "memory_cost": 19456, "time_cost": 2,
         "parallelism": 1, "hash_len": 32, "salt_len": 16}

passed = []


class CheckFailed(Exception):
    pass


def check(condition, name, detail=""):
    if not condition:
        raise CheckFailed(f"{name}: {detail}" if detail else name)
    passed.append(name)


def b64url_decode(text):
    if "=" in text:
        raise CheckFailed("base64 must be written without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def derive(master, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(master)


def owner_key(master, owner_id):
    return derive(master, b"secret-key:" + owner_id.encode("ascii"))


def parse_sealed(stored):
    match = SEALED_RE.match(stored)
    if match is None:
        raise CheckFailed("sealed value does not have the form $cairn$1$<owner_id>$<payload>")
    owner_id, payload = match.groups()
    if str(uuid.UUID(owner_id)) != owner_id:
        raise CheckFailed("owner id is not a hyphenated lowercase UUID")
    raw = b64url_decode(payload)
    if len(raw) < 24 + 16:
        raise CheckFailed(f"payload decodes to {len(raw)} bytes, fewer than 40")
    return owner_id, raw[:24], raw[24:]


def format_sealed(owner_id, nonce, ciphertext):
    return f"$cairn$1${owner_id}${b64url_encode(nonce + ciphertext)}"


def check_sealed(master, sealed):
    owner_id, nonce, ciphertext = parse_sealed(sealed["stored"])
    check(owner_id == sealed["owner_id"], "sealed.owner_id_in_value")
    plaintext = nacl.secret.SecretBox(owner_key(master, owner_id)).decrypt(ciphertext, nonce)
    check(plaintext == bytes.fromhex(sealed["plaintext_hex"]), "sealed.opens_with_pynacl")

    other_owner = str(uuid.uuid4())
    try:
        nacl.secret.SecretBox(owner_key(master, other_owner)).decrypt(ciphertext, nonce)
        moved_opens = True
    except nacl.exceptions.CryptoError:
        moved_opens = False
    check(not moved_opens, "sealed.moved_to_other_owner_does_not_open")

    tampered = bytearray(ciphertext)
    tampered[-1] ^= 1
    try:
        nacl.secret.SecretBox(owner_key(master, owner_id)).decrypt(bytes(tampered), nonce)
        tampered_opens = True
    except nacl.exceptions.CryptoError:
        tampered_opens = False
    check(not tampered_opens, "sealed.tampered_does_not_open")
    return format_sealed(other_owner, nonce, ciphertext)


def check_password(password):
    phc = password["phc"]
    secret = bytes.fromhex(password["password_hex"])
    params = argon2.extract_parameters(phc)
    for field, expected in OWASP.items():
        check(getattr(params, field) == expected, f"password.param_{field}",
              f"{getattr(params, field)!r} != {expected!r}")
    check(phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), "password.phc_prefix")
    check(argon2.PasswordHasher().verify(phc, secret) is True, "password.verifies_with_argon2_cffi")
    try:
        argon2.PasswordHasher().verify(phc, secret[:-1])
        wrong_verifies = True
    except argon2.exceptions.VerifyMismatchError:
        wrong_verifies = False
    check(not wrong_verifies, "password.truncated_password_does_not_verify")


def check_fingerprint(master, fingerprint):
    key = derive(master, b"audit-fingerprint")
    expected = "hmac-sha256:" + hmac.new(key, bytes.fromhex(fingerprint["value_hex"]), hashlib.sha256).hexdigest()
    check(fingerprint["fingerprint"] == expected, "fingerprint.matches_python_hmac")


def check_checkpoint(master, checkpoint):
    public_key = bytes.fromhex(checkpoint["public_key_hex"])
    # The public key must be the one derived from the master key.
    derived = bytes(nacl.signing.SigningKey(derive(master, b"checkpoint-signing")).verify_key)
    check(public_key == derived, "checkpoint.public_key_from_derived_seed")
    key_id = checkpoint["key_id"]
    check(key_id == hashlib.sha256(public_key).digest()[:8].hex(), "checkpoint.key_id")
    key_id_bytes = key_id.encode("ascii")
    message = (CHECKPOINT_DOMAIN + bytes([len(key_id_bytes)]) + key_id_bytes
               + checkpoint["seq"].to_bytes(8, "big")
               + bytes.fromhex(checkpoint["hash_hex"])
               + checkpoint["at_micros"].to_bytes(8, "big", signed=True))
    signature = bytes.fromhex(checkpoint["signature_hex"])
    verify_key = nacl.signing.VerifyKey(public_key)
    check(verify_key.verify(message, signature) == message, "checkpoint.signature_verifies_with_pynacl")
    altered = message[:-1] + bytes([message[-1] ^ 1])
    try:
        verify_key.verify(altered, signature)
        altered_verifies = True
    except nacl.exceptions.BadSignatureError:
        altered_verifies = False
    check(not altered_verifies, "checkpoint.altered_message_does_not_verify")


def produce(master):
    owner_id = str(uuid.uuid4())
    plaintext = "clé secrète ✓ 🔑 ".encode("utf-8") + os.urandom(48) + b"\x00\xff"
    nonce = os.urandom(24)
    ciphertext = nacl.secret.SecretBox(owner_key(master, owner_id)).encrypt(plaintext, nonce).ciphertext
    password = ("mot de passe — ünïcødé " + os.urandom(40).hex()).encode("utf-8")
    hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32,
                                   salt_len=16, type=argon2.Type.ID)
    return {
        "sealed": {"owner_id": owner_id, "stored": format_sealed(owner_id, nonce, ciphertext),
                   "plaintext_hex": plaintext.hex()},
        "password": {"phc": hasher.hash(password), "password_hex": password.hex()},
    }


def main():
    request = json.load(sys.stdin)
    master = b64url_decode(request["master_key"])
    check(len(master) == 32, "master_key.length", f"{len(master)} bytes")
    moved_stored = check_sealed(master, request["sealed"])
    check_password(request["password"])
    check_fingerprint(master, request["fingerprint"])
    check_checkpoint(master, request["checkpoint"])
    response = produce(master)
    response["moved_stored"] = moved_stored
    response["checks"] = passed
    json.dump(response, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"crypto_interop.py: check failed: {failure} (passed before it: {passed})", file=sys.stderr)
        sys.exit(1)
