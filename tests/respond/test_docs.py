"""docs/partners.md: the curl examples run as written, against a live server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import SsfOutbox

DOC = Path(__file__).resolve().parents[2] / "docs" / "partners.md"


def _example(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- example:{name} -->\s*```bash\n(.*?)```\s*<!-- /example -->", text, re.DOTALL
    )
    assert match, f"docs/partners.md has no example {name!r}"
    return match.group(1)


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _partner(cli: Any, scopes: str) -> dict[str, Any]:
    created = cli("partner", "create", "elastic-soar", "--scopes", scopes, "--json")
    assert created.exit_code == 0, created.stderr
    return json.loads(created.stdout)


def test_the_soar_example_suspends_alice_and_her_agents(
    cli: Any, db: Database, installed: InitResult, live_server: Any
) -> None:
    with db.unit_of_work() as uow:
        identity.create(
            uow, Actor.system("test"), kind="human", name="alice", email="alice@example.com"
        )
        identity.create(uow, Actor.system("test"), kind="agent", name="alice-bot", owner="alice")
    partner = _partner(cli, "users:read,users:suspend,users:reactivate")
    result = _run(
        _example("soar"),
        {
            "LIMEN_URL": live_server.url,
            "ACCOUNT_ID": partner["account_id"],
            "CLIENT_ID": partner["client_id"],
            "CLIENT_SECRET": partner["client_secret"],
        },
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "SUSPENDED" in lines
    assert "alice-bot" in lines
    assert partner["client_secret"] not in result.stdout + result.stderr
    with db.unit_of_work(readonly=True) as uow:
        assert str(identity.get(uow.session, "alice").status) == "suspended"
        assert str(identity.get(uow.session, "alice-bot").status) == "suspended"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_poll_example_fetches_and_acknowledges(
    cli: Any, db: Database, installed: InitResult, live_server: Any
) -> None:
    partner = _partner(cli, "users:read,ssf:manage")
    token = _run(
        'curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials '
        '"$LIMEN_URL/v1beta1/users/oauth2/token" | jq -r .access_token',
        {
            "LIMEN_URL": live_server.url,
            "CLIENT_ID": partner["client_id"],
            "CLIENT_SECRET": partner["client_secret"],
        },
    ).stdout.strip()
    script = _example("ssf-poll")
    # Something to poll for: a suspension between creating the stream and polling it.
    script = script.replace(
        "# ... later:",
        'curl -sf -X POST -H "$ADMIN" "$LIMEN_URL/v1/identities/victim/suspend" >/dev/null\n#',
    )
    with db.unit_of_work() as uow:
        identity.create(uow, Actor.system("test"), kind="service", name="victim")
    result = _run(
        script,
        {
            "LIMEN_URL": live_server.url,
            "AUTH": f"Authorization: Bearer {token}",
            "ADMIN": f"Authorization: Bearer {installed.admin_token}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sets": {}, "moreAvailable": False}
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(SsfOutbox.event_types, SsfOutbox.state)).all()
    assert sorted((types[0].rsplit("/", 1)[1], state) for types, state in rows) == [
        ("account-disabled", "delivered"),
        ("session-revoked", "delivered"),
    ]
