"""``limen events list``: by actor name, the newest first, and following the log."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from limen import identity
from limen.audit import Actor, record
from limen.installation import InitResult
from limen.store import Database


def _as(db: Database, name: str, email: str, actions: list[str]) -> str:
    with db.unit_of_work() as uow:
        person = identity.create(uow, Actor.system("test"), kind="human", name=name, email=email)
        uow.flush()
        actor = Actor(kind="human", name=name, identity_id=person.id)
        for action in actions:
            record(uow.session, actor, action, resource_type="tool", resource_id="deploy")
        return person.id


def _actions(result: Any) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return [e["action"] for e in json.loads(result.stdout)["items"]]


def test_actor_takes_a_name_or_email_and_an_unknown_one_is_an_error(
    limen: Any, db: Database
) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    _as(db, "alice", "alice@example.com", ["tool.call", "tool.list"])
    _as(db, "bob", "bob@example.com", ["tool.delete"])
    assert _actions(cli("events", "list", "--actor", "alice", "--json")) == [
        "tool.call",
        "tool.list",
    ]
    assert _actions(cli("events", "list", "--actor", "bob@example.com", "--json")) == [
        "tool.delete"
    ]
    unknown = cli("events", "list", "--actor", "mallory")
    assert unknown.exit_code == 3
    assert unknown.stderr.strip() == "limen: no identity 'mallory'"


def test_newest_shows_the_latest_events_oldest_of_them_first(
    cli: Any, db: Database, installed: InitResult
) -> None:
    _as(db, "alice", "alice@example.com", [f"step.{n}" for n in range(1, 6)])
    newest = cli("events", "list", "--newest", "--limit", "3", "--json")
    assert _actions(newest) == ["step.3", "step.4", "step.5"]
    oldest = _actions(cli("events", "list", "--limit", "3", "--json"))
    assert "step.5" not in oldest
    assert cli("events", "list", "--newest", "--cursor", "c1").exit_code == 2


def _line_with(lines: queue.Queue[str], text: str, seen: list[str]) -> str:
    """Wait for a printed line containing ``text`` (as a person watching would)."""
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError(f"nothing more printed; so far: {seen}") from None
        seen.append(line)
        if text in line:
            return line


def _lines_of(stream: Any) -> queue.Queue[str]:
    """Every line ``stream`` prints, as it prints it (read on a thread of its own)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_follow_prints_new_events_as_they_come_and_ctrl_c_ends_it(limen: Any, db: Database) -> None:
    """On the server host it reads the data dir; remotely it polls ``GET /v1/events``
    with the cursor after the last event it printed. Either way Ctrl-C ends it, exit 0."""
    _as(db, "alice", "alice@example.com", ["tool.call"])
    env = {**os.environ, **limen.env}
    follower = subprocess.Popen(
        [sys.executable, "-m", "limen", "events", "list", "--follow", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal starts it: a runner started in the background ignores Ctrl-C, and
        # its children would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen: list[str] = []
    try:
        assert follower.stdout is not None
        printed = _lines_of(follower.stdout)
        _line_with(printed, '"tool.call"', seen)
        made = limen("identity", "create", "--kind", "service", "--name", "late-job")
        assert made.exit_code == 0, made.stderr
        line = _line_with(printed, "late-job", seen)
        assert json.loads(line)["action"] == "identity.create"
        _as(db, "bob", "bob@example.com", ["tool.delete"])
        _line_with(printed, '"tool.delete"', seen)
        assert sum('"tool.call"' in s for s in seen) == 1  # nothing is printed twice
        assert sum("late-job" in s for s in seen) == 1
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0
        assert follower.stderr is not None
        assert "Traceback" not in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.terminate()
            follower.wait(timeout=30)
