"""``limen vault``, ``limen item``, ``limen service-account``, ``limen read/run/inject``."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from limen.audit import Actor, EventFilter, list_events
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import utcnow
from limen.vault import MASK, VaultService
from tests.respond._waiting import wait_for

SECRET = "pa55-Lantern-Orchid-8812"  # limen:allow (made up; tests look for it)


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr or result.stdout
    return result


def _json(result: Any) -> Any:
    return json.loads(_ok(result).stdout)


def _setup(cli: Any) -> None:
    _ok(cli("vault", "create", "payments", "--max-age", "90d"))
    _ok(
        cli(
            "item", "create", "--vault", "payments", "--title", "stripe",
            "--category", "API_CREDENTIAL", "--tag", "prod",
            "username=svc-payments", f"credential[concealed]={SECRET}",
            "Connection.host=api.stripe.com",
        )
    )  # fmt: skip


def test_items_are_created_read_edited_versioned_and_deleted(limen: Any) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    _setup(cli)
    hidden = _json(cli("item", "get", "stripe", "--vault", "payments", "--json"))
    fields = {f["label"]: f for f in hidden["fields"]}
    assert fields["credential"]["value"] is None  # concealed unless --reveal
    assert fields["username"]["value"] == "svc-payments"
    assert fields["host"]["section"] == "Connection"
    assert fields["credential"]["reference"] == "limen://payments/stripe/credential"
    assert SECRET not in cli("item", "get", "stripe", "--vault", "payments").stdout

    shown = _json(cli("item", "get", "stripe", "--vault", "payments", "--json", "--reveal"))
    assert {f["label"]: f["value"] for f in shown["fields"]}["credential"] == SECRET

    edited = _json(
        cli(
            "item", "edit", "stripe", "--vault", "payments", "--json", "--reveal",
            "credential=rotated", "--generate-password", "24,letters,digits",
        )
    )  # fmt: skip
    assert edited["version"] == 2
    values = {f["label"]: f["value"] for f in edited["fields"]}
    assert values["credential"] == "rotated"
    assert len(values["password"]) == 24 and values["password"].isalnum()

    versions = _json(cli("item", "versions", "stripe", "--vault", "payments", "--json"))
    assert [v["version"] for v in versions] == [1, 2]
    if limen.mode == "local":  # the operator on the host; remotely, the token's identity
        assert all(v["created_by"].startswith("cli:") for v in versions), versions
    else:
        admin = _json(cli("identity", "show", "admin", "--json"))["id"]
        assert {v["created_by"] for v in versions} == {admin}
    assert "rotated" not in json.dumps(versions)
    table = _ok(cli("item", "versions", "stripe", "--vault", "payments")).stdout
    assert "version" in table and "2" in table
    old = _json(
        cli(
            "item", "get", "stripe", "--vault", "payments", "--version", "1", "--json",
            "--reveal",
        )
    )  # fmt: skip
    assert old["version"] == 1
    assert {f["label"]: f["value"] for f in old["fields"]}["credential"] == SECRET
    hidden = cli("item", "get", "stripe", "--vault", "payments", "--version", "1")
    assert hidden.exit_code == 0 and SECRET not in hidden.stdout
    missing = cli("item", "get", "stripe", "--vault", "payments", "--version", "9")
    assert missing.exit_code == 3 and "has no version 9" in missing.stderr

    listed = _json(cli("item", "list", "--vault", "payments", "--json"))
    assert [i["title"] for i in listed] == ["stripe"]
    _ok(cli("item", "delete", "stripe", "--vault", "payments", "--yes"))
    missing = cli("item", "get", "stripe", "--vault", "payments")
    assert missing.exit_code == 3 and "has no item 'stripe'" in missing.stderr


def test_read_run_and_inject_resolve_references_and_record_who_read(
    limen: Any, db: Database, tmp_path: Any
) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    _setup(cli)
    ref = "limen://payments/stripe/credential"
    assert _ok(cli("read", ref)).stdout == SECRET + "\n"
    assert _ok(cli("read", "limen://payments/stripe/Connection/host")).stdout.strip() == (
        "api.stripe.com"
    )
    bad = cli("read", "limen://payments/stripe")
    assert bad.exit_code == 2 and "limen://<vault>/<item>/<field>" in bad.stderr

    env_file = tmp_path / ".env"
    env_file.write_text(f"STRIPE_KEY={ref}\nPLAIN=hello\n")
    script = (
        "import os, sys; v = os.environ['STRIPE_KEY']; "
        "print('key:', v, 'plain:', os.environ['PLAIN']); "
        "sys.stderr.write('err ' + v + '\\n'); "
        "sys.stdout.write(v[:5]); sys.stdout.flush(); sys.stdout.write(v[5:] + '\\n'); "
        "open(os.environ['OUT'], 'w').write(v); sys.exit(7)"
    )
    out = tmp_path / "child.txt"
    result = cli(
        "run", "--env-file", str(env_file), "--", sys.executable, "-c", script.replace(
            "os.environ['OUT']", repr(str(out))
        ),
    )  # fmt: skip
    assert result.exit_code == 7
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert f"key: {MASK.decode()} plain: hello" in result.stdout
    assert result.stdout.endswith(MASK.decode() + "\n")  # split across writes, still masked
    assert f"err {MASK.decode()}" in result.stderr
    assert out.read_text() == SECRET  # the child itself saw the real value

    template = tmp_path / "config.tpl"
    template.write_text("stripe:\n  key: {{ limen://payments/stripe/credential }}\n  host: x\n")
    rendered = tmp_path / "config.yml"
    _ok(cli("inject", "-i", str(template), "-o", str(rendered)))
    assert rendered.read_text() == f"stripe:\n  key: {SECRET}\n  host: x\n"
    assert rendered.stat().st_mode & 0o777 == 0o600
    again = cli("inject", "-i", str(template), "-o", str(rendered))
    assert again.exit_code == 2 and "--force" in again.stderr

    if limen.mode == "remote":  # read through the item API: the token's item reads
        with db.unit_of_work(readonly=True) as uow:
            reads = list_events(uow.session, EventFilter(action="vault.item.read")).events
        assert len(reads) == 4 and all(e.actor_id for e in reads)  # the admin, not the operator
        assert all(SECRET not in json.dumps(e.context) for e in reads)
        return
    with db.unit_of_work(readonly=True) as uow:
        reads = list_events(uow.session, EventFilter(action="vault.secret.read")).events
    assert [e.context["purpose"] for e in reads] == ["read", "read", "run", "inject"]
    assert all(e.context["reference"].startswith("limen://payments/stripe/") for e in reads)
    assert all(SECRET not in json.dumps(e.context) for e in reads)


def test_service_accounts_are_scoped_expire_and_can_be_revoked(
    cli: Any, installed: InitResult, client: TestClient, backend: str
) -> None:
    _setup(cli)
    _ok(cli("vault", "create", "hr"))
    issued = _json(
        cli("service-account", "create", "ci-deployer", "--vault", "payments:read", "--json")
    )
    assert issued["scopes"][0].endswith(":read") and issued["token"].startswith("limen_")
    headers = {"Authorization": f"Bearer {issued['token']}"}
    vault_id = _json(cli("vault", "get", "payments", "--json"))["id"]
    items = client.get(f"/v1/vaults/{vault_id}/items", headers=headers)
    assert items.status_code == 200 and [i["title"] for i in items.json()] == ["stripe"]
    assert [v["name"] for v in client.get("/v1/vaults", headers=headers).json()] == ["payments"]

    listed = _json(cli("service-account", "list", "--json"))
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("ci-deployer", None)]
    assert "token" not in listed[0]
    _ok(cli("service-account", "revoke", "ci-deployer"))

    def refused() -> bool:
        return client.get("/v1/vaults", headers=headers).status_code == 401

    # The CLI is another process: its change reaches the server through the change feed
    # within milliseconds (a notice row on SQLite, NOTIFY on PostgreSQL).
    assert wait_for(refused, seconds=1)

    short = _json(
        cli(
            "service-account",
            "create",
            "nightly",
            "--vault",
            "*:read",
            "--expires-in",
            "1h",
            "--json",
        )
    )
    assert short["expires_at"] is not None
    bad = cli("service-account", "create", "x", "--vault", "payments:admin")
    assert bad.exit_code == 2


def test_rotation_policy_report_and_key_rotation(
    cli: Any, installed: InitResult, vaults: VaultService, service_token: Any
) -> None:
    _setup(cli)
    service_token("reporting", "payments:read")
    assert _json(cli("vault", "report", "--json")) == []
    everything = _json(cli("vault", "report", "--all", "--json"))
    assert [(e["item"], e["out_of_policy"]) for e in everything] == [("stripe", False)]

    later = utcnow() + timedelta(days=120)
    entries = vaults.report(Actor.operator(), now=later)
    assert [(e.title, e.out_of_policy) for e in entries] == [("stripe", True)]
    assert entries[0].age_days >= 119 and entries[0].max_age_days == 90
    assert set(entries[0].readers) == {"admin", "reporting"}

    rotated = _json(cli("vault", "rotate-key", "--yes", "--json"))
    assert rotated["rewrapped"] == 1 and rotated["key_file"].endswith("vault-kek.key")
    assert _ok(cli("read", "limen://payments/stripe/credential")).stdout.strip() == SECRET
    table = _ok(cli("vault", "report", "--all")).stdout
    assert "stripe" in table and "reporting" in table


def test_passphrase_derived_key_rotates_to_a_new_passphrase(
    cli: Any, installed: InitResult, monkeypatch: Any
) -> None:
    monkeypatch.setenv("LIMEN_KEY_PASSPHRASE", "correct horse")
    _setup(cli)
    rotated = cli(
        "vault", "rotate-key", "--new-passphrase", "--yes", "--json", input="battery\nbattery\n"
    )
    assert json.loads(rotated.stdout[rotated.stdout.index("{") :])["key_file"] is None
    stale = cli("read", "limen://payments/stripe/credential")
    assert stale.exit_code == 6 and "check LIMEN_KEY_PASSPHRASE" in stale.stderr
    assert SECRET not in stale.stderr
    monkeypatch.setenv("LIMEN_KEY_PASSPHRASE", "battery")
    assert _ok(cli("read", "limen://payments/stripe/credential")).stdout.strip() == SECRET
    script = "import os; print(sorted(k for k in os.environ if k.startswith('LIMEN_')))"
    child = _ok(cli("run", "--", sys.executable, "-c", script)).stdout
    assert "LIMEN_DATA_DIR" in child and "LIMEN_KEY_PASSPHRASE" not in child


def test_run_exits_like_a_shell_and_a_bad_reference_names_its_variable(
    limen: Any, tmp_path: Any
) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    _setup(cli)
    missing = cli("run", "--", "no-such-command-anywhere")
    assert missing.exit_code == 127
    assert missing.stderr == "limen: no-such-command-anywhere: command not found\n"
    not_a_program = cli("run", "--", str(tmp_path))
    assert not_a_program.exit_code == 126
    assert not_a_program.stderr.startswith(f"limen: {tmp_path}: cannot execute")

    env_file = tmp_path / "app.env"
    env_file.write_text("STRIPE_KEY=limen://payments/strpe/credential\n")
    typo = cli("run", "--env-file", str(env_file), "--", sys.executable, "-c", "pass")
    assert typo.exit_code == 3
    assert typo.stderr == (
        f"limen: STRIPE_KEY (from {env_file}): vault 'payments' has no item 'strpe'\n"
    )
    assert SECRET not in typo.stdout + typo.stderr


def test_vault_report_with_nothing_overdue_says_so(limen: Any) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    assert _ok(cli("vault", "report")).stdout.startswith("No item has a rotation policy")
    _setup(cli)  # a fresh item in a vault with a 90-day policy
    report = " ".join(_ok(cli("vault", "report")).stdout.split())  # as wrapped for any width
    assert report == (
        "Nothing is overdue: all 1 item(s) under a rotation policy are younger than it "
        "allows (--all lists them)."
    )
    assert "stripe" in _ok(cli("vault", "report", "--all")).stdout
    assert _json(cli("vault", "report", "--json")) == []
    everything = _json(cli("vault", "report", "--all", "--json"))
    assert [(e["vault"], e["item"], e["max_age_days"], e["out_of_policy"]) for e in everything] == [
        ("payments", "stripe", 90, False)
    ]
    assert "admin" in everything[0]["readers"] and SECRET not in json.dumps(everything)
