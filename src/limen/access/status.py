"""A live in-memory view of who may still act: identity status, revoked tokens and clients.

Every decision and every token check reads status from here, in microseconds. The view
is kept exact, not merely fresh:

- on this node, producers publish ``identity.status``, ``token.revoked`` and
  ``oauth.client.revoked`` inside their unit of work; the broadcaster calls us right
  after the commit, before the producer's HTTP response leaves;
- on other nodes sharing PostgreSQL, the same messages arrive through LISTEN/NOTIFY
  (and a re-read every few seconds covers messages lost while that connection was down);
- on SQLite, another *process* (the CLI suspending an identity while ``limen server``
  runs) cannot notify us, so each read first asks SQLite whether anyone committed since
  we last looked (``PRAGMA data_version``, a few microseconds) and, if so, replays the
  status-relevant events written since. Nothing can change status without an event in
  the same transaction, so replaying events is complete.

Identity rows are cached on first use and dropped on any status message for them, so the
next read goes back to the database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from limen.store import Database, Lookup
from limen.store.models import Event, Identity, OAuthClient, RevokedToken, utcnow

__all__ = [
    "CLIENT_REVOKED_TOPIC",
    "IDENTITY_CHANGED_TOPIC",
    "IDENTITY_STATUS_TOPIC",
    "POLICIES_TOPIC",
    "TOKEN_REVOKED_TOPIC",
    "IdentityInfo",
    "StatusView",
]

IDENTITY_STATUS_TOPIC: Final = "identity.status"
IDENTITY_CHANGED_TOPIC: Final = "identity.changed"
"""Publish ``{"id"}`` after changing an identity's roles, owner or attributes (risk)."""
TOKEN_REVOKED_TOPIC: Final = "token.revoked"  # noqa: S105 - a topic name
CLIENT_REVOKED_TOPIC: Final = "oauth.client.revoked"
POLICIES_TOPIC: Final = "access.policies"

Listener = Callable[[str, str | None], None]
"""``(topic, id)``: called after the view changed."""


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    """What decisions need to know about an identity."""

    id: str
    kind: str
    name: str
    status: str
    owner_id: str | None
    roles: tuple[str, ...]
    attributes: dict[str, Any]

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class StatusView:
    """Identity status, revoked token ids and revoked client ids, exact on every node."""

    def __init__(self, db: Database, *, backstop: timedelta = timedelta(seconds=5)) -> None:
        self._db = db
        self._lock = threading.RLock()
        self._identities: dict[str, IdentityInfo | None] = {}
        self._generation: dict[str, int] = {}
        self._revoked: dict[str, datetime | None] = {}
        self._revoked_clients: set[str] = set()
        self._listeners: list[Listener] = []
        self._last_seq = 0
        self._sqlite: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._backstop = backstop.total_seconds()
        self._next_backstop = time.monotonic() + self._backstop
        self._backstop_lock = threading.Lock()
        self._backstop_from = utcnow()
        self.version = 0
        """Bumped on every change; decision caches key on it."""
        broadcaster = db.broadcaster
        broadcaster.subscribe(IDENTITY_STATUS_TOPIC, self._on_identity)
        broadcaster.subscribe(IDENTITY_CHANGED_TOPIC, self._on_identity)
        broadcaster.subscribe(TOKEN_REVOKED_TOPIC, self._on_token)
        broadcaster.subscribe(CLIENT_REVOKED_TOPIC, self._on_client)
        broadcaster.subscribe(POLICIES_TOPIC, self._on_policies)
        if db.backend == "sqlite":
            database = make_url(db.url).database
            if database and database != ":memory:":
                self._sqlite = sqlite3.connect(database, check_same_thread=False)
        self._load()

    def close(self) -> None:
        broadcaster = self._db.broadcaster
        broadcaster.unsubscribe(IDENTITY_STATUS_TOPIC, self._on_identity)
        broadcaster.unsubscribe(IDENTITY_CHANGED_TOPIC, self._on_identity)
        broadcaster.unsubscribe(TOKEN_REVOKED_TOPIC, self._on_token)
        broadcaster.unsubscribe(CLIENT_REVOKED_TOPIC, self._on_client)
        broadcaster.unsubscribe(POLICIES_TOPIC, self._on_policies)
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- reads ---------------------------------------------------------------------

    def identity(self, identity_id: str) -> IdentityInfo | None:
        """The identity as of now, or ``None`` if there is no such identity."""
        self._sync()
        return self.identity_synced(identity_id)

    def sync(self) -> None:
        """Catch up with changes made elsewhere; then ``*_synced`` reads are current."""
        self._sync()

    def identity_synced(self, identity_id: str) -> IdentityInfo | None:
        """:meth:`identity` without catching up first: call :meth:`sync` once before a
        run of reads that make up one decision."""
        with self._lock:
            if identity_id in self._identities:
                return self._identities[identity_id]
            generation = self._generation.get(identity_id, 0)
        # A decision waits on this read (the first after a status change): one lookup, with
        # no transaction round trips around it.
        with self._db.reading() as reader:
            row = _IDENTITY.first(reader, id=identity_id)
        info = _info(row) if row is not None else None
        with self._lock:
            # A status message that arrived while we were reading wins over our read.
            if self._generation.get(identity_id, 0) == generation:
                self._identities[identity_id] = info
        return info

    def is_token_revoked(self, jti: str) -> bool:
        self._sync()
        return jti in self._revoked

    def is_token_revoked_synced(self, jti: str) -> bool:
        return jti in self._revoked

    def is_client_revoked(self, client_id: str) -> bool:
        self._sync()
        return client_id in self._revoked_clients

    def is_client_revoked_synced(self, client_id: str) -> bool:
        return client_id in self._revoked_clients

    # -- changes -------------------------------------------------------------------

    def _load(self) -> None:
        now = utcnow()
        with self._db.unit_of_work(readonly=True) as uow:
            session = uow.session
            self._last_seq = session.scalar(sa.select(sa.func.max(Event.seq))) or 0
            revoked = dict(
                session.execute(
                    sa.select(RevokedToken.jti, RevokedToken.expires_at).where(
                        RevokedToken.expires_at > now
                    )
                ).all()
            )
            clients = set(
                session.scalars(
                    sa.select(OAuthClient.client_id).where(OAuthClient.revoked_at.is_not(None))
                )
            )
        with self._lock:
            self._revoked.update(revoked)
            self._revoked_clients |= clients
            self._data_version = self._read_data_version()

    def _read_data_version(self) -> int | None:
        if self._sqlite is None:
            return None
        return int(self._sqlite.execute("PRAGMA data_version").fetchone()[0])

    def _sync(self) -> None:
        if time.monotonic() >= self._next_backstop:
            if self._sqlite is None:
                self._reread()
                return
            self._next_backstop = time.monotonic() + self._backstop
            self.prune()
        if self._sqlite is None:
            return
        with self._lock:
            version = self._read_data_version()
            if version == self._data_version:
                return
            self._data_version = version
            last = self._last_seq
            # Read on the view's own connection, without a pooled session's overhead on this
            # hot path. The top first: a commit after it changes data_version again, so the
            # next read catches it (SQLite commits one writer at a time, in seq order).
            top = self._sqlite.execute(
                "SELECT coalesce(max(seq), ?) FROM events", (last,)
            ).fetchone()[0]
            rows = self._sqlite.execute(
                "SELECT seq, action, resource_id FROM events WHERE seq > ? AND seq <= ? AND ("
                "action LIKE 'identity.%' OR action LIKE 'policy.%' "
                "OR action IN ('token.revoke', 'oauth.client.revoke')) ORDER BY seq",
                (last, top),
            ).fetchall()
            self._last_seq = max(self._last_seq, top)
        for _seq, action, resource_id in rows:
            if action.startswith("identity."):
                self._forget(resource_id)
            elif action == "token.revoke" and resource_id:
                self._revoke(resource_id, None)
            elif action == "oauth.client.revoke" and resource_id:
                with self._lock:
                    self._revoked_clients.add(resource_id)
                self._changed(CLIENT_REVOKED_TOPIC, resource_id)
            elif action.startswith("policy."):
                self._changed(POLICIES_TOPIC, None)

    def _forget(self, identity_id: str | None) -> None:
        if not identity_id:
            return
        with self._lock:
            self._identities.pop(identity_id, None)
            self._generation[identity_id] = self._generation.get(identity_id, 0) + 1
        self._changed(IDENTITY_STATUS_TOPIC, identity_id)

    def _revoke(self, jti: str, expires_at: datetime | None) -> None:
        with self._lock:
            self._revoked[jti] = expires_at
        self._changed(TOKEN_REVOKED_TOPIC, jti)

    def _changed(self, topic: str, ident: str | None) -> None:
        with self._lock:
            self.version += 1
        for listener in list(self._listeners):
            listener(topic, ident)

    def _reread(self) -> None:
        """Backstop for PostgreSQL: re-read what NOTIFY should have told us.

        NOTIFY is exact while the LISTEN connection is up; if it drops (a database
        restart, a network cut) the messages sent meanwhile are gone. So every few
        seconds the view forgets cached identities and picks up revocations recorded
        since shortly before the last pass. This bounds how long a lost message can
        matter; it is not how changes normally arrive.
        """
        if not self._backstop_lock.acquire(blocking=False):
            return
        try:
            self._next_backstop = time.monotonic() + self._backstop
            since = self._backstop_from - timedelta(seconds=30)
            started = utcnow()
            with self._db.unit_of_work(readonly=True) as uow:
                revoked = dict(
                    uow.session.execute(
                        sa.select(RevokedToken.jti, RevokedToken.expires_at).where(
                            RevokedToken.revoked_at >= since
                        )
                    ).all()
                )
                clients = set(
                    uow.session.scalars(
                        sa.select(OAuthClient.client_id).where(OAuthClient.revoked_at >= since)
                    )
                )
            with self._lock:
                new_tokens = set(revoked) - set(self._revoked)
                new_clients = clients - self._revoked_clients
                self._revoked.update(revoked)
                self._revoked_clients |= clients
                for identity_id in self._identities:
                    self._generation[identity_id] = self._generation.get(identity_id, 0) + 1
                self._identities.clear()
                self._backstop_from = started
            self.prune()
            if new_tokens or new_clients:
                self._changed(TOKEN_REVOKED_TOPIC, None)
            # Decisions cached from identity rows must go too; one notice clears them.
            self._changed(IDENTITY_STATUS_TOPIC, None)
        finally:
            self._backstop_lock.release()

    def prune(self, *, now: datetime | None = None) -> None:
        """Forget revocations of tokens that have expired anyway."""
        now = now or utcnow()
        with self._lock:
            for jti in [j for j, exp in self._revoked.items() if exp is not None and exp <= now]:
                del self._revoked[jti]

    def _on_identity(self, payload: Any) -> None:
        self._forget(_id_of(payload))

    def _on_token(self, payload: Any) -> None:
        jti = _id_of(payload)
        if jti:
            expires = payload.get("exp") if isinstance(payload, dict) else None
            when = datetime.fromisoformat(expires) if isinstance(expires, str) else None
            self._revoke(jti, when)

    def _on_client(self, payload: Any) -> None:
        client_id = _id_of(payload)
        if client_id:
            with self._lock:
                self._revoked_clients.add(client_id)
            self._changed(CLIENT_REVOKED_TOPIC, client_id)

    def _on_policies(self, _payload: Any) -> None:
        self._changed(POLICIES_TOPIC, None)

    def known_identities(self) -> Iterable[str]:
        with self._lock:
            return list(self._identities)


def _id_of(payload: Any) -> str | None:
    if isinstance(payload, dict):
        value = payload.get("id")
        return str(value) if value else None
    return None


_IDENTITY: Final = Lookup(
    sa.select(
        Identity.id,
        Identity.kind,
        Identity.name,
        Identity.status,
        Identity.owner_id,
        Identity.roles,
        Identity.attributes,
    ).where(Identity.id == sa.bindparam("id"))
)


def _info(row: Any) -> IdentityInfo:
    """The view of an :class:`Identity`, or of a row with its columns."""
    return IdentityInfo(
        id=row.id,
        kind=str(row.kind),
        name=row.name,
        status=str(row.status),
        owner_id=row.owner_id,
        roles=tuple(row.roles or ()),
        attributes=dict(row.attributes or {}),
    )
