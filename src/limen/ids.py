"""Identifiers: 26 lowercase base32 characters carrying 128 random bits.

The same shape 1Password Connect uses for vault and item ids, so one id format serves
every surface.
"""

from __future__ import annotations

import base64
import secrets

__all__ = ["is_id", "new_id"]

_ALPHABET = set("abcdefghijklmnopqrstuvwxyz234567")


def new_id() -> str:
    """Return a fresh random id (26 lowercase base32 characters)."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def is_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of an id made by :func:`new_id`."""
    return len(value) == 26 and set(value) <= _ALPHABET
