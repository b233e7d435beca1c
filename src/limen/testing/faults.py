"""Faults to inject into a Limen installation on PostgreSQL, for tests and benchmarks.

- :func:`terminate_listeners`: ``pg_terminate_backend`` of a node's ``LISTEN``
  connection (its change feed), as a failover, a pooler or an operator would.
- :class:`PgProxy`: a TCP proxy in front of PostgreSQL that nodes connect through; it can
  drop every connection at once (:meth:`PgProxy.drop`) or refuse connections for a while
  (:meth:`PgProxy.refuse`), as a database restart would, or stop forwarding without
  closing anything (:meth:`PgProxy.stall`), as a network partition that drops packets
  would.

- :class:`Cluster`: two ``limen server`` processes on one PostgreSQL through a
  :class:`PgProxy`, and :meth:`Cluster.scenario`, which injects a fault, suspends a
  service on node A right after, keeps asking both nodes about it over HTTP and measures
  (:class:`Outcome`): how long node B still accepted it, how long until every surface
  served again, and the errors meanwhile. :meth:`Cluster.killed_after_acknowledging`
  kills node A (``SIGKILL``) the moment it acknowledged the suspension, and asks node B
  whether it enforces it and has it. ``benchmarks/faults.py`` and
  ``tests/test_faults.py`` run the same scenarios, long and short.

Nothing here knows Limen's internals: a node is found by the ``application_name`` in its
database URL (:func:`named`), and its feed by the statement its beat runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import sqlalchemy as sa

from limen.testing.server import server_process

__all__ = [
    "HEADER",
    "SURFACES",
    "Answer",
    "Cluster",
    "Outcome",
    "PgProxy",
    "World",
    "named",
    "prepare",
    "summarise",
    "terminate_listeners",
    "terminate_sessions",
]

# What a node's change feed runs every few milliseconds (its beat, see limen.store.broadcast):
# the one statement that tells its LISTEN connection from the node's other connections.
_BEAT_STATEMENT: Final = "SELECT pg_notify($1, $2)"


def named(url: str, application_name: str) -> str:
    """``url`` with the server sessions it opens named ``application_name``."""
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


def terminate_sessions(
    admin_url: str, application_name: str, *, keep_listener: bool = False
) -> int:
    """Terminate every server session named ``application_name`` (a node's pooled
    connections and its LISTEN connection, or all but that one with ``keep_listener``);
    how many there were."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND (NOT :keep OR query <> :beat)"
                    ),
                    {"name": application_name, "keep": keep_listener, "beat": _BEAT_STATEMENT},
                )
                or 0
            )
    finally:
        engine.dispose()


def terminate_listeners(admin_url: str, application_name: str, *, wait: float = 5.0) -> int:
    """Terminate the ``LISTEN`` connection of every node whose sessions carry
    ``application_name``; how many were terminated.

    Waits (at most ``wait`` seconds) for the feed to have beaten once, so that a node
    that has only just started is found too.
    """
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        deadline = time.monotonic() + wait
        with engine.connect() as connection:
            while True:
                count = connection.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND query = :beat"
                    ),
                    {"name": application_name, "beat": _BEAT_STATEMENT},
                )
                if count or time.monotonic() > deadline:
                    return int(count or 0)
                time.sleep(0.02)
    finally:
        engine.dispose()


class PgProxy:
    """A TCP proxy on a loopback port in front of a PostgreSQL server.

    Point nodes at :attr:`port` instead of the server's. :meth:`drop` closes every
    connection through it (both ends), as a database restart does; :meth:`refuse` also
    refuses new ones for ``seconds`` (accepted and closed at once, as a server that is
    starting up or a partition would look to a client), then lets them through again.
    """

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._refuse_until = 0.0
        self._stall_until = 0.0
        self._closed = False
        self.connections = 0
        """Connections accepted and passed on so far."""
        self._thread = threading.Thread(target=self._accept, name="pg-proxy", daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """``url`` (a PostgreSQL URL on the target) through this proxy instead."""
        parsed = sa.engine.make_url(url)
        return parsed.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def drop(self) -> int:
        """Close every open connection; how many there were."""
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _close(sock)
        return len(sockets) // 2

    def refuse(self, seconds: float, *, drop: bool = True) -> None:
        """Drop every connection and refuse new ones for ``seconds`` (no wait here).

        With ``drop=False`` open connections stay up: a server out of connection slots
        (``max_connections``), or a pooler that admits no more clients.
        """
        self._refuse_until = time.monotonic() + seconds
        if drop:
            self.drop()

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self._stall_until

    def stall(self, seconds: float) -> None:
        """Stop forwarding for ``seconds`` without closing anything (no wait here), as a
        network partition that drops packets does: nothing answers, nothing is refused.
        Open connections hold what was sent meanwhile and pass it on afterwards (as TCP
        retransmits it), and new ones are accepted but reach the server only then."""
        self._stall_until = time.monotonic() + seconds

    def _wait_while_stalled(self) -> None:
        while not self._closed and (left := self._stall_until - time.monotonic()) > 0:
            time.sleep(min(left, 0.01))

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.drop()

    def __enter__(self) -> PgProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                _close(client)
                continue
            if self.stalled:
                threading.Thread(
                    target=self._connect, args=(client,), name="pg-proxy-held", daemon=True
                ).start()
            else:
                self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        """Pass ``client`` on to the server (once any stall is over)."""
        self._wait_while_stalled()
        if self._closed or self.refusing:
            _close(client)
            return
        try:
            upstream = socket.create_connection(self._target, timeout=2)
            upstream.settimeout(None)
        except OSError:
            _close(client)
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.update((client, upstream))
            self.connections += 1
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(
                target=self._pipe, args=(source, sink), name="pg-proxy-pipe", daemon=True
            ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._wait_while_stalled()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


# -- two real nodes on one PostgreSQL, and what happens to them under a fault ----------


@dataclass
class World:
    """What a scenario acts with: a partner (SOAR) that suspends, a target service whose
    credentials are checked, and a PEP that asks for decisions and introspects."""

    account_id: str
    admin_token: str
    target_id: str
    partner: tuple[str, str]
    target: tuple[str, str]
    pep: tuple[str, str]


def prepare(database_url: str, key_file: Path) -> World:
    """Initialise an installation in ``database_url`` (an empty schema) and create the
    scenario's partner, target and PEP."""
    from limen import identity, respond, tokens
    from limen.audit import Actor
    from limen.installation import initialise
    from limen.store import Database

    db = Database(database_url)
    try:
        init = initialise(db, key_file=key_file)
        op = Actor.operator()
        with db.unit_of_work() as uow:
            _, partner, partner_secret = respond.register_partner(
                uow, op, "faults-soar", scopes=["users:read", "users:suspend", "users:reactivate"]
            )
            target = identity.create(uow, op, kind="service", name="faults-target")
            target_client, target_secret = tokens.register_client(
                uow, op, target, scopes=["tools:call"]
            )
            pep = identity.create(uow, op, kind="service", name="faults-pep")
            # A resource server: it introspects the target's tokens (RFC 7662 section 2.1).
            pep_client, pep_secret = tokens.register_client(
                uow, op, pep, scopes=["access:evaluate", "tokens:introspect"]
            )
            return World(
                account_id=init.account_id,
                admin_token=init.admin_token or "",
                target_id=target.id,
                partner=(partner.client_id, partner_secret),
                target=(target_client.client_id, target_secret or ""),
                pep=(pep_client.client_id, pep_secret or ""),
            )
    finally:
        db.dispose()


@dataclass
class Answer:
    node: str
    surface: str
    sent: float
    """``time.monotonic()`` when the request left."""
    took: float
    status: int
    """HTTP status, or 0 when no answer came (connection refused, timeout)."""
    permitted: bool | None
    """Whether the target was accepted (a permit, an active token); ``None`` on errors."""
    error: str = ""
    """What an error said (its problem detail, or the transport's error)."""


@dataclass
class Outcome:
    """One scenario's figures, in seconds."""

    name: str
    window: dict[str, float]
    """Per surface on node B: how long after the suspension was acknowledged a request
    sent to B still accepted the suspended target (0: the first one was refused)."""
    serve_again: float | None
    """From the database's return (or the fault, if it never left) to the last error on
    any surface of either node (0: none after it); ``None`` if errors never stopped."""
    errors: dict[str, int]
    """Errors (503s, no answer) per surface, both nodes, and the partner's ``:suspend``."""
    slowest_error: float
    """The longest any failed request took: failing fast means well under a second."""
    answers: int
    failures: dict[str, int] = field(default_factory=dict)
    slowest: str = ""
    """The slowest failed request: node, surface, status and what it said."""
    lost: int = 0
    """Changes a node acknowledged that the other node did not have afterwards (the
    target not suspended there, or no event of the suspension in the log)."""
    """Errors by node, surface, status and what they said (``"b evaluation 503 …"``;
    status 0: no answer)."""

    def row(self) -> list[str]:
        serve = "never" if self.serve_again is None else f"{self.serve_again:.2f}"
        return [
            self.name,
            *(f"{self.window.get(s, 0.0) * 1000:.0f}" for s in SURFACES),
            serve,
            *(str(self.errors.get(s, 0)) for s in (*SURFACES, "suspend")),
            f"{self.slowest_error:.2f}",
            str(self.lost),
        ]


SURFACES: Final = ("evaluation", "introspection")
"""The surfaces measured on each node: an AuthZEN evaluation whose subject is the target
(with its JWT in the context), and the introspection of the target's opaque token."""
HEADER: Final = [
    "scenario",
    "window eval ms",
    "window introspect ms",
    "serve again s",
    "errors eval",
    "errors introspect",
    "errors :suspend",
    "slowest error s",
    "lost",
]


class Cluster:
    """Two ``limen server`` processes (A and B) on one PostgreSQL, through a
    :class:`PgProxy`, with :func:`prepare`'s world; use as a context manager."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        names: tuple[str, str] | None = None,
        env: dict[str, str] | None = None,
        launcher: Sequence[str] = (),
    ) -> None:
        """``env``: more environment for both nodes (``{label}`` in a value becomes the
        node's label); ``launcher``: what runs ``limen`` (see :func:`server_process`)."""
        tag = uuid.uuid4().hex[:6]
        self.database_url = database_url
        self.names = names or (f"limen-a-{tag}", f"limen-b-{tag}")
        self._workdir = workdir
        self._extra_env = env or {}
        self._launcher = tuple(launcher)
        self._stack = contextlib.ExitStack()
        self.proxy: PgProxy
        self.world: World
        self.urls: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._starts = 0

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        target = sa.engine.make_url(self.database_url)
        self.proxy = self._stack.enter_context(
            PgProxy(target.host or "127.0.0.1", target.port or 5432)
        )
        first = self._workdir / "a"
        first.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.world = prepare(self.database_url, first / "limen.key")
        for label, name in zip(("a", "b"), self.names, strict=True):
            data = self._workdir / label
            if not data.exists():
                data.mkdir(mode=0o700)
                shutil.copy2(first / "limen.key", data / "limen.key")
            env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
            env.update(
                LIMEN_DATA_DIR=str(data),
                LIMEN_DATABASE_URL=self.proxy.url(named(self.database_url, name)),
                LIMEN_LOG_LEVEL="warning",
                # Both behind one address, as behind a load balancer: one token issuer.
                LIMEN_PUBLIC_URL="https://limen.faults.test",
            )
            env.update({k: v.replace("{label}", label) for k, v in self._extra_env.items()})
            self._envs[label] = env
            self._start_node(label)
        admin = {"Authorization": f"Bearer {self.world.admin_token}"}
        httpx.put(
            f"{self.urls['a']}/v1/policies/faults",
            json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
            headers=admin,
            timeout=10,
        ).raise_for_status()
        self.new_credentials()
        self.service = f"/v1beta1/accounts/{self.world.account_id}/services/{self.world.target_id}"
        self.wait_until(True)

    def _start_node(self, label: str) -> None:
        """Start node ``label`` (again: on the same port, so its URL stays the same)."""
        self._starts += 1
        port = int(self.urls[label].rsplit(":", 1)[1]) if label in self.urls else None
        url, process = self._stack.enter_context(
            server_process(
                self._envs[label],
                output=self._workdir / f"{label}-{self._starts}.log",
                port=port,
                launcher=self._launcher,
            )
        )
        self.urls[label] = url
        self.pids[label] = process.pid
        self._processes[label] = process

    def kill(self, node: str) -> None:
        """``SIGKILL`` node ``node``, as the kernel's OOM killer or a lost host would: no
        request it was answering is finished, nothing is flushed or closed."""
        process = self._processes[node]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def restart(self, node: str) -> None:
        """Start a killed node again, on its old port."""
        self._start_node(node)

    def new_credentials(self) -> None:
        """The target's JWT and opaque token: a suspension cuts off every credential
        issued before it for good, so the target gets new ones after each. (And new
        tokens for the PEP and the partner, whose own expire after minutes.)"""
        self.partner = {"Authorization": f"Bearer {self._token('/v1beta1/users/oauth2/token')}"}
        self.pep_token = self._token("/oauth2/token", self.world.pep)
        self.target_token = self._token("/oauth2/token", self.world.target)
        created = httpx.post(
            f"{self.urls['a']}/v1/tokens",
            json={"identity": self.world.target_id, "scopes": ["tools:call"]},
            headers={"Authorization": f"Bearer {self.world.admin_token}"},
            timeout=10,
        )
        created.raise_for_status()
        self.target_opaque = created.json()["token"]

    def _token(self, path: str, credentials: tuple[str, str] | None = None) -> str:
        response = httpx.post(
            f"{self.urls['a']}{path}",
            data={"grant_type": "client_credentials"},
            auth=credentials or self.world.partner,
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    # -- asking --------------------------------------------------------------------------

    def ask(self, client: httpx.Client, node: str, surface: str) -> Answer:
        """One request to ``surface`` on ``node`` about the target."""
        headers = {"Authorization": f"Bearer {self.pep_token}"}
        sent = time.monotonic()
        try:
            if surface == "evaluation":
                r = client.post(
                    f"{self.urls[node]}/access/v1/evaluation",
                    json={
                        "subject": {"type": "service", "id": self.world.target_id},
                        "action": {"name": "call"},
                        "resource": {"type": "tool", "id": "deploy"},
                        "context": {"token": self.target_token},
                    },
                    headers=headers,
                )
                key = "decision"
            else:
                r = client.post(
                    f"{self.urls[node]}/oauth2/introspect",
                    data={"token": self.target_opaque},
                    auth=self.world.pep,
                )
                key = "active"
            status, error = r.status_code, ""
            if status == 200:
                permitted = bool(r.json()[key])
            else:
                body = r.json()
                said = body.get("detail") or body.get("error_description") or ""
                permitted, error = None, str(said)[:80]
        except (httpx.HTTPError, ValueError) as exc:
            status, permitted, error = 0, None, type(exc).__name__
        return Answer(node, surface, sent, time.monotonic() - sent, status, permitted, error)

    def change(self, action: str, client: httpx.Client | None = None) -> int:
        """The partner's ``:suspend`` or ``:reactivate`` of the target on node A; the
        HTTP status (0: no answer)."""
        own = client or httpx.Client(timeout=10)
        try:
            return own.post(
                f"{self.urls['a']}{self.service}:{action}", headers=self.partner
            ).status_code
        except httpx.HTTPError:
            return 0
        finally:
            if client is None:
                own.close()

    def wait_until(self, permitted: bool, *, seconds: float = 60.0) -> None:
        """Until every surface on both nodes answers ``permitted`` about the target."""
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=10) as client:
            for node in self.urls:
                for surface in SURFACES:
                    while self.ask(client, node, surface).permitted is not permitted:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"{node} {surface} never became {permitted}")
                        time.sleep(0.02)

    def reset(self) -> None:
        """Reactivate the target and wait until both nodes accept it again."""
        deadline = time.monotonic() + 60
        while self.change("reactivate") != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the target could not be reactivated")
            time.sleep(0.1)
        self.new_credentials()
        self.wait_until(True)

    def standing_on(self, node: str) -> tuple[str, int]:
        """What ``node`` says of the target: its state (``ACTIVE``, ``SUSPENDED``) through
        the partner API, and how many suspensions of it the audit log holds."""
        with httpx.Client(timeout=10) as client:
            state = client.get(f"{self.urls[node]}{self.service}", headers=self.partner)
            state.raise_for_status()
            events = client.get(
                f"{self.urls[node]}/v1/events",
                params={
                    "action": "identity.suspend",
                    "resource_id": self.world.target_id,
                    "limit": 1000,
                },
                headers={"Authorization": f"Bearer {self.world.admin_token}"},
            )
            events.raise_for_status()
        return str(state.json()["state"]), len(events.json()["items"])

    # -- a scenario ----------------------------------------------------------------------

    def scenario(
        self, name: str, inject: Callable[[], float], *, settle: float = 1.0, within: float = 120
    ) -> Outcome:
        """Inject a fault, suspend the target on A right after (retrying as a SOAR would
        until A acknowledges), keep asking both nodes on every surface, and measure.

        ``inject`` returns when the database is back (``time.monotonic()``) — at once
        for a fault the database itself does not notice. The scenario ends ``settle``
        seconds after both the acknowledgement and the database's return.
        """
        answers, stop, threads = self._keep_asking(list(self.urls))
        fault = time.monotonic()
        back = inject()
        suspend_errors = 0
        acknowledged = None
        with httpx.Client(timeout=10) as client:
            while acknowledged is None:
                if self.change("suspend", client) == 200:
                    acknowledged = time.monotonic()
                elif time.monotonic() - fault > within:
                    break
                else:
                    suspend_errors += 1
                    time.sleep(0.05)
        end = max(acknowledged or fault, back) + settle
        time.sleep(max(0.0, end - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        self.reset()
        return summarise(name, answers, fault, back, acknowledged, suspend_errors)

    def killed_after_acknowledging(self, name: str, *, settle: float = 1.0) -> Outcome:
        """Node A acknowledges the partner's ``:suspend`` and is killed (``SIGKILL``) the
        moment the acknowledgement arrives, while node B is asked about the target
        throughout; then B is asked whether it has the suspension (the target's state and
        the suspension's event), and A is started again.

        B must refuse the target from the acknowledgement on (the window), and nothing A
        acknowledged may be missing on B (:attr:`Outcome.lost`)."""
        survivor = next(node for node in self.urls if node != "a")
        _, suspensions_before = self.standing_on(survivor)
        answers, stop, threads = self._keep_asking([survivor])
        fault = time.monotonic()
        acknowledged = None
        suspend_errors = 0
        with httpx.Client(timeout=10) as client:
            while acknowledged is None and suspend_errors < 100:
                if self.change("suspend", client) == 200:
                    acknowledged = time.monotonic()
                    self.kill("a")
                else:
                    suspend_errors += 1
                    time.sleep(0.05)
        time.sleep(settle)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        state, suspensions = self.standing_on(survivor)
        lost = int(state != "SUSPENDED") + max(0, suspensions_before + 1 - suspensions)
        if acknowledged is not None:
            self.restart("a")
        self.reset()
        outcome = summarise(name, answers, fault, fault, acknowledged, suspend_errors)
        outcome.lost = lost
        return outcome

    def _keep_asking(
        self, nodes: list[str]
    ) -> tuple[list[Answer], threading.Event, list[threading.Thread]]:
        """Threads that keep asking ``nodes`` on every surface until the event is set;
        they are asking already when this returns."""
        answers: list[Answer] = []
        stop = threading.Event()

        def keep_asking(node: str, surface: str) -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    answers.append(self.ask(client, node, surface))
                    time.sleep(0.002)

        threads = [
            threading.Thread(target=keep_asking, args=(node, surface), daemon=True)
            for node in nodes
            for surface in SURFACES
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.2)  # asking already when the fault strikes
        return answers, stop, threads


def summarise(
    name: str,
    answers: list[Answer],
    fault: float,
    back: float,
    acknowledged: float | None,
    suspend_errors: int,
) -> Outcome:
    window = {}
    for surface in SURFACES:
        accepted = [
            a.sent - acknowledged
            for a in answers
            if acknowledged is not None
            and a.node == "b"
            and a.surface == surface
            and a.permitted
            and a.sent >= acknowledged
        ]
        window[surface] = max(accepted, default=0.0)
    failed = [a for a in answers if a.status != 200 and a.sent >= fault]
    errors = {s: sum(1 for a in failed if a.surface == s) for s in SURFACES}
    errors["suspend"] = suspend_errors
    last = max((a.sent + a.took for a in failed), default=None)
    worst = max(failed, key=lambda a: a.took, default=None)
    serve_again: float | None = 0.0 if last is None else max(0.0, last - back)
    if acknowledged is None:
        serve_again = None
    return Outcome(
        name=name,
        window=window,
        serve_again=serve_again,
        errors=errors,
        slowest_error=max((a.took for a in failed), default=0.0),
        answers=len(answers),
        failures=dict(Counter(f"{a.node} {a.surface} {a.status} {a.error}" for a in failed)),
        slowest=""
        if worst is None
        else f"{worst.node} {worst.surface} {worst.status} {worst.error} "
        f"({worst.took:.2f} s, {worst.sent - back:+.2f} s from the database's return)",
    )
