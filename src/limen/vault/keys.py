"""The vault's key-encryption key (KEK): where it comes from, checking it, rotating it.

Two sources, chosen by the operator:

* **Key file** (default). The first KEK is derived from the installation's root key file
  (HKDF, label ``limen vault kek v1``). ``limen vault rotate-key`` writes a fresh random
  KEK to ``vault-kek.key`` beside the root key file and from then on that file is the
  KEK. The root key file itself never changes, because other packages derive their own
  keys from it.
* **Passphrase** (``LIMEN_KEY_PASSPHRASE``): Argon2id over the passphrase and a random
  salt. The salt and the Argon2 parameters live in the database (``vault_keks``), not in
  the data directory: they are not secret, they must travel with the data they unlock
  (a restored backup needs only the passphrase), and several API nodes sharing one
  PostgreSQL share no data directory.

Every wrapped data key records the id of the KEK that wrapped it, and ``vault_keks``
records the active KEK's id, so a wrong key is reported as such rather than as tampering.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen import keyfile
from limen.audit import Actor, record
from limen.errors import InvalidInput, Unavailable
from limen.store import Database
from limen.store.models import utcnow
from limen.store.models.vault import VaultFile, VaultItemVersion, VaultKek
from limen.vault import _aead, _kek
from limen.vault._kek import (
    VAULT_KEY_FILE_NAME,
    Kek,
    KekSource,
    KeyFileSource,
    PassphraseSource,
    file_aad,
    item_aad,
)
from limen.vault.envelope import Sealed, rewrap
from limen.vault.errors import WrongKey
from limen.vault.scopes import require_admin

__all__ = [
    "VAULT_KEY_FILE_NAME",
    "KeyFileSource",
    "Keyring",
    "PassphraseSource",
    "RotationResult",
    "file_aad",
    "item_aad",
]


@dataclass(frozen=True, slots=True)
class RotationResult:
    old_kid: str
    new_kid: str
    rewrapped: int
    """How many data keys were re-wrapped (item versions and files)."""
    key_file: Path | None
    """Where the new KEK now lives (key-file source); ``None`` for a passphrase."""


class Keyring:
    """Hands the current KEK to the vault, checked against the database.

    Built once per process; the KEK is derived once and cached. When a data key names a
    KEK other than the cached one (another process rotated it), the source is read again
    once before the key is declared wrong.
    """

    def __init__(self, db: Database, source: KekSource) -> None:
        self._db = db
        self._source = source
        self._lock = threading.Lock()
        self._current: Kek | None = None

    @property
    def source(self) -> KekSource:
        return self._source

    def current(self) -> Kek:
        kek = self._current
        if kek is None:
            with self._lock:
                if self._current is None:
                    self._current = self._load()
                kek = self._current
        return kek

    def for_kid(self, kid: str) -> Kek:
        """The KEK with id ``kid``, or :class:`WrongKey` if the configured key is not it."""
        kek = self.current()
        if kek.kid == kid:
            return kek
        with self._lock:
            self._current = None
            self._current = kek = self._load()
        if kek.kid != kid:
            raise WrongKey(_wrong_key_message(self._source, kid, kek.kid))
        return kek

    def for_writing(self, session: Session) -> Kek:
        """The KEK to seal with inside the writer's transaction: the one the database
        names as active right now.

        Another process may have rotated the key since this one cached it; sealing under
        a retired KEK would leave data no current key opens. On PostgreSQL the active
        row is read ``FOR SHARE``, so a rotation (which takes it ``FOR UPDATE``) waits for
        this transaction and re-wraps what it wrote.
        """
        active = session.scalar(_active_query(session, share=True))
        kek = self.current()
        if active is None or active == kek.kid:
            return kek
        return self.for_kid(active)

    def open_sealed(self, sealed: Sealed) -> Kek:
        return self.for_kid(sealed.kek_id)

    def cached(self, kid: str) -> Kek | None:
        """The KEK with id ``kid`` if it is the one already loaded; never reads anything."""
        kek = self._current
        return kek if kek is not None and kek.kid == kid else None

    def _load(self) -> Kek:
        # Read-only first: a reload can happen inside another transaction, and only the
        # very first start of a vault writes (the KEK record).
        with self._db.unit_of_work(readonly=True) as uow:
            active = _active(uow.session)
            if active is not None:
                kek = self._derive(uow.session, active)
                if kek.kid != active.id:
                    raise WrongKey(_wrong_key_message(self._source, active.id, kek.kid))
                return kek
        with self._db.unit_of_work() as uow:
            if _active(uow.session) is not None:  # another process got there first
                return self._load_existing()
            if isinstance(self._source, PassphraseSource):
                salt, params = _kek.new_salt(), dict(_kek.ARGON2_DEFAULTS)
                kek = _kek.from_passphrase(self._source.passphrase, salt, params)
                row = VaultKek(id=kek.kid, source="passphrase", salt=salt, kdf_params=params)
            else:
                kek = self._source.load()
                row = VaultKek(id=kek.kid, source="key-file", kdf_params={})
            uow.session.add(row)
            return kek

    def _load_existing(self) -> Kek:
        with self._db.unit_of_work(readonly=True) as uow:
            active = _active(uow.session)
            assert active is not None
            kek = self._derive(uow.session, active)
        if kek.kid != active.id:
            raise WrongKey(_wrong_key_message(self._source, active.id, kek.kid))
        return kek

    def _derive(self, session: Session, active: VaultKek) -> Kek:
        if isinstance(self._source, PassphraseSource):
            if active.salt is None:
                raise WrongKey(
                    "the vault is sealed with a key file, but a passphrase is configured"
                )
            return _kek.from_passphrase(self._source.passphrase, active.salt, active.kdf_params)
        return self._load_key_file(session, active)

    def _load_key_file(self, session: Session, active: VaultKek) -> Kek:
        assert isinstance(self._source, KeyFileSource)
        source = self._source
        if active.salt is not None:
            raise WrongKey("the vault is sealed with a passphrase; set LIMEN_KEY_PASSPHRASE")
        pending = source.pending_key_file
        if pending.exists():
            # A rotation committed but stopped before renaming its new key file into
            # place; finish it if the pending key is the one the database names.
            candidate = Kek.from_bytes(keyfile.read_key_file(pending))
            if candidate.kid == active.id:
                os.replace(pending, source.vault_key_file)
        return source.load()

    def rotate(
        self, actor: Actor, *, new_passphrase: str | None = None, now: datetime | None = None
    ) -> RotationResult:
        """Re-wrap every data key under a new KEK; item ciphertext is left as it is.

        Key-file source: the new KEK is random and written to ``vault-kek.key``.
        Passphrase source: ``new_passphrase`` is required; set it as
        ``LIMEN_KEY_PASSPHRASE`` afterwards. Either way the old KEK no longer opens
        anything once this returns.
        """
        require_admin(actor)
        now = now or utcnow()
        old = self.current()
        pending: Path | None = None
        if isinstance(self._source, PassphraseSource):
            if not new_passphrase:
                raise InvalidInput("rotating a passphrase-derived key needs a new passphrase")
            if new_passphrase == self._source.passphrase:
                raise InvalidInput("the new passphrase must differ from the current one")
            salt, params = _kek.new_salt(), dict(_kek.ARGON2_DEFAULTS)
            new = _kek.from_passphrase(new_passphrase, salt, params)
            new_row = VaultKek(id=new.kid, source="passphrase", salt=salt, kdf_params=params)
        else:
            if new_passphrase:
                raise InvalidInput("this vault uses a key file; rotate without a passphrase")
            material = _aead.new_key()
            pending = self._source.pending_key_file
            _write_key_file(pending, material)
            new = Kek.from_bytes(material)
            new_row = VaultKek(id=new.kid, source="key-file", kdf_params={})
        try:
            with self._db.unit_of_work() as uow:
                session = uow.session
                active = session.scalar(_active_query(session, rows=True))
                if active is None or active.id != old.kid:
                    raise WrongKey("the vault's key changed while rotating; try again")
                count = 0
                for row in session.scalars(sa.select(VaultItemVersion)):
                    _rewrap_row(row, item_aad(row.item_id, row.version), old, new)
                    count += 1
                for row in session.scalars(sa.select(VaultFile)):
                    _rewrap_row(row, file_aad(row.id), old, new)
                    count += 1
                active.retired_at = now
                session.add(new_row)
                record(
                    session,
                    actor,
                    "vault.key.rotate",
                    resource_type="vault_kek",
                    resource_id=new.kid,
                    context={"previous_kid": old.kid, "rewrapped": count},
                    now=now,
                )
        except BaseException:
            if pending is not None:
                with contextlib.suppress(FileNotFoundError):
                    pending.unlink()
            raise
        key_file = None
        if pending is not None:
            assert isinstance(self._source, KeyFileSource)
            os.replace(pending, self._source.vault_key_file)
            key_file = self._source.vault_key_file
        else:
            self._source = PassphraseSource(new_passphrase or "")
        with self._lock:
            self._current = new
        return RotationResult(old.kid, new.kid, count, key_file)


def _rewrap_row(row: VaultItemVersion | VaultFile, aad: bytes, old: Kek, new: Kek) -> None:
    if row.kek_id != old.kid:
        raise WrongKey(f"a data key is wrapped under unknown key id {row.kek_id}")
    sealed = rewrap(Sealed(row.ciphertext, row.wrapped_key, row.kek_id), aad=aad, old=old, new=new)
    row.wrapped_key = sealed.wrapped_key
    row.kek_id = sealed.kek_id


def _active(session: Session) -> VaultKek | None:
    return session.scalar(sa.select(VaultKek).where(VaultKek.retired_at.is_(None)))


def _active_query(session: Session, *, share: bool = False, rows: bool = False) -> sa.Select:
    """The active KEK (its id, or its row with ``rows``), locked on PostgreSQL.

    Writers take a shared lock, a rotation an exclusive one, so the two never interleave.
    SQLite needs no lock: its writers are serialised by ``BEGIN IMMEDIATE``.
    """
    query = sa.select(VaultKek if rows else VaultKek.id).where(VaultKek.retired_at.is_(None))
    # SQLAlchemy renders no lock on SQLite (there BEGIN IMMEDIATE is the lock).
    return query.with_for_update(read=share)


def _write_key_file(path: Path, material: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a leftover from a rotation that never committed
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise Unavailable(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(material) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def _wrong_key_message(source: KekSource, expected: str, configured: str) -> str:
    where = (
        "LIMEN_KEY_PASSPHRASE"
        if isinstance(source, PassphraseSource)
        else f"the key files in {source.root_key_file.parent}"
    )
    return (
        f"the configured vault key (id {configured}) is not the key the vault is sealed "
        f"with (id {expected}); check {where}"
    )
