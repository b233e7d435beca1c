"""Who is acting (the identity, the chain it acts on behalf of, how it reached us), what it
acts on, and the one question every operation asks before it acts (:class:`Authorizer`,
answered by :class:`limen.access.Guard`)."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Actor", "Authorizer", "Resource"]


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


@dataclass(frozen=True, slots=True)
class Resource:
    """What an operation acts on, as its event records it: ``type`` (``identity``,
    ``vault``, ``item``, ``policy``, …), ``id`` and ``name`` when it has them, and an
    item's ``vault`` id."""

    type: str
    id: str | None = None
    name: str | None = None
    vault: str | None = None


class Authorizer(Protocol):
    """May ``actor`` do ``action`` (one of ``limen.access.ACTIONS``) on ``resource``?

    Returns if so; otherwise records the refusal as a ``denied`` event and raises
    :class:`~limen.errors.Denied`. ``scopes`` replaces the scopes the action accepts
    (for scope grammars that depend on the resource, like the vault's).
    """

    def authorize(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> None: ...

    async def authorize_async(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> None: ...

    def allows(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> bool: ...

    def refusal(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> str | None:
        """Why :meth:`authorize` would refuse, or ``None``; nothing is recorded (for a
        caller that records the refusal in an event of its own)."""
        ...
