"""``limen audit``, ``limen events-token`` and ``limen sink`` on the configured database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from limen.installation import InitResult
from limen.store import Database


def test_verify_reports_the_edited_event_and_exits_1(
    cli: Any, db: Database, installed: InitResult, tmp_path: Path
) -> None:
    checkpoint = json.loads(cli("audit", "checkpoint", "--export", str(tmp_path), "--json").stdout)
    assert checkpoint["checkpoint"]["position"] == 3 and len(checkpoint["exported"]) == 1
    ok = json.loads(cli("audit", "verify", "--checkpoints", str(tmp_path), "--json").stdout)
    # Three events from init, then the checkpoint's own audit.checkpoint event.
    assert ok["ok"] is True and ok["checked"] == 4 and ok["checkpoints"] == 1

    with db.engine.begin() as conn:
        edited = conn.execute(sa.text("SELECT id FROM events WHERE chain_pos = 2")).scalar_one()
        conn.execute(sa.text("UPDATE events SET actor_name = 'someone else' WHERE chain_pos = 2"))
    bad = cli("audit", "verify")
    assert bad.exit_code == 1
    assert f"edited event {edited} at position 2" in bad.stderr
    document = json.loads(cli("audit", "verify", "--json").stdout)
    assert document["problem"]["event_id"] == edited


def test_search_prune_tokens_and_sinks(cli: Any, installed: InitResult, tmp_path: Path) -> None:
    token = json.loads(cli("events-token", "create", "--features", "itemusages", "--json").stdout)
    assert token["token"].startswith("limen_") and token["features"] == ["itemusages"]
    assert cli("events-token", "create", "--features", "everything").exit_code == 2

    found = json.loads(cli("audit", "search", "--kind", "operator", "--json").stdout)["items"]
    assert {e["action"] for e in found} == {"identity.create", "token.issue"}
    lines = cli("audit", "search", "--jsonl").stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["link"] for line in lines)

    refused = cli("audit", "prune", "--before", "2999-01-01T00:00:00Z")
    assert refused.exit_code == 4 and "checkpoint" in refused.stderr
    cli("audit", "checkpoint")
    pruned = json.loads(
        cli(
            "audit", "prune", "--before", "2999-01-01", "--reason", "retention", "--yes", "--json"
        ).stdout
    )
    assert pruned["deleted"] == 5 and pruned["through_position"] == 5
    assert json.loads(cli("audit", "verify", "--json").stdout)["ok"] is True

    out = tmp_path / "audit.jsonl"
    added = json.loads(
        cli("sink", "add", "file", "--kind", "jsonl", "--target", str(out), "--json").stdout
    )
    assert added["secret"] is None and added["kind"] == "jsonl"
    hook = json.loads(
        cli(
            "sink", "add", "hook", "--kind", "webhook", "--target", "http://127.0.0.1:9/x", "--json"
        ).stdout
    )
    assert hook["secret"]
    assert cli("sink", "add", "file", "--kind", "jsonl", "--target", str(out)).exit_code == 4
    assert cli("sink", "add", "x", "--kind", "smoke", "--target", "y").exit_code == 2
    delivered = json.loads(cli("sink", "deliver", "--json").stdout)["delivered"]
    assert delivered == len(out.read_text().splitlines()) > 0
    sinks = {s["name"]: s for s in json.loads(cli("sink", "list", "--json").stdout)["items"]}
    assert sinks["file"]["pending"] == 0 and sinks["hook"]["failures"] >= 1
    assert hook["secret"] not in cli("sink", "list", "--json").stdout
    assert cli("sink", "remove", "hook").exit_code == 0
    assert cli("sink", "remove", "hook").exit_code == 3
