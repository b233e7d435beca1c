"""A path no route has, or a method a route does not take, is answered on every surface
with a precise message in that surface's own error format (issue #20: "every error, on
every route"): RFC 9457 problem details, or the OAuth, Connect, Events API, SCIM or
console format where that surface has one. A 405 names the methods the route does take
(``Allow``, RFC 9110 §15.5.6)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from starlette.routing import Route as StarletteRoute

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Each surface's error media type, by path prefix; the first that matches.
SURFACES = (
    ("/oauth2/", "application/json"),  # RFC 6749 §5.2
    ("/v1beta1/users/oauth2/", "application/json"),
    ("/scim/v2", "application/scim+json"),
    ("/console", "text/html"),
    ("/api/v1/", "application/json"),  # 1Password Events API {"Error": {"Message"}}
    ("/api/v2/auditevents", "application/json"),
    ("/api/v2/itemusages", "application/json"),
    ("/api/v2/signinattempts", "application/json"),
    ("/api/v2/auth/", "application/json"),
    ("/api/auth/", "application/json"),
    ("/v1/vaults", "application/json"),  # 1Password Connect {"status", "message"}
    ("/v1/activity", "application/json"),
    ("/v1/heartbeat", "application/json"),
    ("/", "application/problem+json"),
)


def _media_type(path: str) -> str:
    return next(media for prefix, media in SURFACES if path.startswith(prefix))


def _pattern(path: str) -> str:
    return re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_a_method_a_route_does_not_take_is_405_in_its_surfaces_format(
    client: TestClient, app: Any, admin_headers: dict[str, str]
) -> None:
    by_path: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, StarletteRoute) and route.methods:
            by_path.setdefault(route.path, set()).update(route.methods)
    checked = 0
    for path, methods in sorted(by_path.items()):
        others = [m for m in METHODS if m not in methods]
        if not others:
            continue
        method, url = others[0], _concrete(path)
        if any(
            method in theirs and other != path and re.fullmatch(_pattern(other), url)
            for other, theirs in by_path.items()
        ):
            continue  # another route takes it (GET /scim/v2/Groups/{id} for .search)
        r = client.request(method, url, headers=admin_headers)
        assert r.status_code == 405, (method, path, r.status_code, r.text[:200])
        allowed = {m.strip() for m in r.headers.get("allow", "").split(",")}
        assert allowed & methods, (path, r.headers.get("allow"))
        assert r.headers["content-type"].startswith(_media_type(path)), (path, r.headers)
        assert f"{method} is not allowed on {url}" in r.text, (path, r.text[:300])
        checked += 1
    assert checked > 100


def test_an_unknown_path_is_404_in_its_surfaces_format(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for prefix in (
        "/nothing-here",
        "/v1/nothing-here",
        "/v1/vaults/x/items/x/nothing-here",
        "/api/v2/nothing-here",
        "/api/v2/auditevents/nothing-here",
        "/scim/v2/nothing-here",
        "/access/v1/nothing-here",
        "/oauth2/nothing-here",
        "/console/nothing-here",
        "/.well-known/nothing-here",
    ):
        r = client.get(prefix, headers=admin_headers)
        assert r.status_code == 404, (prefix, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith(_media_type(prefix)), (prefix, r.headers)
        assert prefix in r.text, (prefix, r.text[:300])
