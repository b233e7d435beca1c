"""Builders shared by the vault tests and the Connect API tests."""

from __future__ import annotations

from typing import Any

from limen.audit import Actor
from limen.config import Settings
from limen.store import Database
from limen.vault import KeyFileSource, Keyring, VaultService, service_accounts


def vault_service(db: Database, settings: Settings) -> VaultService:
    return VaultService(db, Keyring(db, KeyFileSource(settings.resolved_key_file)))


def issue_token(db: Database, name: str, *grants: str, **kwargs: Any) -> str:
    """A raw service-account token for ``name`` with ``grants`` like ``payments:read``."""
    return service_accounts.create(db, Actor.operator(), name, grants=grants, **kwargs).token
