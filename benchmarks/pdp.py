"""Policy decision point benchmark: in-process latency, HTTP decisions/s, revocation-to-deny.

Figures and the issue's targets:

- in-process decision latency p50/p99 (target p50 <= 50 us), for a repeated question (the
  decision cache answers) and for all-distinct questions (Cedar evaluates each one); the
  benchmark's policies look only at the resource's type, so Cedar is not given the
  resource's entity, and a last row adds a statement that reads the resource to show
  what a decision costs when it must be;
- HTTP decisions/s on one uvicorn worker, one per request and 100 per batch request
  (target >= 3,000/s), every decision recorded in the event log as in production;
- suspension-to-deny latency on one node (target <= 10 ms) and across two nodes sharing
  PostgreSQL (target <= 250 ms; needs ``--postgres-url``).

The HTTP load comes from a small keep-alive HTTP/1.1 client in this process (raw asyncio
streams, so the load generator spends as little of the machine's CPU as possible); the
server is ``python -m limen server`` in its own process.

Usage::

    python benchmarks/pdp.py
    python benchmarks/pdp.py --postgres-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from _harness import cpu_seconds, limen_server, percentile
from _postgres import scratch_schema
from _table import print_table

from limen import access, identity, tokens
from limen.audit import Actor
from limen.audit.durable import EventWriter
from limen.installation import initialise
from limen.store import Database

POLICY = """permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "agent" && principal.risk < 50 };
permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "human" };
forbid (principal, action, resource)
when { context has ip && context.ip == "203.0.113.9" };
"""
READS_RESOURCE = """forbid (principal, action, resource is Limen::Tool)
when { resource has properties && context has channel && context.channel == "sms" };
"""


def setup(db: Database, key_file: Path | None) -> str:
    result = initialise(db, key_file=key_file, admin_email="admin@example.com")
    actor = Actor.operator()
    with db.unit_of_work() as uow:
        identity.create(uow, actor, kind="human", name="alice")
        identity.create(uow, actor, kind="agent", name="alice-bot", owner="alice")
        for n in range(50):
            identity.create(uow, actor, kind="agent", name=f"bot-{n}", owner="alice")
        access.add_policy(uow, actor, name="tools", text=POLICY)
        pep = identity.create(uow, actor, kind="service", name="gateway")
        client, secret = tokens.register_client(uow, actor, pep, scopes=["access:evaluate"])
        PEP_CLIENT[:] = [client.client_id, secret or ""]
    return result.admin_token or ""


PEP_CLIENT: list[str] = []
"""The API gateway's OAuth client: a PEP asks with a JWT carrying ``access:evaluate``."""


def pep_token(base: str) -> str:
    client_id, secret = PEP_CLIENT
    r = httpx.post(
        f"{base}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    r.raise_for_status()
    return r.json()["access_token"]


def evaluation(subject: str = "alice-bot", tool: str = "deploy") -> dict[str, Any]:
    return {
        "subject": {"type": "agent", "id": subject},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": tool},
        "context": {"ip": "10.0.0.7"},
    }


def _decide_each(pdp: access.PolicyDecisionPoint, items: list[Any]) -> list[float]:
    """Each decision's latency in microseconds, deciding ``items`` in turn."""
    latencies = []
    for item in items:
        start = time.perf_counter_ns()
        pdp.decide(item)
        latencies.append((time.perf_counter_ns() - start) / 1000)
    return latencies


def in_process(db: Database, n: int) -> dict[str, float]:
    view = identity.StatusView(db)
    pdp = access.PolicyDecisionPoint(db, status=view, events=EventWriter(db))
    repeated = access.parse_evaluation(evaluation())
    assert pdp.decide(repeated).allowed
    samples = _decide_each(pdp, [repeated] * n)
    distinct = [access.parse_evaluation(evaluation(f"bot-{i % 50}", f"t{i}")) for i in range(n)]
    cold = _decide_each(pdp, distinct)
    # A human asks: one principal, so one Cedar request instead of the agent's two.
    humans = [access.parse_evaluation(evaluation("alice", f"h{i}")) for i in range(n)]
    human = _decide_each(pdp, humans)
    # Distinct questions in batches of 100 (AuthZEN evaluations), per decision.
    batches = [
        access.EvaluationsRequest(
            tuple(
                access.parse_evaluation(evaluation(f"bot-{i % 50}", f"b{b}-{i % 10}"))
                for i in range(100)
            )
        )
        for b in range(max(1, n // 100))
    ]
    start = time.perf_counter_ns()
    for batch in batches:
        pdp.decide_many(batch)
    per_batched = (time.perf_counter_ns() - start) / 1000 / (100 * len(batches))
    # Once a statement reads the resource (here: whether it has properties), Cedar must
    # be given the resource's entity as well, and each decision builds and adds it.
    with db.unit_of_work() as uow:
        access.add_policy(uow, Actor.operator(), name="reads-resource", text=READS_RESOURCE)
    reading = [access.parse_evaluation(evaluation(f"bot-{i % 50}", f"r{i}")) for i in range(n)]
    with_entity = _decide_each(pdp, reading)
    view.close()
    return {
        "cached_p50": percentile(samples, 0.5),
        "cached_p99": percentile(samples, 0.99),
        "cedar_p50": percentile(cold, 0.5),
        "cedar_p99": percentile(cold, 0.99),
        "human_p50": percentile(human, 0.5),
        "batched_mean": per_batched,
        "with_entity_p50": percentile(with_entity, 0.5),
    }


SERVER_PIDS: dict[str, int] = {}


@contextmanager
def server(data_dir: Path, database_url: str | None) -> Iterator[str]:
    """:func:`_harness.limen_server`, remembering its pid so :func:`load` can read its CPU."""
    with limen_server(data_dir, database_url) as (base, pid):
        SERVER_PIDS[base] = pid
        yield base


async def _worker(
    host: str, port: int, request: bytes, stop: float, counts: list[int], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status == 200:
                counts[0] += 1
            else:
                errors[0] += 1
    finally:
        writer.close()


def load(
    base: str,
    path: str,
    body: bytes,
    token: str,
    *,
    seconds: float,
    conns: int,
    authorization: str | None = None,
    content_type: str = "application/json",
    method: str = "POST",
) -> float:
    """Requests per second answered 200, with ``conns`` keep-alive connections."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: {authorization or 'Bearer ' + token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def run() -> tuple[int, int]:
        counts, errors = [0], [0]
        stop = time.perf_counter() + seconds
        await asyncio.gather(
            *(_worker(host, int(port), request, stop, counts, errors) for _ in range(conns))
        )
        return counts[0], errors[0]

    pid = SERVER_PIDS.get(base)
    cpu_before = (cpu_seconds(pid) or 0.0) if pid else 0.0
    start = time.perf_counter()
    ok, failed = asyncio.run(run())
    elapsed = time.perf_counter() - start
    if pid and ok:
        LAST_CPU_PER_REQUEST[0] = ((cpu_seconds(pid) or 0.0) - cpu_before) / ok
    if failed:
        print(f"  ({failed} non-200 answers)")
    return ok / elapsed


LAST_CPU_PER_REQUEST = [0.0]
"""Server CPU seconds per answered request in the last :func:`load` run: on a busy
machine, requests per second measure the machine; CPU per request measures Limen."""


def suspension_to_deny(
    deciding: Database, acting: Database, rounds: int
) -> tuple[list[float], list[float]]:
    """Per round, milliseconds from the suspension's commit to the first denial on
    ``deciding``, and the suspension's own transaction time (the caller's wait)."""
    view = identity.StatusView(deciding)
    pdp = access.PolicyDecisionPoint(deciding, status=view, events=EventWriter(deciding))
    question = access.parse_evaluation(evaluation("alice-bot"))
    to_deny, commits = [], []
    for _ in range(rounds):
        assert pdp.decide(question).allowed  # cached from here on
        start = time.perf_counter()
        with acting.unit_of_work() as uow:
            identity.suspend(uow, Actor.operator(), "alice-bot")
        committed = time.perf_counter()
        while pdp.decide(question).allowed:
            if time.perf_counter() - committed > 5:
                raise RuntimeError("suspension never reached the deciding node")
        to_deny.append((time.perf_counter() - committed) * 1000)
        commits.append((committed - start) * 1000)
        with acting.unit_of_work() as uow:
            identity.reactivate(uow, Actor.operator(), "alice-bot")
        while not pdp.decide(question).allowed:
            time.sleep(0.001)
    view.close()
    return to_deny, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgres-url", default=os.environ.get("LIMEN_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        db = Database(f"sqlite:///{data / 'limen.db'}")
        admin = setup(db, data / "limen.key")

        figures = in_process(db, args.decisions)
        rows.append(
            ("decision p50, cached (in process)", f"{figures['cached_p50']:.1f} us", "<= 50 us")
        )
        rows.append(("decision p99, cached (in process)", f"{figures['cached_p99']:.1f} us", ""))
        rows.append(
            (
                "decision p50, Cedar, agent + owner (in process)",
                f"{figures['cedar_p50']:.1f} us",
                "<= 50 us",
            )
        )
        rows.append(("decision p99, Cedar (in process)", f"{figures['cedar_p99']:.1f} us", ""))
        rows.append(
            (
                "  Cedar p50, human subject (one principal, not two)",
                f"{figures['human_p50']:.1f} us",
                "<= 50 us",
            )
        )
        rows.append(
            (
                "  Cedar p50, agent + owner, a statement reads the resource",
                f"{figures['with_entity_p50']:.1f} us",
                "",
            )
        )
        rows.append(
            (
                "  Cedar, batches of 100 (10 resources), mean per decision",
                f"{figures['batched_mean']:.1f} us",
                "",
            )
        )

        one, commit = suspension_to_deny(db, db, 20)
        rows.append(
            (
                "suspension commit-to-deny, one node (SQLite), p50",
                f"{statistics.median(one):.3f} ms",
                "<= 10 ms",
            )
        )
        rows.append(("suspension commit-to-deny, one node (SQLite), max", f"{max(one):.3f} ms", ""))
        rows.append(
            (
                "  (the suspension transaction itself, p50)",
                f"{statistics.median(commit):.2f} ms",
                "",
            )
        )
        db.dispose()

        with server(data, None) as base:
            admin = pep_token(base)  # ask as a PEP would: a short-lived JWT, not the admin key
            single = json.dumps(evaluation()).encode()
            batch = json.dumps(
                {
                    **evaluation(),
                    "evaluations": [
                        {"resource": {"type": "tool", "id": f"t{i % 10}"}} for i in range(100)
                    ],
                }
            ).encode()
            load(base, "/access/v1/evaluation", single, admin, seconds=1, conns=4)  # warm up
            rate = load(
                base,
                "/access/v1/evaluation",
                single,
                admin,
                seconds=args.seconds,
                conns=args.connections,
            )
            rows.append(("HTTP decisions/s, single (SQLite, 1 worker)", f"{rate:,.0f}", ">= 3,000"))
            cpu = LAST_CPU_PER_REQUEST[0]
            rows.append(
                (
                    "  server CPU per single decision -> decisions/s per busy core",
                    f"{cpu * 1e3:.2f} ms -> {1 / cpu:,.0f}" if cpu else "n/a",
                    ">= 3,000",
                )
            )
            batches = load(
                base,
                "/access/v1/evaluations",
                batch,
                admin,
                seconds=args.seconds,
                conns=args.connections,
            )
            rows.append(
                ("HTTP decisions/s, batch of 100 (SQLite)", f"{batches * 100:,.0f}", ">= 3,000")
            )
            cpu = LAST_CPU_PER_REQUEST[0] / 100
            rows.append(
                (
                    "  server CPU per batched decision -> decisions/s per busy core",
                    f"{cpu * 1e3:.3f} ms -> {1 / cpu:,.0f}" if cpu else "n/a",
                    ">= 3,000",
                )
            )
            # The same server answering its cheapest route: the ceiling this machine allows.
            health = load(
                base,
                "/health",
                b"",
                admin,
                seconds=args.seconds,
                conns=args.connections,
                method="GET",
            )
            rows.append(
                ("  reference: GET /health requests/s, same server", f"{health:,.0f}", "ceiling")
            )

    if args.postgres_url:
        with scratch_schema(args.postgres_url) as url:
            node_a, node_b = Database(url), Database(url)
            setup(node_a, None)
            node_a.broadcaster.start()
            node_b.broadcaster.start()
            node_b.broadcaster.ready.wait(5)
            one_pg, _ = suspension_to_deny(node_a, node_a, 20)
            two, commit_pg = suspension_to_deny(node_b, node_a, 20)
            rows.append(
                (
                    "suspension commit-to-deny, one node (PostgreSQL), p50",
                    f"{statistics.median(one_pg):.3f} ms",
                    "<= 10 ms",
                )
            )
            rows.append(
                (
                    "suspension commit-to-deny, two nodes (PostgreSQL), p50",
                    f"{statistics.median(two):.2f} ms",
                    "<= 250 ms",
                )
            )
            rows.append(
                ("suspension commit-to-deny, two nodes (PostgreSQL), max", f"{max(two):.2f} ms", "")
            )
            rows.append(
                (
                    "  (the suspension transaction itself, p50)",
                    f"{statistics.median(commit_pg):.2f} ms",
                    "",
                )
            )
            node_a.dispose()
            node_b.dispose()
    else:
        rows.append(("suspension-to-deny, two nodes", "skipped", "needs --postgres-url"))

    print_table(rows)


if __name__ == "__main__":
    main()
