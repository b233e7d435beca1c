"""Reading secrets: an item's latest version (the hot path), any version, and ``limen://``
references.

The hot path exists once, as :meth:`Reads._read_latest`: a generator free of I/O that
*yields* each thing it needs done (:class:`_Lookup` the item's rows, :class:`_Record` the
read's event before the item leaves, :class:`_ReadInFull` for anything unusual) and is
sent the answer. :meth:`Reads.get_item` drives it with blocking calls;
:meth:`Reads.get_item_async` drives it from an event loop (the lookup awaited on
PostgreSQL, or the whole lookup in the executor on SQLite; the event group-committed).
httpx's ``Client`` and ``AsyncClient`` share their models the same way and differ only in
transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Resource, record
from limen.audit.durable import commit_now
from limen.ids import is_id
from limen.store import Lookup
from limen.store.models.vault import Vault, VaultItem, VaultItemVersion
from limen.vault import envelope
from limen.vault._base import VaultCore
from limen.vault._fields import ResolvedSecret, find_field
from limen.vault._kek import Kek
from limen.vault._kept_reads import KeptReads
from limen.vault._views import ItemView
from limen.vault._views import item_view as _item_view
from limen.vault.content import ItemContent
from limen.vault.envelope import Sealed
from limen.vault.errors import ItemNotFound, SealBroken
from limen.vault.keys import item_aad
from limen.vault.references import Reference, parse_reference
from limen.vault.scopes import can

__all__ = ["Reads"]

Opened = tuple[ItemView, Callable[[Session], None]]
"""An item read on the hot path, and the write that records the read."""


@dataclass(frozen=True, slots=True)
class _Lookup:
    """Run the read query; send back its rows."""

    query: Lookup
    vault_ref: str
    item_ref: str


@dataclass(frozen=True, slots=True)
class _Record:
    """Commit the read's event (the item may leave only after); send back ``None``."""

    write: Callable[[Session], None]
    view: ItemView


@dataclass(frozen=True, slots=True)
class _ReadInFull:
    """Read the latest version the general way (it answers or raises, and records any
    refusal); send back the :class:`ItemView`."""


_Step = _Lookup | _Record | _ReadInFull
_Steps = Generator[_Step, Any, ItemView]


class Reads(VaultCore):
    def get_item(
        self,
        actor: Actor,
        vault_ref: str,
        item_ref: str,
        *,
        version: int | None = None,
    ) -> ItemView:
        """The item with its decrypted content (latest version unless ``version``).

        A secret read: recorded as ``vault.item.read``.
        """
        if version is not None:
            return self._read_in_full(actor, vault_ref, item_ref, version)
        steps = self._read_latest(
            actor, vault_ref, item_ref, kept=None, kek_for=self.keyring.open_sealed
        )
        step = self._first_steps(steps)
        try:
            while True:
                if isinstance(step, _Record):
                    with self._writes:
                        commit_now(self.db, [step.write])
                    step = steps.send(None)
                elif isinstance(step, _ReadInFull):
                    step = steps.send(self._read_in_full(actor, vault_ref, item_ref, None))
                else:
                    raise AssertionError(f"a second lookup: {step!r}")
        except StopIteration as done:
            return done.value

    def _read_in_full(
        self, actor: Actor, vault_ref: str, item_ref: str, version: int | None
    ) -> ItemView:
        """The general read: any version, files, and the answer or error (and any refusal
        recorded) for whatever the one-query path declined."""
        with self._authorised(actor, "vault.item.read", vault_ref, "read") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            item = self._item(session, vault, item_ref)
            wanted = version or item.version
            row = session.get(VaultItemVersion, (item.id, wanted))
            if row is None:
                raise ItemNotFound(f"item {item.title!r} has no version {wanted}")
            content = self._open_version(row, actor, vault, item)
            files = self._files(session, vault, item) if item.file_count else ()
            _record_read(session, actor, vault.id, vault.name, item, wanted)
            return replace(
                _item_view(item, vault.id, vault.name), version=wanted, content=content, files=files
            )

    async def get_item_async(self, actor: Actor, vault_ref: str, item_ref: str) -> ItemView:
        """:meth:`get_item` of the latest version for an event loop.

        The read itself is a local lookup and a decrypt; the event is group-committed with
        other requests' events, and the loop serves them while it waits.
        """
        if self.db.dialect.async_driver:
            kept = self._kept_reads
            if kept is None:
                kept = self._kept_reads = KeptReads(
                    self.db.broadcaster, seconds=self._reuse_seconds
                )
            # Only a KEK already in memory: loading one reads the database, which the
            # general path does in a thread.
            steps = self._read_latest(
                actor, vault_ref, item_ref, kept=kept, kek_for=self._cached_kek
            )
            step = next(steps)
            if isinstance(step, _Lookup):
                async with self.db.reading_async() as reader:
                    rows = await step.query.all_async(
                        reader, vault_ref=step.vault_ref, item_ref=step.item_ref
                    )
                step = steps.send(rows)
        else:
            # The lookup, and the decrypt with it, in the executor (see Database.run).
            steps = self._read_latest(
                actor, vault_ref, item_ref, kept=None, kek_for=self.keyring.open_sealed
            )
            step = await self.db.run(self._first_steps, steps)
        try:
            while True:
                if isinstance(step, _Record):
                    await self._events.written([step.write])
                    step = steps.send(None)
                elif isinstance(step, _ReadInFull):
                    full = await asyncio.to_thread(
                        self._read_in_full, actor, vault_ref, item_ref, None
                    )
                    step = steps.send(full)
                else:
                    raise AssertionError(f"a second lookup: {step!r}")
        except StopIteration as done:
            return done.value

    def open_latest(self, actor: Actor, vault_ref: str, item_ref: str) -> Opened | None:
        """The hot path of a read: one query and a decrypt, no write.

        Returns the item and the write that records the read, which the caller must commit
        before the item leaves. Returns ``None`` for anything unusual (no match, ambiguity,
        refusal, attached files) so that the general path produces the answer or the error
        and records any refusal.
        """
        steps = self._read_latest(
            actor, vault_ref, item_ref, kept=None, kek_for=self.keyring.open_sealed
        )
        step = self._first_steps(steps)
        steps.close()
        return (step.view, step.write) if isinstance(step, _Record) else None

    # -- the hot path, free of I/O ------------------------------------------------------

    def _read_latest(
        self,
        actor: Actor,
        vault_ref: str,
        item_ref: str,
        *,
        kept: KeptReads | None,
        kek_for: Callable[[Sealed], Kek | None],
    ) -> _Steps:
        """The read of an item's latest version, as the steps a shell runs (see the
        module's docstring). With ``kept``, rows it holds and knows to be current stand
        in for the lookup."""
        key = (vault_ref, item_ref)
        rows = kept.get(key) if kept is not None else None
        if rows is None:
            stamp = kept.stamp() if kept is not None else None
            query = _READ_QUERIES[(is_id(vault_ref), is_id(item_ref))]
            rows = yield _Lookup(query, vault_ref, item_ref)
            if kept is not None:
                kept.keep(key, stamp, rows)
        opened = self._open_rows(actor, item_ref, rows, kek_for)
        if opened is None:
            return (yield _ReadInFull())
        view, write_event = opened
        yield _Record(write_event, view)
        return view

    def _first_steps(self, steps: _Steps) -> _Step:
        """Run ``steps`` up to its first step after the lookup, blocking: the lookup, and
        the decrypt that follows it."""
        self.keyring.current()
        step = next(steps)
        if isinstance(step, _Lookup):
            with self.db.reading() as reader:
                rows = step.query.all(reader, vault_ref=step.vault_ref, item_ref=step.item_ref)
            step = steps.send(rows)
        return step

    def _cached_kek(self, sealed: Sealed) -> Kek | None:
        return self.keyring.cached(sealed.kek_id)

    def _open_rows(
        self,
        actor: Actor,
        item_ref: str,
        rows: list[Any],
        kek_for: Callable[[Sealed], Kek | None],
    ) -> tuple[ItemView, Callable[[Session], None]] | None:
        if len(rows) > 1:
            # An item whose title is its own id is found by both halves of the lookup.
            rows = list({r.id: r for r in rows if r.id == item_ref}.values())
        if len(rows) != 1:
            return None
        item = rows[0]
        vault_id, vault_name = item.vault_id, item.vault_name
        if (
            item.file_count
            or not can(actor, vault_id, "read")
            or not self._guard.allows(
                actor, "vault.item.read", Resource("item", item.id, vault=vault_id), scopes=()
            )
        ):
            return None
        sealed = Sealed(item.ciphertext, item.wrapped_key, item.kek_id)
        kek = kek_for(sealed)
        if kek is None:
            return None
        try:
            raw = envelope.open(kek, sealed, aad=item_aad(item.id, item.version))
        except SealBroken:
            return None  # the general path records the failure and raises
        view = _item_view(item, vault_id, vault_name, ItemContent.from_json(raw))

        def write_event(session: Session) -> None:
            _record_read(session, actor, vault_id, vault_name, item, item.version)

        return view, write_event

    # -- references ---------------------------------------------------------------------

    def resolve(
        self, actor: Actor, reference: str | Reference, *, purpose: str = "read"
    ) -> ResolvedSecret:
        """The value a ``limen://`` reference points at, recorded as ``vault.secret.read``.

        ``purpose`` (``read``, ``run``, ``inject``) is noted in the event.
        """
        ref = reference if isinstance(reference, Reference) else parse_reference(reference)
        with self._authorised(actor, "vault.secret.read", ref.vault, "read") as uow:
            session = uow.session
            vault = self._vault(session, ref.vault)
            item = self._item(session, vault, ref.item)
            row = session.get(VaultItemVersion, (item.id, item.version))
            content = self._open_version(row, actor, vault, item) if row else ItemContent()
            found = find_field(content, ref)
            record(
                session,
                actor,
                "vault.secret.read",
                resource_type="vault_item",
                resource_id=item.id,
                resource_name=f"{vault.name}/{item.title}",
                context={
                    "vault_id": vault.id,
                    "version": item.version,
                    "field_id": found.id,
                    "reference": str(ref),
                    "purpose": purpose,
                },
            )
            return ResolvedSecret(str(ref), found.value or "", vault.id, item.id, found.id)

    # -- rotation policy ----------------------------------------------------------------


def _read_query(vault_by_id: bool, item_by_id: bool) -> Lookup:
    vault_ref = sa.bindparam("vault_ref")
    item_ref = sa.bindparam("item_ref")

    def matching(item_match: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(
                Vault.id.label("vault_id"),
                Vault.name.label("vault_name"),
                *(c for c in VaultItem.__table__.c if c.name != "vault_id"),
                VaultItemVersion.ciphertext,
                VaultItemVersion.wrapped_key,
                VaultItemVersion.kek_id,
            )
            .join(VaultItem, VaultItem.vault_id == Vault.id)
            .join(
                VaultItemVersion,
                sa.and_(
                    VaultItemVersion.item_id == VaultItem.id,
                    VaultItemVersion.version == VaultItem.version,
                ),
            )
            .where(
                Vault.id == vault_ref if vault_by_id else Vault.name == vault_ref,
                item_match,
                VaultItem.deleted_at.is_(None),
            )
        )

    by_title = matching(VaultItem.title == item_ref)
    if not item_by_id:
        return Lookup(by_title.limit(3))
    # Not one SELECT with "id = :ref OR title = :ref": for that, a planner without
    # statistics (SQLite's, on a database that was never analysed) walks every item of
    # the vault, so a read cost more the more items its vault held. Each half here has
    # an index of its own. (Rows past the limit only matter when the title is ambiguous,
    # which the general path reports.)
    return Lookup(sa.union_all(matching(VaultItem.id == item_ref), by_title).limit(4))


# Built once, and run as lookups: constructing a statement costs more than running it on
# the read path.
_READ_QUERIES = {(v, i): _read_query(v, i) for v in (True, False) for i in (True, False)}


def _record_read(
    session: Session, actor: Actor, vault_id: str, vault_name: str, item: Any, version: int
) -> None:
    record(
        session,
        actor,
        "vault.item.read",
        resource_type="vault_item",
        resource_id=item.id,
        resource_name=f"{vault_name}/{item.title}",
        context={"vault_id": vault_id, "version": version},
    )
