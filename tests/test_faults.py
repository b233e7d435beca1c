"""Faults on PostgreSQL: two real ``limen server`` nodes, real HTTP, a proxy that drops or
refuses their database connections, and a terminated LISTEN connection.

The scenarios of ``benchmarks/faults.py``, shortened (one-second outages). Each keeps
asking both nodes about a service identity (an AuthZEN evaluation, the introspection of
its opaque token) while a partner suspends it on node A, and checks what a user would
notice: node B never accepts the suspended service 250 ms after A acknowledged, every
surface serves again within 2 s of the database's return, and what fails meanwhile fails
fast with a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from limen import audit, identity, tokens
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.errors import Unavailable
from limen.installation import InitResult
from limen.logs import configure_logging
from limen.services import Services
from limen.store import Database
from limen.store._timeouts import CONNECT_TIMEOUT_SECONDS, STUCK_SECONDS
from limen.testing.faults import (
    SURFACES,
    Cluster,
    Outcome,
    PgProxy,
    named,
    terminate_listeners,
)
from tests.conftest import POSTGRES_ENV, serve
from tests.test_logs import _STAMP

# One cluster for the module: in parallel (-n), the module runs on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("faults")]

WINDOW = 0.25
SERVE_AGAIN = 2.0
FAIL_FAST = 1.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"two nodes need one PostgreSQL: set {POSTGRES_ENV}")
    schema = f"limen_faults_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        with Cluster(url, tmp_path_factory.mktemp("faults")) as running:
            yield running
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _held(outcome: Outcome, *, fail_fast: float = FAIL_FAST) -> None:
    """What every scenario must show."""
    for surface in SURFACES:
        assert outcome.window[surface] <= WINDOW, outcome
    assert outcome.serve_again is not None, outcome  # the suspension was acknowledged
    assert outcome.serve_again <= SERVE_AGAIN, outcome
    assert outcome.slowest_error < fail_fast, outcome
    # Whatever failed said 503 (retry shortly), never a wrong answer or a hang.
    assert all(key.split()[2] == "503" for key in outcome.failures), outcome


def test_a_suspension_made_while_a_node_reconnects_its_listener_holds_there_within_250_ms(
    cluster: Cluster,
) -> None:
    def terminate() -> float:
        # B's server and its detector process (on PostgreSQL a child of `limen server`)
        # each listen; both lose their feed.
        assert terminate_listeners(cluster.database_url, cluster.names[1]) >= 1
        return time.monotonic()

    for _ in range(2):
        outcome = cluster.scenario("listener", terminate, settle=0.5)
        _held(outcome)
        assert outcome.errors["suspend"] == 0  # A's own connections never went away
        # A lost LISTEN connection is not a lost database: B reconnects and catches up
        # while requests wait for it, instead of refusing them all meanwhile.
        assert sum(outcome.errors[s] for s in SURFACES) <= 2, outcome


def test_dropped_connections_cost_no_permit_and_no_lasting_errors(cluster: Cluster) -> None:
    def drop() -> float:
        assert cluster.proxy.drop() > 0
        return time.monotonic()

    for _ in range(2):
        _held(cluster.scenario("dropped", drop, settle=0.5))


def test_a_database_outage_fails_fast_and_every_surface_serves_within_2_s_of_its_return(
    cluster: Cluster,
) -> None:
    def outage() -> float:
        cluster.proxy.refuse(1.0)
        return time.monotonic() + 1.0

    outcome = cluster.scenario("outage", outage, settle=0.5)
    _held(outcome)
    # The nodes noticed: requests during the outage were refused rather than served, and
    # the partner's :suspend went through once the database was back.
    assert sum(outcome.errors[s] for s in SURFACES) > 0
    assert outcome.errors["suspend"] > 0


def test_a_silent_database_fails_fast_and_every_surface_serves_within_2_s_of_its_return(
    cluster: Cluster,
) -> None:
    """The database host drops packets (nothing refused, nothing closed): both nodes
    notice, refuse with 503 rather than hang, and serve again once it answers."""

    def silence() -> float:
        cluster.proxy.stall(5.0)  # longer than SILENT_SECONDS (3 s)
        return time.monotonic() + 5.0

    outcome = cluster.scenario("silent", silence, settle=0.5)
    # Each request gives up on its own well before the nodes take the database for
    # silent (SILENT_SECONDS): none waited a second.
    _held(outcome)
    assert sum(outcome.errors[s] for s in SURFACES) > 0


def test_a_node_killed_right_after_acknowledging_a_suspension_loses_nothing(
    cluster: Cluster,
) -> None:
    """Node A is killed (SIGKILL) the moment a partner has its acknowledgement of a
    suspension: node B refuses the service from then on, has the suspension and its
    event, and answers throughout."""
    for _ in range(2):
        outcome = cluster.killed_after_acknowledging("killed", settle=0.5)
        assert outcome.lost == 0, outcome
        for surface in SURFACES:
            assert outcome.window[surface] <= WINDOW, outcome
        assert outcome.errors["suspend"] == 0, outcome
        assert outcome.answers > 0
        # B never noticed that A died. On a machine too loaded for B's own change feed to
        # beat in time, B may refuse a request for an instant, closed (503, retry shortly):
        # never a permit on stale status (the window above), never another failure.
        closed = {k: n for k, n in outcome.failures.items() if " 503 " in k and "retry" in k}
        assert closed == outcome.failures, outcome
        assert sum(closed.values()) <= max(1, outcome.answers // 100), outcome


def test_readiness_follows_the_database_and_liveness_does_not(cluster: Cluster) -> None:
    node = cluster.urls["b"]
    assert httpx.get(f"{node}/ready", timeout=5).status_code == 200
    cluster.proxy.refuse(1.5)
    deadline = time.monotonic() + 1.0
    while (ready := httpx.get(f"{node}/ready", timeout=5)).status_code == 200:
        assert time.monotonic() < deadline, "/ready said ready while the database was away"
        time.sleep(0.02)
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "1"
    assert ready.json()["checks"]["database"] is False
    assert httpx.get(f"{node}/health", timeout=5).status_code == 200
    back = time.monotonic() + 1.5
    while httpx.get(f"{node}/ready", timeout=5).status_code != 200:
        assert time.monotonic() < back + SERVE_AGAIN, "not ready 2 s after the database returned"
        time.sleep(0.02)


def test_requests_on_pooled_connections_that_died_are_answered_not_refused(
    backend: str,
    settings: Settings,
    installed: InitResult,
    admin_headers: dict[str, str],
    database_url: str | None,
) -> None:
    """A node's pooled connections die (a failover, an idle timeout, an operator) while
    its change feed stays up, so nothing tells it: the next decision (recorded as an
    event), the next introspection (its client read) and the next suspension still
    answer."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    node = Database(named(settings.resolved_database_url, name))
    decision = {
        "subject": {"type": "identity", "id": "admin"},
        "action": {"name": "rotate"},
        "resource": {"type": "vault", "id": "prod"},
    }
    try:
        with (
            serve(create_app(settings, database=node)) as live,
            httpx.Client(base_url=live.url, timeout=10) as client,
        ):
            with node.unit_of_work() as uow:
                pep = identity.create(uow, Actor.operator(), kind="service", name="pep")
                pep_client, secret = tokens.register_client(
                    uow, Actor.operator(), pep, scopes=["access:evaluate"]
                )
            auth = (pep_client.client_id, secret or "")
            for _ in range(3):
                # Every pooled connection in use once (and so kept), then all but the
                # node's LISTEN connection terminated behind its back.
                assert (
                    client.post(
                        "/access/v1/evaluation", json=decision, headers=admin_headers
                    ).status_code
                    == 200
                )
                introspected = client.post(
                    "/oauth2/introspect", data={"token": "limen_x"}, auth=auth
                )
                assert introspected.status_code == 200
                assert _terminate_all_but_the_listener(database_url, name) > 0
                r = client.post("/access/v1/evaluation", json=decision, headers=admin_headers)
                assert r.status_code == 200, r.text
                assert r.json()["decision"] is True
                r = client.post("/oauth2/introspect", data={"token": "limen_x"}, auth=auth)
                assert r.status_code == 200, r.text
                assert r.json() == {"active": False}
            # A status change as the first request after they died: a SOAR's suspension
            # is answered, not refused for the SOAR to retry.
            assert _terminate_all_but_the_listener(database_url, name) > 0
            r = client.post(
                f"/v1/identities/{pep.id}/suspend", json={"reason": "drill"}, headers=admin_headers
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "suspended"
            r = client.post("/oauth2/introspect", data={"token": "limen_x"}, auth=auth)
            assert r.status_code == 401, r.text  # the suspended PEP is refused at once
    finally:
        node.dispose()


def _terminate_all_but_the_listener(admin_url: str, application_name: str) -> int:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND query <> 'SELECT pg_notify($1, $2)'"
                    ),
                    {"name": application_name},
                )
            )
    finally:
        engine.dispose()


@contextlib.contextmanager
def _evaluating_through_a_proxy(
    settings: Settings,
    database_url: str,
    admin_headers: dict[str, str],
    *,
    application_name: str | None = None,
    timeout: float,
) -> Iterator[tuple[PgProxy, Callable[[], httpx.Response]]]:
    """A live node whose database connections pass through a proxy the test can break,
    and an AuthZEN evaluation on it (which reads the database), answered before the fault."""
    target = sa.engine.make_url(database_url)
    url = settings.resolved_database_url
    if application_name is not None:
        url = named(url, application_name)
    decision = {
        "subject": {"type": "identity", "id": "admin"},
        "action": {"name": "rotate"},
        "resource": {"type": "vault", "id": "prod"},
    }
    with PgProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        node = Database(proxy.url(url))
        try:
            with (
                serve(create_app(settings, database=node)) as live,
                httpx.Client(base_url=live.url, timeout=timeout) as client,
            ):

                def evaluate() -> httpx.Response:
                    return client.post(
                        "/access/v1/evaluation", json=decision, headers=admin_headers
                    )

                # A node on a loaded machine may refuse its first requests as stale (its
                # feed's first beats late) and says so with 503: it must serve before the
                # fault, however long its start took.
                _assert_served_again(evaluate)
                yield proxy, evaluate
        finally:
            node.dispose()


def _assert_retry_shortly(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"


def _assert_served_again(evaluate: Callable[[], httpx.Response]) -> None:
    deadline = time.monotonic() + 10
    while (r := evaluate()).status_code == 503:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] is True


def test_a_database_that_admits_no_new_connections_is_answered_with_503_and_retry_after(
    backend: str,
    settings: Settings,
    installed: InitResult,
    admin_headers: dict[str, str],
    database_url: str | None,
) -> None:
    """The database stops admitting connections (out of connection slots, a pooler full)
    while the node's change feed stays connected, so nothing tells the node it is away,
    and its pooled connections die: requests are refused with 503 problem details and
    ``Retry-After`` (the benchmark shows how fast), and served again once it admits them."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    with _evaluating_through_a_proxy(
        settings, database_url, admin_headers, application_name=name, timeout=10
    ) as (proxy, evaluate):
        proxy.refuse(3600, drop=False)
        assert _terminate_all_but_the_listener(database_url, name) > 0
        for _ in range(5):
            r = evaluate()
            _assert_retry_shortly(r)
            assert "retry shortly" in r.json()["detail"]
        proxy.refuse(0)
        _assert_served_again(evaluate)


def test_a_database_that_stops_answering_is_answered_with_503_not_a_hang(
    backend: str,
    settings: Settings,
    installed: InitResult,
    admin_headers: dict[str, str],
    database_url: str | None,
) -> None:
    """The database host drops packets (a network partition): nothing is refused or
    closed, a statement sent to it just never returns. Requests are still answered, with
    503 problem details and ``Retry-After``, while the database is silent (not after TCP
    gives up, minutes later), and served again once it answers."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes reach their database over a network")
    with _evaluating_through_a_proxy(settings, database_url, admin_headers, timeout=30) as (
        proxy,
        evaluate,
    ):
        proxy.stall(6.0)
        for _ in range(3):
            _assert_retry_shortly(evaluate())
            assert proxy.stalled, "answered only once the database answered again"
        while proxy.stalled:
            time.sleep(0.05)
        _assert_served_again(evaluate)


def test_a_request_gives_up_on_a_silent_database_before_the_node_declares_it_away(
    backend: str, database_url: str | None
) -> None:
    """Packets to the database vanish for less than SILENT_SECONDS: a lookup, a read on
    a pooled connection and a connection being made each fail with Unavailable while the
    node still takes the database to be there (it has not declared it away), and while
    the database is still silent (not when it answers again); then all work again."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes reach their database over a network")
    target = sa.engine.make_url(database_url)

    async def looking_up() -> None:
        async with node.connection_async() as connection:
            await (await connection.execute("SELECT 1")).fetchall()

    # One loop throughout, as a node's: its pool of connections lives as long.
    loop = asyncio.new_event_loop()

    def lookup() -> None:
        loop.run_until_complete(looking_up())

    def read() -> None:
        with node.autocommit() as connection:
            connection.execute("SELECT 1").fetchall()

    # Shorter than SILENT_SECONDS, and as long as libpq's least connect timeout: without
    # a bound of their own, each would end only with the silence, or after it.
    silence = CONNECT_TIMEOUT_SECONDS
    with PgProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        node = Database(proxy.url(database_url))
        try:
            node.broadcaster.start()
            assert node.broadcaster.ready.wait(10)
            lookup()
            read()
            # In turn: the asyncio path, a pooled connection idle long enough to be
            # checked first, and a new connection (the pool emptied).
            for label, work in (
                ("lookup", lookup),
                # Idle for a second: checked with a statement of its own before use.
                ("pooled", lambda: (time.sleep(1.1), node.retrying(read))),
                ("connect", lambda: (node.engine.dispose(), node.retrying(read))),
            ):
                proxy.stall(silence)
                with pytest.raises(Unavailable):
                    work()
                assert proxy.stalled, f"{label}: failed only once the database answered"
                assert node.broadcaster.reachable, f"{label}: the database was declared away"
                while proxy.stalled:
                    time.sleep(0.05)
                deadline = time.monotonic() + 10
                while True:
                    try:
                        lookup()
                        node.retrying(read)
                        break
                    except Unavailable:
                        assert time.monotonic() < deadline, f"{label}: not served again"
                        time.sleep(0.05)
        finally:
            loop.run_until_complete(node.close_async())
            loop.close()
            node.dispose()


def test_a_slow_statement_on_a_database_that_answers_is_waited_for(
    backend: str, database_url: str | None
) -> None:
    """A statement that takes longer than a request waits on a silent database, on a
    database that answers the change feed meanwhile, completes: only silence cuts it."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes reach their database over a network")
    node = Database(database_url)
    slow = STUCK_SECONDS + 0.6

    async def lookup() -> list[tuple[int]]:
        try:
            async with node.connection_async() as connection:
                cursor = await connection.execute("SELECT 1 FROM pg_sleep(%s)", (slow,))
                return await cursor.fetchall()
        finally:
            await node.close_async()

    try:
        node.broadcaster.start()
        assert node.broadcaster.ready.wait(10)
        assert asyncio.run(lookup()) == [(1,)]
        with node.autocommit() as connection:
            assert connection.execute("SELECT 2 FROM pg_sleep(%s)", (slow,)).fetchall() == [(2,)]
    finally:
        node.dispose()


def test_connections_a_fault_leaves_dead_are_closed_not_left_open(
    backend: str, database_url: str | None
) -> None:
    """When the change feed loses the database, the node closes its idle pooled
    connections at once: none is left half-closed (``CLOSE_WAIT``) holding a descriptor
    and libpq's buffers until a garbage collection, fault after fault."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    with _listening_node_behind_a_proxy(database_url) as (node, proxy):
        for _ in range(3):
            _hold_connections(node, 4)
            assert len(_half_closed(proxy.port)) == 0
            _drop_and_wait_for_the_feed(node, proxy)
            assert _half_closed(proxy.port) == [], "dead pooled connections left open"


@contextlib.contextmanager
def _listening_node_behind_a_proxy(database_url: str) -> Iterator[tuple[Database, PgProxy]]:
    """A node whose every connection (its change feed's too) goes through a breakable proxy."""
    target = sa.engine.make_url(database_url)
    with PgProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        node = Database(proxy.url(database_url))
        gc.disable()  # what is left open must not depend on when the collector runs
        try:
            node.broadcaster.start()
            assert node.broadcaster.ready.wait(10)
            yield node, proxy
        finally:
            gc.enable()
            node.dispose()


def _drop_and_wait_for_the_feed(node: Database, proxy: PgProxy) -> None:
    """Drop every connection; return once the change feed was lost (the epoch moves) and
    is back (it moves again)."""
    epoch = node.broadcaster.epoch
    proxy.drop()
    deadline = time.monotonic() + 10
    while node.broadcaster.epoch < epoch + 2 or not node.broadcaster.listening:
        assert time.monotonic() < deadline, "the change feed did not come back"
        time.sleep(0.02)


def _hold_connections(db: Database, count: int) -> None:
    """``count`` pooled connections in use at once, then idle in the pool."""
    barrier = threading.Barrier(count)

    def use() -> None:
        with db.unit_of_work(readonly=True) as uow:
            uow.session.execute(sa.text("SELECT 1"))
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=use) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _half_closed(port: int) -> list[str]:
    """This process's sockets to loopback ``port`` that the other end closed and this
    one has not (``CLOSE_WAIT`` in ``/proc/net/tcp``)."""
    mine = {
        link.removeprefix("socket:[").removesuffix("]")
        for link in (os.readlink(f"/proc/self/fd/{fd}") for fd in _fds())
        if link.startswith("socket:[")
    }
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == "08" and fields[9] in mine:
            found.append(fields[9])
    return found


def _fds() -> list[str]:
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            os.readlink(f"/proc/self/fd/{fd}")
            fds.append(fd)
    return fds


def test_a_status_change_whose_connection_dies_before_its_commit_is_retried_not_a_500(
    backend: str, settings: Settings, installed: InitResult, database_url: str | None
) -> None:
    """The connection dies after a suspension's statements and before its commit, where
    the change notice and the events are written on the driver's own cursor (as soak
    runs with connection kills saw, answered 500 by the partner API): the unit of work
    says it may be retried (a 503 at worst), and the retry suspends."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    node = Database(named(settings.resolved_database_url, name))
    try:
        with node.unit_of_work() as uow:
            target = identity.create(uow, Actor.operator(), kind="service", name="soak-target")
        attempts = []

        def suspend() -> str:
            with node.unit_of_work() as uow:
                done = identity.suspend(uow, Actor.operator(), target.id, reason="drill")
                # Everything so far reaches the server; what is left for the commit goes
                # on the driver's cursor: the change notice and this event.
                pid = uow.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                audit.record(
                    uow.session,
                    Actor.operator(),
                    "drill.note",
                    resource_type="identity",
                    resource_id=target.id,
                )
                attempts.append(pid)
                if len(attempts) == 1:
                    _terminate_backend(database_url, pid)
                return done.status.value

        assert node.retrying(suspend) == "suspended"
        assert len(attempts) == 2  # the first attempt's connection was dead: one retry
        with node.unit_of_work(readonly=True) as uow:
            assert identity.get(uow.session, target.id).status.value == "suspended"
            notes = uow.session.scalar(
                sa.text("SELECT count(*) FROM events WHERE action = 'drill.note'")
            )
            assert notes == 1  # the dead attempt wrote nothing
    finally:
        node.dispose()


def _terminate_backend(admin_url: str, pid: int) -> None:
    """Terminate server session ``pid`` and wait until it is gone."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 10
            while connection.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ):
                assert time.monotonic() < deadline, "the server session outlived its termination"
                time.sleep(0.01)
    finally:
        engine.dispose()


def test_connections_in_use_when_a_fault_strikes_are_closed_when_given_back(
    backend: str, database_url: str | None
) -> None:
    """Connections a request holds while the node replaces its pool (the change feed lost
    the database) go back to the old pool when the request ends: they are closed then,
    not kept half-closed until a garbage collection (soak runs saw node A's descriptors
    climb fault after fault)."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    with _listening_node_behind_a_proxy(database_url) as (node, proxy):
        for _ in range(3):
            held = threading.Barrier(5)
            release = threading.Event()

            def hold(held: threading.Barrier, release: threading.Event) -> None:
                with node.autocommit() as connection:
                    connection.execute("SELECT 1")
                    held.wait(timeout=10)
                    release.wait(timeout=10)

            threads = [threading.Thread(target=hold, args=(held, release)) for _ in range(4)]
            for thread in threads:
                thread.start()
            held.wait(timeout=10)
            _drop_and_wait_for_the_feed(node, proxy)
            release.set()
            for thread in threads:
                thread.join()
            assert _half_closed(proxy.port) == [], "connections given back left open"


def test_the_shared_signals_transmitter_logs_a_database_outage_one_line_per_retry(
    backend: str,
    database_url: str | None,
    settings: Settings,
    installed: InitResult,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What an operator reads in the server's log (``LIMEN_LOG_LEVEL=info``) while the
    database refuses the transmitter: a warning per retry, one line each, with the error
    and when it tries again, waiting longer each time; no traceback, no driver text."""
    if backend != "postgres" or database_url is None:
        pytest.skip("the proxy stands in front of PostgreSQL")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logged: list[str] = []

    def retries() -> list[str]:
        logged.extend(capsys.readouterr().err.splitlines())
        return [line for line in logged if "limen.respond.ssf.transmitter" in line]

    with _listening_node_behind_a_proxy(database_url) as (node, proxy):
        transmitter = Services.open(settings, database=node).transmitter
        configure_logging("info", "text")
        try:
            transmitter.start()
            proxy.refuse(30)
            deadline = time.monotonic() + 30
            while len(retries()) < 3:
                assert time.monotonic() < deadline, logged
                time.sleep(0.1)
        finally:
            proxy.refuse(0)
            transmitter.stop()
            root.handlers, root.level = handlers, level
    retries()
    assert "Traceback" not in "\n".join(logged)
    assert all(re.match(rf"{_STAMP} [A-Z]+ limen\.", line) for line in logged), logged
    waits = []
    for line in retries():
        found = re.fullmatch(
            rf"{_STAMP} WARNING limen\.respond\.ssf\.transmitter: the Shared Signals "
            r"transmitter failed a round; retrying in (\d+\.\d\d) s "
            r"\(\w+: [^()]*database[^()]*\)",  # the store's words, not the driver's
            line,
        )
        assert found, line
        waits.append(float(found.group(1)))
    assert waits[:3] == [1.0, 2.0, 4.0], waits


def test_a_connection_being_made_when_a_fault_strikes_is_closed_when_given_back(
    backend: str, database_url: str | None
) -> None:
    """A request that was still connecting when the node replaced its pool (the change
    feed lost the database) gets its connection from the old pool: given back, it is
    closed, not left open in a pool nobody uses until a garbage collection (node B's
    open sockets climbed with the faults in the soak, reconnecting requests and all)."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only PostgreSQL nodes keep pools of connections to a server")
    name = f"limen-connecting-{uuid.uuid4().hex[:8]}"
    target = sa.engine.make_url(database_url)
    with PgProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        node = Database(named(proxy.url(database_url), name))
        gc.disable()  # what is left open must not depend on when the collector runs
        try:
            node.broadcaster.start()
            assert node.broadcaster.ready.wait(10)
            for _ in range(3):
                made = _connect_across_a_fault(node, database_url, name)
                assert made
                assert [c for c in made if not c.closed] == [], "left open in the old pool"
        finally:
            gc.enable()
            node.dispose()


def _connect_across_a_fault(node: Database, admin_url: str, name: str) -> list[Any]:
    """A request that makes a new connection, held right after the connect while the
    node's change feed is lost and back (its pool replaced); the connections it made."""
    connecting = threading.Event()
    go_on = threading.Event()
    made: list[Any] = []

    def pause(dbapi_connection: Any, _record: Any) -> None:
        made.append(dbapi_connection)
        if not connecting.is_set():
            connecting.set()
            go_on.wait(timeout=10)

    def use() -> None:
        with node.autocommit() as connection:
            connection.execute("SELECT 1")

    sa.event.listen(node.engine, "connect", pause)
    # The pool is new and empty (the previous fault replaced it, or none yet): the
    # request makes a connection, and stops right after the connect.
    request = threading.Thread(target=use)
    request.start()
    assert connecting.wait(10)
    epoch = node.broadcaster.epoch
    assert terminate_listeners(admin_url, name) == 1
    deadline = time.monotonic() + 10
    while node.broadcaster.epoch < epoch + 2 or not node.broadcaster.listening:
        assert time.monotonic() < deadline, "the change feed did not come back"
        time.sleep(0.02)
    go_on.set()
    request.join()
    sa.event.remove(node.engine, "connect", pause)
    return made
