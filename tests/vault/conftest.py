"""Vault fixtures: a vault service on the test database and service-account tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.vault import VaultService
from tests.vault.factories import issue_token, vault_service


@pytest.fixture
def vaults(db: Database, settings: Settings, installed: InitResult) -> VaultService:
    return vault_service(db, settings)


@pytest.fixture
def service_token(db: Database, installed: InitResult) -> Callable[..., str]:
    """``service_token("ci", "payments:read")`` -> a raw service-account token."""

    def issue(name: str, *grants: str, **kwargs: Any) -> str:
        return issue_token(db, name, *grants, **kwargs)

    return issue
