"""No secret value reaches the console: not its HTML, not its URLs, not the server's log.

A live installation holds one of every kind of secret Limen knows: a vault item's value
(read once, so the read is an event), an OAuth client's secret, personal and service
tokens, an audit sink's signing secret, and credentials a ``limen scan --report`` found in
files. A signed-in admin then visits every console page a link leads to (every identity,
alert filter, event search, the vault report with everything, discovery) and runs
``Verify now``; none of those values is in any page, any address or any log line.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from limen.audit import Actor
from limen.discovery import expand_example
from limen.vault import Field, ItemDraft
from tests.web._console import csrf_of, raise_alert

LINK = re.compile(r'(href|hx-get|action|hx-post)="([^"]+)"')


def _secrets(live: str, headers: dict[str, str], app: Any) -> list[str]:
    """One secret of every kind, made through the server; returns their values."""
    made = httpx.post(
        f"{live}/v1/identities", json={"kind": "human", "name": "alice"}, headers=headers
    )
    assert made.status_code == 201, made.text
    for body in (
        {"kind": "service", "name": "ci-deploy", "owner": "alice"},
        {"kind": "agent", "name": "alice-bot", "owner": "alice"},
    ):
        made = httpx.post(f"{live}/v1/identities", json=body, headers=headers)
        assert made.status_code == 201, made.text
    client = httpx.post(
        f"{live}/v1/clients", json={"identity": "ci-deploy", "scopes": ["deploy"]}, headers=headers
    )
    assert client.status_code == 201, client.text
    token = httpx.post(f"{live}/v1/tokens", json={"identity": "alice-bot"}, headers=headers)
    assert token.status_code == 201, token.text
    sink = httpx.post(
        f"{live}/v1/sinks",
        json={"name": "soc", "kind": "webhook", "target": "https://siem.example/in"},
        headers=headers,
    )
    assert sink.status_code == 201, sink.text

    vaults = app.state.services.vault
    operator = Actor.operator()
    payments = vaults.create_vault(operator, "payments", max_secret_age_days=30)
    value = "sk_live_console-must-never-show-" + "7" * 16
    item = vaults.create_item(
        operator,
        "payments",
        ItemDraft(title="stripe", fields=[Field(id="", type="CONCEALED", label="k", value=value)]),
    )
    read = httpx.get(f"{live}/v1/vaults/{payments.id}/items/{item.id}", headers=headers)
    assert read.status_code == 200 and value in read.text, read.text
    return [
        value,
        client.json()["client_secret"],
        token.json()["token"],
        sink.json()["secret"],
    ]


def _reported(cli: Any, live: str, admin_token: str, tmp_path: Path) -> list[str]:
    """Credentials in files, reported by ``limen scan --report``; returns their values."""
    rng = Random(19)
    values = [
        expand_example("ghp_$[github-token]", rng),
        expand_example("sk-ant-api03-$[base64url:93]AA", rng),
    ]
    tree = tmp_path / "laptop"
    tree.mkdir()
    (tree / ".env").write_text(f"GITHUB_TOKEN={values[0]}\nANTHROPIC_API_KEY={values[1]}\n")
    done = cli("scan", str(tree), "--report", "--server", live, "--token", admin_token, "-q")
    assert done.exit_code == 1, done.stderr  # findings: exit 1, as scan does
    return values


def test_no_secret_value_reaches_a_console_page_its_urls_or_the_log(
    cli: Any,
    app: Any,
    live_server: Any,
    installed: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    caplog.set_level(logging.DEBUG)
    live = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    secrets = _secrets(live, admin, app)
    secrets += _reported(cli, live, installed.admin_token, tmp_path)
    raise_alert(app.state.services.db, "alice-bot", score=0.9, severity="high")

    pages: dict[str, str] = {}
    addresses: list[str] = []
    with httpx.Client(base_url=live, follow_redirects=True) as browser:
        form = browser.get("/console/sign-in")
        signed = browser.post(
            "/console/sign-in",
            data={"token": installed.admin_token, "csrf": csrf_of(form.text)},
        )
        assert signed.status_code == 200 and "/console/" in str(signed.url)
        queue = deque(["/console/overview", "/console/vault?all=true", "/console/alerts"])
        while queue and len(pages) < 300:
            path = queue.popleft()
            if path in pages:
                continue
            response = browser.get(path)
            assert response.status_code == 200, (path, response.status_code)
            pages[path] = response.text
            addresses += [str(r.url) for r in response.history]
            for attribute, link in LINK.findall(response.text):
                target = urljoin(live + path, link.replace("&amp;", "&"))
                addresses.append(target)
                parts = urlsplit(target)
                local = parts.path + (f"?{parts.query}" if parts.query else "")
                if (
                    attribute in ("href", "hx-get")
                    and target.startswith(live + "/console/")
                    and not parts.path.startswith("/console/static/")
                    and parts.path not in ("/console/sign-out", "/console/live")
                    and local not in pages
                ):
                    queue.append(local)
        events = pages.get("/console/events") or browser.get("/console/events").text
        verified = browser.post("/console/events/verify", data={"csrf": csrf_of(events)})
        assert verified.status_code == 200, verified.text
        pages["verify"] = verified.text

    visited = set(pages)
    assert {"/console/overview", "/console/identities", "/console/events"} <= visited
    assert any(p.startswith("/console/identities/") for p in visited), sorted(visited)
    assert "/console/discovery" in visited and "/console/vault?all=true" in visited
    assert "stripe" in pages["/console/vault?all=true"]  # the item is listed, its value not
    assert "GitHub" in pages["/console/discovery"]
    everything = "\n".join(pages.values())
    for value in secrets:
        assert value not in everything
        assert value not in "\n".join(addresses)
        assert value not in caplog.text
