"""The vault service: vaults, items and their versions, files, references, policy.

One :class:`VaultService` per process, built by the edges (API, CLI) from a database
and a :class:`~limen.vault.keys.Keyring`. Every method takes the acting
:class:`~limen.audit.Actor`, checks its vault scopes (see :mod:`limen.vault.scopes`)
and records what it did in the event log in the same transaction, naming the vault,
the item and the fields, never a value. A refused attempt is recorded too, in a
transaction of its own, because the refusal rolls the caller's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Authorizer, Outcome, Resource, record
from limen.audit.durable import commit_now, event_writer
from limen.errors import InvalidInput
from limen.ids import is_id, new_id
from limen.store import Database, Lookup, UnitOfWork
from limen.store.models import ApiToken, Event, Identity, IdentityStatus, utcnow
from limen.store.models.vault import Vault, VaultFile, VaultItem, VaultItemVersion
from limen.vault import envelope
from limen.vault._kek import Kek
from limen.vault._kept_reads import KeptReads
from limen.vault.content import Field, ItemContent, ItemDraft, Section
from limen.vault.envelope import Sealed
from limen.vault.errors import (
    AmbiguousReference,
    FieldNotFound,
    InvalidFilter,
    InvalidItem,
    ItemNotFound,
    SealBroken,
    VaultAccessDenied,
    VaultExists,
    VaultFileNotFound,
    VaultNotFound,
)
from limen.vault.keys import Keyring, file_aad, item_aad
from limen.vault.references import Reference, parse_reference
from limen.vault.scopes import Permission, can, require_admin

__all__ = [
    "FileInfo",
    "ItemView",
    "PolicyEntry",
    "ResolvedSecret",
    "VaultService",
    "VaultView",
    "parse_filter",
]

_MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class VaultView:
    id: str
    name: str
    description: str | None
    items: int
    attribute_version: int
    content_version: int
    max_secret_age_days: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: str
    name: str
    size: int
    section_id: str | None
    item_id: str
    vault_id: str


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as callers see it; ``content`` is ``None`` in summaries (lists)."""

    id: str
    vault_id: str
    vault_name: str
    title: str
    category: str
    tags: tuple[str, ...]
    favorite: bool
    version: int
    latest_version: int
    trashed: bool
    created_at: datetime
    updated_at: datetime
    last_edited_by: str | None
    max_secret_age_days: int | None
    secrets_changed_at: datetime
    content: ItemContent | None = None
    files: tuple[FileInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolvedSecret:
    reference: str
    value: str = field(repr=False)
    vault_id: str
    item_id: str
    field_id: str


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One item under a rotation policy, and whether it is out of policy."""

    vault_id: str
    vault_name: str
    item_id: str
    title: str
    max_age_days: int
    age_days: int
    last_rotated: datetime
    out_of_policy: bool
    readers: tuple[str, ...]
    """Names of the identities whose live tokens can read the item."""


def parse_filter(expression: str | None, allowed: Sequence[str]) -> tuple[str, str] | None:
    """Parse Connect's SCIM-style filter ``<attr> eq "<value>"`` (the one form Connect uses)."""
    if expression is None or not expression.strip():
        return None
    text = expression.strip()
    attr, _, rest = text.partition(" ")
    op, _, value = rest.strip().partition(" ")
    value = value.strip()
    if (
        attr not in allowed
        or op.lower() != "eq"
        or len(value) < 2
        or value[0] != '"'
        or value[-1] != '"'
    ):
        raise InvalidFilter(
            f'filters look like {allowed[0]} eq "..."; supported attributes: ' + ", ".join(allowed)
        )
    return attr, value[1:-1].replace('\\"', '"')


class VaultService:
    """Everything the API and the CLI do with vaults goes through here."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        *,
        authorizer: Authorizer,
        reuse_seconds: float = 5.0,
    ) -> None:
        """``reuse_seconds``: see :class:`~limen.vault._kept_reads.KeptReads` (0: never).

        Every operation checks the actor's token against the vault's scope grammar
        (:mod:`limen.vault.scopes`) and then asks ``authorizer`` (the guard), which
        bounds a person by their roles and a machine by its owner's.
        """
        self.db = db
        self.keyring = keyring
        self._guard = authorizer
        self._reuse_seconds = reuse_seconds
        # SQLite has one writer at a time and its busy handler waits by sleeping (up to
        # 100 ms a try); queueing this process's writers on a lock instead keeps
        # latency flat under concurrent requests. PostgreSQL needs no such lock.
        self._writes: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if db.dialect.serialises_writes else contextlib.nullcontext()
        )
        # Made on the first read from an event loop: only the API server's service reads
        # that way, and each one listens for vault writes.
        self._kept_reads: KeptReads | None = None

    # -- vaults -------------------------------------------------------------------------

    def create_vault(
        self,
        actor: Actor,
        name: str,
        *,
        description: str | None = None,
        max_secret_age_days: int | None = None,
    ) -> VaultView:
        name = (name or "").strip()
        if not name or len(name) > 100 or "/" in name:
            raise InvalidInput("a vault name is 1-100 characters and has no '/'")
        _check_age(max_secret_age_days)
        with self._authorised(actor, "vault.create", None, admin=True) as uow:
            if uow.session.scalar(sa.select(Vault.id).where(Vault.name == name)):
                raise VaultExists(f"a vault named {name!r} already exists")
            vault = Vault(
                name=name, description=description, max_secret_age_days=max_secret_age_days
            )
            uow.session.add(vault)
            uow.flush()
            record(
                uow.session,
                actor,
                "vault.create",
                resource_type="vault",
                resource_id=vault.id,
                resource_name=vault.name,
            )
            return _vault_view(vault, 0)

    def list_vaults(self, actor: Actor, *, name: str | None = None) -> list[VaultView]:
        """Vaults the actor may read, by name (asking the guard once for listing at all)."""
        self._guard.authorize(actor, "vault.read", Resource("vault"), scopes=())
        with self.db.unit_of_work(readonly=True) as uow:
            counts = dict(
                uow.session.execute(
                    sa.select(VaultItem.vault_id, sa.func.count())
                    .where(VaultItem.deleted_at.is_(None))
                    .group_by(VaultItem.vault_id)
                ).all()
            )
            query = sa.select(Vault).order_by(Vault.name)
            if name is not None:
                query = query.where(Vault.name == name)
            return [
                _vault_view(v, counts.get(v.id, 0))
                for v in uow.session.scalars(query)
                if can(actor, v.id, "read")
                and self._guard.allows(actor, "vault.read", Resource("vault", v.id), scopes=())
            ]

    def get_vault(self, actor: Actor, ref: str) -> VaultView:
        with self._authorised(actor, "vault.read", ref, permission="read", write=False) as uow:
            vault = self._vault(uow.session, ref)
            return _vault_view(vault, self._count(uow.session, vault.id))

    def set_policy(self, actor: Actor, ref: str, *, max_secret_age_days: int | None) -> VaultView:
        """Set (or clear, with ``None``) the vault's maximum secret age."""
        _check_age(max_secret_age_days)
        with self._authorised(actor, "vault.update", ref, admin=True) as uow:
            vault = self._vault(uow.session, ref)
            vault.max_secret_age_days = max_secret_age_days
            vault.attribute_version += 1
            vault.updated_at = utcnow()
            record(
                uow.session,
                actor,
                "vault.update",
                resource_type="vault",
                resource_id=vault.id,
                resource_name=vault.name,
                context={"max_secret_age_days": max_secret_age_days},
            )
            return _vault_view(vault, self._count(uow.session, vault.id))

    # -- items --------------------------------------------------------------------------

    def list_items(
        self,
        actor: Actor,
        vault_ref: str,
        *,
        title: str | None = None,
        tag: str | None = None,
    ) -> list[ItemView]:
        """Summaries (no field values) of the vault's live items, by title."""
        with self._authorised(actor, "vault.item.list", vault_ref, "read", write=False) as uow:
            vault = self._vault(uow.session, vault_ref)
            query = (
                sa.select(VaultItem)
                .where(VaultItem.vault_id == vault.id, VaultItem.deleted_at.is_(None))
                .order_by(VaultItem.title, VaultItem.id)
            )
            if title is not None:
                query = query.where(VaultItem.title == title)
            rows = list(uow.session.scalars(query))
            if tag is not None:
                rows = [r for r in rows if tag in (r.tags or [])]
            return [_item_view(r, vault.id, vault.name) for r in rows]

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
        if version is None:
            opened = self.open_latest(actor, vault_ref, item_ref)
            if opened is not None:
                view, write_event = opened
                with self._writes:
                    commit_now(self.db, [write_event])
                return view
        return self._read_in_full(actor, vault_ref, item_ref, version)

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
            opened = await self._open_latest_async(actor, vault_ref, item_ref)
        else:
            opened = await self.db.run(self.open_latest, actor, vault_ref, item_ref)
        if opened is None:
            return await asyncio.to_thread(self._read_in_full, actor, vault_ref, item_ref, None)
        view, write_event = opened
        await event_writer(self.db).written([write_event])
        return view

    def open_latest(
        self, actor: Actor, vault_ref: str, item_ref: str
    ) -> tuple[ItemView, Callable[[Session], None]] | None:
        """The hot path of a read: one query and a decrypt, no write.

        Returns the item and the write that records the read, which the caller must commit
        before the item leaves. Returns ``None`` for anything unusual (no match, ambiguity,
        refusal, attached files) so that the general path produces the answer or the error
        and records any refusal.
        """
        self.keyring.current()
        query = _READ_QUERIES[(is_id(vault_ref), is_id(item_ref))]
        with self.db.reading() as reader:
            rows = query.all(reader, vault_ref=vault_ref, item_ref=item_ref)
        return self._open_rows(actor, item_ref, rows, self.keyring.open_sealed)

    async def _open_latest_async(
        self, actor: Actor, vault_ref: str, item_ref: str
    ) -> tuple[ItemView, Callable[[Session], None]] | None:
        """:meth:`open_latest` with the lookup awaited on the loop (PostgreSQL), or not
        made at all while the rows it found last are known to be current."""
        kept = self._kept_reads
        if kept is None:
            kept = self._kept_reads = KeptReads(self.db.broadcaster, seconds=self._reuse_seconds)
        key = (vault_ref, item_ref)
        rows = kept.get(key)
        if rows is None:
            stamp = kept.stamp()
            query = _READ_QUERIES[(is_id(vault_ref), is_id(item_ref))]
            async with self.db.reading_async() as reader:
                rows = await query.all_async(reader, vault_ref=vault_ref, item_ref=item_ref)
            kept.keep(key, stamp, rows)
        # Only a KEK already in memory: loading one reads the database, which the general
        # path does in a thread.
        return self._open_rows(actor, item_ref, rows, lambda s: self.keyring.cached(s.kek_id))

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

    def item_versions(
        self, actor: Actor, vault_ref: str, item_ref: str
    ) -> list[tuple[int, datetime, str | None]]:
        """``(version, created_at, created_by)`` for every version, oldest first."""
        with self._authorised(actor, "vault.item.list", vault_ref, "read", write=False) as uow:
            vault = self._vault(uow.session, vault_ref)
            item = self._item(uow.session, vault, item_ref)
            rows = uow.session.execute(
                sa.select(
                    VaultItemVersion.version,
                    VaultItemVersion.created_at,
                    VaultItemVersion.created_by,
                )
                .where(VaultItemVersion.item_id == item.id)
                .order_by(VaultItemVersion.version)
            ).all()
            return [(v, at, by) for v, at, by in rows]

    def create_item(self, actor: Actor, vault_ref: str, draft: ItemDraft) -> ItemView:
        draft, content = draft.normalised()
        with self._authorised(actor, "vault.item.create", vault_ref, "write") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            now = utcnow()
            item = VaultItem(
                vault_id=vault.id,
                title=draft.title,
                category=draft.category,
                tags=list(draft.tags),
                favorite=draft.favorite,
                version=1,
                max_secret_age_days=draft.max_secret_age_days,
                secrets_changed_at=now,
                created_at=now,
                updated_at=now,
                last_edited_by=_editor(actor),
            )
            session.add(item)
            uow.flush()
            self._store_version(session, item, content, actor)
            _bump(vault)
            record(
                session,
                actor,
                "vault.item.create",
                resource_type="vault_item",
                resource_id=item.id,
                resource_name=f"{vault.name}/{item.title}",
                context={"vault_id": vault.id, "version": 1, "category": item.category},
            )
            return _item_view(item, vault.id, vault.name, content)

    def replace_item(
        self, actor: Actor, vault_ref: str, item_ref: str, draft: ItemDraft
    ) -> ItemView:
        """Store ``draft`` as the item's next version (Connect's PUT)."""
        draft, content = draft.normalised()
        with self._authorised(actor, "vault.item.update", vault_ref, "write") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            item = self._item(session, vault, item_ref)
            previous_row = session.get(VaultItemVersion, (item.id, item.version))
            previous = (
                self._open_version(previous_row, actor, vault, item) if previous_row else None
            )
            return self._write_version(session, actor, vault, item, draft, content, previous)

    def update_item(
        self,
        actor: Actor,
        vault_ref: str,
        item_ref: str,
        change: Callable[[ItemDraft], ItemDraft],
    ) -> ItemView:
        """Apply ``change(draft) -> draft`` to the latest version and store the result.

        The edges use this for PATCH and for ``limen item edit``: the change sees the
        current item (with values) and returns the new one.
        """
        with self._authorised(actor, "vault.item.update", vault_ref, "write") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            item = self._item(session, vault, item_ref)
            row = session.get(VaultItemVersion, (item.id, item.version))
            current = self._open_version(row, actor, vault, item) if row else ItemContent()
            draft = change(_draft_of(item, current))
            draft, content = draft.normalised()
            return self._write_version(session, actor, vault, item, draft, content, current)

    def delete_item(self, actor: Actor, vault_ref: str, item_ref: str) -> None:
        """Move the item to the trash: gone from reads and lists; its versions stay sealed."""
        with self._authorised(actor, "vault.item.delete", vault_ref, "write") as uow:
            vault = self._vault(uow.session, vault_ref)
            item = self._item(uow.session, vault, item_ref)
            item.deleted_at = utcnow()
            item.updated_at = item.deleted_at
            _bump(vault)
            record(
                uow.session,
                actor,
                "vault.item.delete",
                resource_type="vault_item",
                resource_id=item.id,
                resource_name=f"{vault.name}/{item.title}",
                context={"vault_id": vault.id, "version": item.version},
            )

    # -- files --------------------------------------------------------------------------

    def attach_file(
        self,
        actor: Actor,
        vault_ref: str,
        item_ref: str,
        *,
        name: str,
        content: bytes,
        section_id: str | None = None,
    ) -> FileInfo:
        name = (name or "").strip()
        if not name or len(name) > 300 or "/" in name:
            raise InvalidItem("a file name is 1-300 characters and has no '/'")
        if len(content) > _MAX_FILE_BYTES:
            raise InvalidItem(f"files are at most {_MAX_FILE_BYTES // (1024 * 1024)} MiB")
        with self._authorised(actor, "vault.file.create", vault_ref, "write") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            item = self._item(session, vault, item_ref)
            row = VaultFile(item_id=item.id, name=name, size=len(content), section_id=section_id)
            row.id = new_id()
            sealed = envelope.seal(self.keyring.for_writing(session), content, aad=file_aad(row.id))
            row.ciphertext, row.wrapped_key, row.kek_id = (
                sealed.ciphertext,
                sealed.wrapped_key,
                sealed.kek_id,
            )
            session.add(row)
            item.file_count = (item.file_count or 0) + 1
            item.updated_at = utcnow()
            _bump(vault)
            record(
                session,
                actor,
                "vault.file.create",
                resource_type="vault_file",
                resource_id=row.id,
                resource_name=f"{vault.name}/{item.title}/{name}",
                context={"vault_id": vault.id, "item_id": item.id, "size": len(content)},
            )
            return FileInfo(row.id, name, len(content), section_id, item.id, vault.id)

    def list_files(self, actor: Actor, vault_ref: str, item_ref: str) -> list[FileInfo]:
        with self._authorised(actor, "vault.file.list", vault_ref, "read", write=False) as uow:
            vault = self._vault(uow.session, vault_ref)
            item = self._item(uow.session, vault, item_ref)
            return list(self._files(uow.session, vault, item))

    def read_file(
        self, actor: Actor, vault_ref: str, item_ref: str, file_id: str
    ) -> tuple[FileInfo, bytes]:
        """A file's metadata and content: a secret read, recorded as ``vault.file.read``."""
        with self._authorised(actor, "vault.file.read", vault_ref, "read") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            item = self._item(session, vault, item_ref)
            row = session.get(VaultFile, file_id) if is_id(file_id) else None
            if row is None or row.item_id != item.id or row.deleted_at is not None:
                raise VaultFileNotFound(f"item {item.title!r} has no file {file_id!r}")
            sealed = Sealed(row.ciphertext, row.wrapped_key, row.kek_id)
            data = self._open(sealed, file_aad(row.id), actor, vault, item)
            record(
                session,
                actor,
                "vault.file.read",
                resource_type="vault_file",
                resource_id=row.id,
                resource_name=f"{vault.name}/{item.title}/{row.name}",
                context={"vault_id": vault.id, "item_id": item.id},
            )
            return FileInfo(row.id, row.name, row.size, row.section_id, item.id, vault.id), data

    def file_info(self, actor: Actor, vault_ref: str, item_ref: str, file_id: str) -> FileInfo:
        for info in self.list_files(actor, vault_ref, item_ref):
            if info.id == file_id:
                return info
        raise VaultFileNotFound(f"the item has no file {file_id!r}")

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
            found = _find_field(content, ref)
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

    def report(self, actor: Actor, *, now: datetime | None = None) -> list[PolicyEntry]:
        """Every live item under a rotation policy, oldest secret first."""
        require_admin(actor)
        self._guard.authorize(actor, "vault.report", Resource("vault"), scopes=())
        now = now or utcnow()
        with self.db.unit_of_work(readonly=True) as uow:
            session = uow.session
            holders = _token_holders(session, now)
            rows = session.execute(
                sa.select(VaultItem, Vault)
                .join(Vault, Vault.id == VaultItem.vault_id)
                .where(VaultItem.deleted_at.is_(None))
            ).all()
            entries = []
            readers_by_vault: dict[str, tuple[str, ...]] = {}
            for item, vault in rows:
                limit = item.max_secret_age_days or vault.max_secret_age_days
                if not limit:
                    continue
                if vault.id not in readers_by_vault:
                    readers_by_vault[vault.id] = tuple(
                        sorted({name for name, who in holders if can(who, vault.id, "read")})
                    )
                age = now - item.secrets_changed_at
                entries.append(
                    PolicyEntry(
                        vault_id=vault.id,
                        vault_name=vault.name,
                        item_id=item.id,
                        title=item.title,
                        max_age_days=limit,
                        age_days=age.days,
                        last_rotated=item.secrets_changed_at,
                        out_of_policy=age > timedelta(days=limit),
                        readers=readers_by_vault[vault.id],
                    )
                )
            return sorted(entries, key=lambda e: (e.last_rotated, e.vault_name, e.title))

    # -- activity -----------------------------------------------------------------------

    def activity(
        self, actor: Actor, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Event], int]:
        """Vault events, newest first, and how many there are in all: Connect's
        ``/v1/activity`` feed.
        """
        require_admin(actor)
        self._guard.authorize(actor, "event.read", Resource("vault"), scopes=())
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("limit is 1-1000 and offset is not negative")
        is_vault_event = Event.action.startswith("vault.", autoescape=True)
        with self.db.unit_of_work(readonly=True) as uow:
            events = list(
                uow.session.scalars(
                    sa.select(Event)
                    .where(is_vault_event)
                    .order_by(Event.seq.desc())
                    .offset(offset)
                    .limit(limit)
                )
            )
            total = uow.session.scalar(
                sa.select(sa.func.count()).select_from(Event).where(is_vault_event)
            )
            return events, total or 0

    # -- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _authorised(
        self,
        actor: Actor,
        action: str,
        vault_ref: str | None,
        permission: Permission | None = None,
        *,
        admin: bool = False,
        write: bool = True,
    ) -> Iterator[UnitOfWork]:
        """A unit of work, entered only if the actor may act on the vault.

        Refusals are recorded (outcome ``denied``) in their own transaction and then
        raised, so the log shows who tried to read what even though nothing was read.
        """
        refusal: VaultAccessDenied | None = None
        vault: Vault | None = None
        # Derive or check the KEK before any transaction opens: loading it may write,
        # and on SQLite a second writer inside an open write transaction would wait.
        self.keyring.current()
        try:
            with (
                self._writes if write else contextlib.nullcontext(),
                self.db.unit_of_work(readonly=not write) as uow,
            ):
                if admin and not can_admin(actor):
                    refusal = VaultAccessDenied("this needs the vault:admin scope")
                if refusal is None and vault_ref is not None and permission is not None:
                    vault = self._vault(uow.session, vault_ref)
                    if not can(actor, vault.id, permission):
                        refusal = VaultAccessDenied(
                            f"this token may not {permission} vault {vault.name!r}"
                        )
                if refusal is None:
                    denied = self._guard.refusal(
                        actor,
                        _GUARD_ACTIONS[action],
                        Resource("vault", vault.id, vault.name) if vault else Resource("vault"),
                        scopes=(),
                    )
                    if denied is not None:
                        refusal = VaultAccessDenied(denied)
                if refusal is None:
                    yield uow
                    return
        except _BrokenSeal as broken:
            # The caller's transaction has rolled back; the failure still belongs in the
            # log, with the detail the caller is not told.
            with self._writes, self.db.unit_of_work() as uow:
                record(
                    uow.session,
                    actor,
                    action,
                    resource_type="vault_item",
                    resource_id=broken.item_id,
                    resource_name=broken.name,
                    outcome=Outcome.FAILURE,
                    reason="AES-GCM authentication failed on a stored ciphertext or data key",
                    context={"vault_id": broken.vault_id},
                )
            raise SealBroken(
                f"{broken.name!r} failed its integrity check; its stored data was altered "
                "or corrupted"
            ) from None
        assert refusal is not None
        with self._writes, self.db.unit_of_work() as uow:
            record(
                uow.session,
                actor,
                action,
                resource_type="vault",
                resource_id=vault.id if vault is not None else None,
                resource_name=vault.name if vault is not None else vault_ref,
                outcome=Outcome.DENIED,
                reason=refusal.detail,
            )
        raise refusal

    def _vault(self, session: Session, ref: str) -> Vault:
        ref = (ref or "").strip()
        vault = session.get(Vault, ref) if is_id(ref) else None
        if vault is None:
            vault = session.scalar(sa.select(Vault).where(Vault.name == ref))
        if vault is None:
            raise VaultNotFound(f"no vault {ref!r}")
        return vault

    def _item(self, session: Session, vault: Vault, ref: str) -> VaultItem:
        ref = (ref or "").strip()
        if is_id(ref):
            item = session.get(VaultItem, ref)
            if item is not None and item.vault_id == vault.id and item.deleted_at is None:
                return item
        matches = list(
            session.scalars(
                sa.select(VaultItem).where(
                    VaultItem.vault_id == vault.id,
                    VaultItem.title == ref,
                    VaultItem.deleted_at.is_(None),
                )
            )
        )
        if not matches:
            raise ItemNotFound(f"vault {vault.name!r} has no item {ref!r}")
        if len(matches) > 1:
            raise AmbiguousReference(
                f"{len(matches)} items in vault {vault.name!r} are titled {ref!r}; use the id"
            )
        return matches[0]

    def _count(self, session: Session, vault_id: str) -> int:
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(VaultItem)
                .where(VaultItem.vault_id == vault_id, VaultItem.deleted_at.is_(None))
            )
            or 0
        )

    def _files(self, session: Session, vault: Vault, item: VaultItem) -> tuple[FileInfo, ...]:
        rows = session.execute(
            sa.select(VaultFile.id, VaultFile.name, VaultFile.size, VaultFile.section_id)
            .where(VaultFile.item_id == item.id, VaultFile.deleted_at.is_(None))
            .order_by(VaultFile.created_at, VaultFile.id)
        ).all()
        return tuple(FileInfo(i, n, s, sec, item.id, vault.id) for i, n, s, sec in rows)

    def _store_version(
        self, session: Session, item: VaultItem, content: ItemContent, actor: Actor
    ) -> None:
        sealed = envelope.seal(
            self.keyring.for_writing(session),
            content.to_json(),
            aad=item_aad(item.id, item.version),
        )
        session.add(
            VaultItemVersion(
                item_id=item.id,
                version=item.version,
                ciphertext=sealed.ciphertext,
                wrapped_key=sealed.wrapped_key,
                kek_id=sealed.kek_id,
                created_by=_editor(actor),
            )
        )

    def _write_version(
        self,
        session: Session,
        actor: Actor,
        vault: Vault,
        item: VaultItem,
        draft: ItemDraft,
        content: ItemContent,
        previous: ItemContent | None,
    ) -> ItemView:
        now = utcnow()
        item.version += 1
        item.title = draft.title
        item.category = draft.category
        item.tags = list(draft.tags)
        item.favorite = draft.favorite
        item.max_secret_age_days = draft.max_secret_age_days
        item.updated_at = now
        item.last_edited_by = _editor(actor)
        changed = previous is None or previous.secret_values() != content.secret_values()
        if changed:
            item.secrets_changed_at = now
        self._store_version(session, item, content, actor)
        _bump(vault)
        record(
            session,
            actor,
            "vault.item.update",
            resource_type="vault_item",
            resource_id=item.id,
            resource_name=f"{vault.name}/{item.title}",
            context={"vault_id": vault.id, "version": item.version, "values_changed": changed},
        )
        return _item_view(item, vault.id, vault.name, content)

    def _open_version(
        self, row: VaultItemVersion, actor: Actor, vault: Vault, item: VaultItem
    ) -> ItemContent:
        sealed = Sealed(row.ciphertext, row.wrapped_key, row.kek_id)
        return ItemContent.from_json(
            self._open(sealed, item_aad(item.id, row.version), actor, vault, item)
        )

    def _open(
        self, sealed: Sealed, aad: bytes, actor: Actor, vault: Vault, item: VaultItem
    ) -> bytes:
        kek = self.keyring.open_sealed(sealed)
        try:
            return envelope.open(kek, sealed, aad=aad)
        except SealBroken:
            raise _BrokenSeal(vault.id, item.id, f"{vault.name}/{item.title}") from None


class _BrokenSeal(Exception):
    """Carries a failed integrity check out of the transaction to be recorded."""

    def __init__(self, vault_id: str, item_id: str, name: str) -> None:
        super().__init__(name)
        self.vault_id, self.item_id, self.name = vault_id, item_id, name


# The vault's own event names, and the guard's action each one is.
_GUARD_ACTIONS: Final = {
    "vault.create": "vault.create",
    "vault.read": "vault.read",
    "vault.update": "vault.update",
    "vault.item.list": "vault.read",
    "vault.file.list": "vault.read",
    "vault.item.read": "vault.item.read",
    "vault.secret.read": "vault.item.read",
    "vault.file.read": "vault.item.read",
    "vault.item.create": "vault.item.write",
    "vault.item.update": "vault.item.write",
    "vault.item.delete": "vault.item.write",
    "vault.file.create": "vault.item.write",
}


def can_admin(actor: Actor) -> bool:
    try:
        require_admin(actor)
    except VaultAccessDenied:
        return False
    return True


def _find_field(content: ItemContent, ref: Reference) -> Field:
    candidates: list[Field] = list(content.fields)
    if ref.section is not None:
        section = _find_section(content.sections, ref.section)
        candidates = [f for f in candidates if f.section_id == section.id]
    for matcher in (
        lambda f: f.id == ref.field,
        lambda f: f.label == ref.field,
        lambda f: (f.label or "").lower() == ref.field.lower(),
    ):
        found = [f for f in candidates if matcher(f)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AmbiguousReference(
                f"{len(found)} fields match {ref.field!r}; add the section or use the field id"
            )
    raise FieldNotFound(f"no field {ref.field!r} in {ref.vault}/{ref.item}")


def _find_section(sections: Sequence[Section], name: str) -> Section:
    for matcher in (
        lambda s: s.id == name,
        lambda s: s.label == name,
        lambda s: (s.label or "").lower() == name.lower(),
    ):
        found = [s for s in sections if matcher(s)]
        if found:
            return found[0]
    raise FieldNotFound(f"no section {name!r}")


def _token_holders(session: Session, now: datetime) -> list[tuple[str, Actor]]:
    rows = session.execute(
        sa.select(ApiToken.scopes, Identity.name)
        .join(Identity, Identity.id == ApiToken.identity_id)
        .where(
            ApiToken.revoked_at.is_(None),
            sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            Identity.status == IdentityStatus.ACTIVE,
        )
    ).all()
    return [
        (name, Actor(kind="token", name=name, scopes=frozenset(scopes))) for scopes, name in rows
    ]


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


def _draft_of(item: VaultItem, content: ItemContent) -> ItemDraft:
    return ItemDraft(
        title=item.title,
        category=item.category,
        tags=list(item.tags or []),
        favorite=item.favorite,
        fields=list(content.fields),
        sections=list(content.sections),
        urls=list(content.urls),
        max_secret_age_days=item.max_secret_age_days,
    )


def _vault_view(vault: Vault, items: int) -> VaultView:
    return VaultView(
        id=vault.id,
        name=vault.name,
        description=vault.description,
        items=items,
        attribute_version=vault.attribute_version,
        content_version=vault.content_version,
        max_secret_age_days=vault.max_secret_age_days,
        created_at=vault.created_at,
        updated_at=vault.updated_at,
    )


def _item_view(
    item: Any, vault_id: str, vault_name: str, content: ItemContent | None = None
) -> ItemView:
    """The view of ``item``: a :class:`VaultItem` or a row with the same columns."""
    return ItemView(
        id=item.id,
        vault_id=vault_id,
        vault_name=vault_name,
        title=item.title,
        category=item.category,
        tags=tuple(item.tags or ()),
        favorite=item.favorite,
        version=item.version,
        latest_version=item.version,
        trashed=item.deleted_at is not None,
        created_at=item.created_at,
        updated_at=item.updated_at,
        last_edited_by=item.last_edited_by,
        max_secret_age_days=item.max_secret_age_days,
        secrets_changed_at=item.secrets_changed_at,
        content=content,
    )


def _bump(vault: Vault) -> None:
    vault.content_version += 1
    vault.updated_at = utcnow()


def _editor(actor: Actor) -> str:
    return actor.identity_id or actor.name


MAX_SECRET_AGE_DAYS: Final = 36_500


def _check_age(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_SECRET_AGE_DAYS:
        raise InvalidInput(
            f"the maximum secret age is between 1 and {MAX_SECRET_AGE_DAYS} days (100 years)"
        )
