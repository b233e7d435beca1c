"""Signing keys: sealed under the root key, never stored in the clear, usable for any JWT."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from limen.keyfile import read_key_file
from limen.store import Database
from limen.store.models import SigningKey
from limen.tokens import SigningKeys, SigningUnavailable


def test_keys_are_sealed_and_only_open_with_the_root_key(db: Database, settings, installed) -> None:
    root = read_key_file(settings.resolved_key_file)
    keys = SigningKeys(db, root_key=root, max_token_ttl=timedelta(minutes=5))
    set_token = keys.sign_jwt({"iss": "limen", "events": {}}, typ="secevent+jwt")
    header, claims = keys.verify_jwt(set_token, typ="secevent+jwt")
    assert header["typ"] == "secevent+jwt" and claims["iss"] == "limen"

    with db.unit_of_work(readonly=True) as uow:
        row = uow.session.scalars(sa.select(SigningKey)).one()
        assert "d" not in row.public_jwk
        assert len(row.sealed_private_key) == 12 + 32 + 16  # nonce, key, tag: sealed
    other = SigningKeys(db, root_key=b"\x01" * 32, max_token_ttl=timedelta(minutes=5))
    with pytest.raises(SigningUnavailable):
        other.reload()
