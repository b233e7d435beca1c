"""Offline validators: checksums, structure and key parsing."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from limen.discovery.validators import VALIDATORS, github_checksum


def test_github_checksum_accepts_real_format_and_rejects_a_flipped_character(
    secret: Callable[[str], str],
) -> None:
    token = secret("ghp_$[github-token]")
    assert VALIDATORS["github-checksum"](token, b"")
    body = token[4:34]
    assert token.endswith(github_checksum(body))
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert not VALIDATORS["github-checksum"](flipped, b"")


def test_jwt_structure(secret: Callable[[str], str]) -> None:
    assert VALIDATORS["jwt"](secret("$[jwt]"), b"")
    assert not VALIDATORS["jwt"](
        secret("eyJ$[base64url:30].eyJ$[base64url:30].$[base64url:30]"), b""
    )
    assert not VALIDATORS["jwt"]("a.b", b"")


def test_pem_validator_parses_keys_and_rejects_encrypted_or_junk(secret) -> None:
    assert VALIDATORS["pem-private-key"](secret("$[pem]"), b"")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert VALIDATORS["pem-private-key"](pem, b"")
    openssh = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert VALIDATORS["pem-private-key"](openssh, b"")
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse battery"),
    ).decode()
    assert not VALIDATORS["pem-private-key"](encrypted, b"")
    junk = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
    assert not VALIDATORS["pem-private-key"](junk, b"")


def test_aws_pair_needs_a_real_key_id_in_the_blob(secret) -> None:
    key_id = secret("AKIA$[base32:16]")
    assert VALIDATORS["aws-pair"]("x", f"id={key_id}".encode())
    assert not VALIDATORS["aws-pair"]("x", b"id=AKIAIOSFODNN7EXAMPLE")
