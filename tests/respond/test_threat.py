"""The threat level: set by a person or a playbook, seen by Cedar, shortening tokens."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from limen.store import Database
from tests.api.test_events_ingest import reporter_headers
from tests.detect.test_live import wait_scored
from tests.respond.test_playbooks import agent_with_token, probing, wait_status

POLICY = """\
permit (principal, action == Limen::Action::"read", resource)
when { context has threat_level && context.threat_level == "normal" };
"""


def _decision(client: TestClient, headers: dict[str, str]) -> bool:
    body = {
        "subject": {"type": "identity", "id": "ops"},
        "action": {"name": "read"},
        "resource": {"type": "secret", "id": "prod-db"},
        "context": {"threat_level": "normal"},  # a PEP cannot claim the level
    }
    return client.post("/access/v1/evaluation", json=body, headers=headers).json()["decision"]


def _until(check: Any, expected: Any) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = check()
        if value == expected:
            return value
        time.sleep(0.05)
    return check()


def test_the_level_tightens_decisions_and_token_lifetimes_on_every_change(
    client: TestClient, admin_headers: dict[str, str], cli: Any, tmp_path: Any
) -> None:
    assert client.get("/v1/threat-level", headers=admin_headers).json()["level"] == "normal"
    cli("identity", "create", "--kind", "service", "--name", "ops")
    (tmp_path / "p.cedar").write_text(POLICY)
    assert cli("policy", "add", "calm", str(tmp_path / "p.cedar")).exit_code == 0
    made = json.loads(
        cli("client", "create", "--identity", "ops", "--scopes", "x", "--json").stdout
    )
    credentials = (made["client_id"], made["client_secret"])

    def lifetime() -> int:
        grant = client.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials
        )
        return grant.json()["expires_in"]

    assert _until(lambda: _decision(client, admin_headers), True) is True
    assert lifetime() == 300

    changed = cli("threat", "set", "high", "--reason", "credential leak", "--json")
    assert changed.exit_code == 0, changed.stderr
    assert json.loads(changed.stdout)["token_lifetime_scale"] == 0.25
    assert _until(lambda: _decision(client, admin_headers), False) is False
    assert lifetime() == 75
    shown = client.get("/v1/threat-level", headers=admin_headers).json()
    assert (shown["level"], shown["reason"], shown["set_by"]) == (
        "high",
        "credential leak",
        cli_name(cli),
    )

    back = client.put("/v1/threat-level", json={"level": "normal"}, headers=admin_headers)
    assert back.json()["level"] == "normal"
    assert _decision(client, admin_headers) is True
    assert lifetime() == 300
    levels = [
        e["context"]["level"]
        for e in client.get(
            "/v1/events", params={"action": "threat.set"}, headers=admin_headers
        ).json()["items"]
    ]
    assert levels == ["high", "normal"]
    bad = client.put("/v1/threat-level", json={"level": "panic"}, headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("level")
    assert cli("threat", "set", "panic").exit_code != 0


def cli_name(cli: Any) -> str:
    listed = cli("events", "list", "--action", "threat.set", "--json")
    return json.loads(listed.stdout)["items"][0]["actor"]["name"]


def test_a_playbook_raises_the_level_and_cedar_sees_the_agents_risk(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database, tmp_path: Any
) -> None:
    gateway = reporter_headers(cli)
    agent_with_token(cli, "kit-bot", "kit")
    (tmp_path / "risk.cedar").write_text(
        'permit (principal, action == Limen::Action::"call", resource)\n'
        "when { principal.risk < 50 };\n"
    )
    assert cli("policy", "add", "low-risk", str(tmp_path / "risk.cedar")).exit_code == 0
    question = {
        "subject": {"type": "identity", "id": "kit-bot"},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": "deploy"},
    }

    def permitted() -> bool:
        answer = client.post("/access/v1/evaluation", json=question, headers=admin_headers)
        return answer.json()["decision"]

    assert _until(permitted, True) is True  # the policy reaches the app through the feed
    client.put(
        "/v1/playbooks/escalate",
        json={"text": "match: {min_score: 0.6}\nactions: [raise-threat]\nthreat_level: high"},
        headers=admin_headers,
    )
    ordinary, probe = probing("kit-bot")
    wait_scored(
        db, client.post("/v1/events", json={"events": ordinary}, headers=gateway).json()["ids"]
    )
    client.post("/v1/events", json={"events": probe}, headers=gateway)

    def level() -> str:
        return client.get("/v1/threat-level", headers=admin_headers).json()["level"]

    assert _until(level, "high") == "high"
    shown = client.get("/v1/threat-level", headers=admin_headers).json()
    assert shown["set_by"] == "playbook:escalate" and "alert" in shown["reason"]
    wait_status(client, admin_headers, "kit-bot", "active")  # it only raised the level
    assert _until(permitted, False) is False


ADMIN_POLICY = """\
// At high, agents may do nothing on Limen itself (report events, read secrets, ...).
forbid (principal, action, resource)
when { principal.kind == "agent" && context has threat_level && context.threat_level == "high" };
"""


def test_the_level_tightens_limens_own_operations_through_administrative_policies(
    client: TestClient, admin_headers: dict[str, str], cli: Any, tmp_path: Any
) -> None:
    bot = agent_with_token(cli, "lou-bot", "lou")
    (tmp_path / "calm.cedar").write_text(ADMIN_POLICY)
    added = cli(
        "policy", "add", "agents-stand-down", str(tmp_path / "calm.cedar"), "--realm", "admin"
    )
    assert added.exit_code == 0, added.stderr
    body = {
        "events": [
            {"occurred_at": "2026-12-01T00:00:00Z", "actor": {"name": "lou-bot"}, "action": "x"}
        ]
    }

    def reported() -> int:
        return client.post("/v1/events", json=body, headers=bot).status_code

    assert _until(reported, 201) == 201
    assert cli("threat", "set", "high", "--reason", "agents misbehaving").exit_code == 0
    assert _until(reported, 403) == 403
    assert cli("threat", "set", "normal", "--reason", "over").exit_code == 0
    assert _until(reported, 201) == 201
