"""The console over HTTP: sign-in and its cookie, CSRF, escaping, security headers, the
identities list and page, and suspension recorded as the API records it.

Browser tests (a real Chromium) are in ``test_console_browser.py``; every console route
for every role is in ``tests/api/test_route_roles.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.store import Database
from tests.api.test_metrics import _scrape, _value
from tests.web._console import csrf_of, sign_in

XSS = "<img src=x onerror=alert(1)>"


def _people(db: Database) -> dict[str, str]:
    """alice (a human viewer), her agent and her service, a shadow agent; a token each."""
    operator = Actor.operator()
    with db.unit_of_work() as uow:
        alice = identity.create(uow, operator, kind="human", name="alice", roles=["viewer"])
        bot = identity.create(
            uow, operator, kind="agent", name="alice-bot", owner="alice", display_name=XSS
        )
        identity.create(uow, operator, kind="service", name="alice-job", owner="alice")
        identity.create(uow, operator, kind="agent", name="found-bot", managed=False)
        _, alice_token = identity.issue_api_token(
            uow, operator, alice, purpose="personal", scopes=["*"]
        )
        _, bot_token = identity.issue_api_token(
            uow, operator, bot, purpose="personal", scopes=["*"]
        )
    return {"alice": alice_token, "bot": bot_token, "bot_id": bot.id}


def _names(html: str) -> list[str]:
    return re.findall(r'<a class="strong" href="/console/identities/\w+">([^<]+)</a>', html)


def test_unsigned_visitors_are_sent_to_sign_in_and_back(client: TestClient, installed: Any) -> None:
    first = client.get("/console/identities?kind=agent", follow_redirects=False)
    assert first.status_code == 303
    assert (
        first.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fidentities%3Fkind%3Dagent"
    )
    form = client.get(first.headers["location"])
    assert 'type="password"' in form.text and "Access token" in form.text
    assert ">Sign in</button>" in form.text
    done = client.post(
        "/console/sign-in",
        data={
            "token": installed.admin_token,
            "csrf": csrf_of(form.text),
            "next": "/console/identities?kind=agent",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/console/identities?kind=agent"


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session(
    client: TestClient, installed: Any
) -> None:
    form = client.get("/console/sign-in")
    done = client.post(
        "/console/sign-in",
        data={"token": installed.admin_token, "csrf": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("limen_console="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here; see the HTTPS test
    assert installed.admin_token not in cookie  # sealed, not the token itself
    page = client.get("/console/identities")
    assert page.status_code == 200 and "admin" in page.text
    session_cookie = client.cookies.get("limen_console")
    assert session_cookie
    out = client.post(
        "/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert client.get("/console/identities", follow_redirects=False).status_code == 303
    # A copy of the cookie kept from before (a stolen one) is dead too: signing out
    # revoked the session's own token.
    client.cookies.set("limen_console", session_cookie, path="/console")
    replayed = client.get("/console/identities", follow_redirects=False)
    assert replayed.status_code == 303 and "sign-in" in replayed.headers["location"]
    events = client.get(
        "/v1/events",
        params={"action": "console.*"},
        headers={"Authorization": f"Bearer {installed.admin_token}"},
    ).json()["items"]
    assert [e["action"] for e in events] == ["console.sign_in", "console.sign_out"]


def test_over_https_the_cookie_is_secure(app: Any, installed: Any) -> None:
    with TestClient(app, base_url="https://limen.test") as secure:
        form = secure.get("/console/sign-in")
        done = secure.post(
            "/console/sign-in",
            data={"token": installed.admin_token, "csrf": csrf_of(form.text), "next": ""},
            follow_redirects=False,
        )
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("limen_console="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_token_is_refused_and_never_echoed(client: TestClient, installed: Any) -> None:
    form = client.get("/console/sign-in")
    wrong = "limen_this-is-not-a-token-0123456789"
    refused = client.post(
        "/console/sign-in",
        data={"token": wrong, "csrf": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    assert "not valid, has expired, or was revoked" in refused.text
    assert wrong not in refused.text
    assert "limen_console=" not in refused.headers.get("set-cookie", "")


def test_forms_without_the_sessions_token_are_refused(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    # Sign-in itself: a form posted from elsewhere has no matching token.
    stray = client.post(
        "/console/sign-in",
        data={"token": installed.admin_token, "csrf": "forged", "next": ""},
        follow_redirects=False,
    )
    assert stray.status_code == 403
    sign_in(client, installed.admin_token)
    for forged in ("", "forged"):
        refused = client.post(
            f"/console/identities/{people['bot_id']}/suspend",
            data={"reason": "csrf", "csrf": forged},
        )
        assert refused.status_code == 403
        assert "did not come from the console" in refused.text
    page = client.get(f"/console/identities/{people['bot_id']}")
    assert 'class="badge status-active"' in page.text


def test_the_session_ends_when_its_token_is_revoked(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    sign_in(client, people["alice"])
    assert client.get("/console/identities").status_code == 200
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    tokens = client.get("/v1/tokens", params={"identity": "alice"}, headers=admin).json()
    assert {t["purpose"] for t in tokens["items"]} == {"personal", "console"}
    for token in tokens["items"]:
        if token["purpose"] == "personal":  # the token she signed in with, not the session's
            client.delete(f"/v1/tokens/{token['id']}", headers=admin)
    gone = client.get("/console/identities", follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/console/sign-in")


def test_every_page_is_served_with_a_strict_policy_and_only_its_own_assets(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    sign_in(client, installed.admin_token)
    pages = [
        "/console/sign-in",
        "/console/overview",
        "/console/identities",
        f"/console/identities/{people['bot_id']}",
        "/console/alerts",
        "/console/events",
        "/console/vault?all=true",
        "/console/discovery",
        "/console/kill-switch",
        "/console/no-such-page",
    ]
    for path in pages:
        page = client.get(path)
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert re.findall(r'(?:src|href|action)="(?!/|#)', html) == [], path
        assert "<script>" not in html and " style=" not in html and " on" + "click" not in html
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"?]+)', html):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/console/static/htmx.min.js").content.startswith(b"var htmx=")


def test_user_supplied_text_shows_as_text(client: TestClient, db: Database, installed: Any) -> None:
    people = _people(db)
    csrf = sign_in(client, installed.admin_token)
    client.post(  # the overview lists the last containments by name
        f"/console/identities/{people['bot_id']}/suspend", data={"reason": XSS, "csrf": csrf}
    )
    for path in (
        "/console/overview",
        "/console/identities",
        "/console/identities?kind=agent",
        f"/console/identities/{people['bot_id']}",
        "/console/events?action=identity.suspend",
    ):
        html = client.get(path).text
        assert XSS not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_identities_sit_side_by_side_and_filter_by_kind_status_and_name(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    sign_in(client, installed.admin_token)
    everyone = client.get("/console/identities").text
    assert set(_names(everyone)) >= {"alice", "alice-bot", "alice-job", "found-bot"}
    assert "shadow" in everyone
    assert _names(client.get("/console/identities?kind=agent").text) == ["alice-bot", "found-bot"]
    assert _names(client.get("/console/identities?kind=shadow").text) == ["found-bot"]
    assert _names(client.get("/console/identities?kind=service").text) == ["alice-job"]
    assert _names(client.get("/console/identities?q=BOT").text) == ["alice-bot", "found-bot"]
    assert _names(client.get("/console/identities?q=%25").text) == []  # no wildcard
    client.post(
        f"/console/identities/{people['bot_id']}/suspend",
        data={"reason": "drill", "csrf": csrf_of(everyone)},
    )
    assert _names(client.get("/console/identities?status=suspended").text) == ["alice-bot"]
    # alice owns the bot: her name is its owner, and the bot is in her list
    row = re.search(
        r"alice-bot</a>.*?</tr>", client.get("/console/identities?q=alice-bot").text, re.S
    )
    assert row and ">alice</a>" in row.group(0)
    bad = client.get("/console/identities?kind=robot")
    assert bad.status_code == 422 and "kind must be one of" in bad.text


def test_the_list_pages_by_fifty(client: TestClient, db: Database, installed: Any) -> None:
    with db.unit_of_work() as uow:
        for n in range(60):
            identity.create(uow, Actor.operator(), kind="service", name=f"job-{n:02d}")
    sign_in(client, installed.admin_token)
    first = client.get("/console/identities?kind=service").text
    assert len(_names(first)) == 50
    more = re.search(r'href="(/console/identities\?[^"]*cursor=[^"]+)"', first)
    assert more
    second = client.get(more.group(1).replace("&amp;", "&")).text
    assert len(_names(second)) == 10
    assert set(_names(first)).isdisjoint(_names(second))


def test_an_identity_page_shows_owner_chain_credentials_and_events(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    headers = {"Authorization": f"Bearer {people['bot']}"}
    # an event of its own: refused, as its owner is a viewer
    client.post("/v1/identities/alice-job/suspend", headers=headers, json={})
    sign_in(client, installed.admin_token)
    page = client.get("/console/identities/alice-bot").text
    chain = re.search(r'<ol class="chain">(.*?)</ol>', page, re.S)
    assert chain and ">alice</a>" in chain.group(1)
    assert people["bot"][:12] in page or "personal" in page  # its token, by prefix
    assert people["bot"] not in page  # never the value
    assert "<code>identity.suspend</code>" in page and "outcome-denied" in page
    alice = client.get("/console/identities/alice").text
    assert ">alice-bot</a>" in alice and ">alice-job</a>" in alice  # what she owns


def test_suspending_from_the_console_is_what_the_api_does(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    bot_headers = {"Authorization": f"Bearer {people['bot']}"}
    assert client.get("/v1/identities/alice-bot", headers=bot_headers).status_code == 200
    csrf = sign_in(client, installed.admin_token)
    page = client.get(f"/console/identities/{people['bot_id']}").text
    assert ">Suspend</summary>" in page and ">Confirm</button>" in page and "Reason" in page
    done = client.post(
        f"/console/identities/{people['bot_id']}/suspend",
        data={"reason": "leaked in a chat", "csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert "is suspended and its tokens no longer work" in shown
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    assert _value(_scrape(client, admin), "limen_containments_total", via="suspend") == 1
    assert client.get("/v1/identities/alice-bot", headers=bot_headers).status_code == 401
    events = client.get("/v1/events", params={"action": "identity.suspend"}, headers=admin).json()[
        "items"
    ]
    assert len(events) == 1
    event = events[0]
    assert event["actor"]["name"] == "admin" or "admin" in str(event["actor"])
    assert event["reason"] == "leaked in a chat"
    assert event["outcome"] == "success"
    back = client.post(
        f"/console/identities/{people['bot_id']}/reactivate",
        data={"reason": "rotated", "csrf": csrf},
    )
    assert "is active again" in back.text
    assert client.get("/v1/identities/alice-bot", headers=admin).json()["status"] == "active"
    # the old token stays dead: the cut-off is not lifted by reactivation
    assert client.get("/v1/identities/alice-bot", headers=bot_headers).status_code == 401


def test_a_refused_action_says_why_on_a_page(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    csrf = sign_in(client, people["alice"])  # a viewer
    page = client.get(f"/console/identities/{people['bot_id']}").text
    assert ">Suspend</summary>" not in page
    assert "Your role does not allow reading the event log" in page
    refused = client.post(
        f"/console/identities/{people['bot_id']}/suspend", data={"reason": "x", "csrf": csrf}
    )
    assert refused.status_code == 403
    assert "alice may not suspend and contain identities" in refused.text
    assert "Traceback" not in refused.text
    assert client.get("/console/events").status_code == 403
    missing = client.get("/console/identities/nobody")
    assert missing.status_code == 404 and "nobody" in missing.text


def test_a_malformed_query_says_what_is_wrong(client: TestClient, installed: Any) -> None:
    sign_in(client, installed.admin_token)
    page = client.get("/console/events", params={"limit": "many"})
    assert page.status_code == 422
    assert "Invalid input" in page.text and "limit: Input should be a valid integer" in page.text


@pytest.mark.parametrize("empty", ["", "   "])
def test_a_reason_is_required(client: TestClient, db: Database, installed: Any, empty: str) -> None:
    people = _people(db)
    csrf = sign_in(client, installed.admin_token)
    refused = client.post(
        f"/console/identities/{people['bot_id']}/suspend", data={"reason": empty, "csrf": csrf}
    )
    assert refused.status_code == 422 and "give a reason" in refused.text


def test_events_page_searches_the_log(client: TestClient, db: Database, installed: Any) -> None:
    people = _people(db)
    bot = {"Authorization": f"Bearer {people['bot']}"}
    client.post("/v1/identities/alice-job/suspend", headers=bot, json={})  # denied
    csrf = sign_in(client, installed.admin_token)
    client.post(
        f"/console/identities/{people['bot_id']}/suspend", data={"reason": "drill", "csrf": csrf}
    )
    everything = client.get("/console/events").text
    assert "<code>identity.suspend</code>" in everything
    assert "<code>console.sign_in</code>" in everything
    suspended = client.get("/console/events?action=identity.*").text
    assert "<code>console.sign_in</code>" not in suspended and "drill" in suspended
    refused = client.get("/console/events?identity=alice-bot&outcome=denied").text
    assert refused.count("outcome-denied") == 1 and "drill" not in refused
    assert client.get("/console/events?outcome=maybe").status_code == 422
    today = datetime.now(UTC).date()
    dated = client.get(f"/console/events?since={today}&until={today}&action=identity.*").text
    assert "drill" in dated
    before = client.get(f"/console/events?until={today - timedelta(days=1)}").text
    assert "No events." in before
    bad = client.get("/console/events?since=yesterday")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text


def test_the_kill_switch_needs_the_kind_typed_to_confirm(
    client: TestClient, db: Database, installed: Any
) -> None:
    people = _people(db)
    csrf = sign_in(client, installed.admin_token)
    unconfirmed = client.post(
        "/console/kill-switch/engage", data={"kind": "agent", "confirm": "", "csrf": csrf}
    )
    assert unconfirmed.status_code == 422
    engaged = client.post(
        "/console/kill-switch/engage",
        data={"kind": "agent", "confirm": "agent", "reason": "incident 7", "csrf": csrf},
    )
    assert engaged.status_code == 200 and "incident 7" in engaged.text
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    contained = _value(_scrape(client, admin), "limen_containments_total", via="killswitch")
    assert contained >= 1  # every active agent the switch suspended
    bot = {"Authorization": f"Bearer {people['bot']}"}
    assert client.get("/v1/identities/alice-bot", headers=bot).status_code in (401, 403)
    released = client.post(
        "/console/kill-switch/disengage",
        data={"kind": "agent", "confirm": "agent", "csrf": csrf},
    )
    assert released.status_code == 200 and "Released." in released.text


def test_the_token_never_reaches_a_page_a_log_or_the_database(
    client: TestClient, db: Database, installed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import sqlalchemy as sa

    caplog.set_level(logging.DEBUG)
    people = _people(db)
    token = people["alice"]
    csrf = sign_in(client, token)
    seen = ""
    for path in ("/console/identities", "/console/identities/alice", "/console/events"):
        seen += client.get(path).text
    seen += client.post(
        f"/console/identities/{people['bot_id']}/suspend", data={"reason": "x", "csrf": csrf}
    ).text
    seen += client.post("/console/sign-out", data={"csrf": csrf}).text
    with db.engine.connect() as conn:
        stored = repr(conn.execute(sa.text("SELECT * FROM events")).all())
    for place in (seen, caplog.text, stored):
        assert token not in place
        assert token[len("limen_") :] not in place
