"""Destructive commands show what they will do and ask first; without a terminal they
need --yes, and where a reason is recorded, --reason."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sys
from typing import Any

import pytest

from limen import identity
from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database


def _status(db: Database, name: str) -> str:
    with db.unit_of_work(readonly=True) as uow:
        return str(identity.get(uow.session, name).status)


def _agents(db: Database) -> None:
    with db.unit_of_work() as uow:
        identity.create(uow, Actor.system("test"), kind="human", name="carol")
        for name in ("scout", "scribe"):
            identity.create(uow, Actor.system("test"), kind="agent", name=name, owner="carol")


def _one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("limen: ")
    return lines[0]


def test_without_a_terminal_nothing_destructive_happens_unless_yes(
    cli: Any, db: Database, installed: InitResult, settings: Settings
) -> None:
    _agents(db)
    refused = cli("killswitch", "engage", "--kind", "agent", "--reason", "drill")
    assert refused.exit_code == 2
    assert "suspend 2 active agent(s)" in _one_line(refused)
    assert "--yes" in _one_line(refused)
    no_reason = cli("killswitch", "engage", "--kind", "agent", "--yes")
    assert no_reason.exit_code == 2
    assert "--reason" in _one_line(no_reason)
    assert {_status(db, "scout"), _status(db, "scribe")} == {"active"}

    engaged = cli("killswitch", "engage", "--reason", "drill", "--yes", "--json")
    assert engaged.exit_code == 0, engaged.stderr
    assert len(json.loads(engaged.stdout)["suspended"]) == 2
    assert cli("killswitch", "disengage", "--reason", "drill over").exit_code == 2
    assert _status(db, "scout") == "suspended"
    cli("killswitch", "disengage", "--reason", "drill over", "--yes")
    assert _status(db, "scout") == "active"

    assert cli("vault", "create", "payments").exit_code == 0
    cli("item", "create", "--vault", "payments", "--title", "stripe", "credential=sk_test_1")
    kept = cli("item", "delete", "stripe", "--vault", "payments")
    assert kept.exit_code == 2 and "delete item 'stripe'" in _one_line(kept)
    assert cli("read", "limen://payments/stripe/credential").stdout == "sk_test_1\n"
    rotation = cli("vault", "rotate-key")
    assert rotation.exit_code == 2 and "re-wrap every data key" in _one_line(rotation)
    assert not (settings.data_dir / "vault-kek.key").exists()

    cli("audit", "checkpoint")
    before = json.loads(cli("audit", "search", "--json", "--limit", "1000").stdout)["items"]
    prune = cli("audit", "prune", "--before", "2999-01-01T00:00:00Z", "--reason", "retention")
    assert prune.exit_code == 2 and "delete" in _one_line(prune)
    after = json.loads(cli("audit", "search", "--json", "--limit", "1000").stdout)["items"]
    assert len(after) == len(before)
    done = cli(
        "audit", "prune", "--before", "2999-01-01T00:00:00Z", "--reason", "retention", "--yes"
    )
    assert done.exit_code == 0, done.stderr
    events = json.loads(cli("events", "list", "--json").stdout)["items"]
    assert [(e["action"], e["reason"]) for e in events if e["action"] == "audit.prune"] == [
        ("audit.prune", "retention")
    ]

    assert cli("item", "delete", "stripe", "--vault", "payments", "--yes").exit_code == 0
    assert cli("read", "limen://payments/stripe/credential").exit_code == 3


def _on_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``limen ARGS`` on a pseudo-terminal, answering each prompt in turn."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become `limen`
        os.execvpe(sys.executable, [sys.executable, "-m", "limen", *args], env)  # noqa: S606
    seen = b""
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                raise AssertionError(f"limen stopped answering; it printed: {seen.decode()}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.rstrip().endswith((b"?", b"]:", b":")):
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode())  # what a person reads, without styles
    return os.waitstatus_to_exitcode(status), text.replace("\r\n", "\n")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_a_terminal_the_kill_switch_says_what_it_will_do_and_asks(
    db: Database, installed: InitResult, settings: Settings
) -> None:
    _agents(db)
    env = {**os.environ, "LIMEN_DATA_DIR": str(settings.data_dir)}

    code, shown = _on_terminal(["killswitch", "engage"], ["drill", "n"], env)
    assert code == 1, shown
    assert "Reason (recorded in the event log)" in shown
    assert "This will engage the kill switch and suspend 2 active agent(s)." in shown
    assert "scout" in shown and "scribe" in shown
    assert "limen: nothing done" in shown
    assert {_status(db, "scout"), _status(db, "scribe")} == {"active"}

    code, shown = _on_terminal(["killswitch", "engage", "--reason", "drill"], ["y"], env)
    assert code == 0, shown
    assert "2 suspended now" in shown
    assert {_status(db, "scout"), _status(db, "scribe")} == {"suspended"}
