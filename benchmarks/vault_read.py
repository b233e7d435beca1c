"""Vault read benchmark: Connect item reads over HTTP (one uvicorn worker) and in process.

    python benchmarks/vault_read.py [--requests 6000] [--connections 8] [--items 100]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each backend (SQLite always; PostgreSQL if a URL is given or LIMEN_TEST_POSTGRES_URL
is set) it initialises a fresh installation, stores ``--items`` DATABASE items, issues a
read-only service-account token, starts ``limen server`` (one worker, log level warning) and
drives ``GET /v1/vaults/{vault}/items/{item}`` with a small keep-alive HTTP/1.1 client
over raw sockets, so the load generator costs far less than the server. Every read is a
real secret read: token check, decrypt, and an event in the log. ``/heartbeat`` on the
same server is the peer: the ceiling of the HTTP stack with no vault work at all; one
audit event inserted and committed is the in-process floor (on PostgreSQL that is the
WAL flush every read waits for, so that no secret leaves before its event is durable).

On PostgreSQL a node answers repeated reads of an item from its last lookup until it
hears of a vault write (``LIMEN_VAULT_REUSE_SECONDS``, docs/vault.md), and every read
here goes round the same ``--items`` items (100); the row ``postgresql, reuse 0`` runs the
same load on a server with ``LIMEN_VAULT_REUSE_SECONDS=0``, where every read looks its
item up.

Targets (issue #3): p50 <= 1 ms in process; >= 2,000 reads/s over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _harness import cpu_seconds, limen_server, percentile
from _postgres import scratch_schema

from limen.audit import Actor, record
from limen.config import Settings
from limen.installation import initialise, prepare_data_dir
from limen.services import Services
from limen.store import Database
from limen.vault import Field, ItemDraft, VaultService, service_accounts

TARGET_IN_PROCESS_P50_MS = 1.0
TARGET_HTTP_RPS = 2000.0


def _prepare(
    settings: Settings, items: int
) -> tuple[str, list[str], service_accounts.IssuedToken, VaultService, Database]:
    prepare_data_dir(settings.data_dir)
    db = Database(settings.resolved_database_url)
    initialise(db, key_file=settings.resolved_key_file)
    service = Services.open(settings, database=db).vault
    op = Actor.operator()
    vault = service.create_vault(op, "bench")
    item_ids = [
        service.create_item(
            op,
            "bench",
            ItemDraft(
                title=f"db-{n}",
                category="DATABASE",
                fields=[
                    Field(id="", label="username", value="app", purpose="USERNAME"),
                    Field(id="", label="password", value="x" * 32, purpose="PASSWORD"),
                    Field(id="", label="host", value="db.internal"),
                ],
            ),
        ).id
        for n in range(items)
    ]
    issued = service_accounts.create(db, op, "bench-reader", grants=["bench:read"])
    return vault.id, item_ids, issued, service, db


def _event_only(db: Database, n: int) -> list[float]:
    """The floor every read pays: one event inserted and committed, nothing else."""
    actor = Actor(kind="service", name="bench", channel="api")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with db.unit_of_work() as uow:
            record(uow.session, actor, "bench.probe", resource_type="bench")
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _in_process(
    service: VaultService,
    reader: service_accounts.IssuedToken,
    vault_id: str,
    item_ids: list[str],
    n: int,
) -> list[float]:
    # The actor the API makes of the service account's token: the guard asks for a real
    # identity behind every read.
    actor = Actor(
        kind="service",
        name=reader.name,
        identity_id=reader.identity_id,
        token_id=reader.token_id,
        scopes=frozenset(reader.scopes),
        channel="api",
    )
    for i in range(50):
        service.get_item(actor, vault_id, item_ids[i % len(item_ids)])
    samples = []
    for i in range(n):
        start = time.perf_counter()
        service.get_item(actor, vault_id, item_ids[i % len(item_ids)])
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def _connection(
    port: int,
    requests: list[bytes],
    first: int,
    count: int,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    """``count`` requests in turn from ``requests``, starting at ``first``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n in range(first, first + count):
            start = time.perf_counter()
            writer.write(requests[n % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def _drive(
    port: int, paths: list[str], token: str, total: int, connections: int
) -> dict[str, float]:
    """Read ``paths`` in turn over ``connections`` connections, each from its own place."""
    requests = [
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "User-Agent: limen-bench\r\n\r\n"
        ).encode()
        for path in paths
    ]

    async def main() -> tuple[float, list[float], dict[int, int]]:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        warm: list[float] = []
        await asyncio.gather(*(_connection(port, requests, 0, 20, warm, {}) for _ in range(2)))
        started = time.perf_counter()
        per = total // connections
        spread = max(1, len(requests) // connections)
        await asyncio.gather(
            *(
                _connection(port, requests, c * spread, per, latencies, statuses)
                for c in range(connections)
            )
        )
        return time.perf_counter() - started, latencies, statuses

    elapsed, latencies, statuses = asyncio.run(main())
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {statuses} for {paths[0]}")
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
    }


def run_backend(
    name: str, settings: Settings, args: argparse.Namespace, **server_settings: str
) -> dict[str, float]:
    vault_id, item_ids, reader, service, db = _prepare(settings, args.items)
    token = reader.token
    in_process = _in_process(service, reader, vault_id, item_ids, args.in_process)
    floor = _event_only(db, min(args.in_process, 1000))
    db.dispose()
    with limen_server(settings.data_dir, settings.database_url, **server_settings) as (
        base,
        pid,
    ):
        port = int(base.rsplit(":", 1)[1])
        paths = [f"/v1/vaults/{vault_id}/items/{item_id}" for item_id in item_ids]
        _drive(port, paths, token, 200, args.connections)  # warm up
        cpu_before = cpu_seconds(pid)
        reads = _drive(port, paths, token, args.requests, args.connections)
        cpu_after = cpu_seconds(pid)
        heartbeat = _drive(port, ["/heartbeat"], token, args.requests, args.connections)
    return {
        "in_p50": statistics.median(in_process),
        "in_p99": percentile(in_process, 0.99),
        "event_p50": statistics.median(floor),
        **{f"http_{k}": v for k, v in reads.items()},
        "peer_rps": heartbeat["rps"],
        "cpu_ms_per_read": (
            (cpu_after - cpu_before) * 1000 / args.requests
            if cpu_before is not None and cpu_after is not None
            else float("nan")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--items", type=int, default=100, help="items the reads go round")
    parser.add_argument("--in-process", type=int, default=3000)
    parser.add_argument("--postgres", default=os.environ.get("LIMEN_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    root = Path(tempfile.mkdtemp(prefix="limen-bench-"))
    try:
        results["sqlite"] = run_backend("sqlite", Settings(data_dir=root / "sqlite"), args)
        if args.postgres:
            with scratch_schema(args.postgres) as url:
                settings = Settings(data_dir=root / "postgres", database_url=url)
                results["postgresql"] = run_backend("postgresql", settings, args)
            with scratch_schema(args.postgres) as url:
                settings = Settings(data_dir=root / "postgres-reuse-0", database_url=url)
                results["postgresql, reuse 0"] = run_backend(
                    "postgresql, reuse 0", settings, args, vault_reuse_seconds="0"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"Vault item reads (Connect GET item) of {args.items} items in turn, {args.requests} "
        f"HTTP requests over {args.connections} keep-alive connections, one uvicorn worker, "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'backend':<20}{'in-proc p50':>12}{'p99':>8}{'vs 1 ms':>9}"
        f"{'HTTP reads/s':>14}{'p50':>8}{'p99':>8}{'vs 2000/s':>11}{'heartbeat/s':>13}"
        f"{'event-only p50':>16}{'server CPU/read':>17}{'reads/s per core':>18}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<20}{r['in_p50']:>10.3f}ms{r['in_p99']:>6.2f}ms"
            f"{TARGET_IN_PROCESS_P50_MS / r['in_p50']:>8.2f}x"
            f"{r['http_rps']:>14.0f}{r['http_p50']:>6.2f}ms{r['http_p99']:>6.2f}ms"
            f"{r['http_rps'] / TARGET_HTTP_RPS:>10.2f}x{r['peer_rps']:>13.0f}"
            f"{r['event_p50']:>14.3f}ms{r['cpu_ms_per_read']:>15.3f}ms"
            f"{1000 / r['cpu_ms_per_read']:>18.0f}"
        )
    print("ratios > 1.00x meet the target; heartbeat/s is the same server with no vault work;")
    print("event-only p50 is one audit event inserted and committed: the floor of every read;")
    print("server CPU/read is the uvicorn process's CPU time per read (it too grows when other")
    print("processes share the cores); reads/s per core is 1000 / that figure")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average during the run (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
