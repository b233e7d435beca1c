"""The same CLI commands twice: on the server host (the data dir) and remotely, through
``LIMEN_URL``/``LIMEN_TOKEN`` against a live server, expecting the same results.

In remote mode the CLI's data dir is an empty folder, so a command that quietly fell back
to local data would fail rather than pass.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from limen.config import Settings
from limen.testing import free_port
from tests.conftest import CliResult, Limen, cli_in


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The sink tests deliver to loopback, which an operator has to allow for a sink added
    over HTTP (``LIMEN_SINK_ALLOWED_HOSTS``)."""
    return settings.model_copy(update={"sink_allowed_hosts": "127.0.0.1"})


def _one_line_error(result: CliResult, code: int, fragment: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("limen: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_identities_are_created_listed_updated_and_suspended(limen: Limen) -> None:
    human = limen.json(
        "identity", "create", "--kind", "human", "--name", "alice", "--email", "alice@example.com"
    )
    bot = limen.json(
        "identity", "create", "--kind", "agent", "--name", "deploy-bot",
        "--owner", "alice@example.com", "--attributes", '{"team": "infra"}',
    )  # fmt: skip
    assert bot["owner_id"] == human["id"]
    assert bot["attributes"] == {"team": "infra"}
    assert set(bot) >= {"id", "kind", "status", "created_at", "status_changed_at"}

    listed = limen.json("identity", "list", "--kind", "agent")
    assert [i["name"] for i in listed["items"]] == ["deploy-bot"]
    assert listed["items"][0] == bot
    assert limen.json("identity", "show", "deploy-bot") == bot

    updated = limen.json("identity", "update", "deploy-bot", "--display-name", "Deploy bot")
    assert updated["display_name"] == "Deploy bot"

    suspended = limen.json("identity", "suspend", "deploy-bot", "--reason", "rotating")
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "rotating")
    only = limen.json("identity", "list", "--status", "suspended")
    assert [i["name"] for i in only["items"]] == ["deploy-bot"]
    assert limen.json("identity", "reactivate", "deploy-bot")["status"] == "active"

    table = limen("identity", "list")
    assert table.exit_code == 0 and "deploy-bot" in table.stdout and "alice" in table.stdout


def test_a_suspended_identitys_token_is_refused(limen: Limen) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "carol", "--role", "viewer")
    issued = limen.json("token", "create", "--identity", "carol", "--name", "laptop")
    assert issued["token"].startswith("limen_") and issued["identity"] == "carol"
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert httpx.get(f"{limen.url}/v1/identities/carol", headers=headers).status_code == 200

    listed = limen.json("token", "list", "--identity", "carol")
    assert [t["name"] for t in listed["items"]] == ["laptop"]
    assert "token" not in listed["items"][0]

    limen.json("identity", "suspend", "carol")
    # the server hears of a suspension made beside it (local mode) through its change feed
    assert _eventually(
        lambda: httpx.get(f"{limen.url}/v1/identities/carol", headers=headers).status_code == 401
    )

    revoked = limen.json("token", "revoke", issued["id"], "--reason", "left")
    assert revoked["state"] == "revoked"
    assert limen.json("token", "list", "--identity", "carol")["items"] == []


def test_errors_are_the_same_one_line_in_both_modes(limen: Limen) -> None:
    limen("identity", "create", "--kind", "human", "--name", "erin")
    _one_line_error(limen("identity", "show", "nobody"), 3, "no identity")
    _one_line_error(
        limen("identity", "create", "--kind", "human", "--name", "erin"), 4, "already exists"
    )
    _one_line_error(
        limen("identity", "create", "--kind", "agent", "--name", "b", "--owner", "zed"), 2, "zed"
    )
    _one_line_error(limen("identity", "create", "--kind", "agent", "--name", "b"), 2, "owner")
    _one_line_error(
        limen("identity", "create", "--kind", "human", "--name", "f", "--attributes", "{bad"),
        2,
        "not valid JSON",
    )
    _one_line_error(limen("token", "revoke", "tok_nothing"), 3, "tok_nothing")


def test_a_bad_choice_is_told_in_the_same_words_in_both_modes(limen: Limen, tmp_path: Path) -> None:
    policy = tmp_path / "p.cedar"
    policy.write_text("permit (principal, action, resource);\n")
    for args, line in [
        (
            ("identity", "create", "--name", "x", "--kind", "agnet"),
            "unknown kind 'agnet'; use one of human, agent, service",
        ),
        (
            ("identity", "list", "--status", "gone"),
            "unknown status 'gone'; use one of active, suspended, deprovisioned",
        ),
        (
            ("threat", "set", "dire"),
            "unknown level 'dire'; use one of normal, elevated, high, critical",
        ),
        (
            ("client", "create", "--identity", "admin", "--auth-method", "pin"),
            "unknown auth method 'pin'; use one of client_secret_basic, client_secret_post, "
            "private_key_jwt",
        ),
        (
            ("sink", "add", "s", "--kind", "ftp", "--target", "x"),
            "unknown sink kind 'ftp'; use one of webhook, nats, jsonl",
        ),
        (
            ("policy", "add", "p", str(policy), "--realm", "root"),
            "unknown realm 'root'; use one of access, admin, schema",
        ),
    ]:
        result = limen(*args)
        _one_line_error(result, 2, line)
        assert result.stderr.strip() == f"limen: {line}", (limen.mode, result.stderr)


# -- remote mode only ---------------------------------------------------------------------


@pytest.fixture
def remote(settings: Any, installed: Any, live_server: Any, tmp_path: Path) -> Limen:
    return cli_in("remote", settings, installed, live_server, tmp_path)


def test_a_refused_token_and_a_forbidden_command_say_so(remote: Limen) -> None:
    refused = remote("identity", "list", LIMEN_TOKEN="limen_not-a-real-token")
    _one_line_error(refused, 5, "the server refused the token (401)")
    assert "limen_not-a-real-token" not in refused.stderr

    remote.json("identity", "create", "--kind", "human", "--name", "vic", "--role", "viewer")
    viewer = remote.json("token", "create", "--identity", "vic")["token"]
    assert remote("identity", "list", "--json", LIMEN_TOKEN=viewer).exit_code == 0
    forbidden = remote("identity", "create", "--kind", "human", "--name", "x", LIMEN_TOKEN=viewer)
    _one_line_error(forbidden, 5, "not allowed (403)")
    assert viewer not in forbidden.stdout + forbidden.stderr


def test_an_unreachable_server_is_named(remote: Limen) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = remote("identity", "list", LIMEN_URL=nowhere)
    _one_line_error(result, 6, f"cannot reach LIMEN_URL {nowhere}")
    assert remote.admin_token not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("init",), "`limen init` runs on the server host"),
        (("db", "migrate"), "`limen db` runs on the server host"),
        (("admin-token",), "`limen admin-token` runs on the server host"),
        (("server",), "`limen server` runs on the server host"),
        (("vault", "rotate-key", "--yes"), "`limen vault rotate-key` runs on the server host"),
        (("detect", "run"), "`limen detect run` runs on the server host"),
    ],
)
def test_commands_without_an_http_api_refuse_rather_than_act_locally(
    remote: Limen, args: tuple[str, ...], fragment: str
) -> None:
    result = remote(*args)
    _one_line_error(result, 2, fragment)
    assert "unset LIMEN_TOKEN" in result.stderr
    assert not any(Path(remote.env["LIMEN_DATA_DIR"]).iterdir())


def test_server_and_token_options_work_like_the_variables(remote: Limen) -> None:
    env = {"LIMEN_URL": "", "LIMEN_TOKEN": ""}
    options = ("--server", remote.url, "--token", remote.admin_token)
    listed = remote(*options, "identity", "list", "--json", **env)
    assert listed.exit_code == 0, listed.stderr
    assert [i["name"] for i in json.loads(listed.stdout)["items"]] == ["admin"]
    alone = remote("--server", remote.url, "identity", "list", **env)
    _one_line_error(alone, 2, "--server needs a token")


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_kill_switch_engages_shows_and_disengages(limen: Limen) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "olga")
    for name in ("scout", "scribe"):
        limen.json("identity", "create", "--kind", "agent", "--name", name, "--owner", "olga")
    refused = limen("killswitch", "engage", "--kind", "agent", "--reason", "drill")
    _one_line_error(refused, 2, "suspend 2 active agent(s)")

    engaged = limen.json("killswitch", "engage", "--reason", "drill", "--yes")
    assert (engaged["kind"], len(engaged["suspended"])) == ("agent", 2)
    status = limen.json("killswitch", "status")
    assert [(s["id"], s["held"], s["reason"]) for s in status] == [(engaged["id"], 2, "drill")]
    assert limen.json("identity", "show", "scout")["status"] == "suspended"

    _one_line_error(limen("killswitch", "disengage", "--reason", "over"), 2, "reactivate up to 2")
    back = limen.json("killswitch", "disengage", "--reason", "over", "--yes")
    assert (back["id"], len(back["reactivated"]), back["left_alone"]) == (engaged["id"], 2, [])
    assert limen.json("killswitch", "status") == []
    _one_line_error(
        limen("killswitch", "disengage", "--reason", "again", "--yes"), 4, "no kill switch"
    )


def test_run_resolves_remotely_and_keeps_the_token_from_the_child(
    remote: Limen, tmp_path: Path
) -> None:
    remote.json("vault", "create", "ops")
    remote.json("item", "create", "--vault", "ops", "--title", "db", "password=hunter2-x9")
    script = (
        "import os; print(os.environ['DB_PASSWORD'] == 'hunter2-x9', 'LIMEN_TOKEN' in os.environ)"
    )
    result = remote(
        "run", "--", sys.executable, "-c", script,
        DB_PASSWORD="limen://ops/db/password",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


def test_events_alerts_and_the_threat_level(limen: Limen) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "hana")
    limen.json("identity", "suspend", "hana", "--reason", "drill")
    events = limen.json("events", "list", "--action", "identity.*")
    assert [e["action"] for e in events["items"]] == [
        "identity.create", "identity.create", "identity.suspend",
    ]  # fmt: skip
    assert events["items"][2]["reason"] == "drill"
    assert events["items"][2]["resource"]["name"] == "hana"
    table = limen("events", "list", "--action", "identity.suspend")
    assert table.exit_code == 0 and "identity.suspend" in table.stdout
    newest = limen.json("events", "list", "--action", "identity.*", "--newest", "--limit", "2")
    assert [e["action"] for e in newest["items"]] == ["identity.create", "identity.suspend"]

    assert limen.json("alert", "list") == {"items": []}
    _one_line_error(limen("alert", "show", "alert-nothing"), 3, "alert-nothing")

    assert limen.json("threat", "show")["level"] == "normal"
    raised = limen.json("threat", "set", "high", "--reason", "incident")
    assert (raised["level"], raised["reason"]) == ("high", "incident")
    shown = limen("threat", "show")
    assert shown.exit_code == 0 and shown.stdout.startswith("threat level: high (incident)")
    assert limen.json("threat", "set", "normal")["level"] == "normal"


def test_playbooks_and_the_access_reviews(limen: Limen, tmp_path: Path) -> None:
    book = tmp_path / "probe.yaml"
    book.write_text(
        "description: suspend probing agents\n"
        "match: {min_score: 0.7, kinds: [agent]}\n"
        "actions: [suspend, contain]\n"
        "mode: dry-run\n"
    )
    added = limen.json("playbook", "add", "probe", str(book))
    assert (added["name"], added["mode"], added["actions"]) == (
        "probe", "dry-run", ["suspend", "contain"],
    )  # fmt: skip
    assert [b["name"] for b in limen.json("playbook", "list")["items"]] == ["probe"]
    assert limen.json("playbook", "show", "probe")["description"] == "suspend probing agents"
    shown = limen("playbook", "show", "probe")
    assert shown.exit_code == 0 and "then suspend, contain" in shown.stdout
    (tmp_path / "broken.yaml").write_text("actions: [suspend\n")
    _one_line_error(limen("playbook", "add", "x", str(tmp_path / "broken.yaml")), 2, "YAML")
    assert limen("playbook", "remove", "probe").exit_code == 0
    _one_line_error(limen("playbook", "show", "probe"), 3, "probe")

    limen.json("identity", "create", "--kind", "human", "--name", "rita")
    limen.json("identity", "create", "--kind", "agent", "--name", "rita-bot", "--owner", "rita")
    review = limen.json("access", "review")
    assert [i["name"] for i in review["identities"]] == ["rita-bot"]
    sheet = limen("access", "review", "--format", "csv")
    assert sheet.exit_code == 0 and "rita-bot" in sheet.stdout
    posture = limen.json("posture", "report")
    assert len(posture["risks"]) == 10


def test_deprovisioning_says_what_it_cascaded_to(limen: Limen) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "lena")
    bot = limen.json(
        "identity", "create", "--kind", "agent", "--name", "lena-bot", "--owner", "lena"
    )
    limen.json("token", "create", "--identity", "lena")
    refused = limen("identity", "delete", "lena")
    _one_line_error(refused, 2, "cannot be undone")
    done = limen.json("identity", "delete", "lena", "--yes", "--reason", "left")
    assert (done["name"], done["status"]) == ("lena", "deprovisioned")
    assert (done["cascaded"], done["revoked_tokens"]) == ([bot["id"]], 1)
    assert limen.json("identity", "show", "lena-bot")["status"] == "suspended"


def test_oauth_clients_are_registered_listed_and_revoked(limen: Limen) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "hal", "--role", "viewer")
    limen.json("identity", "create", "--kind", "service", "--name", "ci", "--owner", "hal")
    made = limen.json("client", "create", "--identity", "ci", "--scopes", "identities:read")
    assert (made["name"], made["identity"], made["scopes"]) == ("ci", "ci", ["identities:read"])
    secret = made.pop("client_secret")
    answer = httpx.post(
        f"{limen.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "identities:read"},
        auth=(made["client_id"], secret),
    )
    assert answer.status_code == 200, answer.text
    assert limen.json("client", "list") == {"items": [made]}
    assert limen.json("client", "list", "--identity", "ci") == {"items": [made]}

    shown = limen("client", "create", "--identity", "ci", "--name", "ci-2")
    assert shown.exit_code == 0 and "client_secret  (shown once, store it now):" in shown.stdout
    assert shown.stdout.splitlines()[-1].strip() not in ("", secret)
    table = limen("client", "list", COLUMNS="200")
    assert table.exit_code == 0 and made["client_id"] in table.stdout
    assert secret not in table.stdout

    rotated = limen.json("client", "rotate", made["client_id"])
    new_secret = rotated.pop("client_secret")
    assert rotated == made and new_secret not in (None, secret)
    for tried, status in ((secret, 401), (new_secret, 200)):
        answer = httpx.post(
            f"{limen.url}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "identities:read"},
            auth=(made["client_id"], tried),
        )
        assert answer.status_code == status, answer.text

    revoked = limen.json("client", "revoke", made["client_id"])
    assert revoked == {**made, "revoked_at": revoked["revoked_at"]} and revoked["revoked_at"]
    _one_line_error(limen("client", "revoke", "nobody-client"), 3, "nobody-client")
    _one_line_error(limen("client", "create", "--identity", "zed"), 3, "zed")


def test_service_account_tokens_are_issued_listed_and_revoked(limen: Limen) -> None:
    limen.json("vault", "create", "builds")
    issued = limen.json("service-account", "create", "deployer", "--vault", "builds:read")
    assert (issued["name"], issued["expires_at"]) == ("deployer", None)
    assert issued["token"].startswith("limen_") and len(issued["scopes"]) == 1
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert httpx.get(f"{limen.url}/v1/vaults", headers=headers).status_code == 200

    listed = limen.json("service-account", "list")
    assert [(t["name"], t["token_id"], t["scopes"]) for t in listed] == [
        ("deployer", issued["token_id"], issued["scopes"])
    ]
    assert issued["token"] not in json.dumps(listed)
    assert limen.json("service-account", "list", "deployer") == listed
    shown = limen("service-account", "create", "deployer", "--vault", "builds:write")
    assert shown.exit_code == 0 and "Token (shown once, store it now):" in shown.stdout

    revoked = limen.json("service-account", "revoke", "deployer")
    assert issued["token_id"] in revoked["revoked"] and len(revoked["revoked"]) == 2
    assert _eventually(
        lambda: httpx.get(f"{limen.url}/v1/vaults", headers=headers).status_code == 401
    )
    assert all(t["revoked_at"] for t in limen.json("service-account", "list", "deployer"))
    _one_line_error(
        limen("service-account", "create", "x", "--vault", "nowhere:read"), 3, "nowhere"
    )


def test_partners_are_registered_listed_and_revoked(limen: Limen) -> None:
    made = limen.json("partner", "create", "elastic-soar", "--scopes", "users:read,users:suspend")
    assert (made["partner"], made["scopes"]) == ("elastic-soar", ["users:read", "users:suspend"])
    assert made["token_endpoint"] == "/v1beta1/users/oauth2/token"

    def token() -> int:
        return httpx.post(
            f"{limen.url}{made['token_endpoint']}",
            data={"grant_type": "client_credentials", "scope": "openid"},
            auth=(made["client_id"], made["client_secret"]),
        ).status_code

    assert token() == 200
    listed = limen.json("partner", "list")
    assert [(p["name"], p["status"]) for p in listed] == [("elastic-soar", "active")]
    assert [(c["client_id"], c["revoked"]) for c in listed[0]["clients"]] == [
        (made["client_id"], False)
    ]
    assert made["client_secret"] not in json.dumps(listed)
    shown = limen("partner", "list", COLUMNS="200")
    assert shown.exit_code == 0 and "elastic-soar" in shown.stdout

    rotated = limen.json("partner", "rotate", "elastic-soar")
    assert rotated == {**made, "client_secret": rotated["client_secret"]}
    assert rotated["client_secret"] != made["client_secret"]
    assert token() == 401
    made = rotated
    assert token() == 200

    revoked = limen.json("partner", "revoke", "elastic-soar")
    assert revoked == {**listed[0], "clients": [{**listed[0]["clients"][0], "revoked": True}]}
    assert token() == 401
    _one_line_error(limen("partner", "revoke", "nobody-soar"), 3, "nobody-soar")
    _one_line_error(limen("partner", "create", "x", "--scopes", "vault:admin"), 2, "vault:admin")


def test_events_tokens_read_only_their_feeds(limen: Limen) -> None:
    made = limen.json("events-token", "create", "--features", "auditevents", "--name", "siem")
    assert (made["features"], made["expires_at"]) == (["auditevents"], None)
    headers = {"Authorization": f"Bearer {made['token']}"}
    feed = httpx.post(f"{limen.url}/api/v1/auditevents", json={"limit": 5}, headers=headers)
    assert feed.status_code == 200, feed.text
    usages = httpx.post(f"{limen.url}/api/v1/itemusages", json={"limit": 5}, headers=headers)
    assert usages.status_code == 403
    dated = limen.json(
        "events-token", "create", "--features", "itemusages", "--expires-in-days", "7"
    )
    assert dated["expires_at"] and dated["token"] != made["token"]
    plain = limen("events-token", "create", "--features", "signinattempts")
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("limen_")
    _one_line_error(limen("events-token", "create", "--features", "nothing"), 2, "features must be")


def test_sinks_are_added_listed_delivered_and_removed(limen: Limen) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/hook"
    added = limen.json("sink", "add", "hook", "--kind", "webhook", "--target", nowhere)
    assert (added["name"], added["kind"], added["target"]) == ("hook", "webhook", nowhere)
    assert added["secret"]
    listed = limen.json("sink", "list")
    assert [s["name"] for s in listed["items"]] == ["hook"]
    assert added["secret"] not in json.dumps(listed)
    assert set(listed["items"][0]) == set(added) - {"secret"}

    # the live server's own sink worker may hold the sink's lease for a moment
    assert _eventually(lambda: limen("sink", "deliver").exit_code == 1)
    delivered = limen("sink", "deliver")
    assert delivered.exit_code == 1, delivered.stderr
    assert "limen: sink hook: webhook unreachable" in delivered.stderr
    assert limen.json("sink", "list")["items"][0]["failures"] >= 1

    removed = limen("sink", "remove", "hook")
    assert removed.exit_code == 0 and "removed sink hook" in removed.stdout
    assert limen.json("sink", "list") == {"items": []}
    _one_line_error(limen("sink", "remove", "hook"), 3, "hook")
    if limen.mode == "remote":  # a file sink names a path on the server host
        jsonl = limen("sink", "add", "f", "--kind", "jsonl", "--target", "/tmp/limen-events.jsonl")
        _one_line_error(jsonl, 2, "a jsonl sink writes a file on the server host")


def test_vaults_are_renamed_and_deleted_and_items_restored(limen: Limen, tmp_path: Path) -> None:
    made = limen.json("vault", "create", "staging")
    limen.json("item", "create", "--vault", "staging", "--title", "db", "password=s3cret-x1")
    renamed = limen.json("vault", "rename", "staging", "stage")
    policy = limen.json("vault", "policy", "stage", "--max-age", "30d")
    assert (policy["name"], policy["max_secret_age_days"]) == ("stage", 30)
    cleared = limen("vault", "policy", "stage", "--clear")
    assert cleared.exit_code == 0 and "Vault stage: maximum secret age none" in cleared.stdout
    assert (renamed["id"], renamed["name"]) == (made["id"], "stage")
    _one_line_error(limen("vault", "get", "staging"), 3, "staging")

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a secret, but sealed like one\n")
    attached = limen.json("item", "attach", "db", str(notes), "--vault", "stage", "--name", "n.py")
    assert (attached["name"], attached["size"]) == ("n.py", notes.stat().st_size)
    shown = limen.json("item", "get", "db", "--vault", "stage")["files"]
    assert shown == [attached]
    _one_line_error(limen("item", "attach", "nope", str(notes), "--vault", "stage"), 3, "nope")
    assert limen("item", "delete", "db", "--vault", "stage", "--yes").exit_code == 0
    _one_line_error(limen("item", "get", "db", "--vault", "stage"), 3, "db")
    restored = limen.json("item", "restore", "db", "--vault", "stage")
    assert (restored["title"], restored["version"]) == ("db", 1)
    assert "s3cret-x1" not in json.dumps(restored)
    assert limen.json("item", "get", "db", "--vault", "stage", "--reveal")["fields"][0][
        "value"
    ] == ("s3cret-x1")
    _one_line_error(limen("item", "restore", "db", "--vault", "stage"), 3, "db")

    _one_line_error(limen("vault", "delete", "stage", "--yes"), 4, "delete them first")
    _one_line_error(limen("vault", "delete", "stage"), 2, "pass --yes")
    limen("item", "delete", "db", "--vault", "stage", "--yes")
    gone = limen.json("vault", "delete", "stage", "--yes")
    assert gone == {"id": made["id"], "name": "stage", "purged_items": 1}
    _one_line_error(limen("vault", "get", "stage"), 3, "stage")


def test_the_fleet_inventory_lists_what_machines_reported(limen: Limen) -> None:
    assert limen.json("fleet", "machines") == {"items": []}
    enrolled = limen.json("fleet", "token", "create", "laptops", "--expires-in", "30d")
    assert enrolled["fleet"] == "laptops" and enrolled["token"].startswith("limen_")
    assert datetime.fromisoformat(enrolled["expires_at"]) > datetime.now(UTC)
    shown = limen("fleet", "token", "create", "ci")
    assert shown.exit_code == 0 and shown.stdout.strip().startswith("limen_")
    assert "shown once" in shown.stderr and shown.stdout.strip() not in shown.stderr
    _one_line_error(limen("fleet", "token", "create", "x", "--expires-in", "soon"), 2, "soon")
    finding = {
        "rule_id": "aws-access-key", "provider": "aws", "location": "~/.aws/credentials:3",
        "fingerprint": "sha256:0123456789abcdef", "source": "endpoint",
    }  # fmt: skip
    reported = httpx.post(
        f"{limen.url}/v1/discovery/reports",
        json={"machine": {"name": "lap-7", "owner": "dana"}, "findings": [finding]},
        headers={"Authorization": f"Bearer {enrolled['token']}"},
    )
    assert reported.status_code == 200, reported.text
    machines = limen.json("fleet", "machines")["items"]
    assert [(m["name"], m["fleet"], m["owner"], m["open_exposures"]) for m in machines] == [
        ("lap-7", "laptops", "dana", 1)
    ]
    if limen.mode == "remote":  # an enrolment token reports scans and nothing else
        _one_line_error(limen("identity", "list", LIMEN_TOKEN=enrolled["token"]), 5, "403")
    exposures = limen.json("fleet", "exposures", "--machine", "lap-7")["items"]
    assert [(e["machine"], e["rule_id"], e["status"]) for e in exposures] == [
        ("lap-7", "aws-access-key", "open")
    ]
    assert limen.json("fleet", "exposures", "--all")["items"] == exposures
    table = limen("fleet", "machines", COLUMNS="200")
    assert table.exit_code == 0 and "lap-7" in table.stdout


def test_every_receivers_shared_signals_streams_are_listed(limen: Limen) -> None:
    assert limen.json("partner", "streams") == {"items": []}
    made = limen.json("partner", "create", "splunk-ssf", "--scopes", "ssf:manage")
    issued = httpx.post(
        f"{limen.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "ssf:manage"},
        auth=(made["client_id"], made["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    poll = {"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": []}
    stream = httpx.post(
        f"{limen.url}/ssf/streams",
        json=poll,
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
    )
    assert stream.status_code == 201, stream.text
    listed = limen.json("partner", "streams")["items"]
    assert [(s["stream_id"], s["receiver"], s["status"]) for s in listed] == [
        (stream.json()["stream_id"], "splunk-ssf", "enabled")
    ]
    assert limen.json("partner", "streams", "--receiver", "splunk-ssf")["items"] == listed
    table = limen("partner", "streams", COLUMNS="200")
    assert table.exit_code == 0 and "splunk-ssf" in table.stdout
    _one_line_error(limen("partner", "streams", "--receiver", "nobody-ssf"), 3, "nobody-ssf")


def test_secrets_shown_once_go_to_stdout_only(remote: Limen) -> None:
    remote.json("identity", "create", "--kind", "human", "--name", "sam")
    remote.json("vault", "create", "sam-kit")
    for args in (
        ("client", "create", "--identity", "sam"),
        ("service-account", "create", "sam-ci", "--vault", "sam-kit:read"),
        ("partner", "create", "sam-soar"),
        ("events-token", "create", "--features", "auditevents"),
    ):
        result = remote(*args, "--json")
        assert result.exit_code == 0, result.stderr
        document = json.loads(result.stdout)
        secret = next(document[k] for k in ("client_secret", "token") if k in document)
        assert secret and result.stderr == ""
        listed = remote(args[0], "list", "--json") if args[0] != "events-token" else None
        assert listed is None or secret not in listed.stdout + listed.stderr


def test_the_audit_chain_verifies_against_checkpoints_kept_elsewhere(
    limen: Limen, settings: Any, installed: Any, live_server: Any, tmp_path: Path
) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "ada")
    assert limen.json("audit", "checkpoints") == {"checkpoints": [], "exported": []}
    host = cli_in("local", settings, installed, live_server, tmp_path)
    signed = host.json("audit", "checkpoint")["checkpoint"]
    kept = tmp_path / "kept"
    listed = limen.json("audit", "checkpoints", "--export", str(kept))
    assert [c["id"] for c in listed["checkpoints"]] == [signed["id"]]
    assert len(listed["exported"]) == 1 and Path(listed["exported"][0]).parent == kept
    shown = limen("audit", "checkpoints")
    assert shown.exit_code == 0 and signed["id"] in shown.stdout

    report = limen.json("audit", "verify", "--checkpoints", str(kept))
    assert (report["ok"], report["problem"], report["checkpoints"]) == (True, None, 1)
    plain = limen("audit", "verify")
    assert plain.exit_code == 0 and plain.stdout.startswith("ok: "), plain.stderr

    forged = Path(listed["exported"][0])
    document = json.loads(forged.read_text())
    forged.write_text(json.dumps({**document, "link": "0" * len(document["link"])}))
    broken = limen("audit", "verify", "--checkpoints", str(kept))
    assert broken.exit_code == 1, (broken.stdout, broken.stderr)
    assert broken.stderr.startswith("limen: audit trail broken: ")


def test_the_audit_trail_is_searched_signed_and_pruned(limen: Limen, tmp_path: Path) -> None:
    limen.json("identity", "create", "--kind", "human", "--name", "ada")
    found = limen.json("audit", "search", "--action", "identity.*")["items"]
    assert [e["resource"]["name"] for e in found][-1] == "ada"
    # Linked when shown, or on a later search: on PostgreSQL the server's audit worker may
    # hold the chain lock when the search links (best effort, without waiting).
    deadline = time.monotonic() + 30
    while not all(e["chain_position"] and e["link"] for e in found):
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
        found = limen.json("audit", "search", "--action", "identity.*")["items"]
    lines = limen("audit", "search", "--jsonl", "--action", "identity.create").stdout.splitlines()
    assert [json.loads(line)["resource"]["name"] for line in lines] == ["admin", "ada"]
    table = limen("audit", "search", "--action", "identity.create", COLUMNS="200")
    assert table.exit_code == 0 and "identity.create" in table.stdout and "ada" in table.stdout
    _one_line_error(limen("audit", "search", "--identity", "nobody"), 3, "nobody")

    # Pruning deletes only what a signed checkpoint covers, and asks first.
    _one_line_error(limen("audit", "prune", "--before", "2999-01-01"), 4, "checkpoint")
    kept = tmp_path / "kept"
    signed = limen.json("audit", "checkpoint", "--export", str(kept))["checkpoint"]
    assert [p.name for p in kept.iterdir()] and signed["position"] >= 5
    unasked = limen("audit", "prune", "--before", "2999-01-01", "--reason", "retention")
    assert unasked.exit_code == 2, unasked.stderr
    pruned = limen.json(
        "audit", "prune", "--before", "2999-01-01", "--reason", "retention", "--yes"
    )
    assert pruned == {
        "deleted": signed["position"],
        "through_position": signed["position"],
        "checkpoint_id": signed["id"],
    }
    assert limen.json("audit", "verify", "--checkpoints", str(kept))["ok"] is True
    recorded = limen.json("audit", "search", "--action", "audit.prune")["items"]
    assert [(e["reason"], e["context"]["deleted"]) for e in recorded] == [
        ("retention", signed["position"])
    ]


def _scores(path: Path) -> list[dict[str, Any]]:
    """The lines of a replay's output but for each alert's id, which is new each run."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "alert"} for line in lines]


def test_detection_is_replayed_against_the_servers_identities(
    remote: Limen, settings: Any, installed: Any, live_server: Any, tmp_path: Path
) -> None:
    """``detect replay`` reads a local file; remotely it scores it with the server's
    identity registry (kinds, owners, attributes), fetched over HTTP: the same scores as
    on the server host. (Both modes in one test: a replay takes seconds.)"""
    host = cli_in("local", settings, installed, live_server, tmp_path)
    events = tmp_path / "events.jsonl"
    simulate = ("detect", "simulate", "--seed", "5", "--small", "--output", str(events))
    assert host(*simulate, "--register").exit_code == 0
    here, there = tmp_path / "host.jsonl", tmp_path / "scores.jsonl"
    assert host("detect", "replay", str(events), "--output", str(here)).exit_code == 0
    replayed = remote.json("detect", "replay", str(events), "--output", str(there))
    assert replayed["alerts"] > 0 and replayed["output"] == str(there)
    assert _scores(there) == _scores(here)
    missing = remote("detect", "replay", str(tmp_path / "none.jsonl"), "--output", str(there))
    _one_line_error(missing, 2, "no such file")


def test_a_simulated_company_is_registered_all_or_nothing(limen: Limen, tmp_path: Path) -> None:
    """``detect simulate --register`` creates the company's identities where the CLI points:
    the data dir, or the server (``POST /v1/detect/simulation/identities``)."""
    events = tmp_path / "events.jsonl"
    simulate = ("detect", "simulate", "--seed", "5", "--small", "--register", "-o", str(events))
    email = "secops.admin@example.com"  # the simulated security admin's
    limen.json("identity", "create", "--kind", "human", "--name", "ghost", "--email", email)
    clash = limen(*simulate)
    _one_line_error(clash, 4, f"an identity with email {email!r} already exists")
    _one_line_error(limen("identity", "show", "payments.person000"), 3, "payments.person000")

    limen.json("identity", "update", "ghost", "--email", "ghost@example.com")
    made = limen.json(*simulate)
    assert made["registered"] == made["identities"] > 50 and made["output"] == str(events)
    admin = limen.json("identity", "show", "secops.admin")
    assert (admin["email"], admin["attributes"]) == (email, {"team": "security"})
    agents = limen.json("identity", "list", "--kind", "agent")["items"]
    people = {i["id"] for i in limen.json("identity", "list", "--kind", "human")["items"]}
    assert agents and all(a["owner_id"] in people for a in agents)
    again = limen(*simulate)
    assert again.exit_code == 0, again.stderr
    assert " ".join(again.stdout.split()).endswith("; registered 0 identities"), again.stdout


SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_an_identity_provider_is_connected_and_its_group_grants_a_role(limen: Limen) -> None:
    made = limen.json("scim", "token", "create", "--name", "okta")
    assert made["scopes"] == ["scim:write"] and made["base_url"].endswith("/scim/v2")
    idp = {"Authorization": f"Bearer {made['token']}"}
    user = httpx.post(
        f"{limen.url}/scim/v2/Users",
        json={"schemas": [SCIM_USER], "userName": "ines@example.com"},
        headers=idp,
    )
    assert user.status_code == 201, user.text
    group = httpx.post(
        f"{limen.url}/scim/v2/Groups",
        json={
            "schemas": [SCIM_GROUP],
            "displayName": "Sec Ops",
            "members": [{"value": user.json()["id"]}],
        },
        headers=idp,
    )
    assert group.status_code == 201, group.text

    granted = limen.json("scim", "group-role", "Sec Ops", "security-operator")
    assert (granted["group"], granted["roles"], granted["members"]) == (
        "Sec Ops",
        ["security-operator"],
        ["ines@example.com"],
    )
    assert limen.json("identity", "show", "ines@example.com")["roles"] == ["security-operator"]
    shown = limen("scim", "group-role", "Sec Ops")
    assert shown.exit_code == 0 and "grants no role to 1 member(s)" in shown.stdout
    plain = limen("scim", "token", "create", "--name", "entra")
    assert plain.exit_code == 0 and "shown only now" in plain.stdout


def test_what_offboarding_did_to_a_person_is_told(limen: Limen) -> None:
    idp = {"Authorization": f"Bearer {limen.json('scim', 'token', 'create')['token']}"}
    user = httpx.post(
        f"{limen.url}/scim/v2/Users",
        json={"schemas": [SCIM_USER], "userName": "otto@example.com"},
        headers=idp,
    ).json()
    bot = limen.json(
        "identity", "create", "--kind", "agent", "--name", "otto-bot", "--owner", user["id"]
    )
    assert limen.json("identity", "offboarding", "otto@example.com") == []
    quiet = limen("identity", "offboarding", "otto@example.com")
    assert quiet.exit_code == 0 and "was never offboarded" in quiet.stdout

    gone = httpx.delete(f"{limen.url}/scim/v2/Users/{user['id']}", headers=idp)
    assert gone.status_code == 204, gone.text
    story = limen.json("identity", "offboarding", "otto@example.com")
    assert [(s["by"], s["orphans"], s["deleted"]) for s in story] == [("scim-idp", "suspend", True)]
    assert story[0]["suspended"] == [bot["id"]]
    told = limen("identity", "offboarding", "otto@example.com")
    words = " ".join(told.stdout.split())
    assert told.exit_code == 0, told.stderr
    assert "scim-idp deprovisioned this person through the identity provider (SCIM)" in words
    assert "Orphans policy: suspend (the LIMEN_ORPHANS setting)." in words
    assert "Suspended 1 agent or service they owned: otto-bot." in words
    _one_line_error(limen("identity", "offboarding", "nobody"), 3, "nobody")


def test_a_person_is_deprovisioned_by_hand_with_an_orphans_policy(limen: Limen) -> None:
    """The same offboarding as the identity provider's, with the operator's policy."""
    boss = limen.json("identity", "create", "--kind", "human", "--name", "bea")
    limen.json(
        "identity", "create", "--kind", "human", "--name", "dan",
        "--attributes", json.dumps({"manager": "bea"}),
    )  # fmt: skip
    bots = [
        limen.json("identity", "create", "--kind", "agent", "--name", name, "--owner", "dan")
        for name in ("dan-bot-0", "dan-bot-1")
    ]
    job = limen.json(
        "identity", "create", "--kind", "service", "--name", "dan-job", "--owner", "dan"
    )

    typo = limen("identity", "deprovision", "dan", "--orphans", "transfer", "--yes")
    _one_line_error(typo, 2, "--orphans must be one of suspend, transfer-to-manager, keep")
    assert limen.json("identity", "show", "dan")["status"] == "active"  # nothing happened

    step = limen.json(
        "identity", "deprovision", "dan", "--orphans", "transfer-to-manager",
        "--reason", "left the company", "--yes",
    )  # fmt: skip
    assert (step["orphans"], step["orphans_from"], step["by_hand"]) == (
        "transfer-to-manager", "request", True,
    )  # fmt: skip
    moved = {b["id"] for b in bots} | {job["id"]}
    assert set(step["transferred"]) == moved and step["transferred_to"] == boss["id"]
    for name in ("dan-bot-0", "dan-bot-1", "dan-job"):
        shown = limen.json("identity", "show", name)
        assert (shown["status"], shown["owner_id"]) == ("active", boss["id"])
    assert limen.json("identity", "show", "dan")["status"] == "deprovisioned"

    told = limen("identity", "show", "dan")
    words = " ".join(told.stdout.split())
    assert told.exit_code == 0, told.stderr
    assert "deprovisioned this person by hand." in words
    assert "Reason: left the company" in words
    assert "Orphans policy: transfer-to-manager (given when deprovisioning)." in words
    assert "Re-parented to bea: dan-bot-0, dan-bot-1, dan-job." in words
    again = limen("identity", "deprovision", "dan", "--yes")
    _one_line_error(again, 4, "already deprovisioned")
    machine = limen("identity", "deprovision", "dan-bot-0", "--yes")
    _one_line_error(machine, 2, "only a person")


def test_a_scim_token_carries_its_own_orphans_policy(limen: Limen) -> None:
    """Deprovisioning through a token made with --orphans keep keeps the person's agents,
    whatever LIMEN_ORPHANS says; a token made without it follows the setting."""
    typo = limen("scim", "token", "create", "--name", "okta", "--orphans", "transfer")
    _one_line_error(typo, 2, "--orphans must be one of")
    keeping = limen.json("scim", "token", "create", "--name", "okta", "--orphans", "keep")
    assert keeping["orphans"] == "keep"
    plain = limen.json("scim", "token", "create", "--name", "entra")
    gone = {}
    for name, made in (("kim", keeping), ("lou", plain)):
        idp = {"Authorization": f"Bearer {made['token']}"}
        user = httpx.post(
            f"{limen.url}/scim/v2/Users",
            json={"schemas": [SCIM_USER], "userName": f"{name}@example.com"},
            headers=idp,
        ).json()
        limen.json(
            "identity", "create", "--kind", "agent", "--name", f"{name}-bot", "--owner", user["id"]
        )
        answer = httpx.delete(f"{limen.url}/scim/v2/Users/{user['id']}", headers=idp)
        assert answer.status_code == 204, answer.text
        gone[name] = limen.json("identity", "offboarding", f"{name}@example.com")[0]
    assert (gone["kim"]["orphans"], gone["kim"]["orphans_from"]) == ("keep", "token")
    assert (gone["lou"]["orphans"], gone["lou"]["orphans_from"]) == ("suspend", "setting")
    assert limen.json("identity", "show", "kim-bot")["status"] == "active"
    assert limen.json("identity", "show", "lou-bot")["status"] == "suspended"
    told = " ".join(limen("identity", "offboarding", "kim@example.com").stdout.split())
    assert "Orphans policy: keep (the SCIM token's policy). Kept as they were: kim-bot." in told
