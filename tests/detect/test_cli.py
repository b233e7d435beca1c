"""``limen detect replay`` end to end on a real data dir."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from limen.detect import read_events
from limen.detect.errors import InvalidEventDocument
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import Identity


def test_replay_scores_every_event_and_writes_alerts(
    cli: Any, installed: InitResult, db: Database, tmp_path: Path
) -> None:
    events, labels, output = (
        tmp_path / "events.jsonl",
        tmp_path / "labels.jsonl",
        tmp_path / "p.jsonl",
    )
    made = cli(
        "detect",
        "simulate",
        "--seed",
        "5",
        "--small",
        "--register",
        "--output",
        str(events),
        "--labels",
        str(labels),
        "--json",
    )
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["registered"] > 50

    result = cli("detect", "replay", str(events), "--output", str(output), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    scored = [line for line in lines if "event" in line]
    alerts = [line for line in lines if "alert" in line]
    given = [json.loads(line)["id"] for line in events.read_text().splitlines()]
    assert [line["event"] for line in scored] == given  # time order, one line each
    assert all(0.0 <= line["score"] <= 1.0 for line in scored)
    assert summary["events"] == len(given) and summary["alerts"] == len(alerts) > 0

    with db.unit_of_work(readonly=True) as uow:
        ids = set(uow.session.scalars(sa.select(Identity.id)))
    for alert in alerts:
        assert {
            "alert",
            "identity",
            "from",
            "to",
            "raised_at",
            "score",
            "severity",
            "reasons",
        } <= set(alert)
        assert alert["identity"] in ids  # keyed by the registry's identity ids
        assert alert["from"] <= alert["raised_at"] <= alert["to"]
        assert alert["reasons"] and all(isinstance(r, str) for r in alert["reasons"])

    episodes = [json.loads(line) for line in labels.read_text().splitlines()]
    offboarded = next(e for e in episodes if e["kind"] == "offboarded-owner")
    flagged = {e for alert in alerts for e in alert.get("events", [])}
    assert flagged & set(offboarded["events"])  # the suspension in the file was followed


def test_replay_reports_bad_input_in_one_line(
    cli: Any, installed: InitResult, tmp_path: Path
) -> None:
    missing = cli("detect", "replay", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o"))
    assert missing.exit_code != 0
    assert missing.stderr.startswith("limen: no such file")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"occurred_at": "2026-01-05T09:00:00Z", "actor": {"name": "a"}, "action": "x"}\n'
        '{"actor": {"name": "a"}}\n'
    )
    result = cli("detect", "replay", str(bad), "--output", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "limen: line 2: an event needs occurred_at, actor and action"
    ]


def test_detect_run_without_the_key_file_is_one_line_and_exit_6(
    cli: Any, installed: InitResult, settings: Any
) -> None:
    settings.resolved_key_file.unlink()  # what it records could not be sealed
    result = cli("detect", "run")
    assert result.exit_code == 6
    assert result.stderr.startswith("limen: the audit trail needs the key file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_reading_events_leaves_the_garbage_collector_as_it_found_it() -> None:
    # read_events pauses the cyclic collector while it parses; a server that reads a bad
    # file must not be left collecting nothing.
    good = b'{"occurred_at": "2026-01-05T09:00:00Z", "actor": {"name": "a"}, "action": "x"}'
    assert gc.isenabled()
    assert [obs.action for obs in read_events([good, b"", good])] == ["x", "x"]
    assert gc.isenabled()
    with pytest.raises(InvalidEventDocument, match="line 2 is not JSON"):
        read_events([good, b"{not json"])
    assert gc.isenabled()

    gc.disable()
    try:
        read_events([good])
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()


def test_an_event_time_is_iso_8601_or_posix_seconds_and_anything_else_is_named() -> None:
    iso = b'{"occurred_at": "2026-01-05T09:00:00Z", "actor": {"name": "a"}, "action": "x"}'
    posix = b'{"occurred_at": 1767603600, "actor": {"name": "a"}, "action": "y"}'
    assert [obs.ts for obs in read_events([iso, posix])] == [1767603600.0, 1767603600.0]
    with pytest.raises(InvalidEventDocument) as refused:
        read_events([iso, b'{"occurred_at": true, "actor": {"name": "a"}, "action": "x"}'])
    assert refused.value.detail == (
        "line 2: occurred_at must be an ISO 8601 time or a number of POSIX seconds"
    )
