"""Every route that takes a body refuses one of another media type and malformed JSON,
in the error format of its surface.

Generated from the app's own routes, like ``test_route_roles.py``: a route added later
is held to the same rules without a line here. By default a body of another media type
(or one sent without a Content-Type) is a 415 problem document and malformed JSON a 400
one; surfaces whose spec says otherwise keep their own format:

- OAuth (RFC 6749 §5.2): form bodies; anything else is 400 ``invalid_request``.
- AuthZEN 1.0 (§10.1 and the certification scenario): 400 for both.
- SCIM (RFC 7644 §3.12): its own error schema; malformed JSON is ``invalidSyntax``.
- Connect: ``{"status", "message"}``.
- 1Password Events API: a JSON body with any Content-Type or none (1Password's own
  collectors send none); malformed JSON is a 400 ``{"Error": {"Message"}}``.
- The console: its forms take form bodies; anything else is a 415 page for the browser.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from limen.api.connect import FILE_UPLOAD_PATH
from limen.api.problems import install_problem_handlers
from limen.api.routing import Route

BROKEN = '{"name": "sk_live_not_a_secret",\n "kind": }'
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
OAUTH_PREFIXES = ("/oauth2/", "/v1beta1/users/oauth2/")
CONNECT_PREFIXES = ("/v1/vaults", "/v1/activity")


def _surface(path: str) -> str:
    if path.startswith(OAUTH_PREFIXES):
        return "oauth"
    if path.startswith("/access/v1/"):
        return "authzen"
    if path.startswith("/scim/"):
        return "scim"
    if path.startswith(CONNECT_PREFIXES):
        return "connect"
    if re.match(r"^/api/v[12]/", path):
        return "events"
    if path.startswith("/console"):
        return "console"
    return "problem"


def _check(response: httpx.Response, surface: str, wanted: str) -> str | None:
    """Why ``response`` is not the refusal ``wanted`` ("media", "json" or "size"), or None."""
    status = {"media": 415, "json": 400, "size": 413}[wanted]
    if surface in ("oauth", "authzen") and wanted != "size":
        status = 400
    if response.status_code != status:
        return f"{response.status_code}, not {status}: {response.text[:200]}"
    if surface == "console":  # a page for the browser, saying what to send
        ok = response.headers["content-type"].startswith("text/html")
        said = "send the request body as application/x-www-form-urlencoded"
        if wanted == "size":
            said = "request bodies are limited to"
        ok = ok and said in response.text
        return None if ok else f"not the console's error page: {response.text[:200]}"
    body = response.json()
    if surface == "oauth":
        ok = body.get("error") == "invalid_request" and body.get("error_description")
    elif surface == "scim":
        ok = body.get("schemas") == [SCIM_ERROR] and body.get("status") == str(status)
        ok = ok and (wanted != "json" or body.get("scimType") == "invalidSyntax")
    elif surface == "connect":
        ok = body.get("status") == status and body.get("message")
    elif surface == "events":
        ok = bool(body.get("Error", {}).get("Message"))
    else:
        ok = (
            response.headers["content-type"] == "application/problem+json"
            and body.get("status") == status
            and body.get("detail")
        )
        if wanted == "json":
            ok = ok and "line 2, column 10" in body["detail"]
    if "sk_live" in response.text:
        return "the answer quotes the body"
    return None if ok else f"not {surface}'s error format: {response.text[:200]}"


def _body_routes(app: FastAPI) -> list[tuple[str, str, Route]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.accepts:
            path = re.sub(r"\{(\w+)\}", "missing", route.path)
            found.extend((method, path, route) for method in sorted(route.methods))
    return found


def test_every_route_that_takes_a_body_refuses_other_media_types_and_broken_json(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    routes = _body_routes(client.app)  # type: ignore[arg-type]
    oversize = b"x" * (client.app.state.services.settings.max_request_bytes + 1)  # type: ignore[attr-defined]
    assert len(routes) >= 50
    problems = []
    for method, path, route in routes:
        surface = _surface(route.path)
        json_types = sorted(t for t in route.accepts if t == "application/json" or "+json" in t)
        refusals = [
            ("text/plain", b'{"name": "x"}'),  # a JSON text, mislabelled
            (None, b'{"name": "x"}'),  # unlabelled
            ("application/x-www-form-urlencoded", b"name=x"),
        ]
        if surface == "oauth":
            refusals = [("application/json", b'{"token": "x"}'), ("text/plain", b"token=x")]
        for media_type, content in refusals:
            if media_type in route.accepts:
                continue
            headers = dict(admin_headers)
            if media_type:
                headers["Content-Type"] = media_type
            response = client.request(method, path, content=content, headers=headers)
            if "*/*" in route.accepts:
                # A JSON text is taken as JSON whatever its label.
                if not content.startswith(b"{"):
                    continue
                if response.status_code in (400, 415, 422) or response.status_code >= 500:
                    problems.append(f"{method} {path} [{media_type}]: {response.status_code}")
                continue
            why = _check(response, surface, "media")
            if why:
                problems.append(f"{method} {path} [{media_type}]: {why}")
        for media_type in json_types:
            headers = {**admin_headers, "Content-Type": media_type}
            response = client.request(method, path, content=BROKEN, headers=headers)
            why = _check(response, surface, "json")
            if why:
                problems.append(f"{method} {path} [broken {media_type}]: {why}")
        if re.fullmatch(FILE_UPLOAD_PATH, path):
            continue  # a file upload has its own, larger limit (test_connect.py)
        headers = {**admin_headers, "Content-Type": (json_types or sorted(route.accepts))[0]}
        why = _check(
            client.request(method, path, content=oversize, headers=headers), surface, "size"
        )
        if why:
            problems.append(f"{method} {path} [oversize]: {why}")
    assert problems == [], "\n".join(problems)


def test_a_route_that_takes_no_body_ignores_one(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """A route that reads its body by hand without declaring it (``bodies.request_body``)
    would be missed above; here it would answer a broken body with a 500."""
    app = client.app
    bodiless = [
        (method, re.sub(r"\{(\w+)\}", "missing", route.path))
        for route in app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and not route.accepts
        for method in sorted(route.methods - {"GET", "HEAD"})
    ]
    assert len(bodiless) >= 10
    headers = {**admin_headers, "Content-Type": "application/json"}
    for method, path in bodiless:
        response = client.request(method, path, content=BROKEN, headers=headers)
        assert response.status_code < 500, (method, path, response.text)
        assert "not valid JSON" not in response.text, (method, path, "declare its body")


def test_a_body_of_the_right_type_still_goes_through(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Content-Type": "application/json; charset=utf-8"}
    created = client.post("/v1/identities", json={"kind": "service", "name": "ct-job"})
    assert created.status_code == 401  # the check never stands in for authentication
    created = client.post(
        "/v1/identities", content=b'{"kind": "service", "name": "ct-job"}', headers=headers
    )
    assert created.status_code == 201, created.text
    # A bodiless call to a route whose body is optional needs no Content-Type.
    suspended = client.post("/v1/identities/ct-job/suspend", headers=admin_headers)
    assert suspended.status_code == 200, suspended.text


class _Widget(BaseModel):
    name: str


def _new_surface() -> FastAPI:
    """A route as another surface would add it: nothing about media types in it."""
    router = APIRouter(route_class=Route)

    @router.post("/v1/widgets", status_code=201)
    def create_widget(widget: _Widget) -> dict[str, Any]:
        return {"name": widget.name}

    app = FastAPI()
    install_problem_handlers(app)
    app.router.routes.extend(router.routes)
    return app


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b'{"name": "w"}', 415, "unsupported-media-type"),
        ({}, b'{"name": "w"}', 415, "unsupported-media-type"),
        ({"Content-Type": "application/json"}, BROKEN.encode(), 400, "malformed-body"),
        ({"Content-Type": "application/json"}, b'{"name": 3}', 422, "invalid-input"),
        ({"Content-Type": "application/vnd.api+json"}, b'{"name": "w"}', 201, None),
    ],
)
def test_a_route_added_later_gets_the_same_rules_without_asking(
    headers: dict[str, str], content: bytes, status: int, code: str | None
) -> None:
    with TestClient(_new_surface()) as client:
        response = client.post("/v1/widgets", content=content, headers=headers)
    assert response.status_code == status, response.text
    if code:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
        assert "sk_live" not in response.text
