"""Setting up an installation: data directory, key file, schema, account id, first admin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen import identity
from limen.audit import Actor, AuditKeys, check_key, record
from limen.errors import Unavailable
from limen.identity.errors import NotInitialised
from limen.ids import new_id
from limen.keyfile import create_key_file
from limen.store import Database
from limen.store.models import Identity, IdentityKind, IdentityStatus, Installation

__all__ = [
    "ADMIN_SCOPES",
    "InitResult",
    "account_id",
    "initialise",
    "issue_admin_token",
    "prepare_data_dir",
]

ADMIN_SCOPES = ("*",)


@dataclass(frozen=True, slots=True)
class InitResult:
    account_id: str
    admin_id: str
    admin_token: str | None
    """The first admin's token; ``None`` when the installation already existed."""
    created: bool


def prepare_data_dir(path: Path) -> None:
    """Create the data directory, private to its owner."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise Unavailable(f"cannot create data directory {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise Unavailable(f"data directory {path} is not a directory")


def initialise(
    db: Database,
    *,
    key_file: Path | None,
    admin_name: str = "admin",
    admin_email: str | None = None,
    issue_token: bool = True,
) -> InitResult:
    """Bring the database to the current schema and create what a new installation needs.

    Safe to call on every start: an existing installation is left as it is, and its key
    file must be there and be its own (:class:`limen.audit.AuditKeyMismatch`, or
    :class:`limen.errors.Unavailable` for a missing one). A key file is written only for
    a new installation, and never over an existing file. Without ``issue_token`` the
    first admin gets no token (``limen server`` initialising a new installation: a token
    printed by a server would land in its logs).
    """
    db.migrate()
    actor = Actor.system("limen init")
    with db.unit_of_work(readonly=True) as uow:
        existing = uow.session.scalar(sa.select(Installation))
        if existing is not None:
            admin = _first_admin(uow.session)
            result = InitResult(existing.account_id, admin.id if admin else "", None, False)
    if existing is not None:
        if key_file is not None:
            keys = AuditKeys.from_key_file(key_file)
            check_key(db, keys, key_file=key_file)
            keys.attach(db)
        return result
    if key_file is not None:
        create_key_file(key_file)
        AuditKeys.from_key_file(key_file).attach(db)
    with db.unit_of_work() as uow:
        installation = uow.session.scalar(sa.select(Installation))
        if installation is not None:  # another process initialised it meanwhile
            admin = _first_admin(uow.session)
            return InitResult(installation.account_id, admin.id if admin else "", None, False)
        installation = Installation(id=1, account_id=new_id())
        uow.session.add(installation)
        admin = identity.create(
            uow,
            actor,
            kind="human",
            name=admin_name,
            email=admin_email,
            display_name="Administrator",
            roles=["admin"],
        )
        raw = None
        if issue_token:
            _, raw = identity.issue_api_token(
                uow, actor, admin, purpose="admin", scopes=ADMIN_SCOPES, name="first admin token"
            )
        record(
            uow.session,
            actor,
            "installation.create",
            resource_type="installation",
            resource_id=installation.account_id,
        )
        return InitResult(installation.account_id, admin.id, raw, True)


def issue_admin_token(db: Database, actor: Actor, admin_ref: str | None = None) -> str:
    """A new admin token for ``admin_ref`` (default: the first admin). Printed once."""
    with db.unit_of_work() as uow:
        _require_installation(uow.session)
        admin = identity.get(uow.session, admin_ref) if admin_ref else _first_admin(uow.session)
        if admin is None or not admin.is_admin:
            raise identity.InvalidIdentity("admin tokens can only be issued to admins")
        _, raw = identity.issue_api_token(
            uow, actor, admin, purpose="admin", scopes=ADMIN_SCOPES, name="admin token"
        )
        return raw


def account_id(session: Session) -> str:
    return _require_installation(session).account_id


def _require_installation(session: Session) -> Installation:
    installation = session.scalar(sa.select(Installation))
    if installation is None:
        raise NotInitialised("Limen is not initialised here; run `limen init` first")
    return installation


def _first_admin(session: Session) -> Identity | None:
    humans = session.scalars(
        sa.select(Identity)
        .where(Identity.kind == IdentityKind.HUMAN, Identity.status != IdentityStatus.DEPROVISIONED)
        .order_by(Identity.created_at)
    )
    return next((human for human in humans if human.is_admin), None)
