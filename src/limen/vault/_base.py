"""What every part of the vault service shares: its database, keyring and guard, the
authorised unit of work, finding vaults and items, and sealing and opening versions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Authorizer, Outcome, Resource, record
from limen.audit.durable import EventWriter
from limen.ids import is_id
from limen.store import Database, UnitOfWork
from limen.store.models import utcnow
from limen.store.models.vault import Vault, VaultFile, VaultItem, VaultItemVersion
from limen.vault import envelope
from limen.vault._kept_reads import KeptReads
from limen.vault._views import (
    FileInfo,
    ItemView,
)
from limen.vault._views import editor as _editor
from limen.vault._views import item_view as _item_view
from limen.vault.content import ItemContent, ItemDraft
from limen.vault.envelope import Sealed
from limen.vault.errors import (
    AmbiguousReference,
    ItemNotFound,
    SealBroken,
    VaultAccessDenied,
    VaultNotFound,
)
from limen.vault.keys import Keyring, item_aad
from limen.vault.scopes import Permission, can, require_admin

__all__ = ["VaultCore", "bump", "can_admin"]


class VaultCore:
    """The state and helpers each concern of :class:`~limen.vault.VaultService` uses."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        *,
        authorizer: Authorizer,
        events: EventWriter,
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
        self._events = events
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
            item.rotation_needed_since = item.rotation_needed_reason = None
        self._store_version(session, item, content, actor)
        bump(vault)
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
    "vault.delete": "vault.update",
    "vault.item.list": "vault.read",
    "vault.file.list": "vault.read",
    "vault.item.read": "vault.item.read",
    "vault.secret.read": "vault.item.read",
    "vault.file.read": "vault.item.read",
    "vault.item.create": "vault.item.write",
    "vault.item.update": "vault.item.write",
    "vault.item.delete": "vault.item.write",
    "vault.item.restore": "vault.item.write",
    "vault.file.create": "vault.item.write",
}


def can_admin(actor: Actor) -> bool:
    try:
        require_admin(actor)
    except VaultAccessDenied:
        return False
    return True


def bump(vault: Vault) -> None:
    vault.content_version += 1
    vault.updated_at = utcnow()
