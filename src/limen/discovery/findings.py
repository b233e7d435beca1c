"""What a scan reports: findings (credentials in a place) and discovered agents."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DiscoveredAgent", "Finding", "SourceKind", "fingerprint", "redact"]

SourceKind = Literal["file", "git", "staged", "endpoint", "browser"]


def fingerprint(secret: str, *, key: bytes) -> str:
    """A keyed fingerprint of ``secret``: equal for equal secrets, useless without the key.

    HMAC rather than a plain hash because many secrets (passwords) are guessable: an
    unkeyed SHA-256 in a report would let anyone who reads it confirm a guess offline.
    """
    return hmac.new(key, secret.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def redact(secret: str) -> str:
    """A short, safe preview: a prefix long enough to recognise the key type, no more."""
    if len(secret) < 12:
        return "*" * 8
    shown = min(6, len(secret) // 5)
    return f"{secret[:shown]}…({len(secret)} chars)"


@dataclass(frozen=True, slots=True)
class Finding:
    """A credential found outside the vault, in one place."""

    rule_id: str
    provider: str
    description: str
    path: str
    line: int
    column: int
    secret: str = field(repr=False)
    fingerprint: str
    source: SourceKind = "file"
    commit: str | None = None
    author: str | None = None
    # File owner for files, commit author for git history: who most likely put it there.
    owner: str | None = None
    # ISO 8601: commit time for history, modification time for files.
    seen_at: str | None = None
    # Where inside the place, for places that are not plain files: browser, profile,
    # store and origin of a browser finding.
    detail: tuple[tuple[str, str], ...] = ()

    @property
    def redacted(self) -> str:
        """The secret, redacted for display."""
        return redact(self.secret)

    @property
    def location(self) -> str:
        """``path:line``, with the commit for history findings."""
        where = f"{self.path}:{self.line}"
        return f"{self.commit[:12]}:{where}" if self.commit else where


@dataclass(frozen=True, slots=True)
class DiscoveredAgent:
    """An AI agent or MCP server configured on this machine, secret or not.

    Each is an identity Limen should know about: something that acts with a human's
    credentials. ``env_names`` lists the variable names it is given, never their values.
    """

    name: str
    tool: str
    path: str
    command: str | None = None
    url: str | None = None
    env_names: tuple[str, ...] = ()
    owner: str | None = None
