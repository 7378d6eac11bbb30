#!/usr/bin/env python3
"""Independent JWT peer for tests/tests/e2e/tokens.rs.

Reads one JSON object on stdin (the signing secret never goes on the command
line), checks the real tokens Cairn issued with PyJWT, mints tokens from
their claims with PyJWT (and, where PyJWT refuses to, by hand), and prints
one JSON object on stdout.

Input:
  secret    the server's CAIRN_JWT_SECRET
  sources   {name: token}: real tokens Cairn issued
  verify    [name]: sources to verify with PyJWT exactly as a third party
            would (HS256 only, audience "cairn-api", issuer "cairn", exp,
            sub, iss, aud and nbf required)
  mint      [case]: tokens to mint. A case is
              name   the output name
              from   the source whose payload (read WITHOUT verification)
                     gives the claims
              key    "secret" (default) | "wrong" | "rsa" | "none" |
                     "none_no_dot" | "rsa_public_pem_as_hmac"
              alg    the header's alg for "secret" and "wrong" (default HS256)
              exp, nbf, iat   seconds relative to now (defaults +300, 0, 0);
                     the claims are re-timed so only the case's own flaw
                     can be what makes a token unacceptable
              set    {claim: value}: claims to overwrite, after timing
              drop   [claim]: claims to remove, last

Output:
  verified  {name: claims} for each verified source
  rejected_with_wrong_secret  [name]: sources PyJWT refuses under a wrong
            secret (so "verified" is not vacuous)
  tokens    {name: token}
"""

import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REQUIRED = ["exp", "sub", "iss", "aud", "nbf"]
WRONG_SECRET = "this-is-not-the-secret-of-the-server-0123456789"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header, payload):
    return (b64url(json.dumps(header, separators=(",", ":")).encode())
            + "." + b64url(json.dumps(payload, separators=(",", ":")).encode()))


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def verify(token, secret):
    return jwt.decode(token, secret, algorithms=["HS256"], audience="cairn-api",
                      issuer="cairn", options={"require": REQUIRED})


def main():
    spec = json.load(sys.stdin)
    secret = spec["secret"]
    sources = spec.get("sources", {})
    out = {"verified": {}, "rejected_with_wrong_secret": [], "tokens": {}}

    for name in spec.get("verify", []):
        token = sources[name]
        if jwt.get_unverified_header(token).get("alg") != "HS256":
            fail(f"{name}: header is not HS256: {jwt.get_unverified_header(token)}")
        out["verified"][name] = verify(token, secret)
        try:
            verify(token, WRONG_SECRET)
        except jwt.InvalidSignatureError:
            out["rejected_with_wrong_secret"].append(name)

    rsa_key = None
    now = int(time.time())
    for case in spec.get("mint", []):
        claims = jwt.decode(sources[case["from"]], options={"verify_signature": False})
        claims["iat"] = now + case.get("iat", 0)
        claims["nbf"] = now + case.get("nbf", 0)
        claims["exp"] = now + case.get("exp", 300)
        claims.update(case.get("set", {}))
        for claim in case.get("drop", []):
            claims.pop(claim, None)
        key = case.get("key", "secret")
        alg = case.get("alg", "HS256")
        if key in ("secret", "wrong"):
            token = jwt.encode(claims, secret if key == "secret" else WRONG_SECRET, algorithm=alg)
        elif key == "rsa":
            if rsa_key is None:
                rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            token = jwt.encode(claims, rsa_key, algorithm="RS256")
        elif key in ("none", "none_no_dot"):
            token = jwt.encode(claims, None, algorithm="none")
            if not token.endswith("."):
                fail(f"PyJWT's alg=none token does not end with a dot: {token}")
            if key == "none_no_dot":
                token = token[:-1]
        elif key == "rsa_public_pem_as_hmac":
            # The classic algorithm-confusion token: HS256 keyed with a
            # public key's PEM. PyJWT refuses to make it, so sign by hand.
            if rsa_key is None:
                rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            signing_input = compact({"alg": "HS256", "typ": "JWT"}, claims)
            mac = hmac.new(pem, signing_input.encode("ascii"), hashlib.sha256).digest()
            token = signing_input + "." + b64url(mac)
        else:
            fail(f"unknown key kind {key!r}")
        header_segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4)))
        expected = {"rsa": "RS256", "none": "none", "none_no_dot": "none",
                    "rsa_public_pem_as_hmac": "HS256"}.get(key, alg)
        if header.get("alg") != expected:
            fail(f"{case['name']}: unexpected header {header}")
        out["tokens"][case["name"]] = token

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
