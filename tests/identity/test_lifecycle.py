"""Identity lifecycle: update (roles, owner, attributes) and deprovisioning, over the CLI
and HTTP, and the docs' security model naming only tests that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from limen.installation import InitResult
from tests.respond._waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_update_changes_what_it_is_told_and_keeps_the_last_admin(
    cli: Any, installed: InitResult
) -> None:
    assert cli("identity", "create", "--kind", "human", "--name", "bob").exit_code == 0
    updated = cli(
        "identity", "update", "bob", "--email", "Bob@Example.com", "--role", "auditor", "--json"
    )
    assert updated.exit_code == 0, updated.stderr
    document = json.loads(updated.stdout)
    assert document["email"] == "bob@example.com" and document["roles"] == ["auditor"]
    typo = cli("identity", "update", "bob", "--role", "auditr")
    assert typo.exit_code == 2 and "unknown role 'auditr'" in typo.stderr
    assert "security-operator" in typo.stderr  # says which roles exist
    nothing = cli("identity", "update", "bob")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr
    last = cli("identity", "update", "admin", "--no-roles")
    assert last.exit_code == 4 and "last active admin" in last.stderr


def test_a_new_owner_cuts_off_what_was_held_under_the_old_one(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any
) -> None:
    url = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    make_identity("gina", roles=["viewer"])
    make_identity("hal", roles=["viewer"])
    make_identity("gina-bot", kind="agent", owner="gina")
    c = make_client("gina-bot", ["identities:read"])
    assert c.secret is not None

    def token() -> str:
        r = httpx.post(
            f"{url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(c.client_id, c.secret),
        )
        return r.json()["access_token"]

    old = token()
    moved = httpx.patch(f"{url}/v1/identities/gina-bot", json={"owner": "hal"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["owner_id"] != ""
    refused = httpx.get(f"{url}/v1/identities", headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401
    fresh = httpx.get(f"{url}/v1/identities", headers={"Authorization": f"Bearer {token()}"})
    assert fresh.status_code == 200


def test_deprovisioning_suspends_what_it_owns_revokes_what_it_holds_and_keeps_history(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any, cli: Any
) -> None:
    url = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    make_identity("ivy", roles=["viewer"])
    make_identity("ivy-bot", kind="agent", owner="ivy")
    client = make_client("ivy", ["identities:read"])
    issued = json.loads(cli("token", "create", "--identity", "ivy", "--json").stdout)
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert httpx.get(f"{url}/v1/identities", headers=bearer).status_code == 200

    without_a_terminal = cli("identity", "delete", "ivy")
    assert without_a_terminal.exit_code == 2 and "--yes" in without_a_terminal.stderr
    gone = cli("identity", "delete", "ivy", "--yes", "--reason", "left the company", "--json")
    assert gone.exit_code == 0, gone.stderr
    result = json.loads(gone.stdout)
    assert result["status"] == "deprovisioned" and result["revoked_tokens"] == 1
    assert len(result["cascaded"]) == 1

    # The CLI is another process: the server hears of it through the change feed.
    wait_for(lambda: httpx.get(f"{url}/v1/identities", headers=bearer).status_code == 401)
    bot = httpx.get(f"{url}/v1/identities/ivy-bot", headers=admin).json()
    assert bot["status"] == "suspended"
    assert client.secret is not None
    denied = httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
    )
    assert denied.status_code == 401
    back = httpx.post(f"{url}/v1/identities/ivy/reactivate", headers=admin)
    assert back.status_code == 404  # a deprovisioned identity is gone for good
    ivy = result["id"]
    history = httpx.get(
        f"{url}/v1/events", params={"resource_id": ivy, "action": "identity.*"}, headers=admin
    ).json()["items"]
    assert "identity.deprovision" in {e["action"] for e in history}
    # Over HTTP too.
    make_identity("jay")
    assert httpx.delete(f"{url}/v1/identities/jay", headers=admin).status_code == 200


def test_the_security_model_names_only_tests_that_exist() -> None:
    text = (ROOT / "docs" / "security-model.md").read_text(encoding="utf-8")
    named = re.findall(r"`((?:[\w]+/)*test_\w+\.py)(?:::(test_\w+?))?(?:…)?`", text)
    assert named
    for path, name in named:
        source = ROOT / "tests" / path
        assert source.exists(), path
        if name:
            assert f"def {name}" in source.read_text(encoding="utf-8"), f"{path}::{name}"
