"""Builders shared by the vault tests and the Connect API tests."""

from __future__ import annotations

from typing import Any

from limen import access, identity
from limen.audit import Actor
from limen.audit.durable import EventWriter
from limen.config import Settings
from limen.services import Services
from limen.store import Database
from limen.vault import Keyring, VaultService, service_accounts


def vault_with(db: Database, keyring: Keyring) -> VaultService:
    """A vault service with another keyring (a stranger's key, a passphrase)."""
    events = EventWriter(db)
    guard = access.Guard(db, status=lambda: identity.StatusView(db), events=events)
    return VaultService(db, keyring, authorizer=guard, events=events)


def vault_service(db: Database, settings: Settings) -> VaultService:
    """The vault service a process on ``settings`` would build (with its guard)."""
    return Services.open(settings, database=db).vault


def issue_token(db: Database, name: str, *grants: str, **kwargs: Any) -> str:
    """A raw service-account token for ``name`` with ``grants`` like ``payments:read``."""
    return service_accounts.create(db, Actor.operator(), name, grants=grants, **kwargs).token
