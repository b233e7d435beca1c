"""``limen read`` on the embedded database, without SQLAlchemy or the settings library.

:class:`QuickVault` answers one question: the value of a ``limen://`` reference in the
latest version of its item, read by the operator on the server host. It runs the code
:meth:`VaultService.resolve` runs (the key sources, the key check, the envelope, the field
lookup, the event's row and seal) over :class:`~limen.store.EmbeddedDatabase`, and records
the same ``vault.secret.read`` event in the same writing transaction. For anything
unusual (no such vault, item or field, an ambiguous title, a version or key it does not
hold, a broken seal, a key file that is not the installation's, a rotation left
half-done) it answers ``None`` before writing anything, and the caller asks the vault
service, which gives the answer or the error and records what it records.
``tests/vault/test_quick_read.py`` holds the two paths equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from limen.audit._canon import linked_form_sql
from limen.audit._keymatch import key_matches
from limen.audit._keys import AuditKeys
from limen.audit._rows import event_row, insert_statements
from limen.audit._signed import SignedCheckpoint
from limen.audit.actor import Actor
from limen.errors import LimenError
from limen.ids import is_id
from limen.store.embedded import EmbeddedDatabase
from limen.vault import envelope
from limen.vault._fields import ResolvedSecret, find_field
from limen.vault._kek import Kek, KeyFileSource, item_aad
from limen.vault.content import ItemContent
from limen.vault.envelope import Sealed
from limen.vault.references import Reference, parse_reference

__all__ = ["QuickVault"]


class QuickVault:
    """Reads by reference on an embedded database whose keys it has checked."""

    def __init__(self, database: EmbeddedDatabase, kek: Kek, audit_keys: AuditKeys) -> None:
        self._db = database
        self._kek = kek
        self._audit_keys = audit_keys

    @classmethod
    def open(cls, database_file: Path, root_key_file: Path) -> QuickVault | None:
        """A quick vault on ``database_file``, or ``None`` if the general path must answer."""
        database = EmbeddedDatabase.open(database_file)
        if database is None:
            return None
        try:
            keys = _checked_keys(database, KeyFileSource(root_key_file))
        except LimenError:
            keys = None
        if keys is None:
            database.close()
            return None
        return cls(database, *keys)

    def close(self) -> None:
        self._db.close()

    def resolve(self, actor: Actor, reference: str, *, purpose: str) -> ResolvedSecret | None:
        """What :meth:`VaultService.resolve` answers for the operator, recorded as it
        records it; ``None`` (nothing recorded) where it would take another turn."""
        if actor.kind != "operator":  # trusted by the guard, with every vault scope
            return None
        try:
            ref = parse_reference(reference)
        except LimenError:
            return None
        try:
            return self._resolve(actor, ref, purpose=purpose)
        except LimenError:
            return None  # rolled back: the general path answers, or says what is wrong

    def _resolve(self, actor: Actor, ref: Reference, *, purpose: str) -> ResolvedSecret | None:
        db = self._db
        with db.writing():
            vault_ref, item_ref = ref.vault.strip(), ref.item.strip()
            items = db.rows(_ITEMS[is_id(vault_ref), is_id(item_ref)], (vault_ref, item_ref))
            if len(items) != 1:
                return None
            vault_id, vault_name, item_id, title, version = items[0]
            row = db.first(
                "SELECT ciphertext, wrapped_key, kek_id FROM vault_item_versions "
                "WHERE item_id = ? AND version = ?",
                (item_id, version),
            )
            if row is None or row[2] != self._kek.kid:
                return None
            try:
                raw = envelope.open(self._kek, Sealed(*row), aad=item_aad(item_id, version))
                found = find_field(ItemContent.from_json(raw), ref)
            except LimenError:
                return None  # a broken seal is recorded by the general path; nothing here
            event, _ = event_row(
                actor,
                "vault.secret.read",
                resource_type="vault_item",
                resource_id=item_id,
                resource_name=f"{vault_name}/{title}",
                context={
                    "vault_id": vault_id,
                    "version": version,
                    "field_id": found.id,
                    "reference": str(ref),
                    "purpose": purpose,
                },
            )
            for sql, parameters in insert_statements(db.dialect, [event], self._audit_keys.seal):
                db.execute(sql, parameters)
        return ResolvedSecret(str(ref), found.value or "", vault_id, item_id, found.id)


def _items_sql(vault_by_id: bool, item_by_id: bool) -> str:
    """The item a reference names, as :meth:`VaultCore._vault` and ``_item`` find it: the
    vault by id if the reference has an id's shape, else by name; the same for the item
    and its title. Two rows mean an ambiguous title, which the general path reports."""
    vault_column = "id" if vault_by_id else "name"
    item_column = "id" if item_by_id else "title"
    return (
        "SELECT v.id, v.name, i.id, i.title, i.version FROM vaults AS v "  # noqa: S608
        f"JOIN vault_items AS i ON i.vault_id = v.id WHERE v.{vault_column} = ? "
        f"AND i.{item_column} = ? AND i.deleted_at IS NULL LIMIT 2"
    )


_ITEMS = {(v, i): _items_sql(v, i) for v in (True, False) for i in (True, False)}


def _checked_keys(db: EmbeddedDatabase, source: KeyFileSource) -> tuple[Kek, AuditKeys] | None:
    """The vault's KEK and the audit keys, if the key files are the ones the database
    names and the audit trail was written with."""
    if source.pending_key_file.exists():
        return None  # a rotation to finish: the general path does
    active = db.rows("SELECT id, salt FROM vault_keks WHERE retired_at IS NULL")
    if len(active) != 1 or active[0][1] is not None:
        return None
    kek = source.load()
    if kek.kid != active[0][0]:
        return None
    audit_keys = AuditKeys.from_key_file(source.root_key_file)
    newest = db.first(
        "SELECT id, position, event_id, link, created_at, public_key, signature "
        "FROM audit_checkpoints ORDER BY position DESC LIMIT 1"
    )
    checkpoint = None
    last = None
    if newest is not None:
        fields = dict(zip(("id", "position", "event_id", "link"), newest[:4], strict=True))
        created_at = datetime.fromisoformat(newest[4]).replace(tzinfo=UTC)
        stored = SimpleNamespace(**fields, public_key=newest[5], signature=newest[6])
        stored.created_at = created_at
        checkpoint = SignedCheckpoint.from_row(stored)
    else:
        head = db.first("SELECT portable_from FROM audit_chain_head WHERE id = 1")
        form = linked_form_sql(db.dialect, int(head[0]) if head is not None else 1)
        found = db.first(
            f"SELECT chain_pos, chain_prev_id, link, {form} FROM events "  # noqa: S608
            "WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1"
        )
        if found is not None:
            last = (int(found[0]), found[1], bytes(found[2]), found[3])

    def link_at(position: int) -> bytes | None:
        before = db.first("SELECT link FROM events WHERE chain_pos = ?", (position,))
        return None if before is None else bytes(before[0])

    if not key_matches(audit_keys, newest=checkpoint, last=last, link_at=link_at):
        return None
    return kek, audit_keys
