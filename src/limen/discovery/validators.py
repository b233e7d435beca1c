"""Named validators: structural checks that turn a pattern match into a credential.

A rule names at most one validator. Each takes the candidate secret and the blob it was
found in and answers whether it is the real thing. None of them contacts a provider:
validation here is offline, so a scan never leaks a credential by trying it.

- ``github-checksum``: GitHub's token format ends in a CRC32 of the random part in six
  base62 digits (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/).
- ``jwt``: three base64url parts whose first two decode to JSON objects, the header
  naming an ``alg`` (RFC 7519 §3, RFC 7515 §7.1).
- ``pem-private-key``: the PEM block parses as an unencrypted private key (RFC 7468).
- ``aws-pair``: an AWS secret access key only counts when an access key id sits in the
  same blob, since 40 base64 characters alone are everywhere.
- ``gcp-service-account``: the blob is a service-account JSON document.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable
from typing import Final

__all__ = ["VALIDATORS", "github_checksum"]

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def github_checksum(body: str) -> str:
    """The six-character base62 CRC32 checksum GitHub appends to a token's random part."""
    value = zlib.crc32(body.encode("ascii"))
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = _BASE62[rem] + digits
    return digits.rjust(6, "0")


def _github(secret: str, blob: bytes) -> bool:
    payload = secret.rsplit("_", 1)[-1]
    if len(payload) != 36 or not payload.isascii() or not payload.isalnum():
        return False
    return github_checksum(payload[:30]) == payload[30:]


def _b64url_json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def _jwt(secret: str, blob: bytes) -> bool:
    parts = secret.split(".")
    if len(parts) != 3:
        return False
    try:
        header = _b64url_json(parts[0])
        claims = _b64url_json(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header and isinstance(claims, dict)


def _pem(secret: str, blob: bytes) -> bool:
    from cryptography.hazmat.primitives import serialization

    text = secret.replace("\\n", "\n").encode("ascii", "ignore")
    try:
        if b"OPENSSH PRIVATE KEY" in text:
            serialization.load_ssh_private_key(text, password=None)
        else:
            # Skipping RSA's expensive consistency check is fine: we only need to know
            # the block is a real, unencrypted key, not that it is safe to use.
            serialization.load_pem_private_key(
                text, password=None, unsafe_skip_rsa_key_validation=True
            )
    except (ValueError, TypeError):
        # TypeError: the key is encrypted. An encrypted key is not an exposed secret.
        return False
    except Exception:  # the crypto backend raises assorted types on junk input
        return False
    return True


_AWS_KEY_ID: Final = re.compile(rb"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b")


def _aws_pair(secret: str, blob: bytes) -> bool:
    return any(b"EXAMPLE" not in m.group(0) for m in _AWS_KEY_ID.finditer(blob))


def _gcp_service_account(secret: str, blob: bytes) -> bool:
    return re.search(rb'"type"\s*:\s*"service_account"', blob) is not None


VALIDATORS: Final[dict[str, Callable[[str, bytes], bool]]] = {
    "github-checksum": _github,
    "jwt": _jwt,
    "pem-private-key": _pem,
    "aws-pair": _aws_pair,
    "gcp-service-account": _gcp_service_account,
}
"""Validator name (as used in rule files) to function ``(secret, blob) -> bool``."""
