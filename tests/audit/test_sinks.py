"""Push sinks: at-least-once delivery that survives outages and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from limen.audit import Actor, AuditKeys, link_pending
from limen.audit.sinks import add_sink, deliver_due, get_sink, remove_sink
from limen.store import Database
from limen.store.models import utcnow
from tests.audit.conftest import append


class Receiver:
    """A real webhook receiver: checks the signature, can be told to be down."""

    def __init__(self) -> None:
        self.down = False
        self.secret = b""
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                stamp, mac = (
                    p.split("=", 1)[1] for p in self.headers["X-Limen-Signature"].split(",")
                )
                expected = hmac.new(receiver.secret, stamp.encode() + b"." + body, hashlib.sha256)
                if not hmac.compare_digest(expected.hexdigest(), mac):
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.events += json.loads(body)["events"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _all_ids(db: Database) -> list[str]:
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT id FROM events ORDER BY chain_pos")))


def test_webhook_outage_then_recovery_delivers_everything_once(
    db: Database, keys: AuditKeys, receiver: Receiver
) -> None:
    _, secret = add_sink(
        db, keys, Actor.operator(), name="siem", kind="webhook", target=receiver.url
    )
    assert secret
    receiver.secret = secret.encode()
    receiver.down = True
    append(db, 30)
    link_pending(db, keys.chain)
    clock = utcnow()
    assert deliver_due(db, keys, now=clock) == 0
    with db.unit_of_work(readonly=True) as uow:
        failing = get_sink(uow.session, "siem")
    assert failing.failures == 1 and failing.last_error == "webhook answered 503"
    assert failing.pending > 0 and receiver.refused == 1
    # Backing off: not offered again before it is due.
    assert deliver_due(db, keys, now=clock) == 0 and receiver.refused == 1
    append(db, 20)
    link_pending(db, keys.chain)
    # Limen restarts (nothing kept in memory), the receiver comes back.
    receiver.down = False
    later = clock + timedelta(minutes=5)
    while deliver_due(db, keys, now=later):
        pass
    ids = [e["id"] for e in receiver.events]
    assert len(ids) == len(set(ids)), "delivered twice"
    assert ids == _all_ids(db)
    with db.unit_of_work(readonly=True) as uow:
        healthy = get_sink(uow.session, "siem")
    assert healthy.failures == 0 and healthy.pending == 0
    assert healthy.delivered_count == len(ids)


def test_json_lines_sink_appends_each_event_once(
    db: Database, keys: AuditKeys, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "audit.jsonl"
    add_sink(
        db, keys, Actor.operator(), name="file", kind="jsonl", target=str(path), from_start=False
    )
    append(db, 12)
    link_pending(db, keys.chain)
    while deliver_due(db, keys):
        pass
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # From now on: the sink's own creation, then what followed; nothing from before.
    assert [line["action"] for line in lines] == ["audit.sink.create"] + ["test.append"] * 12
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    remove_sink(db, Actor.operator(), "file")
    append(db, 3)
    link_pending(db, keys.chain)
    deliver_due(db, keys)
    assert len(path.read_text().splitlines()) == 13


def _nats_url() -> str:
    url = os.environ.get("LIMEN_TEST_NATS_URL", "nats://127.0.0.1:4222")
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 4222), timeout=1).close()
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"NATS at {url} is unreachable in CI")
        pytest.skip(f"NATS JetStream not reachable at {url} (set LIMEN_TEST_NATS_URL)")
    return url


async def _stream_messages(url: str, stream: str) -> list[dict[str, Any]]:
    import nats

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, seq)
            messages.append(json.loads(message.data))
        return messages
    finally:
        await client.close()


async def _delete_stream(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    client = await nats.connect(url)
    try:
        with contextlib.suppress(NotFoundError):
            await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


def test_nats_jetstream_sink_publishes_each_event_once_even_when_redelivered(
    db: Database, keys: AuditKeys
) -> None:
    url = _nats_url()
    suffix = os.urandom(4).hex()
    stream, subject = f"LIMEN_TEST_{suffix}", f"limen.test.{suffix}"
    asyncio.run(_delete_stream(url, stream))
    try:
        add_sink(
            db,
            keys,
            Actor.operator(),
            name="bus",
            kind="nats",
            target=url,
            subject=subject,
            stream=stream,
        )
        append(db, 25)
        link_pending(db, keys.chain)
        while deliver_due(db, keys):
            pass
        # Simulate a crash between JetStream's ack and Limen's commit: deliver again.
        import sqlalchemy as sa

        with db.unit_of_work() as uow:
            uow.session.execute(sa.text("UPDATE audit_sinks SET delivered_through = 0"))
        while deliver_due(db, keys):
            pass
        messages = asyncio.run(_stream_messages(url, stream))
        ids = [m["id"] for m in messages]
        assert len(ids) == len(set(ids))
        assert ids == _all_ids(db)[: len(ids)] and len(ids) >= 25
    finally:
        asyncio.run(_delete_stream(url, stream))


def test_an_unreachable_nats_server_is_a_retry_not_a_loss(db: Database, keys: AuditKeys) -> None:
    add_sink(
        db,
        keys,
        Actor.operator(),
        name="bus",
        kind="nats",
        target="nats://127.0.0.1:1",
        subject="limen.nowhere",
    )
    append(db, 3)
    link_pending(db, keys.chain)
    assert deliver_due(db, keys) == 0
    with db.unit_of_work(readonly=True) as uow:
        sink = get_sink(uow.session, "bus")
    assert sink.failures == 1 and sink.delivered_through == 0
    assert "NATS JetStream unavailable" in (sink.last_error or "")


def test_a_failing_sink_worker_shows_in_sink_list(cli: Any, db: Database, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    target = tmp_path / "archive.jsonl"
    assert cli("sink", "add", "archive", "--kind", "jsonl", "--target", str(target)).exit_code == 0
    # A sink row as another version of Limen left it: its configuration lacks what this
    # version's worker needs, so the worker itself fails (not the destination).
    import sqlalchemy as sa

    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_sinks SET config = :c"), {"c": "{}"})

    delivered = cli("sink", "deliver")
    assert delivered.exit_code == 1
    assert delivered.stderr.splitlines() == [
        "limen: sink archive: the sink worker failed (KeyError); the server log has the details"
    ]
    [sink] = json.loads(cli("sink", "list", "--json").stdout)["items"]
    assert sink["failures"] == 1
    assert sink["last_error"].startswith("the sink worker failed (KeyError)")
    assert sink["pending"] > 0 and sink["next_attempt_at"] is not None
    assert not target.exists()
