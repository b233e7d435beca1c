"""Signing in to the console as a browser does, for the tests."""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client: Any, token: str, *, next: str = "/console/identities") -> str:
    """Sign ``client`` in with ``token``; returns the session's form token."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    done = client.post(
        "/console/sign-in",
        data={"token": token, "csrf": csrf_of(form.text), "next": next},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get("/console/kill-switch")  # any page carries the session's token
    return csrf_of(page.text)
