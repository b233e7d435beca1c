"""The access review over HTTP and on the command line, on both backends: what agents and
services can reach, what they really used (from the event log), and what to change."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import cedarpy
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen import identity, tokens
from limen.audit import Actor, AuditKeys, Outcome, link_pending, record
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import utcnow
from limen.vault import Field, ItemDraft


def _world(client: TestClient, db: Database, installed: InitResult) -> dict[str, Any]:
    services = client.app.state.services  # type: ignore[attr-defined]
    op = Actor.operator()
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    payments = services.vault.create_vault(op, "payments")
    hr = services.vault.create_vault(op, "hr")
    secret = [Field(id="", type="CONCEALED", label="k", value="v")]
    stripe = services.vault.create_item(
        op, "payments", ItemDraft(title="stripe", tags=["sensitive"], fields=secret)
    )
    services.vault.create_item(op, "hr", ItemDraft(title="payroll", fields=secret))
    with db.unit_of_work() as uow:
        identity.create(uow, op, kind="human", name="alice", roles=["admin"])
        identity.create(uow, op, kind="human", name="bob")
        bot = identity.create(uow, op, kind="agent", name="pay-bot", owner="alice")
        job = identity.create(uow, op, kind="service", name="ci-job")
        identity.create(uow, op, kind="agent", name="orphan-bot", owner="bob")
        keys = {}
        for holder, scopes in (
            (bot, [f"vault:{payments.id}:read", f"vault:{hr.id}:read"]),
            (job, [f"vault:{payments.id}:read"]),
        ):
            keys[holder.name] = identity.issue_api_token(
                uow, op, holder, purpose="service-account", scopes=scopes
            )
        client_row, _ = tokens.register_client(uow, op, bot, scopes=["tools:call"])
        keys = {name: (row.id, raw) for name, (row, raw) in keys.items()}
    with db.unit_of_work() as uow:
        identity.suspend(uow, op, "bob", reason="left")
    for name in ("pay-bot", "ci-job"):
        read = client.get(
            f"/v1/vaults/{payments.id}/items/{stripe.id}",
            headers={"Authorization": f"Bearer {keys[name][1]}"},
        )
        assert read.status_code == 200, read.text
    assert (
        client.put(
            "/v1/policies/tools",
            json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
            headers=admin,
        ).status_code
        == 200
    )
    decided = client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "agent", "id": "pay-bot"},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
        },
        headers=admin,
    )
    assert decided.json()["decision"] is True
    return {
        "admin": admin,
        "keys": keys,
        "client_id": client_row.client_id,
        "stripe": f"/v1/vaults/{payments.id}/items/{stripe.id}",
    }


def test_what_machines_can_reach_and_what_they_used(
    client: TestClient, db: Database, installed: InitResult, cli: Any
) -> None:
    world = _world(client, db, installed)
    response = client.get("/v1/access/review", headers=world["admin"])
    assert response.status_code == 200, response.text
    review = response.json()
    by_name = {i["name"]: i for i in review["identities"]}
    assert sorted(by_name) == ["ci-job", "orphan-bot", "pay-bot"]

    bot = by_name["pay-bot"]
    assert bot["on_behalf_of"] == "alice"
    rights = {(r["kind"], r["target"]): r for r in bot["rights"]}
    assert rights[("vault", "payments")]["used"] is True
    assert rights[("vault", "payments")]["sensitive"] is True
    assert rights[("vault", "hr")]["used"] is False
    assert rights[("scope", "tools:call")]["used"] is True
    assert rights[("policy", "tools")]["used"] is True
    assert rights[("vault", "hr")]["credential"] == world["keys"]["pay-bot"][0]
    assert bot["unused"] == ["vault:hr"]
    findings = {f["type"]: f for f in bot["findings"]}
    unused = findings["unused-right"]
    assert "vault hr" in unused["detail"]
    assert f"limen token revoke {world['keys']['pay-bot'][0]}" in unused["change"]
    assert "ci-job" in findings["shared-secret"]["detail"]
    assert "no-active-owner" not in findings

    orphan = {f["type"]: f for f in by_name["orphan-bot"]["findings"]}
    assert orphan["no-active-owner"]["detail"] == "owner bob is suspended"
    assert by_name["ci-job"]["on_behalf_of"] is None
    assert review["summary"]["no-active-owner"] == 1

    only_services = client.get(
        "/v1/access/review", params={"kind": "service"}, headers=world["admin"]
    ).json()
    assert [i["name"] for i in only_services["identities"]] == ["ci-job"]

    # The command line: a tag filter, JSON, CSV and a self-contained page.
    tagged = cli("access", "review", "--resource-tag", "sensitive", "--json")
    assert tagged.exit_code == 0, tagged.stderr
    assert [i["name"] for i in json.loads(tagged.stdout)["identities"]] == ["ci-job", "pay-bot"]
    sheet = cli("access", "review", "--kind", "agent", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(sheet.stdout)))
    hr_row = next(r for r in rows if r["right"] == "vault:hr")
    assert (hr_row["identity"], hr_row["used"], hr_row["on_behalf_of"]) == (
        "pay-bot",
        "no",
        "alice",
    )
    page = cli("access", "review", "--format", "html")
    assert page.stdout.startswith("<!doctype html>")
    assert "pay-bot" in page.stdout and "<script" not in page.stdout and "http" not in page.stdout
    table = cli("access", "review")
    assert table.exit_code == 0 and "pay-bot" in table.stdout
    bad = cli("access", "review", "--days", "0")
    assert bad.exit_code != 0 and "days must be between 1 and 3650" in bad.stderr


def test_the_posture_report_maps_findings_to_the_owasp_nhi_top_10(
    client: TestClient, db: Database, installed: InitResult, cli: Any
) -> None:
    world = _world(client, db, installed)
    # Someone pastes the CI job's key into a browser.
    by_hand = client.get(
        world["stripe"],
        headers={
            "Authorization": f"Bearer {world['keys']['ci-job'][1]}",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        },
    )
    assert by_hand.status_code == 200
    response = client.get("/v1/posture/report", headers=world["admin"])
    assert response.status_code == 200, response.text
    risks = {r["id"]: r for r in response.json()["risks"]}
    assert list(risks) == [f"NHI{n}" for n in range(1, 11)]
    assert risks["NHI1"]["identities"] == ["orphan-bot"]
    assert risks["NHI2"]["count"] == 0
    assert risks["NHI4"]["identities"] == ["ci-job", "pay-bot"]
    assert risks["NHI5"]["identities"] == ["pay-bot"]
    assert risks["NHI6"]["assessed"] is False and risks["NHI6"]["count"] is None
    assert risks["NHI9"]["identities"] == ["ci-job", "pay-bot"]
    assert risks["NHI10"]["identities"] == ["ci-job"]
    assert all(r["fix"] for r in risks.values())

    page = cli("posture", "report", "--format", "html")
    assert page.exit_code == 0, page.stderr
    assert "<svg" in page.stdout and "NHI10: Human Use of NHI" in page.stdout
    assert "<script" not in page.stdout
    sheet = cli("posture", "report", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(sheet.stdout)))
    assert rows[5]["risk"] == "NHI6" and rows[5]["count"] == "not assessed"
    table = cli("posture", "report")
    assert "Overprivileged NHI" in table.stdout


def test_resources_the_operator_tagged_count_as_sensitive(
    client: TestClient, db: Database, installed: InitResult, cli: Any
) -> None:
    """Tags an operator puts on resources (`limen resource tag`) mark rights sensitive as
    item tags do: a vault by name, the outside resource type a scope reaches, and a
    policy whose allowed decisions touched a tagged resource."""
    world = _world(client, db, installed)

    def rights(tag: str | None = None) -> dict[str, dict[tuple[str, str], bool]]:
        params = {"resource_tag": tag} if tag else {}
        review = client.get("/v1/access/review", params=params, headers=world["admin"]).json()
        return {
            i["name"]: {(r["kind"], r["target"]): r["sensitive"] for r in i["rights"]}
            for i in review["identities"]
        }

    before = rights()["pay-bot"]
    assert before[("vault", "hr")] is False
    assert before[("scope", "tools:call")] is False
    assert before[("policy", "tools")] is False

    tagged = client.post(
        "/v1/resources/tag",
        json={"resource": "vault:hr", "tags": ["sensitive"]},
        headers=world["admin"],
    )
    assert tagged.status_code == 200, tagged.text
    assert cli("resource", "tag", "tool:deploy", "pci").exit_code == 0
    after = rights()["pay-bot"]
    assert after[("vault", "hr")] is True
    assert after[("scope", "tools:call")] is False  # tool:deploy is pci, not sensitive

    # Another tag: only what carries it, and only the identities that reach it.
    pci = rights("pci")
    assert sorted(pci) == ["pay-bot"]
    assert pci["pay-bot"][("scope", "tools:call")] is True
    assert pci["pay-bot"][("policy", "tools")] is True
    assert pci["pay-bot"][("vault", "payments")] is False
    finding = next(
        f
        for i in client.get(
            "/v1/access/review", params={"resource_tag": "pci"}, headers=world["admin"]
        ).json()["identities"]
        for f in i["findings"]
        if f["type"] == "sensitive-resource" and "policy tools" in f["detail"]
    )
    assert finding["change"] == ""  # it was used: someone must decide, not remove blindly

    assert cli("resource", "untag", "tool:deploy", "pci").exit_code == 0
    assert rights("pci") == {}


def test_counts_and_last_use_match_a_hand_checked_log(
    client: TestClient, db: Database, installed: InitResult
) -> None:
    """Seven events written at known times: the review counts each right's uses and its
    last use exactly, leaves out what is older than the window or was refused, and adds
    up decisions that share a shape."""
    services = client.app.state.services  # type: ignore[attr-defined]
    op = Actor.operator()
    ops = services.vault.create_vault(op, "ops")
    secret = [Field(id="", type="CONCEALED", label="k", value="v")]
    first = services.vault.create_item(op, "ops", ItemDraft(title="first", fields=secret))
    second = services.vault.create_item(op, "ops", ItemDraft(title="second", fields=secret))
    with db.unit_of_work() as uow:
        identity.create(uow, op, kind="human", name="carol")
        bot = identity.create(uow, op, kind="agent", name="ops-bot", owner="carol")
        other = identity.create(uow, op, kind="service", name="backup")
        identity.issue_api_token(
            uow, op, bot, purpose="service-account", scopes=[f"vault:{ops.id}:read"]
        )
        tokens.register_client(uow, op, bot, scopes=["tools:call"])
    now = utcnow().replace(microsecond=0)
    as_bot = Actor(kind="agent", name="ops-bot", identity_id=bot.id)
    as_other = Actor(kind="service", name="backup", identity_id=other.id)
    pep = Actor.system("pep")
    with db.unit_of_work() as uow:
        s = uow.session
        for who, item, days, outcome in (
            (as_bot, first, 1, Outcome.SUCCESS),
            (as_bot, second, 2, Outcome.SUCCESS),
            (as_bot, first, 40, Outcome.SUCCESS),  # before the window
            (as_bot, second, 0, Outcome.DENIED),  # refused: not a use
            (as_other, first, 3, Outcome.SUCCESS),
        ):
            record(
                s,
                who,
                "vault.item.read",
                resource_type="vault_item",
                resource_id=item.id,
                outcome=outcome,
                now=now - timedelta(days=days),
            )
        for days in (4, 5):
            record(
                s,
                pep,
                "access.evaluate",
                resource_type="tool",
                resource_id="deploy",
                context={
                    "subject": {"type": "agent", "id": "ops-bot"},
                    "action": "call",
                    "policies": ["tools#0"],
                },
                now=now - timedelta(days=days),
            )
    review = services.access_review.review(Actor.operator(), now=now).document()
    by_name = {i["name"]: i for i in review["identities"]}
    bot_doc = by_name["ops-bot"]
    assert bot_doc["events"] == 4  # two reads and two decisions in the window
    rights = {(r["kind"], r["target"]): r for r in bot_doc["rights"]}
    vault = rights[("vault", "ops")]
    assert (vault["uses"], vault["last_used"]) == (2, (now - timedelta(days=1)).isoformat())
    tool = rights[("scope", "tools:call")]
    assert (tool["uses"], tool["last_used"]) == (2, (now - timedelta(days=4)).isoformat())
    shared = [f for f in bot_doc["findings"] if f["type"] == "shared-secret"]
    assert [f["detail"] for f in shared] == ["first is also read by backup"]
    assert by_name["backup"]["events"] == 1


def test_rows_planted_behind_limens_back_are_not_uses(
    client: TestClient, db: Database, installed: InitResult, settings: Settings
) -> None:
    """Someone with SQL access inserts reads and decisions for a dormant agent, to make
    it look used. The chainer sets those rows aside (no valid seal), and the review
    counts only what Limen recorded: one read three days ago, no decision."""
    services = client.app.state.services  # type: ignore[attr-defined]
    op = Actor.operator()
    ops = services.vault.create_vault(op, "ops")
    secret = [Field(id="", type="CONCEALED", label="k", value="v")]
    item = services.vault.create_item(op, "ops", ItemDraft(title="db", fields=secret))
    with db.unit_of_work() as uow:
        identity.create(uow, op, kind="human", name="carol")
        bot = identity.create(uow, op, kind="agent", name="ops-bot", owner="carol")
        identity.issue_api_token(
            uow, op, bot, purpose="service-account", scopes=[f"vault:{ops.id}:read"]
        )
        tokens.register_client(uow, op, bot, scopes=["tools:call"])
    now = utcnow().replace(microsecond=0)
    with db.unit_of_work() as uow:
        record(
            uow.session,
            Actor(kind="agent", name="ops-bot", identity_id=bot.id),
            "vault.item.read",
            resource_type="vault_item",
            resource_id=item.id,
            now=now - timedelta(days=3),
        )
    planted = (
        ("planted0000000000000000001", "vault.item.read", "vault_item", item.id, "{}"),
        ("planted0000000000000000002", "vault.item.read", "vault_item", None, "{}"),
        (
            "planted0000000000000000003",
            "access.evaluate",
            "tool",
            "deploy",
            json.dumps(
                {"subject": {"type": "agent", "id": "ops-bot"}, "action": "call",
                 "policies": ["tools#0"]}
            ),
        ),
    )  # fmt: skip
    at = now - timedelta(days=1)
    with db.engine.begin() as connection:
        for event_id, action, resource_type, resource_id, context in planted:
            connection.execute(
                sa.text(
                    "INSERT INTO events (id, occurred_at, actor_id, actor_kind, actor_name, "
                    "delegation, action, resource_type, resource_id, outcome, context) "
                    "VALUES (:id, :at, :actor, 'agent', 'ops-bot', '[]', :action, :type, "
                    ":resource, 'success', :context)"
                ),
                {
                    "id": event_id,
                    "at": at.replace(tzinfo=None) if db.backend == "sqlite" else at,
                    "actor": bot.id,
                    "action": action,
                    "type": resource_type,
                    "resource": resource_id,
                    "context": context,
                },
            )
    link_pending(db, AuditKeys.from_key_file(settings.resolved_key_file).chain)
    with db.engine.connect() as connection:
        set_aside = connection.execute(
            sa.text("SELECT count(*) FROM events WHERE quarantined_at IS NOT NULL")
        ).scalar_one()
    assert set_aside == len(planted)

    review = services.access_review.review(Actor.operator(), now=now).document()
    (bot_doc,) = [i for i in review["identities"] if i["name"] == "ops-bot"]
    assert bot_doc["events"] == 1
    rights = {(r["kind"], r["target"]): r for r in bot_doc["rights"]}
    vault = rights[("vault", "ops")]
    assert (vault["uses"], vault["last_used"]) == (1, (now - timedelta(days=3)).isoformat())
    assert rights[("scope", "tools:call")]["used"] is False


def test_reach_through_policies_is_what_the_pdp_decides(
    client: TestClient, db: Database, installed: InitResult
) -> None:
    """A policy that names an agent gives it nothing while its owner may not do the same
    (an agent never exceeds its owner): the review says what the PDP decides, not what
    the policy text mentions."""
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    op = Actor.operator()
    with db.unit_of_work() as uow:
        dana = identity.create(uow, op, kind="human", name="dana")
        bot = identity.create(uow, op, kind="agent", name="dana-bot", owner="dana")
        identity.create(uow, op, kind="agent", name="dana-helper", owner="dana")

    def allow(name: str, who: str) -> None:
        text = (
            f'permit(principal == Limen::Identity::"{who}", '
            'action == Limen::Action::"call", resource == Limen::Tool::"deploy");'
        )
        r = client.put(f"/v1/policies/{name}", json={"text": text}, headers=admin)
        assert r.status_code == 200, r.text

    def decided() -> bool:
        r = client.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "agent", "id": "dana-bot"},
                "action": {"name": "call"},
                "resource": {"type": "tool", "id": "deploy"},
            },
            headers=admin,
        )
        return r.json()["decision"]

    def policies(of: str = "dana-bot") -> dict[str, str]:
        review = client.get("/v1/access/review", headers=admin).json()
        entry = next(i for i in review["identities"] if i["name"] == of)
        return {r["target"]: r["via"] for r in entry["rights"] if r["kind"] == "policy"}

    allow("bot-deploy", bot.id)
    assert decided() is False
    assert policies() == {}
    allow("dana-deploy", dana.id)
    assert decided() is True
    assert policies() == {"bot-deploy": "Cedar policy permitting it"}
    # Every statement names its principal, and none names the helper: nothing reaches it.
    assert policies("dana-helper") == {}
    # A statement for every identity (by type, not by name) reaches it, as the PDP says.
    typed = (
        'permit(principal is Limen::Identity, action == Limen::Action::"call", '
        'resource == Limen::Tool::"build");'
    )
    r = client.put("/v1/policies/any-build", json={"text": typed}, headers=admin)
    assert r.status_code == 200, r.text
    assert policies("dana-helper") == {"any-build": "Cedar policy permitting it"}
    assert policies() == {
        "any-build": "Cedar policy permitting it",
        "bot-deploy": "Cedar policy permitting it",
    }


def test_a_review_leaves_the_decision_cache_as_it_was(
    client: TestClient, db: Database, installed: InitResult, monkeypatch: Any
) -> None:
    """The review asks the PDP its own questions without touching what live decisions
    remember: a decision answered from memory before a review still is after it, and
    nothing the review asked is remembered (Cedar is asked it afresh)."""
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    op = Actor.operator()
    with db.unit_of_work() as uow:
        identity.create(uow, op, kind="human", name="erin", roles=["admin"])
        identity.create(uow, op, kind="agent", name="erin-bot", owner="erin")
    text = (
        'permit(principal, action == Limen::Action::"call", resource == Limen::Tool::"deploy");\n'
        'permit(principal, action == Limen::Action::"call", resource == Limen::Tool::"build");\n'
    )
    r = client.put("/v1/policies/tools", json={"text": text}, headers=admin)
    assert r.status_code == 200, r.text

    asked: list[int] = []  # how many questions each Cedar call was given
    real = cedarpy._internal.is_authorized_batch

    def counting(requests: Any, *args: Any) -> Any:
        asked.append(len(requests))
        return real(requests, *args)

    monkeypatch.setattr(cedarpy._internal, "is_authorized_batch", counting)

    def call(tool: str) -> int:
        """Decide erin-bot calling ``tool``; how many questions Cedar was asked."""
        before = sum(asked)
        r = client.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "agent", "id": "erin-bot"},
                "action": {"name": "call"},
                "resource": {"type": "tool", "id": tool},
            },
            headers=admin,
        )
        assert r.json()["decision"] is True
        return sum(asked) - before

    assert call("deploy") > 0
    assert call("deploy") == 0  # remembered
    before = sum(asked)
    review = client.get("/v1/access/review?kind=agent", headers=admin).json()
    assert sum(asked) > before  # the review asked Cedar itself
    entry = next(i for i in review["identities"] if i["name"] == "erin-bot")
    assert {r["target"] for r in entry["rights"] if r["kind"] == "policy"} == {"tools"}
    assert call("deploy") == 0  # still remembered after the review
    assert call("build") > 0  # the review's own question was not remembered


def test_statements_on_what_is_in_a_vault_are_reviewed(
    client: TestClient, db: Database, installed: InitResult
) -> None:
    """``resource in`` a vault (the vault and its items) and ``resource is Item in`` a
    vault are decided for each identity like any other statement, and one that does not
    let the agent through (another action's, or forbidden) is not listed."""
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    op = Actor.operator()
    with db.unit_of_work() as uow:
        identity.create(uow, op, kind="human", name="fay", roles=["admin"])
        identity.create(uow, op, kind="agent", name="fay-bot", owner="fay")
    policies = {
        "prod-vault": 'permit(principal, action == Limen::Action::"read", '
        'resource in Limen::Vault::"prod");',
        "prod-items": 'permit(principal, action == Limen::Action::"write", '
        'resource is Limen::Item in Limen::Vault::"prod");',
        "dev-items": 'permit(principal, action == Limen::Action::"delete", '
        'resource is Limen::Item in Limen::Vault::"dev");\n'
        'forbid(principal, action == Limen::Action::"delete", resource in Limen::Vault::"dev")'
        ' when { principal.kind == "agent" };',
    }
    for name, text in policies.items():
        r = client.put(f"/v1/policies/{name}", json={"text": text}, headers=admin)
        assert r.status_code == 200, r.text
    review = client.get("/v1/access/review?kind=agent", headers=admin).json()
    entry = next(i for i in review["identities"] if i["name"] == "fay-bot")
    reached = {r["target"]: r["via"] for r in entry["rights"] if r["kind"] == "policy"}
    assert reached == {
        "prod-vault": "Cedar policy for every principal",
        "prod-items": "Cedar policy for every principal",
    }
