"""Items and their files: listing, versions, creating, replacing, patching, deleting,
attaching and reading files. Every write is a new version, sealed under the current KEK."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from limen.audit import Actor, record
from limen.ids import is_id, new_id
from limen.store.models import utcnow
from limen.store.models.vault import VaultFile, VaultItem, VaultItemVersion
from limen.vault import envelope
from limen.vault._base import VaultCore, bump
from limen.vault._views import (
    FileInfo,
    ItemView,
)
from limen.vault._views import draft_of as _draft_of
from limen.vault._views import editor as _editor
from limen.vault._views import item_view as _item_view
from limen.vault.content import ItemContent, ItemDraft
from limen.vault.envelope import Sealed
from limen.vault.errors import (
    AmbiguousReference,
    FileTooLarge,
    InvalidItem,
    ItemNotFound,
    VaultFileNotFound,
)
from limen.vault.keys import file_aad

__all__ = ["MAX_FILE_BYTES", "Items", "check_file_size"]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest file an item takes."""


def check_file_size(size: int) -> None:
    """Refuse a file of ``size`` bytes, or one that has grown to it while arriving, if it is
    over :data:`MAX_FILE_BYTES` (:class:`~limen.vault.errors.FileTooLarge`)."""
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(f"files are at most {MAX_FILE_BYTES // (1024 * 1024)} MiB")


class Items(VaultCore):
    def list_items(
        self,
        actor: Actor,
        vault_ref: str,
        *,
        title: str | None = None,
        tag: str | None = None,
        trashed: bool = False,
    ) -> list[ItemView]:
        """Summaries (no field values) of the vault's live items, by title (``trashed``:
        of the items in its trash instead)."""
        with self._authorised(actor, "vault.item.list", vault_ref, "read", write=False) as uow:
            vault = self._vault(uow.session, vault_ref)
            deleted = (
                VaultItem.deleted_at.is_not(None) if trashed else VaultItem.deleted_at.is_(None)
            )
            query = (
                sa.select(VaultItem)
                .where(VaultItem.vault_id == vault.id, deleted)
                .order_by(VaultItem.title, VaultItem.id)
            )
            if title is not None:
                query = query.where(VaultItem.title == title)
            rows = list(uow.session.scalars(query))
            if tag is not None:
                rows = [r for r in rows if tag in (r.tags or [])]
            return [_item_view(r, vault.id, vault.name) for r in rows]

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
            bump(vault)
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
            bump(vault)
            record(
                uow.session,
                actor,
                "vault.item.delete",
                resource_type="vault_item",
                resource_id=item.id,
                resource_name=f"{vault.name}/{item.title}",
                context={"vault_id": vault.id, "version": item.version},
            )

    def restore_item(self, actor: Actor, vault_ref: str, item_ref: str) -> ItemView:
        """Take an item out of the trash (by id, or by title if one trashed item has it):
        it reads, lists and resolves again, at the version it had."""
        with self._authorised(actor, "vault.item.restore", vault_ref, "write") as uow:
            session = uow.session
            vault = self._vault(session, vault_ref)
            ref = (item_ref or "").strip()
            matches = list(
                session.scalars(
                    sa.select(VaultItem).where(
                        VaultItem.vault_id == vault.id,
                        VaultItem.deleted_at.is_not(None),
                        sa.or_(VaultItem.id == ref, VaultItem.title == ref),
                    )
                )
            )
            if not matches:
                raise ItemNotFound(f"the trash of vault {vault.name!r} has no item {ref!r}")
            if len(matches) > 1:
                raise AmbiguousReference(
                    f"{len(matches)} trashed items in vault {vault.name!r} are titled {ref!r}; "
                    "use the id"
                )
            item = matches[0]
            item.deleted_at = None
            item.updated_at = utcnow()
            bump(vault)
            record(
                session,
                actor,
                "vault.item.restore",
                resource_type="vault_item",
                resource_id=item.id,
                resource_name=f"{vault.name}/{item.title}",
                context={"vault_id": vault.id, "version": item.version},
            )
            return _item_view(item, vault.id, vault.name)

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
        check_file_size(len(content))
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
            bump(vault)
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
