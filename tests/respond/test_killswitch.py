"""The kill switch from the CLI and the API: engage suspends all, disengage undoes only that."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database


def _identity(db: Database, **fields: Any) -> str:
    with db.unit_of_work() as uow:
        return identity.create(uow, Actor.system("test"), **fields).id


def _status(db: Database, ref: str) -> str:
    with db.unit_of_work(readonly=True) as uow:
        return str(identity.get(uow.session, ref).status)


def test_engage_and_disengage_from_the_cli(cli: Any, db: Database, installed: InitResult) -> None:
    _identity(db, kind="human", name="carol")
    agents = [_identity(db, kind="agent", name=f"agent-{n}", owner="carol") for n in range(3)]
    _identity(db, kind="service", name="backup-job")
    # Suspended before the switch: the switch must not reactivate it later.
    with db.unit_of_work() as uow:
        identity.suspend(uow, Actor.system("test"), "agent-0", reason="leaked key")

    engaged = cli(
        "killswitch", "engage", "--kind", "agent", "--reason", "prompt injection", "--yes", "--json"
    )
    assert engaged.exit_code == 0, engaged.stderr
    document = json.loads(engaged.stdout)
    assert document["suspended"] == agents[1:]
    assert {_status(db, a) for a in agents} == {"suspended"}
    assert _status(db, "backup-job") == "active"
    assert _status(db, "carol") == "active"

    status = json.loads(cli("killswitch", "status", "--json").stdout)
    assert [(s["kind"], s["held"], s["reason"]) for s in status] == [
        ("agent", 2, "prompt injection")
    ]

    # An analyst reactivates agent-2 and suspends it again for their own reasons.
    with db.unit_of_work() as uow:
        identity.reactivate(uow, Actor.system("test"), "agent-2")
        identity.suspend(uow, Actor.system("test"), "agent-2", reason="separate incident")

    released = cli(
        "killswitch", "disengage", "--kind", "agent", "--reason", "fixed", "--yes", "--json"
    )
    assert released.exit_code == 0, released.stderr
    result = json.loads(released.stdout)
    assert result["reactivated"] == [agents[1]]
    assert result["left_alone"] == [agents[2]]
    assert [_status(db, a) for a in agents] == ["suspended", "active", "suspended"]
    assert json.loads(cli("killswitch", "status", "--json").stdout) == []

    again = cli("killswitch", "disengage", "--kind", "agent", "--reason", "fixed", "--yes")
    assert again.exit_code == 4
    assert "no kill switch is engaged" in again.stderr
    human = cli("killswitch", "engage", "--kind", "human")
    assert human.exit_code == 2
    assert "agent or service" in human.stderr


def test_engage_over_http_spares_the_partner_and_is_recorded(
    client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    _identity(db, kind="service", name="soar", attributes={"partner": True})
    job = _identity(db, kind="service", name="nightly-job")
    with db.unit_of_work() as uow:
        soar = identity.get(uow.session, "soar")
        _, raw = identity.issue_api_token(
            uow,
            Actor.system("test"),
            soar,
            purpose="service-account",
            scopes=["users:read", "users:suspend", "users:reactivate"],
        )
    partner = {"Authorization": f"Bearer {raw}"}

    engaged = client.post(
        "/v1/killswitch/engage", json={"kind": "service", "reason": "drill"}, headers=partner
    )
    assert engaged.status_code == 200, engaged.text
    assert engaged.json()["suspended"] == [job]
    assert _status(db, "soar") == "active"
    listed = client.get("/v1/killswitch", headers=partner).json()
    assert [(s["kind"], s["held"]) for s in listed] == [("service", 1)]

    released = client.post("/v1/killswitch/disengage", json={"kind": "service"}, headers=partner)
    assert released.json()["reactivated"] == [job]
    assert _status(db, "nightly-job") == "active"

    events = client.get(
        "/v1/events", params={"action": "killswitch.*"}, headers=admin_headers
    ).json()["items"]
    assert [e["action"] for e in events] == ["killswitch.engage", "killswitch.disengage"]
    assert {e["actor"]["name"] for e in events} == {"soar"}
    assert events[0]["context"]["suspended"] == [job]
    assert events[1]["context"]["reactivated"] == [job]
