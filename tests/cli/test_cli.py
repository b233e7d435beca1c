"""The ``limen`` command as an operator on the server host uses it, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from limen import __version__


def test_init_then_manage_identities_and_read_events(cli: Any, settings: Any) -> None:
    init = cli("init", "--json")
    assert init.exit_code == 0, init.stderr
    document = json.loads(init.stdout)
    assert document["admin_token"].startswith("limen_")
    assert document["created"] is True

    again = cli("init", "--json")
    assert json.loads(again.stdout)["admin_token"] is None

    human = cli(
        "identity",
        "create",
        "--kind",
        "human",
        "--name",
        "alice",
        "--email",
        "alice@example.com",
        "--json",
    )
    assert human.exit_code == 0, human.stderr
    bot = cli(
        "identity",
        "create",
        "--kind",
        "agent",
        "--name",
        "deploy-bot",
        "--owner",
        "alice@example.com",
        "--attributes",
        '{"team": "infra"}',
        "--json",
    )
    assert bot.exit_code == 0, bot.stderr
    bot_doc = json.loads(bot.stdout)
    assert bot_doc["owner_id"] == json.loads(human.stdout)["id"]
    assert bot_doc["attributes"] == {"team": "infra"}

    listed = json.loads(cli("identity", "list", "--kind", "agent", "--json").stdout)
    assert [i["name"] for i in listed["items"]] == ["deploy-bot"]

    suspended = cli("identity", "suspend", "deploy-bot", "--reason", "rotating", "--json")
    assert json.loads(suspended.stdout)["status"] == "suspended"
    assert json.loads(cli("identity", "suspend", "deploy-bot", "--json").stdout)["status"] == (
        "suspended"
    )
    only_suspended = json.loads(cli("identity", "list", "--status", "suspended", "--json").stdout)
    assert [i["name"] for i in only_suspended["items"]] == ["deploy-bot"]
    shown = json.loads(cli("identity", "show", bot_doc["id"], "--json").stdout)
    assert shown["status_reason"] == "rotating"
    assert json.loads(cli("identity", "reactivate", "deploy-bot", "--json").stdout)["status"] == (
        "active"
    )

    events = json.loads(cli("events", "list", "--action", "identity.*", "--json").stdout)
    actions = [e["action"] for e in events["items"]]
    assert actions == [
        "identity.create",
        "identity.create",
        "identity.create",
        "identity.suspend",
        "identity.reactivate",
    ]
    suspend = events["items"][3]
    assert suspend["actor"]["kind"] == "operator"
    assert suspend["context"]["channel"] == "cli"
    assert suspend["reason"] == "rotating"

    table = cli("identity", "list")
    assert table.exit_code == 0
    assert "deploy-bot" in table.stdout


def test_errors_are_one_line_and_non_zero(cli: Any) -> None:
    cli("init", "--json")
    cli("identity", "create", "--kind", "human", "--name", "erin")
    cases = [
        (("identity", "create", "--kind", "agent", "--name", "b"), "owner"),
        (("identity", "create", "--kind", "robot", "--name", "b"), "unknown kind"),
        (("identity", "create", "--kind", "human", "--name", "erin"), "already exists"),
        (("identity", "create", "--kind", "agent", "--name", "b", "--owner", "zed"), "zed"),
        (
            ("identity", "create", "--kind", "human", "--name", "f", "--attributes", "{bad"),
            "not valid JSON",
        ),
        (("identity", "show", "nobody"), "no identity"),
        (("identity", "list", "--status", "sleepy"), "unknown status"),
        (("events", "list", "--since", "yesterday"), "ISO 8601"),
    ]
    for args, fragment in cases:
        result = cli(*args)
        assert result.exit_code != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("limen: ")
        assert fragment in lines[0], (args, lines[0])
        assert "Traceback" not in result.stdout + result.stderr


def test_commands_before_init_say_what_to_do(cli: Any, settings: Any, backend: str) -> None:
    if backend == "sqlite":
        (settings.data_dir / "limen.db").unlink()
        result = cli("identity", "list")
        assert result.exit_code != 0
        assert "limen init" in result.stderr
    result = cli("info")
    assert result.exit_code != 0
    assert "limen init" in result.stderr


def test_version_and_info(cli: Any, settings: Any, backend: str) -> None:
    version = cli("--version")
    assert version.stdout.strip() == f"limen {__version__}"
    init = json.loads(cli("init", "--json").stdout)
    info = json.loads(cli("info", "--json").stdout)
    assert info["account_id"] == init["account_id"]
    assert len(info["account_id"]) == 26
    assert info["version"] == __version__
    assert info["database"]["backend"] == ("sqlite" if backend == "sqlite" else "postgresql")
    assert info["data_dir"] == str(settings.data_dir)


def test_admin_token_command_issues_a_working_token(cli: Any, db: Any) -> None:
    from limen import identity

    cli("init", "--json")
    issued = json.loads(cli("admin-token", "--json").stdout)["admin_token"]
    view = identity.StatusView(db)
    try:
        with db.unit_of_work(readonly=True) as uow:
            actor = identity.authenticate(identity.OpaqueTokens(view), uow.session, issued)
    finally:
        view.close()
    assert actor.name == "admin"
    assert actor.has_scope("identities:write")


def test_debug_adds_the_traceback_and_keeps_the_exit_code(cli: Any) -> None:
    cli("init", "--json")
    plain = cli("identity", "show", "nobody")
    debug = cli("--debug", "identity", "show", "nobody")
    assert plain.exit_code == debug.exit_code == 3
    assert "Traceback (most recent call last)" in debug.stderr
    assert (
        debug.stderr.strip().splitlines()[-1]
        == plain.stderr.strip()
        == ("limen: no identity 'nobody'")
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_reader_that_stops_reading_ends_the_command_quietly(limen: Any) -> None:
    """``limen … | head``: when whatever reads the output goes away, the command stops
    quietly with exit code 1, whether it prints a line or a table."""
    for args in (["identity", "list", "--json"], ["identity", "list"]):
        command = subprocess.Popen(
            [sys.executable, "-m", "limen", *args],
            env={**os.environ, **limen.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert command.stdout is not None and command.stderr is not None
        command.stdout.close()  # long before the command writes its first line
        assert command.wait(timeout=60) == 1, args
        assert command.stderr.read() == "", args
