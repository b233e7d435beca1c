"""The AuthZEN interop API gateway scenario's decisions, with a validated policy, and the
gateway itself: nginx with ``deploy/nginx`` in front of an application.

The decision file (``conformance/authzen_gateway.json``, source named in it) is what the
scenario's gateways ask: the subject is the IdP's ``sub``, the action the HTTP method,
the resource the OpenAPI route. The application's route type and method actions come
from a schema fragment (``conformance/gateway.cedarschema``); its users are Limen
identities named by their IdP subject.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.store import Database
from limen.testing import free_port
from tests.respond._waiting import wait_for

HERE = Path(__file__).parent / "conformance"
DEPLOY = Path(__file__).parents[2] / "deploy" / "nginx"
SCENARIO = json.loads((HERE / "authzen_gateway.json").read_text())
DECISIONS = SCENARIO["evaluation"]
NJS = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
# A concrete request for each route the decisions name.
EXAMPLE_PATHS = {
    "/users/{userId}": "/users/rick%40the-citadel.com",
    "/todos": "/todos",
    "/todos/{todoId}": "/todos/7e2a",
}


def _store(client: TestClient | httpx.Client, headers: dict[str, str]) -> None:
    fragment = {"text": (HERE / "gateway.cedarschema").read_text(), "realm": "schema"}
    r = client.put("/v1/policies/todo-gateway-app", json=fragment, headers=headers)
    assert r.status_code == 200, r.text
    policy = {"text": (HERE / "gateway.cedar").read_text()}  # validated against the fragment
    r = client.put("/v1/policies/todo-gateway", json=policy, headers=headers)
    assert r.status_code == 200, r.text


@pytest.fixture
def gateway_world(client: TestClient, admin_headers: dict[str, str], make_identity: Any) -> None:
    _store(client, admin_headers)
    for sub, user in SCENARIO["users"].items():
        make_identity(sub, email=user["email"], roles=user["roles"])


def test_every_gateway_decision(
    client: TestClient, admin_headers: dict[str, str], gateway_world: None
) -> None:
    assert len(DECISIONS) == 25
    wrong = []
    for case in DECISIONS:
        r = client.post("/access/v1/evaluation", json=case["request"], headers=admin_headers)
        assert r.status_code == 200, r.text
        if r.json()["decision"] is not case["expected"]:
            wrong.append((case["request"], r.json()))
    assert not wrong


def test_the_request_the_interop_gateways_send(
    client: TestClient, admin_headers: dict[str, str], gateway_world: None
) -> None:
    """The Envoy and Kong plugins of the scenario add the request's details as the
    route's properties; the schema declares them, so they reach Cedar validated."""
    sub = next(iter(SCENARIO["users"]))
    request = {
        "subject": {"type": "identity", "id": sub},
        "action": {"name": "PUT"},
        "resource": {
            "type": "route",
            "id": "/todos/{todoId}",
            "properties": {
                "uri": "https://todo.example.com/todos/7e2a",
                "schema": "https",
                "hostname": "todo.example.com",
                "path": "/todos/7e2a",
                "params": {"todoId": "7e2a"},
                "ip": "203.0.113.5",
            },
        },
        "context": {},
    }
    r = client.post("/access/v1/evaluation", json=request, headers=admin_headers)
    assert r.json()["decision"] is True, r.text
    beth = list(SCENARIO["users"])[3]
    request["subject"]["id"] = beth
    r = client.post("/access/v1/evaluation", json=request, headers=admin_headers)
    assert r.json()["decision"] is False, r.text


# -- the gateway itself ----------------------------------------------------------------


def _id_token(sub: str) -> str:
    """An IdP token as the scenario's gateways read it (they take ``sub`` unverified)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': sub})}.c2ln"


class _Application:
    """The application behind the gateway: answers every request it gets, and counts them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        application = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                application.seen.append((self.command, self.path))
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nginx(tmp_path: Path, live_server: Any, db: Database) -> Iterator[tuple[str, _Application]]:
    """``deploy/nginx`` as shipped, with this run's ports, in front of the application."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary) or not NJS.exists():
        pytest.skip(
            "nginx with njs is not installed (apt-get install nginx-light libnginx-mod-http-js)"
        )
    with db.unit_of_work() as uow:
        pep = identity.create(uow, Actor.operator(), kind="service", name="todo-gateway")
        _, token = identity.issue_api_token(
            uow, Actor.operator(), pep, purpose="service-account", scopes=["access:evaluate"]
        )
    application = _Application()
    port = free_port()
    prefix = tmp_path / "nginx"
    (prefix / "njs").mkdir(parents=True)
    (prefix / "logs").mkdir()
    shutil.copy(DEPLOY / "authzen.js", prefix / "njs" / "authzen.js")
    config = (DEPLOY / "nginx.conf").read_text()
    for shipped, here in (
        ("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{application.port};"),
    ):
        assert shipped in config
        config = config.replace(shipped, here)
    (prefix / "nginx.conf").write_text(config)
    env = {**os.environ, "LIMEN_URL": live_server.url, "LIMEN_PEP_TOKEN": token}
    run = [binary, "-p", str(prefix), "-c", "nginx.conf", "-e", "logs/error.log"]
    directives = (
        f"daemon off; pid {prefix}/nginx.pid; user root;"
        if os.geteuid() == 0
        else (f"daemon off; pid {prefix}/nginx.pid;")
    )
    process = subprocess.Popen([*run, "-g", directives], env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return False
        return True

    try:
        wait_for(up)
        yield url, application
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)
        application.close()
    assert token not in (prefix / "logs" / "error.log").read_text()  # nor in its log


def test_nginx_enforces_every_gateway_decision(
    nginx: tuple[str, _Application], live_server: Any, admin_headers: dict[str, str], db: Database
) -> None:
    url, application = nginx
    with httpx.Client(base_url=live_server.url) as limen:
        _store(limen, admin_headers)
    for sub, user in SCENARIO["users"].items():
        with db.unit_of_work() as uow:
            identity.create(
                uow,
                Actor.operator(),
                kind="human",
                name=sub,
                email=user["email"],
                roles=user["roles"],
            )
    wrong = []
    for case in DECISIONS:
        request = case["request"]
        method = request["action"]["name"]
        path = EXAMPLE_PATHS[request["resource"]["id"]]
        headers = {"Authorization": f"Bearer {_id_token(request['subject']['id'])}"}
        r = httpx.request(method, url + path, headers=headers, timeout=10)
        wanted = 200 if case["expected"] else 403
        if r.status_code != wanted:
            wrong.append((method, path, request["subject"]["id"][:12], r.status_code))
    assert not wrong
    allowed = sum(case["expected"] for case in DECISIONS)
    assert len(application.seen) == allowed  # a denied request never reached it
    # Nothing the gateway cannot name gets through: no bearer, or a route it does not know.
    assert httpx.get(url + "/todos", timeout=10).status_code == 403
    rick = {"Authorization": f"Bearer {_id_token(next(iter(SCENARIO['users'])))}"}
    assert httpx.get(url + "/admin", headers=rick, timeout=10).status_code == 403
    assert len(application.seen) == allowed
