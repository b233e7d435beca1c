"""Envelope encryption at rest: tampering is detected, a wrong key is named, rotation works."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from limen.audit import Actor, EventFilter, list_events
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.store.models.vault import VaultItemVersion
from limen.vault import (
    VAULT_KEY_FILE_NAME,
    Field,
    ItemDraft,
    KeyFileSource,
    Keyring,
    PassphraseSource,
    SealBroken,
    VaultService,
    WrongKey,
)
from tests.vault.factories import vault_with

SECRET = "correct-horse-battery-staple-91"  # limen:allow (made up; tests look for it)


def _store(vaults: VaultService, title: str = "db") -> str:
    op = Actor.operator()
    if not vaults.list_vaults(op, name="prod"):
        vaults.create_vault(op, "prod")
    draft = ItemDraft(title=title, category="DATABASE", fields=[Field(id="pw", value=SECRET)])
    return vaults.create_item(op, "prod", draft).id


def _value(vaults: VaultService, item: str = "db") -> str | None:
    view = vaults.get_item(Actor.operator(), "prod", item)
    return view.content.fields[0].value


def test_tampered_ciphertext_is_detected_and_recorded(vaults: VaultService, db: Database) -> None:
    item_id = _store(vaults)
    with db.unit_of_work() as uow:
        row = uow.session.get(VaultItemVersion, (item_id, 1))
        flipped = bytearray(row.ciphertext)
        flipped[-1] ^= 0x01
        row.ciphertext = bytes(flipped)
    with pytest.raises(SealBroken) as broken:
        _value(vaults)
    assert "integrity check" in broken.value.detail and SECRET not in broken.value.detail
    with db.unit_of_work(readonly=True) as uow:
        failures = list_events(uow.session, EventFilter(outcome="failure")).events
    assert [e.action for e in failures] == ["vault.item.read"]
    assert "AES-GCM" in (failures[0].reason or "")


def test_a_version_moved_onto_another_item_does_not_open(
    vaults: VaultService, db: Database
) -> None:
    first, second = _store(vaults, "a"), _store(vaults, "b")
    with db.unit_of_work() as uow:
        source = uow.session.get(VaultItemVersion, (first, 1))
        target = uow.session.get(VaultItemVersion, (second, 1))
        target.ciphertext, target.wrapped_key = source.ciphertext, source.wrapped_key
    assert _value(vaults, "a") == SECRET
    with pytest.raises(SealBroken):
        _value(vaults, "b")


def test_a_wrong_key_fails_with_a_clear_error(
    vaults: VaultService, db: Database, settings: Settings, tmp_path
) -> None:
    _store(vaults)
    other_root = tmp_path / "elsewhere" / "limen.key"
    other_root.parent.mkdir()
    from limen.keyfile import create_key_file

    create_key_file(other_root)
    stranger = vault_with(db, Keyring(db, KeyFileSource(other_root)))
    with pytest.raises(WrongKey) as wrong:
        _value(stranger)
    assert "is not the key the vault is sealed with" in wrong.value.detail
    with pytest.raises(WrongKey):
        vault_with(db, Keyring(db, PassphraseSource("guess"))).list_items(Actor.operator(), "prod")


def test_rotation_rewraps_keys_keeps_data_and_retires_the_old_key(
    vaults: VaultService, db: Database, settings: Settings, tmp_path
) -> None:
    item_id = _store(vaults)
    vaults.update_item(Actor.operator(), "prod", "db", lambda d: d)  # a second version
    with db.unit_of_work(readonly=True) as uow:
        before = {
            (r.item_id, r.version): (r.ciphertext, r.wrapped_key)
            for r in uow.session.scalars(sa.select(VaultItemVersion))
        }
    old_root = tmp_path / "backup" / "limen.key"
    old_root.parent.mkdir()
    shutil.copy(settings.resolved_key_file, old_root)

    result = vaults.keyring.rotate(Actor.operator())
    assert result.rewrapped == 2 and result.old_kid != result.new_kid
    assert result.key_file == settings.resolved_key_file.parent / VAULT_KEY_FILE_NAME
    assert result.key_file.stat().st_mode & 0o777 == 0o600

    with db.unit_of_work(readonly=True) as uow:
        for row in uow.session.scalars(sa.select(VaultItemVersion)):
            ciphertext, wrapped = before[(row.item_id, row.version)]
            assert row.ciphertext == ciphertext  # data untouched
            assert row.wrapped_key != wrapped and row.kek_id == result.new_kid
    assert _value(vaults) == SECRET
    # Another process (a fresh keyring) picks the new key file up.
    assert _value(vault_with(db, Keyring(db, KeyFileSource(settings.resolved_key_file)))) == (
        SECRET
    )
    # The old KEK (the root-derived one) no longer opens anything.
    with pytest.raises(WrongKey):
        _value(vault_with(db, Keyring(db, KeyFileSource(old_root))))
    assert item_id


def test_passphrase_keys_rotate_to_a_new_passphrase(
    db: Database, installed: InitResult, settings: Settings
) -> None:
    vaults = vault_with(db, Keyring(db, PassphraseSource("first passphrase")))
    _store(vaults)
    assert _value(vaults) == SECRET
    result = vaults.keyring.rotate(Actor.operator(), new_passphrase="second passphrase")
    assert result.key_file is None and result.rewrapped == 1
    assert _value(vault_with(db, Keyring(db, PassphraseSource("second passphrase")))) == SECRET
    with pytest.raises(WrongKey):
        _value(vault_with(db, Keyring(db, PassphraseSource("first passphrase"))))
    with pytest.raises(WrongKey):
        _value(vault_with(db, Keyring(db, KeyFileSource(settings.resolved_key_file))))


def test_a_process_that_cached_the_old_key_seals_new_writes_under_the_new_one(
    vaults: VaultService, db: Database, settings: Settings
) -> None:
    _store(vaults, "before")  # this "server" has now cached the first KEK
    operator_cli = vault_with(db, Keyring(db, KeyFileSource(settings.resolved_key_file)))
    rotated = operator_cli.keyring.rotate(Actor.operator())
    _store(vaults, "after")  # written by the server after the CLI rotated the key
    with db.unit_of_work(readonly=True) as uow:
        kids = set(uow.session.scalars(sa.select(VaultItemVersion.kek_id)))
    assert kids == {rotated.new_kid}
    fresh = vault_with(db, Keyring(db, KeyFileSource(settings.resolved_key_file)))
    assert _value(fresh, "before") == _value(fresh, "after") == SECRET
