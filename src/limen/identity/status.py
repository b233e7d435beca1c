"""Who may act right now: the one place an identity's standing is read from.

Every credential check (JWT, opaque token, OAuth client, partner client, SSF receiver),
every decision and every guard asks :meth:`StatusView.refusal`. It answers from memory,
with no database work: the view holds every identity's status, owner, roles, attributes
and token cut-off, the partner registrations, the engaged kill switches, and the revoked
tokens and clients.

It is kept current by change notices, which a session hook (:func:`_collect_changes`)
publishes for every unit of work that writes a status-bearing row, so no writer has to
remember to:

- on the process that made the change, right after the commit, before that change's
  own answer leaves;
- on every other process (PostgreSQL nodes, or commands beside a SQLite server) through
  the store's change feed, within a few milliseconds.

The feed also says how current the view is. A view that has not heard from the feed
within :data:`MAX_STALENESS` seconds (the database or the link to it is down) refuses
every credential and permit with ``stale`` rather than trust what it last knew; when the
feed comes back the view re-reads everything before it counts as current again.

A credential issued at moment *t* for a chain of identities (the current actor, then
whoever it acts for) is honoured only if, for each of them **and each one's owner**: the
identity exists, is ``active``, and *t* is not before its ``tokens_valid_after`` cut-off;
and the token itself and its client are not revoked. (A kill switch suspends the
identities it covers, and an identity created while one is engaged starts suspended, so
its hold is their status.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session, UOWTransaction

from limen.store import Database, UnitOfWork
from limen.store.models import (
    ApiToken,
    Containment,
    Identity,
    OAuthClient,
    Partner,
    Policy,
    RevokedToken,
    utcnow,
)

__all__ = [
    "CATCH_UP_SECONDS",
    "CLIENT_REVOKED_TOPIC",
    "IDENTITY_CHANGED_TOPIC",
    "KILL_SWITCH_TOPIC",
    "MAX_STALENESS",
    "POLICIES_TOPIC",
    "TOKEN_REVOKED_TOPIC",
    "IdentityInfo",
    "StatusView",
    "token_date",
]

IDENTITY_CHANGED_TOPIC: Final = "identity.changed"
"""``{"ids": {id: change, …}}``: these identities' rows (or partner registrations) changed.
A change says the new ``status``, ``tokens_valid_after`` and ``owner_id`` when the
transaction wrote them (a receiver applies those at once) and ``reload: true`` when
anything else changed (the receiver re-reads the row)."""
TOKEN_REVOKED_TOPIC: Final = "token.revoked"  # noqa: S105 - a topic name
"""``{"ids": {token id or jti: expiry or null, …}}``."""
CLIENT_REVOKED_TOPIC: Final = "oauth.client.revoked"
KILL_SWITCH_TOPIC: Final = "respond.killswitch"
POLICIES_TOPIC: Final = "access.policies"

MAX_STALENESS: Final = 0.25
"""Seconds: a change committed anywhere is enforced here at most this long after."""
CATCH_UP_SECONDS: Final = 0.5
"""How long a request waits for a view that is catching up (its feed reconnecting and
re-reading every identity) before it is refused as ``stale``: a catch-up takes tens of
milliseconds, a few hundred on a loaded machine (``benchmarks/faults.py``)."""

Listener = Callable[[str, str | None], None]
"""``(topic, id)``: called after the view changed (``id`` ``None``: possibly anything)."""


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    """What decisions and credential checks need to know about an identity."""

    id: str
    kind: str
    name: str
    status: str
    owner_id: str | None
    roles: tuple[str, ...]
    attributes: dict[str, Any] = field(hash=False, compare=True)
    email: str | None = None
    tokens_valid_after: float | None = None
    """The cut-off as a POSIX timestamp."""
    partner: bool = False

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class _Switch:
    containment_id: str
    engaged_by_id: str | None


class StatusView:
    """The live standing of every identity, token and client, current within a bound."""

    def __init__(self, db: Database, *, max_staleness: float = MAX_STALENESS) -> None:
        self._db = db
        self._max_staleness = max_staleness
        self._lock = threading.RLock()
        self._identities: dict[str, IdentityInfo] = {}
        self._names: dict[str, str] = {}
        self._applied: dict[str, int] = {}
        self._tickets = itertools.count(1)
        self._revoked: dict[str, float | None] = {}
        self._revoked_clients: set[str] = set()
        self._switches: dict[str, _Switch] = {}
        self._listeners: list[Listener] = []
        self._containment_listeners: list[Callable[[str], None]] = []
        self.version = 0
        """Moves on every change; caches of anything derived from the view key on it."""
        broadcaster = db.broadcaster
        self._subscriptions: list[tuple[str, Callable[[Any], None]]] = [
            (IDENTITY_CHANGED_TOPIC, self._on_identities),
            (TOKEN_REVOKED_TOPIC, self._on_tokens),
            (CLIENT_REVOKED_TOPIC, self._on_clients),
            (KILL_SWITCH_TOPIC, self._on_switches),
            (POLICIES_TOPIC, self._on_policies),
        ]
        for topic, callback in self._subscriptions:
            broadcaster.subscribe(topic, callback)
        broadcaster.on_resync(self.reload)
        self.reload()
        broadcaster.start()
        # Not current until the feed is up: wait a moment for it, so a view is useful
        # as soon as it is made (a database that is down leaves it failing closed).
        broadcaster.ready.wait(5)

    def close(self) -> None:
        for topic, callback in self._subscriptions:
            self._db.broadcaster.unsubscribe(topic, callback)

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_contained(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(via)`` once for each identity this view sees go from active to
        suspended, wherever that was done (this node, another, a command on the host):
        ``via`` as the suspension's notice said (``suspend`` when it did not say;
        ``unknown`` when the view only found out by re-reading everything after its
        change feed came back)."""
        self._containment_listeners.append(listener)

    # -- reads: memory only ----------------------------------------------------------

    def is_current(self) -> bool:
        """Whether every change committed more than :data:`MAX_STALENESS` ago is known."""
        return self._db.broadcaster.is_current(self._max_staleness)

    async def catch_up(self, timeout: float = CATCH_UP_SECONDS) -> bool:
        """Wait (at most ``timeout`` seconds, without blocking the loop) for this view to
        be current again, while its feed is reconnecting and catching up; whether it is.

        Returns at once when it is current, and when the feed knows the database is down
        or suspects it went silent (nothing will catch up soon: refuse fast rather than
        hold the request).
        """
        if self.is_current():
            return True
        broadcaster = self._db.broadcaster
        deadline = asyncio.get_running_loop().time() + timeout
        while (
            broadcaster.reachable
            and not broadcaster.suspects_silence()
            and asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.005)
            if self.is_current():
                return True
        return False

    def identity(self, identity_id: str) -> IdentityInfo | None:
        """The identity as last heard of, or ``None`` if there is no such identity."""
        return self._identities.get(identity_id)

    def resolve(self, ref: str) -> str | None:
        """The id of the identity with this id, name or email, if any."""
        if ref in self._identities:
            return ref
        return self._names.get(ref) or self._names.get(ref.strip().lower())

    def is_token_revoked(self, token_id: str) -> bool:
        return token_id in self._revoked

    def is_client_revoked(self, client_id: str) -> bool:
        return client_id in self._revoked_clients

    def kill_switches(self) -> dict[str, str]:
        """Engaged kill switches: identity kind → containment id."""
        return {kind: switch.containment_id for kind, switch in self._switches.items()}

    def refusal(
        self,
        chain: Sequence[str],
        *,
        issued_at: float | None = None,
        token_id: str | None = None,
        client_id: str | None = None,
    ) -> str | None:
        """Why a credential must not be honoured now, or ``None`` if it may be.

        ``chain`` is the identities it acts as and for (current actor first); their
        owners are checked too. ``issued_at`` (POSIX seconds) is when it was issued.
        ``"stale"`` means nothing says no, but the view cannot vouch that it is current.
        """
        if token_id is not None and token_id in self._revoked:
            return "revoked"
        if client_id is not None and client_id in self._revoked_clients:
            return "client revoked"
        identities = self._identities
        for identity_id in chain:
            info = identities.get(identity_id)
            if info is None:
                return "unknown identity"
            why = self._standing(info, issued_at)
            if why is not None:
                return why
            if info.owner_id is not None:
                owner = identities.get(info.owner_id)
                if owner is None:
                    return "owner unknown"
                why = self._standing(owner, issued_at)
                if why is not None:
                    return f"owner {why}"
        if not self.is_current():
            return "stale"
        return None

    def standing(self, identity_id: str) -> str | None:
        """:meth:`refusal` of one identity (and its owner), for no particular credential."""
        return self.refusal((identity_id,))

    def standing_of(self, info: IdentityInfo, *, issued_at: float | None = None) -> str | None:
        """Why ``info`` itself (not its owner) may not act now, or ``None``."""
        return self._standing(info, issued_at)

    def cut_off(self, chain: Iterable[str]) -> float:
        """The latest cut-off of ``chain`` and its owners (0 if none): a token issued
        now must be dated no earlier."""
        latest = 0.0
        identities = self._identities
        for identity_id in chain:
            info = identities.get(identity_id)
            for each in (info, identities.get(info.owner_id) if info and info.owner_id else None):
                if each is not None and each.tokens_valid_after is not None:
                    latest = max(latest, each.tokens_valid_after)
        return latest

    def _standing(self, info: IdentityInfo, issued_at: float | None) -> str | None:
        if info.status != "active":
            return info.status  # "suspended" or "deprovisioned"
        if (
            issued_at is not None
            and info.tokens_valid_after is not None
            and issued_at < info.tokens_valid_after
        ):
            return "issued before a suspension"
        return None

    def known_identities(self) -> list[str]:
        return list(self._identities)

    # -- keeping current ---------------------------------------------------------------

    def reload(self) -> None:
        """Re-read everything (at start and whenever the change feed restarts)."""
        ticket = next(self._tickets)
        now = utcnow()
        with self._db.unit_of_work(readonly=True) as uow:
            session = uow.session
            rows = _identity_rows(session, None)
            revoked = {
                jti: expires.timestamp()
                for jti, expires in session.execute(
                    sa.select(RevokedToken.jti, RevokedToken.expires_at).where(
                        RevokedToken.expires_at > now
                    )
                )
            }
            for token_id, expires in session.execute(
                sa.select(ApiToken.id, ApiToken.expires_at).where(
                    ApiToken.revoked_at.is_not(None),
                    sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                )
            ):
                revoked[token_id] = expires.timestamp() if expires else None
            clients = set(
                session.scalars(
                    sa.select(OAuthClient.client_id).where(OAuthClient.revoked_at.is_not(None))
                )
            )
            switches = _switch_rows(session)
        with self._lock:
            before = self._identities
            self._identities = {}
            self._names = {}
            for info in rows:
                self._put(info)
                self._applied[info.id] = ticket
            self._revoked = revoked
            self._revoked_clients = clients
            self._switches = switches
            contained = ["unknown" for info in rows if _contains(before.get(info.id), info.status)]
        self._changed(IDENTITY_CHANGED_TOPIC, None)
        self._contained(contained)

    def ensure(self, identity_ids: Iterable[str]) -> None:
        """Read any of these identities this view has not heard of yet (one made on
        another node a moment ago, whose notice is still on its way). Blocking: from a
        thread; a coroutine awaits :meth:`ensure_async`."""
        for unknown in self._unknown(list(identity_ids)):
            self.refresh(unknown)

    async def ensure_async(self, identity_ids: Iterable[str]) -> None:
        """:meth:`ensure` for a coroutine: each read runs in the executor."""
        for unknown in self._unknown(list(identity_ids)):
            await asyncio.to_thread(self.refresh, unknown)

    def _unknown(self, ids: list[str]) -> Iterator[list[str]]:
        """The identities to read, in turns, each computed after the previous turn was
        read: owners are asked for once their machines are known (an agent made a moment
        ago may belong to a person made a moment before it)."""
        for missing in (self._missing, self._missing_owners):
            unknown = missing(ids)
            if unknown:
                yield unknown

    def _missing(self, identity_ids: list[str]) -> list[str]:
        return [i for i in identity_ids if i and i not in self._identities]

    def _missing_owners(self, identity_ids: list[str]) -> list[str]:
        known = self._identities
        owners = {
            info.owner_id
            for i in identity_ids
            if (info := known.get(i)) is not None and info.owner_id is not None
        }
        return [o for o in owners if o not in known]

    def refresh(self, identity_ids: Iterable[str], *, via: dict[str, str] | None = None) -> None:
        """Re-read these identities now (what a notice about them triggers); ``via``: how
        the notice said each was suspended, if it was."""
        ids = sorted(set(identity_ids))
        if not ids:
            return
        ticket = next(self._tickets)
        with self._db.unit_of_work(readonly=True) as uow:
            rows = {info.id: info for info in _identity_rows(uow.session, ids)}
        contained = []
        with self._lock:
            for identity_id in ids:
                # A read that started after ours may have been applied already: newer wins.
                if self._applied.get(identity_id, 0) > ticket:
                    continue
                self._applied[identity_id] = ticket
                old = self._identities.pop(identity_id, None)
                if old is not None:
                    self._drop_names(old)
                if identity_id in rows:
                    self._put(rows[identity_id])
                    if _contains(old, rows[identity_id].status):
                        contained.append((via or {}).get(identity_id, "suspend"))
        for identity_id in ids:
            self._changed(IDENTITY_CHANGED_TOPIC, identity_id)
        self._contained(contained)

    def _put(self, info: IdentityInfo) -> None:
        self._identities[info.id] = info
        self._names[info.name] = info.id
        if info.email:
            self._names[info.email] = info.id

    def _drop_names(self, info: IdentityInfo) -> None:
        if self._names.get(info.name) == info.id:
            del self._names[info.name]
        if info.email and self._names.get(info.email) == info.id:
            del self._names[info.email]

    def _changed(self, topic: str, ident: str | None) -> None:
        with self._lock:
            self.version += 1
        for listener in list(self._listeners):
            listener(topic, ident)

    def _contained(self, vias: list[str]) -> None:
        for via in vias:
            for listener in list(self._containment_listeners):
                listener(via)

    def _on_identities(self, payload: Any) -> None:
        changes = _ids_with_values(payload)
        reload = [i for i, c in changes.items() if not isinstance(c, dict) or c.get("reload")]
        # What a suspension changes is in the notice itself: applied before anything is
        # read, so that it is enforced without waiting on the database.
        applied = self._apply(
            {i: c for i, c in changes.items() if isinstance(c, dict) and i not in reload}
        )
        via = {i: str(c["via"]) for i, c in changes.items() if isinstance(c, dict) and "via" in c}
        self.refresh(
            [*reload, *(i for i in changes if i not in applied and i not in reload)], via=via
        )

    def _apply(self, changes: dict[str, dict[str, Any]]) -> set[str]:
        """Apply the standing fields notices carry; the ids it could apply them to."""
        if not changes:
            return set()
        ticket = next(self._tickets)
        applied = set()
        contained = []
        with self._lock:
            for identity_id, change in changes.items():
                info = self._identities.get(identity_id)
                if info is None or self._applied.get(identity_id, 0) > ticket:
                    continue
                fields: dict[str, Any] = {}
                if "status" in change:
                    fields["status"] = str(change["status"])
                if "tokens_valid_after" in change:
                    fields["tokens_valid_after"] = change["tokens_valid_after"]
                if "owner_id" in change:
                    fields["owner_id"] = change["owner_id"]
                self._identities[identity_id] = dataclasses.replace(info, **fields)
                self._applied[identity_id] = ticket
                applied.add(identity_id)
                # Under the lock: a notice heard twice (from this node and through the
                # feed) finds the identity suspended already the second time.
                if _contains(info, fields.get("status")):
                    contained.append(str(change.get("via", "suspend")))
        for identity_id in applied:
            self._changed(IDENTITY_CHANGED_TOPIC, identity_id)
        self._contained(contained)
        return applied

    def _on_tokens(self, payload: Any) -> None:
        changed = _ids_with_values(payload)
        if not changed:
            return
        with self._lock:
            for token_id, expires in changed.items():
                self._revoked[token_id] = _timestamp(expires)
        for token_id in changed:
            self._changed(TOKEN_REVOKED_TOPIC, token_id)

    def _on_clients(self, payload: Any) -> None:
        ids = _ids(payload)
        with self._lock:
            self._revoked_clients.update(ids)
        for client_id in ids:
            self._changed(CLIENT_REVOKED_TOPIC, client_id)

    def _on_switches(self, _payload: Any) -> None:
        with self._db.unit_of_work(readonly=True) as uow:
            switches = _switch_rows(uow.session)
        with self._lock:
            self._switches = switches
        self._changed(KILL_SWITCH_TOPIC, None)

    def _on_policies(self, _payload: Any) -> None:
        self._changed(POLICIES_TOPIC, None)

    def prune(self, *, now: datetime | None = None) -> None:
        """Forget revocations of tokens that have expired anyway."""
        moment = (now or utcnow()).timestamp()
        with self._lock:
            expired = [t for t, exp in self._revoked.items() if exp is not None and exp <= moment]
            for token_id in expired:
                del self._revoked[token_id]


def _contains(before: IdentityInfo | None, status: str | None) -> bool:
    """An identity this view knew as active is now suspended: one containment."""
    return before is not None and before.status == "active" and status == "suspended"


def token_date(now: float, cut_off: float) -> int:
    """The ``iat`` (whole seconds) of a token issued at ``now``: never before a cut-off.

    A JWT dates itself in whole seconds, and a token dated before an identity's cut-off
    is refused for good; so a token issued in the very second of a suspension (after a
    reactivation) is dated to the next second.
    """
    return max(int(now), math.ceil(cut_off))


def _ids(payload: Any) -> list[str]:
    return list(_ids_with_values(payload))


def _ids_with_values(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        return {}
    ids = payload.get("ids")
    if isinstance(ids, dict):
        return {str(k): v for k, v in ids.items() if k}
    single = payload.get("id")
    return {str(single): payload.get("exp")} if single else {}


def _timestamp(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


_COLUMNS = (
    Identity.id,
    Identity.kind,
    Identity.name,
    Identity.email,
    Identity.status,
    Identity.owner_id,
    Identity.roles,
    Identity.attributes,
    Identity.tokens_valid_after,
    Partner.identity_id.label("partner"),
)


def _identity_rows(session: Session, ids: Sequence[str] | None) -> list[IdentityInfo]:
    query = sa.select(*_COLUMNS).outerjoin(Partner, Partner.identity_id == Identity.id)
    if ids is not None:
        query = query.where(Identity.id.in_(ids))
    return [_info(row) for row in session.execute(query)]


def _info(row: Any) -> IdentityInfo:
    cut_off = row.tokens_valid_after
    return IdentityInfo(
        id=row.id,
        kind=str(row.kind),
        name=row.name,
        status=str(row.status),
        owner_id=row.owner_id,
        roles=tuple(row.roles or ()),
        attributes=dict(row.attributes or {}),
        email=row.email,
        tokens_valid_after=cut_off.timestamp() if cut_off is not None else None,
        partner=row.partner is not None,
    )


def _switch_rows(session: Session) -> dict[str, _Switch]:
    rows = session.execute(
        sa.select(Containment.target_kind, Containment.id, Containment.engaged_by_id).where(
            Containment.kind == "kill-switch", Containment.released_at.is_(None)
        )
    )
    return {str(kind): _Switch(cid, by) for kind, cid, by in rows if kind}


# -- change notices, published by whatever writes a status-bearing row ---------------

_STANDING_FIELDS: Final = ("status", "tokens_valid_after", "owner_id")
_OTHER_FIELDS: Final = ("kind", "name", "email", "roles", "attributes")


@sa.event.listens_for(Session, "after_flush")
def _collect_changes(session: Session, _flush: UOWTransaction) -> None:
    uow = UnitOfWork.of(session)
    if uow is None:
        return
    for row in itertools.chain(session.new, session.deleted):
        _collect(uow, row, created_or_deleted=True)
    for row in session.dirty:
        _collect(uow, row, created_or_deleted=False)


def _changed(row: Any, names: Iterable[str]) -> bool:
    state = sa.inspect(row)
    return any(state.attrs[name].history.has_changes() for name in names)


def _collect(uow: UnitOfWork, row: Any, *, created_or_deleted: bool) -> None:
    if isinstance(row, Identity):
        if created_or_deleted or _changed(row, _OTHER_FIELDS):
            uow.collect(IDENTITY_CHANGED_TOPIC, row.id, {"reload": True})
            return
        # Only what this transaction wrote: the row object may hold stale columns that
        # another transaction changed meanwhile.
        state = sa.inspect(row)
        change = {
            name: _plain(getattr(row, name))
            for name in _STANDING_FIELDS
            if state.attrs[name].history.has_changes()
        }
        if change:
            uow.collect(IDENTITY_CHANGED_TOPIC, row.id, change)
    elif isinstance(row, Partner):
        uow.collect(IDENTITY_CHANGED_TOPIC, row.identity_id, {"reload": True})
    elif isinstance(row, RevokedToken):
        if created_or_deleted:
            uow.collect(TOKEN_REVOKED_TOPIC, row.jti, row.expires_at.timestamp())
    elif isinstance(row, ApiToken):
        if row.revoked_at is not None and (created_or_deleted or _changed(row, ("revoked_at",))):
            expires = row.expires_at.timestamp() if row.expires_at else None
            uow.collect(TOKEN_REVOKED_TOPIC, row.id, expires)
    elif isinstance(row, OAuthClient):
        if row.revoked_at is not None and (created_or_deleted or _changed(row, ("revoked_at",))):
            uow.collect(CLIENT_REVOKED_TOPIC, row.client_id)
    elif isinstance(row, Containment):
        if row.kind == "kill-switch":
            uow.collect(KILL_SWITCH_TOPIC, row.id)
    elif isinstance(row, Policy):
        uow.collect(POLICIES_TOPIC, row.name)


def _plain(value: Any) -> Any:
    """A standing field as a notice carries it (JSON): datetimes as POSIX timestamps."""
    if isinstance(value, datetime):
        return value.timestamp()
    return str(value) if isinstance(value, enum.Enum) else value


_TABLES: Final = {
    Identity.__table__: IDENTITY_CHANGED_TOPIC,
    Partner.__table__: IDENTITY_CHANGED_TOPIC,
    ApiToken.__table__: TOKEN_REVOKED_TOPIC,
    OAuthClient.__table__: CLIENT_REVOKED_TOPIC,
    Containment.__table__: KILL_SWITCH_TOPIC,
    Policy.__table__: POLICIES_TOPIC,
}


@sa.event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_status_writes(state: Any) -> None:
    # A bulk UPDATE or DELETE does not say which rows it changed, so nothing could say
    # which identities to re-read: status-bearing rows change one by one.
    if (state.is_update or state.is_delete) and getattr(state.statement, "table", None) in _TABLES:
        raise RuntimeError(
            f"change {state.statement.table.name} rows through the ORM, one by one, so "
            "that every node hears of it"
        )
