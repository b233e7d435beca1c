"""``limen server`` as real processes: first start, and two nodes on one PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from limen.testing import server_process


@contextmanager
def limen_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with server_process({**os.environ, **env}, output=log, start_timeout=30) as running:
        yield running


def _admin_token(env: dict[str, str]) -> str:
    """An admin token, as the operator gets one on the server host (printed to them)."""
    done = subprocess.run(
        [sys.executable, "-m", "limen", "admin-token", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)["admin_token"]


def test_first_start_initialises_and_never_prints_a_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"LIMEN_DATA_DIR": str(data)}
    first_log = tmp_path / "first.log"
    with limen_server(env, first_log) as (url, _):
        # A server's output lands in service logs: it says where to get a token instead.
        assert "limen_" not in first_log.read_text()
        assert "limen admin-token" in first_log.read_text()
        token = _admin_token(env)
        response = httpx.get(
            f"{url}/v1/identities", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert response.status_code == 200
        assert [i["name"] for i in response.json()["items"]] == ["admin"]
    key = data / "limen.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (data / "limen.db").exists()

    second_log = tmp_path / "second.log"
    with limen_server(env, second_log):
        pass
    assert "limen_" not in second_log.read_text()
    # The database holds only the token's hash.
    assert token.encode() not in (data / "limen.db").read_bytes()


def test_client_addresses_come_from_the_connection_unless_the_proxy_is_trusted(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    forwarded = {"X-Forwarded-For": "203.0.113.9"}

    def create_and_see_address(url: str, token: str, name: str) -> str:
        headers = {"Authorization": f"Bearer {token}", **forwarded}
        created = httpx.post(
            f"{url}/v1/identities", json={"kind": "service", "name": name}, headers=headers
        )
        assert created.status_code == 201
        events = httpx.get(
            f"{url}/v1/events", params={"action": "identity.create"}, headers=headers
        ).json()["items"]
        return next(e["context"]["ip"] for e in events if e["resource"]["name"] == name)

    direct_log = tmp_path / "direct.log"
    with limen_server({"LIMEN_DATA_DIR": str(data)}, direct_log) as (url, _):
        token = _admin_token({"LIMEN_DATA_DIR": str(data)})
        assert create_and_see_address(url, token, "svc-direct") == "127.0.0.1"
    assert "POST /v1/identities" not in direct_log.read_text()  # no access log by default

    proxied = {
        "LIMEN_DATA_DIR": str(data),
        "LIMEN_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "LIMEN_ACCESS_LOG": "true",
    }
    proxied_log = tmp_path / "proxied.log"
    with limen_server(proxied, proxied_log) as (url, _):
        assert create_and_see_address(url, token, "svc-proxied") == "203.0.113.9"
    assert '"POST /v1/identities HTTP/1.1" 201' in proxied_log.read_text()


@pytest.mark.postgres
def test_two_nodes_on_one_postgresql_see_each_others_changes(
    tmp_path: Path, database_url: str | None, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("two nodes share state through PostgreSQL")
    assert database_url is not None
    env_a = {"LIMEN_DATA_DIR": str(tmp_path / "a"), "LIMEN_DATABASE_URL": database_url}
    env_b = {"LIMEN_DATA_DIR": str(tmp_path / "b"), "LIMEN_DATABASE_URL": database_url}
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with limen_server(env_a, log_a) as (url_a, _):
        # Every node needs the installation's key file (README: "Give every node the same
        # key file"); a node without it refuses to start rather than make a new one.
        (tmp_path / "b").mkdir(mode=0o700)
        shutil.copy2(tmp_path / "a" / "limen.key", tmp_path / "b" / "limen.key")
        with limen_server(env_b, log_b) as (url_b, _):
            token = _admin_token(env_a)
            assert "limen_" not in log_a.read_text() + log_b.read_text()
            headers = {"Authorization": f"Bearer {token}"}
            created = httpx.post(
                f"{url_a}/v1/identities",
                json={"kind": "service", "name": "ci-runner"},
                headers=headers,
                timeout=5,
            )
            assert created.status_code == 201
            seen = httpx.get(f"{url_b}/v1/identities/ci-runner", headers=headers, timeout=5)
            assert seen.status_code == 200
            assert seen.json()["id"] == created.json()["id"]

            httpx.post(f"{url_b}/v1/identities/ci-runner/suspend", headers=headers, timeout=5)
            on_a = httpx.get(f"{url_a}/v1/identities/ci-runner", headers=headers, timeout=5)
            assert on_a.json()["status"] == "suspended"


def test_a_busy_port_is_one_line_and_exit_6_before_anything_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = subprocess.run(
            [sys.executable, "-m", "limen", "server", "--port", str(port)],
            env={**os.environ, "LIMEN_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert started.returncode == 6
    assert started.stdout == ""
    assert started.stderr.splitlines() == [
        f"limen: port {port} on 127.0.0.1 is already in use: stop what listens there, or "
        "choose another port with --port or LIMEN_PORT"
    ]
    assert not data.exists()  # the port was checked before anything was initialised


def _detector_children(pid: int) -> list[int]:
    """The ``limen detect run`` processes ``pid`` started."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    found = []
    for child in children:
        with contextlib.suppress(FileNotFoundError):
            if b"detect\x00run" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def _cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "limen", *args, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.postgres
def test_on_postgresql_the_server_scores_in_a_child_process_it_restarts(
    tmp_path: Path, database_url: str | None, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("on SQLite the detector runs on a thread of the server")
    assert database_url is not None
    env = {"LIMEN_DATA_DIR": str(tmp_path / "data"), "LIMEN_DATABASE_URL": database_url}
    with limen_server(env, tmp_path / "server.log") as (url, server):
        deadline = time.monotonic() + 20
        while not (children := _detector_children(server.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(children) == 1, "limen server started one `limen detect run`"
        # /ready says when the child scores every identity (it takes a moment to start).
        deadline = time.monotonic() + 30
        while not (ready := httpx.get(f"{url}/ready", timeout=5).json())["detect"]["scoring"]:
            assert time.monotonic() < deadline, ready
            time.sleep(0.1)

        # An agent acting for an owner who left is caught by the child process, and the
        # playbook suspends it, as the in-process detector would.
        _cli(env, "identity", "create", "--kind", "human", "--name", "lee")
        _cli(env, "identity", "create", "--kind", "agent", "--name", "lee-bot", "--owner", "lee")
        _cli(env, "identity", "create", "--kind", "service", "--name", "gateway")
        token = _cli(env, "token", "create", "--identity", "gateway", "--scopes", "events:write")
        book = tmp_path / "book.yaml"
        book.write_text("match: {reasons: [owner-inactive]}\nactions: [suspend]\n")
        _cli(env, "playbook", "add", "orphans", str(book))
        subprocess.run(
            [sys.executable, "-m", "limen", "identity", "suspend", "lee"],
            env={**os.environ, **env},
            capture_output=True,
            timeout=60,
            check=True,
        )

        os.kill(children[0], signal.SIGKILL)  # and a detector that dies is started again
        deadline = time.monotonic() + 20
        while (
            not (again := _detector_children(server.pid)) or again == children
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert again and again != children

        event = {
            "occurred_at": datetime.now(UTC).isoformat(),
            "actor": {"name": "lee-bot", "kind": "agent"},
            "action": "db.query",
            "resource": {"type": "db", "id": "crm"},
        }
        reported = httpx.post(
            f"{url}/v1/events",
            json={"events": [event]},
            headers={"Authorization": f"Bearer {token['token']}"},
            timeout=10,
        )
        assert reported.status_code == 201, reported.text
        admin = {"Authorization": f"Bearer {_admin_token(env)}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = httpx.get(f"{url}/v1/identities/lee-bot", headers=admin, timeout=5).json()
            if status["status"] == "suspended":
                break
            time.sleep(0.1)
        assert status["status"] == "suspended"
    deadline = time.monotonic() + 10  # the server stops its child as it stops
    while any(map(_running, again)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, again))


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.postgres
def test_json_logs_are_one_object_a_line(
    tmp_path: Path, database_url: str | None, backend: str
) -> None:
    # LIMEN_LOG_FORMAT=json is for a log shipper: every line the server writes, its own
    # start-up notes and (on PostgreSQL) its detector child's included, is one JSON object.
    env = {
        **({"LIMEN_DATABASE_URL": database_url} if database_url else {}),
        "LIMEN_DATA_DIR": str(tmp_path / "data"),
        "LIMEN_LOG_FORMAT": "json",
        "LIMEN_ACCESS_LOG": "true",
        "COLUMNS": "40",
    }
    log = tmp_path / "server.log"
    with limen_server(env, log) as (url, _):
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        deadline = time.monotonic() + 20
        while backend == "postgres" and time.monotonic() < deadline:
            if "limen detect: scoring" in log.read_text():
                break
            time.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    messages = [(line["level"], line["message"]) for line in lines]
    assert any(m.startswith("Initialised Limen in ") for _, m in messages)
    assert any(m.startswith("Limen ") and " on http://" in m for _, m in messages)
    assert any('"GET /health HTTP/1.1" 200' in m for _, m in messages)
    if backend == "postgres":
        assert any(m.startswith("limen detect: scoring") for _, m in messages)


def test_a_detector_child_whose_server_is_gone_stops(tmp_path: Path) -> None:
    # The server names itself: a child that started up after a short-lived server had
    # already died must not take init for its parent and run on for ever.
    env = {**os.environ, "LIMEN_DATA_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "limen", "init"], env=env, check=True, timeout=120)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    command = ["detect", "run", "--exit-with-parent", "--parent-pid", str(gone.pid)]
    child = subprocess.run(
        [sys.executable, "-m", "limen", *command],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr.decode()
