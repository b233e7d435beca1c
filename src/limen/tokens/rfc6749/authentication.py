"""Which client credentials a token request carries (RFC 6749 §2.3, RFC 7523 §2.2).

https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus

from limen.tokens.clients import ClientCredentials
from limen.tokens.errors import InvalidClient, InvalidRequest

__all__ = ["credentials_from"]


def credentials_from(
    authorization: str | None, form: Mapping[str, Sequence[str]]
) -> ClientCredentials:
    """Read client credentials from the Authorization header or the form body.

    RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    request." Basic credentials are form-urlencoded before base64 (§2.3.1).
    """
    has_basic = bool(authorization) and authorization.split(" ", 1)[0].lower() == "basic"
    has_post = "client_secret" in form
    has_assertion = "client_assertion" in form
    if has_basic + has_post + has_assertion > 1:
        raise InvalidRequest("use exactly one client authentication method")
    client_id = _one(form, "client_id")
    if has_basic:
        try:
            decoded = base64.b64decode(authorization.split(" ", 1)[1].strip(), validate=True)
            user, sep, password = decoded.decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, IndexError):
            raise InvalidClient("client authentication failed") from None
        if not sep:
            raise InvalidClient("client authentication failed")
        basic_id = unquote_plus(user)
        if client_id is not None and client_id != basic_id:
            raise InvalidRequest("client_id in the body differs from the Authorization header")
        return ClientCredentials(
            client_id=basic_id, client_secret=unquote_plus(password), method="client_secret_basic"
        )
    if has_post:
        return ClientCredentials(
            client_id=client_id,
            client_secret=_one(form, "client_secret"),
            method="client_secret_post",
        )
    if has_assertion:
        return ClientCredentials(
            client_id=client_id,
            client_assertion=_one(form, "client_assertion"),
            client_assertion_type=_one(form, "client_assertion_type"),
            method="private_key_jwt",
        )
    raise InvalidClient("client authentication is required")


def _one(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    """A parameter that may appear at most once (RFC 6749 §3.2)."""
    values = form.get(name) or ()
    if len(values) > 1:
        raise InvalidRequest(f"{name} must not be repeated")
    return values[0] if values else None
