"""The Connect-compatible vault API over HTTP: scopes, error shapes, PATCH, files, activity."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import h11
import httpx
import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import utcnow
from limen.vault import MAX_FILE_BYTES, ItemDraft, VaultService
from tests.conftest import serve
from tests.vault.factories import issue_token, vault_service

SECRET = "s3cr3t-Zebra-Quartz-4411"  # limen:allow (made up; tests look for it)


@pytest.fixture
def vaults(db: Database, settings: Settings, installed: InitResult) -> VaultService:
    return vault_service(db, settings)


@pytest.fixture
def token_for(db: Database, installed: InitResult) -> Callable[..., dict[str, str]]:
    def headers(name: str, *grants: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(db, name, *grants)}"}

    return headers


def _item(title: str = "stripe", value: str = SECRET) -> dict[str, Any]:
    return {
        "title": title,
        "category": "API_CREDENTIAL",
        "tags": ["payments"],
        "fields": [
            {"id": "credential", "type": "CONCEALED", "label": "credential", "value": value}
        ],
    }


def test_scoped_tokens_see_only_their_vaults_and_read_only_cannot_write(
    client: TestClient,
    vaults: VaultService,
    token_for: Callable[..., dict[str, str]],
    admin_headers: dict[str, str],
) -> None:
    payments = vaults.create_vault(Actor.operator(), "payments")
    other = vaults.create_vault(Actor.operator(), "hr")
    admin_item = vaults.create_item(Actor.operator(), "hr", _connect_draft(_item("payroll")))
    reader = token_for("reader", "payments:read")
    writer = token_for("writer", "payments:write")

    created = client.post(f"/v1/vaults/{payments.id}/items", json=_item(), headers=writer)
    assert created.status_code == 200, created.text
    item_id = created.json()["id"]

    assert [v["name"] for v in client.get("/v1/vaults", headers=reader).json()] == ["payments"]
    read = client.get(f"/v1/vaults/{payments.id}/items/{item_id}", headers=reader)
    assert read.status_code == 200 and read.json()["fields"][0]["value"] == SECRET

    for path in (
        f"/v1/vaults/{other.id}",
        f"/v1/vaults/{other.id}/items",
        f"/v1/vaults/{other.id}/items/{admin_item.id}",
    ):
        denied = client.get(path, headers=reader)
        assert denied.status_code == 403, path
        assert set(denied.json()) == {"status", "message"}
        assert denied.json()["status"] == 403

    write = client.post(f"/v1/vaults/{payments.id}/items", json=_item("x"), headers=reader)
    assert write.status_code == 403
    for method in ("put", "delete"):
        kwargs = {"json": _item()} if method == "put" else {}
        response = getattr(client, method)(
            f"/v1/vaults/{payments.id}/items/{item_id}", headers=reader, **kwargs
        )
        assert response.status_code == 403, method
    patch = client.patch(
        f"/v1/vaults/{payments.id}/items/{item_id}",
        json=[{"op": "replace", "path": "/title", "value": "y"}],
        headers=reader,
    )
    assert patch.status_code == 403

    # The refusals are in the log, naming who tried what.
    activity = client.get("/v1/activity?limit=100", headers=admin_headers).json()
    denials = [a for a in activity if a["result"] == "DENY"]
    assert denials and all(a["actor"]["account"] == "reader" for a in denials)


def _connect_draft(document: dict[str, Any]) -> Any:
    from limen.api.schemas.connect import ItemIn

    return ItemIn.model_validate(document).to_draft()


def test_expired_revoked_and_suspended_service_accounts_are_refused(
    client: TestClient, vaults: VaultService, db: Database, installed: InitResult
) -> None:
    vault = vaults.create_vault(Actor.operator(), "ops")
    expired = issue_token(
        db, "old-job", "ops:read", expires_in=timedelta(hours=1), now=utcnow() - timedelta(hours=2)
    )
    live = issue_token(db, "cron", "ops:read")
    path = f"/v1/vaults/{vault.id}/items"
    assert client.get(path, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {live}"}).status_code == 200
    with db.unit_of_work() as uow:
        identity.suspend(uow, Actor.operator(), "cron", reason="leaked")
    refused = client.get(path, headers={"Authorization": f"Bearer {live}"})
    assert refused.status_code == 401 and refused.json()["status"] == 401


def test_errors_use_connect_shape_and_unknown_token_is_401(
    client: TestClient, vaults: VaultService, admin_headers: dict[str, str]
) -> None:
    vault = vaults.create_vault(Actor.operator(), "ops")
    missing = client.get(f"/v1/vaults/{vault.id}/items/{'a' * 26}", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "message": f"vault 'ops' has no item {'a' * 26!r}"}
    unauthenticated = client.get("/v1/vaults", headers={"Authorization": "Bearer limen_nope"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["status"] == 401 and "message" in unauthenticated.json()
    bad_filter = client.get("/v1/vaults?filter=name%20like%20x", headers=admin_headers)
    assert bad_filter.status_code == 422 and bad_filter.json()["status"] == 422
    bad_category = client.post(
        f"/v1/vaults/{vault.id}/items", json={**_item(), "category": "NOPE"}, headers=admin_headers
    )
    assert bad_category.status_code == 422
    assert "unknown category" in bad_category.json()["message"]
    # Validation errors never echo the submitted value back.
    bad_field = client.post(
        f"/v1/vaults/{vault.id}/items",
        json={"title": "t", "fields": [{"value": {"nested": SECRET}}]},
        headers=admin_headers,
    )
    assert bad_field.status_code == 422 and SECRET not in bad_field.text
    oversize = client.post(  # past LIMEN_MAX_REQUEST_BYTES, refused before the app reads it
        f"/v1/vaults/{vault.id}/items",
        content=b"x" * 2_000_000,
        headers={**admin_headers, "content-type": "application/json", "x-request-id": "r-413"},
    )
    assert oversize.status_code == 413
    assert oversize.json() == {
        "status": 413,
        "message": "request bodies are limited to 1048576 bytes",
    }
    assert oversize.headers["x-request-id"] == "r-413"
    assert client.get("/heartbeat").text == "."
    health = client.get("/health").json()  # Connect's required members, and Limen's
    assert health["name"] == "Limen" and health["version"] and health["status"] == "ok"
    assert health["dependencies"][0]["status"] == "ACTIVE"


def test_patch_versions_files_and_activity(
    client: TestClient, vaults: VaultService, admin_headers: dict[str, str]
) -> None:
    vault = vaults.create_vault(Actor.operator(), "infra")
    created = client.post(
        f"/v1/vaults/{vault.id}/items",
        json={
            "title": "github",
            "category": "LOGIN",
            "fields": [
                {"purpose": "USERNAME", "value": "bot"},
                {"purpose": "PASSWORD", "value": SECRET},
                {"type": "OTP", "label": "one-time password", "value": "JBSWY3DPEHPK3PXP"},
            ],
        },
        headers=admin_headers,
    ).json()
    base = f"/v1/vaults/{vault.id}/items/{created['id']}"
    otp = next(f for f in created["fields"] if f["type"] == "OTP")
    assert len(otp["totp"]) == 6 and otp["totp"].isdigit()

    patched = client.patch(
        base,
        json=[
            {"op": "replace", "path": "/fields/password/value", "value": "new-" + SECRET},
            {"op": "add", "path": "/tags", "value": ["ci"]},
            {"op": "add", "path": "/fields", "value": {"label": "note", "value": "n"}},
        ],
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["version"] == 2 and body["tags"] == ["ci"]
    assert {f["label"]: f.get("value") for f in body["fields"]}["password"] == "new-" + SECRET
    assert len(body["fields"]) == 4
    bad = client.patch(base, json=[{"op": "move", "path": "/title"}], headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["status"] == 422

    # Every write is a new version; the old one stays readable.
    first = vaults.get_item(Actor.operator(), "infra", "github", version=1)
    assert {f.id: f.value for f in first.content.fields}["password"] == SECRET
    old = client.get(f"{base}?version=1", headers=admin_headers)
    assert old.status_code == 200, old.text
    assert old.json()["version"] == 1
    assert {f["label"]: f.get("value") for f in old.json()["fields"]}["password"] == SECRET
    assert client.get(base, headers=admin_headers).json()["version"] == 2
    assert client.get(f"{base}?version=7", headers=admin_headers).status_code == 404
    assert client.get(f"{base}?version=0", headers=admin_headers).status_code == 422

    info = vaults.attach_file(
        Actor.operator(), "infra", "github", name="id_ed25519", content=b"-----KEY-----\n"
    )
    files = client.get(f"{base}/files", headers=admin_headers).json()
    assert files == [
        {
            "id": info.id,
            "name": "id_ed25519",
            "size": 14,
            "content_path": f"{base}/files/{info.id}/content",
        }
    ]
    inline = client.get(f"{base}/files/{info.id}?inline_files=true", headers=admin_headers)
    assert inline.json()["content"] == "LS0tLS1LRVktLS0tLQo="
    content = client.get(f"{base}/files/{info.id}/content", headers=admin_headers)
    assert content.content == b"-----KEY-----\n"
    assert client.get(base, headers=admin_headers).json()["files"][0]["id"] == info.id

    assert client.delete(base, headers=admin_headers).status_code == 204
    assert client.get(base, headers=admin_headers).status_code == 404

    feed = client.get("/v1/activity", headers=admin_headers)
    activity = feed.json()
    assert feed.headers["content-range"] == f"1-{len(activity)}/{len(activity)}"
    second = client.get("/v1/activity?limit=2&offset=1", headers=admin_headers)
    assert second.json() == activity[1:3]
    assert second.headers["content-range"] == f"2-3/{len(activity)}"
    actions = [(a["action"], a["resource"]["type"]) for a in activity]
    assert actions[0] == ("DELETE", "ITEM")
    assert ("READ", "ITEM") in actions and ("CREATE", "VAULT") in actions
    assert all(a["result"] == "SUCCESS" for a in activity)
    assert all(SECRET not in str(a) for a in activity)


def test_a_known_secret_never_reaches_the_database_file_logs_or_error_bodies(
    settings: Settings,
    vaults: VaultService,
    token_for: Callable[..., dict[str, str]],
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Everything at DEBUG, SQL statements included, from a server started after that.
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    vault = vaults.create_vault(Actor.operator(), "payments")
    bodies: list[str] = []
    database = Database(settings.resolved_database_url)
    with (
        serve(create_app(settings, database=database)) as live,
        httpx.Client(base_url=live.url, headers=admin_headers) as http,
    ):
        created = http.post(f"/v1/vaults/{vault.id}/items", json=_item())
        item_id = created.json()["id"]
        assert http.get(f"/v1/vaults/{vault.id}/items/{item_id}").json()["fields"][0]["value"]
        reader = token_for("ro", "payments:read")
        attempts = [
            http.post(f"/v1/vaults/{vault.id}/items", json=_item(), headers=reader),
            http.put(f"/v1/vaults/{vault.id}/items/{item_id}", json=_item(), headers=reader),
            http.post(f"/v1/vaults/{vault.id}/items", json={**_item(), "category": "BAD"}),
            http.post(f"/v1/vaults/{vault.id}/items", json={"fields": [{"value": SECRET}]}),
            http.post(f"/v1/vaults/{vault.id}/items", json={**_item(), "fields": SECRET}),
            http.patch(
                f"/v1/vaults/{vault.id}/items/{item_id}",
                json=[{"op": "replace", "path": "/fields/nope/value", "value": SECRET}],
            ),
        ]
        for response in attempts:
            assert response.status_code >= 400
            bodies.append(response.text)
    assert all(SECRET not in body for body in bodies)
    # The server's own records (the test's HTTP client logs its requests too; not ours).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name.startswith("sqlalchemy") for r in server_records)
    assert all(SECRET not in r.getMessage() for r in server_records)
    database.dispose()
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    if settings.backend == "sqlite":
        for path in settings.data_dir.glob("limen.db*"):
            assert SECRET.encode() not in path.read_bytes(), path.name


def test_a_put_naming_another_item_or_vault_is_refused(
    client: TestClient, vaults: VaultService, token_for: Callable[..., dict[str, str]]
) -> None:
    vault = vaults.create_vault(Actor.operator(), "payments")
    headers = token_for("payments-bot", "payments:write")
    first = client.post(f"/v1/vaults/{vault.id}/items", json=_item("one"), headers=headers).json()
    second = client.post(f"/v1/vaults/{vault.id}/items", json=_item("two"), headers=headers).json()
    body = {**second, "title": "clobbered"}
    r = client.put(f"/v1/vaults/{vault.id}/items/{first['id']}", json=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["status"] == 400 and "not the item in the URL" in r.json()["message"]
    again = client.get(f"/v1/vaults/{vault.id}/items/{first['id']}", headers=headers).json()
    assert again["title"] == "one"
    # The same id is a replacement, as before.
    body = {**first, "title": "renamed"}
    r = client.put(f"/v1/vaults/{vault.id}/items/{first['id']}", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["title"] == "renamed"


def test_an_oversize_file_is_refused_while_it_arrives_and_nothing_is_stored(
    settings: Settings, vaults: VaultService, admin_headers: dict[str, str]
) -> None:
    """Over a real connection, with the default request limit (1 MiB, which this route
    does not follow: a 2 MiB file fits): a body past 16 MiB is a 413 in the
    Connect API's error body, whether its length is told first or it comes chunked, and
    the item keeps no file. The answer comes before the body ends: a client still
    sending learns at once, and the server holds no more than the limit."""
    vault = vaults.create_vault(Actor.operator(), "uploads")
    item = vaults.create_item(Actor.operator(), "uploads", ItemDraft(title="notes"))
    assert settings.max_request_bytes < 2 * 1024 * 1024
    chunk = b"x" * 65_536
    count = MAX_FILE_BYTES // len(chunk) + 16  # a megabyte past the limit

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(count):
            yield chunk

    path = f"/v1/vaults/{vault.id}/items/{item.id}/files"
    octets = {**admin_headers, "Content-Type": "application/octet-stream"}
    database = Database(settings.resolved_database_url)
    try:
        with serve(create_app(settings, database=database)) as live:
            with httpx.Client(base_url=live.url, headers=octets, timeout=60) as http:
                told = http.post(path, params={"name": "told.bin"}, content=chunk * count)
                streamed = http.post(path, params={"name": "chunked.bin"}, content=chunked())
                fits = http.post(path, params={"name": "fits.bin"}, content=chunk * 32)
            # Half-sent bodies: the length told and nothing after it; chunks one past the
            # limit, and no last chunk.
            answers = [
                _answer_before_the_body_ends(
                    live.url, f"{path}?name=cut.bin", octets, length=count * len(chunk)
                ),
                _answer_before_the_body_ends(
                    live.url, f"{path}?name=cut.bin", octets, chunks=(chunk,) * (count - 15)
                ),
            ]
    finally:
        database.dispose()
    for refused in (told, streamed):
        assert refused.status_code == 413, refused.text
        assert refused.json() == {"status": 413, "message": "files are at most 16 MiB"}
    for status, body in answers:
        assert status == 413 and b"files are at most 16 MiB" in body, (status, body[:200])
    assert fits.status_code == 201, fits.text
    files = vaults.get_item(Actor.operator(), "uploads", "notes").files
    assert [f.name for f in files] == ["fits.bin"]


def _answer_before_the_body_ends(
    url: str,
    target: str,
    headers: dict[str, str],
    *,
    length: int | None = None,
    chunks: tuple[bytes, ...] = (),
) -> tuple[int, bytes]:
    """Send a request whose body never ends (an h11 client: it reads an answer that comes
    early), and return the server's status and body."""
    address = httpx.URL(url)
    framing = (
        ("Content-Length", str(length)) if length is not None else ("Transfer-Encoding", "chunked")
    )
    client = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="POST", target=target, headers=[("Host", address.host), framing, *headers.items()]
    )
    status, body = 0, b""
    with socket.create_connection((address.host, address.port), timeout=60) as conn:
        conn.sendall(client.send(request))
        for piece in chunks:
            conn.sendall(client.send(h11.Data(data=piece)))
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            if event is h11.NEED_DATA:
                client.receive_data(conn.recv(65_536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
    return status, body
