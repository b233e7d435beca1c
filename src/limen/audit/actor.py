"""Who is acting: the identity, the chain it acts on behalf of, and how it reached us."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Actor"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind a request, as every event records it.

    ``delegation`` is the ``act`` chain: the identities on whose behalf ``identity_id``
    acts, nearest first, each ``{"id", "kind", "name"}``.
    """

    kind: str
    name: str
    identity_id: str | None = None
    delegation: tuple[dict[str, Any], ...] = ()
    token_id: str | None = None
    scopes: frozenset[str] = frozenset()
    channel: str = "api"
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def operator(cls) -> Actor:
        """An operator running the CLI on the server host, with full rights."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(kind="operator", name=f"cli:{user}", scopes=frozenset({"*"}), channel="cli")

    @classmethod
    def system(cls, name: str = "limen") -> Actor:
        """Limen itself (start-up, scheduled work)."""
        return cls(kind="system", name=name, scopes=frozenset({"*"}), channel="system")

    def has_scope(self, scope: str) -> bool:
        """True if the actor's grant covers ``scope`` (``*`` and ``family:*`` cover more)."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        family = scope.split(":", 1)[0]
        return f"{family}:*" in self.scopes
