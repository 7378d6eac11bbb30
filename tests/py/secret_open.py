"""Opens a secret value Cairn stored, independently: the key is derived
from the master key and the owner id with HKDF-SHA256 (`cryptography`) and
the value opened with XSalsa20-Poly1305 (PyNaCl), as docs/contract.md section 5
specifies. The same ciphertext moved to another owner's id must not open.

Reads {"master_key", "sealed": {"stored", "owner_id", "plaintext_hex"}} as
JSON on stdin; writes {"checks": [...], "moved_stored": "..."}.
"""

import json
import sys

from crypto_interop import CheckFailed, b64url_decode, check, check_sealed, passed


def main():
    request = json.load(sys.stdin)
    master = b64url_decode(request["master_key"])
    check(len(master) == 32, "master_key.length", f"{len(master)} bytes")
    moved_stored = check_sealed(master, request["sealed"])
    json.dump({"checks": passed, "moved_stored": moved_stored}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"secret_open.py: check failed: {failure} (passed before it: {passed})", file=sys.stderr)
        sys.exit(1)
