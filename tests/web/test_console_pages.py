"""The console's overview, live updates, alerts, audit, vault compliance and discovery
pages over HTTP, as a signed-in person sees them.

Browser checks (live updates in a real Chromium, accessibility, screenshots) are in
``test_console_browser.py``; every route for every role in ``tests/api/test_route_roles.py``.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen import audit, identity
from limen.audit import Actor
from limen.store import Database
from limen.store.models import Event
from tests.web._console import raise_alert, sign_in

XSS = "<img src=x onerror=alert(1)>"


def _world(db: Database) -> dict[str, str]:
    """alice (a viewer) with an agent and a service, bob with an agent, a shadow agent."""
    operator = Actor.operator()
    with db.unit_of_work() as uow:
        alice = identity.create(uow, operator, kind="human", name="alice", roles=["viewer"])
        bot = identity.create(
            uow, operator, kind="agent", name="alice-bot", owner="alice", display_name=XSS
        )
        identity.create(uow, operator, kind="service", name="alice-job", owner="alice")
        identity.create(uow, operator, kind="human", name="bob")
        identity.create(uow, operator, kind="agent", name="bob-copilot", owner="bob")
        identity.create(uow, operator, kind="agent", name="found-bot", managed=False)
        _, alice_token = identity.issue_api_token(
            uow, operator, alice, purpose="personal", scopes=["*"]
        )
    return {"alice": alice_token, "bot_id": bot.id}


def _count(html: str, href: str) -> int:
    """The number a link to ``href`` shows."""
    found = re.search(
        re.escape(f'href="{href}"') + r'[^>]*>(?:(?!</a>).)*?<span class="(?:tile-number|count)"'
        r"[^>]*>(\d+)<",
        html,
        re.S,
    )
    assert found, f"no number links to {href}"
    return int(found.group(1))


def test_the_overview_counts_every_identity_and_links_each_number_to_its_list(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    assert client.get("/console", follow_redirects=False).headers["location"] == (
        "/console/overview"
    )
    csrf = sign_in(client, installed.admin_token)
    client.post(
        f"/console/identities/{people['bot_id']}/suspend",
        data={"reason": "leaked in a gist", "csrf": csrf},
    )
    html = client.get("/console/overview").text
    # The installation's admin is a human too.
    humans = len(re.findall(r"kind-human", client.get("/console/identities?kind=human").text))
    assert _count(html, "/console/identities?kind=human") == humans >= 2
    assert _count(html, "/console/identities?kind=agent") == 3
    assert _count(html, "/console/identities?kind=service") == 1
    assert _count(html, "/console/identities?kind=shadow") == 1
    assert _count(html, "/console/identities?status=suspended") == 1
    assert _count(html, "/console/identities?status=deprovisioned") == 0
    assert _count(html, "/console/alerts?status=open&amp;severity=critical") == 0
    assert _count(html, "/console/vault") == 0
    assert "threat-normal" in html
    # The last containment, its reason, and the identity's name escaped.
    assert "leaked in a gist" in html
    assert f'href="/console/identities/{people["bot_id"]}"' in html
    assert XSS not in html


def test_the_overview_shows_a_viewer_only_what_her_role_allows(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    sign_in(client, people["alice"])
    page = client.get("/console/overview")
    assert page.status_code == 200
    assert "Your role does not allow seeing alerts." in page.text
    assert "Your role does not allow reading the event log." in page.text
    assert _count(page.text, "/console/identities?kind=agent") == 3


def test_live_answers_whether_anything_changed_since_the_page_was_drawn(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    sign_in(client, installed.admin_token)
    html = client.get("/console/overview").text
    seen = re.search(r'/console/live\?seen=(\d+)"', html)
    assert seen, "the page does not ask for changes"
    quiet = client.get(f"/console/live?seen={seen.group(1)}")
    assert quiet.status_code == 204 and "hx-trigger" not in quiet.headers
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    client.post("/v1/identities/alice-bot/suspend", headers=admin, json={"reason": "drill"})
    changed = client.get(f"/console/live?seen={seen.group(1)}")
    assert changed.status_code == 200 and changed.headers["hx-trigger"] == "limen-changed"


def test_an_identity_page_redraws_when_that_identity_changes_not_another(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    sign_in(client, installed.admin_token)
    html = client.get(f"/console/identities/{people['bot_id']}").text
    asks = re.search(r'hx-get="(/console/live\?[^"]+)"', html)
    assert asks, "the page does not ask for changes"
    poll = asks.group(1).replace("&amp;", "&")
    assert client.get(poll).status_code == 204
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    client.post("/v1/identities/bob-copilot/suspend", headers=admin, json={"reason": "drill"})
    assert client.get(poll).status_code == 204  # someone else
    client.post("/v1/identities/alice-bot/suspend", headers=admin, json={"reason": "drill"})
    assert client.get(poll).headers.get("hx-trigger") == "limen-changed"


def test_the_alert_queue_filters_and_each_change_is_an_event(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    text = f"first call from {XSS}"
    critical = raise_alert(db, "alice-bot", score=0.95, severity="critical", text=text)
    low = raise_alert(db, "bob-copilot", score=0.5, severity="low")
    csrf = sign_in(client, installed.admin_token)
    overview = client.get("/console/overview").text
    assert _count(overview, "/console/alerts?status=open&amp;severity=critical") == 1
    assert _count(overview, "/console/alerts?status=open&amp;severity=low") == 1
    queue = client.get("/console/alerts?status=open&severity=critical").text
    assert f'id="alert-{critical}"' in queue and f'id="alert-{low}"' not in queue
    assert XSS not in queue and "first call from &lt;img" in queue
    done = client.post(f"/console/alerts/{low}/acknowledge", data={"csrf": csrf})
    assert done.status_code == 200 and "someone is on it" in done.text
    client.post(f"/console/alerts/{low}/false-positive", data={"csrf": csrf, "note": "a test"})
    assert f'id="alert-{low}"' not in client.get("/console/alerts?status=open").text
    marked = client.get("/console/alerts?status=false_positive").text
    assert f'id="alert-{low}"' in marked and "a test" in marked
    events = client.get("/console/events?action=alert.*").text
    assert "<code>alert.acknowledge</code>" in events
    assert "<code>alert.false_positive</code>" in events
    assert client.get("/console/alerts?severity=dire").status_code == 422


def test_one_click_containment_suspends_the_identity_and_resolves_the_alert(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    critical = raise_alert(db, "alice-bot", score=0.95, severity="critical")
    csrf = sign_in(client, installed.admin_token)
    refused = client.post(f"/console/alerts/{critical}/contain", data={"csrf": csrf})
    assert refused.status_code == 422 and "give a reason" in refused.text
    done = client.post(
        f"/console/alerts/{critical}/contain",
        data={"csrf": csrf, "reason": "calls from a new country"},
    )
    assert done.status_code == 200 and "Contained" in done.text
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    bot = client.get("/v1/identities/alice-bot", headers=admin).json()
    assert bot["status"] == "suspended"
    alert = client.get(f"/v1/alerts/{critical}", headers=admin).json()
    assert alert["status"] == "resolved" and alert["note"] == "contained: calls from a new country"
    events = client.get("/console/events?action=identity.suspend").text
    assert "calls from a new country" in events


def test_a_viewer_neither_sees_alerts_nor_contains_from_them(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    critical = raise_alert(db, "alice-bot", score=0.95, severity="critical")
    csrf = sign_in(client, people["alice"])
    assert client.get("/console/alerts").status_code == 403
    refused = client.post(f"/console/alerts/{critical}/contain", data={"csrf": csrf, "reason": "x"})
    assert refused.status_code == 403 and "may not" in refused.text


def test_events_show_who_acted_for_whom_and_the_chain_verifies_from_the_page(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    with db.unit_of_work() as uow:
        bot = identity.get(uow.session, "alice-bot")
        alice = identity.get(uow.session, "alice")
        acting = Actor(
            kind="agent",
            name=bot.name,
            identity_id=bot.id,
            delegation=({"id": alice.id, "kind": "human", "name": "alice"},),
        )
        audit.record(uow.session, acting, "vault.secret.read", resource_type="item")
    csrf = sign_in(client, installed.admin_token)
    html = client.get("/console/events?identity=alice&action=vault.*").text
    assert "<code>vault.secret.read</code>" in html
    assert re.search(r'on behalf of <a href="/console/identities/\w+">alice</a>', html)
    assert "Hash chain" in html and "Verify now" in html
    done = client.post("/console/events/verify", data={"csrf": csrf})
    assert done.status_code == 200
    assert "<code>audit.verify</code>" in done.text
    last = re.search(r'id="last-verification">(.*?)</dd>', done.text, re.S)
    assert last and "outcome-intact" in last.group(1) and "events verified" in last.group(1)


def test_vault_compliance_lists_overdue_items_and_never_a_value(
    client: TestClient, db: Database, installed: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from limen.store.models import VaultItem
    from limen.vault import Field, ItemDraft

    _world(db)
    vaults = client.app.state.services.vault  # type: ignore[attr-defined]
    operator = Actor.operator()
    vaults.create_vault(operator, "payments", max_secret_age_days=30)
    secret = "sk_live_do-not-show-me"
    field = Field(id="", type="CONCEALED", label="k", value=secret)
    for title in ("stripe", XSS):
        vaults.create_item(operator, "payments", ItemDraft(title=title, fields=[field]))
    with db.unit_of_work() as uow:  # stripe's secret was last changed 45 days ago
        uow.session.execute(
            sa.update(VaultItem)
            .where(VaultItem.title == "stripe")
            .values(secrets_changed_at=datetime.now(UTC) - timedelta(days=45))
        )
    sign_in(client, installed.admin_token)
    overview = client.get("/console/overview").text
    assert _count(overview, "/console/vault") == 1
    overdue = client.get("/console/vault").text
    assert "stripe" in overdue and "45 days" in overdue and "&lt;img" not in overdue
    everything = client.get("/console/vault?all=true").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in everything and XSS not in everything
    for html in (overdue, everything):
        assert secret not in html


def test_discovery_shows_what_scans_reported_by_identity_and_by_place(
    client: TestClient, db: Database, installed: Any
) -> None:
    from limen import discovery

    _world(db)
    with db.unit_of_work() as uow:
        discovery.ingest(
            uow,
            Actor.operator(),
            identities_found=[
                discovery.ReportedIdentity(
                    key="k" * 40,
                    kind="credential",
                    provider="OpenAI",
                    places=["laptop-7:~/.zshrc", f"repo:{XSS}"],
                    likely_owner="alice@example.com",
                ),
                discovery.ReportedIdentity(
                    key="m" * 40,
                    kind="credential",
                    provider="GitHub",
                    places=["laptop-7:~/.zshrc"],
                ),
            ],
            findings=[],
            origin="laptop-7",
        )
    sign_in(client, installed.admin_token)
    html = client.get("/console/discovery").text
    assert "OpenAI" in html and "GitHub" in html and "alice@example.com" in html
    assert XSS not in html and "repo:&lt;img" in html
    by_place = html[html.index('id="by-place"') :]
    row = re.search(r"<code>laptop-7:~/.zshrc</code></td><td>(.*?)</td>", by_place)
    assert row and "OpenAI credential" in row.group(1) and "GitHub credential" in row.group(1)


def _listed(html: str) -> list[str]:
    return re.findall(r'<a class="strong" href="/console/identities/\w+">([^<]+)</a>', html)


def test_the_identities_tree_nests_each_persons_machines_under_them(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    operator = Actor.operator()
    with db.unit_of_work() as uow:
        for n in range(12):
            identity.create(uow, operator, kind="agent", name=f"bob-helper-{n:02}", owner="bob")
    sign_in(client, installed.admin_token)
    html = client.get("/console/identities").text
    names = _listed(html)
    # alice's agent and service right after her, then bob and (the first ten of) his.
    at = names.index("alice")
    assert names[at : at + 3] == ["alice", "alice-bot", "alice-job"]
    at = names.index("bob")
    assert names[at + 1 : at + 3] == ["bob-copilot", "bob-helper-00"]
    assert "bob-helper-08" in names and "bob-helper-09" not in names
    bob = re.search(r'href="/console/identities\?owner=(\w+)">All 13 it owns', html)
    assert bob, "no link to everything bob owns"
    everything = _listed(client.get(f"/console/identities?owner={bob.group(1)}").text)
    assert len(everything) == 13 and "bob" not in everything
    assert _listed(client.get("/console/identities?owner=alice").text) == [
        "alice-bot",
        "alice-job",
    ]


def test_identities_filter_by_managed_and_risk(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    for name, risk in (("alice-bot", 93), ("alice-job", 72), ("bob", "high")):
        changed = client.patch(
            f"/v1/identities/{name}", headers=admin, json={"attributes": {"risk": risk}}
        )
        assert changed.status_code == 200, changed.text
    sign_in(client, installed.admin_token)
    assert _listed(client.get("/console/identities?managed=shadow").text) == ["found-bot"]
    managed = _listed(client.get("/console/identities?managed=managed").text)
    assert "found-bot" not in managed and "alice-bot" in managed
    assert _listed(client.get("/console/identities?risk=critical").text) == ["alice-bot"]
    # a risk that is not a number (set by hand) is no risk, and no error
    assert _listed(client.get("/console/identities?risk=medium").text) == [
        "alice-bot",
        "alice-job",
    ]
    page = client.get("/console/identities?risk=any").text
    assert 'class="badge risk-critical">93<' in page
    assert client.get("/console/identities?risk=extreme").status_code == 422


def test_an_identitys_page_shows_its_history_alerts_risk_and_vault_access(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    operator = Actor.operator()
    vaults = client.app.state.services.vault  # type: ignore[attr-defined]
    payments = vaults.create_vault(operator, "payments")
    vaults.create_vault(operator, "hr")
    raise_alert(db, "alice-bot", score=0.93, severity="critical", text="calls at 3 am")
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    client.patch("/v1/identities/alice-bot", headers=admin, json={"attributes": {"risk": 93}})
    client.post("/v1/identities/alice-bot/suspend", headers=admin, json={"reason": "drill one"})
    client.post("/v1/identities/alice-bot/reactivate", headers=admin, json={"reason": "fine"})
    with db.unit_of_work() as uow:  # after the suspension's cut-off, so it is live
        bot = identity.get(uow.session, "alice-bot")
        identity.issue_api_token(
            uow, operator, bot, purpose="personal", scopes=[f"vault:{payments.id}:read"]
        )
    sign_in(client, installed.admin_token)
    html = client.get(f"/console/identities/{people['bot_id']}").text
    history = html[html.index('id="identity-history"') :]
    history = history[: history.index("</section>")]
    assert re.findall(r'<span class="strong">(\w+)</span>', history) == [
        "reactivate",
        "suspend",
        "create",
    ]
    assert "drill one" in history
    risk = html[html.index('id="risk-title"') :]
    assert 'risk-critical">93<' in risk and "calls at 3 am" in risk
    access = html[html.index('id="vault-title"') :]
    access = access[: access.index("</section>")]
    assert "<td>payments</td><td>read</td>" in access and "<td>hr</td>" not in access


def test_contain_suspends_what_it_owns_and_resolves_its_alerts(
    client: TestClient, db: Database, installed: Any
) -> None:
    _world(db)
    alert = raise_alert(db, "alice", score=0.85, severity="high")
    csrf = sign_in(client, installed.admin_token)
    page = client.get("/console/identities/alice").text
    assert ">Contain</summary>" in page and "Resolve its 1 open alerts" in page
    done = client.post(
        "/console/identities/alice/contain",
        data={"csrf": csrf, "reason": "phished", "cascade": "true", "resolve_alerts": "true"},
    )
    assert done.status_code == 200 and "alice is contained" in done.text
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    for name in ("alice", "alice-bot", "alice-job"):
        assert client.get(f"/v1/identities/{name}", headers=admin).json()["status"] == ("suspended")
    assert client.get("/v1/identities/bob-copilot", headers=admin).json()["status"] == "active"
    resolved = client.get(f"/v1/alerts/{alert}", headers=admin).json()
    assert resolved["status"] == "resolved" and resolved["note"] == "contained: phished"


def test_the_posture_page_shows_the_nhi_top_10_as_the_report_does(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _world(db)
    with db.unit_of_work() as uow:  # bob leaves: his copilot has no active owner
        identity.suspend(uow, Actor.operator(), "bob", reason="left")
    sign_in(client, installed.admin_token)
    page = client.get("/console/posture")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="/console/posture" aria-current="page"' in html
    assert html.count("<svg") == 1 and html.count("<rect") >= 1
    nhi1 = re.search(r'<tr id="NHI1">(.*?)</tr>', html, re.S)
    assert nhi1 and 'href="/console/identities/bob-copilot"' in nhi1.group(1)
    nhi6 = re.search(r'<tr id="NHI6">(.*?)</tr>', html, re.S)
    assert nhi6 and "not assessed" in nhi6.group(1)
    report = client.get(
        "/v1/posture/report", headers={"Authorization": f"Bearer {installed.admin_token}"}
    ).json()
    for risk in report["risks"]:  # the same counts as the API's report
        if risk["assessed"]:
            assert f'<tr id="{risk["id"]}">' in html
            row = re.search(rf'<tr id="{risk["id"]}">(.*?)</tr>', html, re.S)
            assert row and f'<span class="count">{risk["count"]}</span>' in row.group(1)
    # A viewer does not review access.
    client.cookies.clear()
    sign_in(client, people["alice"])
    assert client.get("/console/posture").status_code == 403


def test_verify_now_runs_one_at_a_time_and_says_so(
    client: TestClient, db: Database, installed: Any
) -> None:
    """While a verification runs (a first one over a long log can take seconds), another
    click starts none and says one is running; the first one's result then shows."""
    from limen.web import console

    _world(db)
    csrf = sign_in(client, installed.admin_token)
    with console._VERIFYING:  # a verification in progress, as another click leaves it
        busy = client.post("/console/events/verify", data={"csrf": csrf})
    assert busy.status_code == 200
    assert "A verification is already running" in busy.text
    assert "<code>audit.verify</code>" not in busy.text  # nothing was verified or recorded
    done = client.post("/console/events/verify", data={"csrf": csrf})
    assert done.status_code == 200 and "already running" not in done.text
    assert "<code>audit.verify</code>" in done.text  # its result shows
    with db.unit_of_work(readonly=True) as uow:  # and it was verified and recorded once
        recorded = uow.session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.action == "audit.verify")
        )
    assert recorded == 1
