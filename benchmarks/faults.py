"""Fault benchmark: two ``limen server`` nodes on one PostgreSQL, while the database
connection fails under them.

    python benchmarks/faults.py [--rounds 10] [--kills 5] [--outages 1,5,35] [--silent 5]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Both nodes reach PostgreSQL through a small TCP proxy (limen.testing.faults.PgProxy), as
through a network. Throughout each scenario four clients keep asking both nodes, over real
HTTP, about one service identity: an AuthZEN evaluation (``POST /access/v1/evaluation``,
the service's JWT in the context) and an introspection of its opaque token
(``POST /oauth2/introspect``). A SOAR (the partner API) suspends the service on node A
right after the fault strikes, retrying until A acknowledges. The scenarios:

- ``LISTEN of B terminated``: ``pg_terminate_backend`` of node B's change-feed
  connection; the suspension is made while B reconnects (``--rounds`` times);
- ``connections dropped``: the proxy closes every connection of both nodes at once, as
  a database restart does (``--rounds`` times);
- ``no new connections 3 s, B's pool killed``: the database admits no new connection for
  3 s (out of connection slots) while every server session of node B but its LISTEN
  connection is terminated, so nothing tells B that the database is away;
- ``node A killed after acknowledging``: node A is killed (``SIGKILL``) the moment its
  acknowledgement of the suspension arrives; only node B is asked meanwhile, and
  afterwards asked whether it has the suspension (the target's state and the event in
  the log); A is started again (``--kills`` times);
- ``database refuses N s``: every connection dropped and new ones refused for N seconds
  (each of ``--outages``); the suspension goes through once the database is back;
- ``database silent N s``: the proxy stops forwarding without closing anything, as a
  network partition that drops packets does (``--silent``, 0 to skip): nothing is
  refused, statements just get no answer until it ends.

Per scenario (the worst round): the window during which node B still accepted the
suspended service after A acknowledged the suspension (target: nothing after 250 ms), the
time from the database's return until the last error on any surface of either node
(target: 2 s), errors per surface (503 with ``Retry-After`` while the database is away is
the intended answer, a permit never is), the slowest error (failing fast: under 1 s),
and acknowledged changes missing on node B afterwards (``lost``: none).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _postgres import scratch_schema

from limen.testing.faults import (
    HEADER,
    Cluster,
    Outcome,
    terminate_listeners,
    terminate_sessions,
)

WINDOW_TARGET_MS = 250.0
SERVE_AGAIN_TARGET_S = 2.0
FAIL_FAST_TARGET_S = 1.0


def scenarios(
    cluster: Cluster, rounds: int, outages: list[float], kills: int, silent: float = 0.0
) -> list[Outcome]:
    def listener() -> float:
        # Node B's server and its live detector (a child process on PostgreSQL) each
        # listen; both lose their feed, as both would when B's link to it breaks.
        if terminate_listeners(cluster.database_url, cluster.names[1]) == 0:
            raise RuntimeError("node B's LISTEN connection was not found")
        return time.monotonic()

    def dropped() -> float:
        cluster.proxy.drop()
        return time.monotonic()

    def refusing(seconds: float) -> Callable[[], float]:
        def inject() -> float:
            cluster.proxy.refuse(seconds)
            return time.monotonic() + seconds

        return inject

    def stalling() -> float:
        cluster.proxy.stall(silent)
        return time.monotonic() + silent

    def no_slots() -> float:
        cluster.proxy.refuse(3.0, drop=False)
        terminate_sessions(cluster.database_url, cluster.names[1], keep_listener=True)
        return time.monotonic() + 3.0

    plan: list[tuple[str, Callable[[], float], int]] = [
        ("LISTEN of B terminated", listener, rounds),
        ("connections dropped", dropped, rounds),
        ("no new connections 3 s, B's pool killed", no_slots, 1 if rounds else 0),
        *((f"database refuses {s:g} s", refusing(s), 1) for s in outages),
        (f"database silent {silent:g} s (packets dropped)", stalling, 1 if silent else 0),
    ]
    runs_of: list[tuple[str, Callable[[], Outcome], int]] = [
        (name, lambda name=name, inject=inject: cluster.scenario(name, inject), times)
        for name, inject, times in plan
    ]
    killed = "node A killed after acknowledging"
    runs_of.insert(3, (killed, lambda: cluster.killed_after_acknowledging(killed), kills))
    outcomes = []
    for name, run, times in runs_of:
        if not times:
            continue
        outcomes.append(worst(name, [run() for _ in range(times)]))
        print(f"  {name}: done ({times} round{'s' if times > 1 else ''})", flush=True)
    return outcomes


def worst(name: str, runs: list[Outcome]) -> Outcome:
    """The rounds of one scenario as one row: the worst window and recovery, all errors."""
    serve = [r.serve_again for r in runs]
    failures: dict[str, int] = {}
    for run in runs:
        for key, count in run.failures.items():
            failures[key] = failures.get(key, 0) + count
    return Outcome(
        name=f"{name} (x{len(runs)})" if len(runs) > 1 else name,
        window={s: max(r.window[s] for r in runs) for s in runs[0].window},
        serve_again=None if None in serve else max(s for s in serve if s is not None),
        errors={k: sum(r.errors[k] for r in runs) for k in runs[0].errors},
        slowest_error=max(r.slowest_error for r in runs),
        answers=sum(r.answers for r in runs),
        failures=failures,
        slowest=max(runs, key=lambda r: r.slowest_error).slowest,
        lost=sum(r.lost for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--outages", default="1,5,35", help="seconds, comma-separated")
    parser.add_argument("--kills", type=int, default=5, help="rounds of node A killed")
    parser.add_argument(
        "--silent", type=float, default=5.0, help="seconds of a silent database (0: skip)"
    )
    parser.add_argument("--postgres", default=os.environ.get("LIMEN_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        parser.error("name a PostgreSQL server: --postgres URL or LIMEN_TEST_POSTGRES_URL")
    outages = [float(s) for s in args.outages.split(",") if s.strip()]

    with scratch_schema(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        print("starting two nodes…", flush=True)
        with Cluster(url, Path(tmp)) as cluster:
            outcomes = scenarios(cluster, args.rounds, outages, args.kills, args.silent)

    rows = [HEADER, *(o.row() for o in outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    print()
    for row in rows:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print()
    print(
        f"targets: window <= {WINDOW_TARGET_MS:g} ms, serve again <= {SERVE_AGAIN_TARGET_S:g} s "
        f"after the database returns, errors fail fast (< {FAIL_FAST_TARGET_S:g} s, 503 with "
        "Retry-After), nothing acknowledged lost"
    )
    missed = [
        o.name
        for o in outcomes
        if max(o.window.values()) * 1000 > WINDOW_TARGET_MS
        or o.serve_again is None
        or o.serve_again > SERVE_AGAIN_TARGET_S
        or o.slowest_error >= FAIL_FAST_TARGET_S
        or o.lost
    ]
    print("all targets met" if not missed else f"MISSED in: {', '.join(missed)}")
    print(f"answers: {sum(o.answers for o in outcomes)}; errors by node, surface and status:")
    for outcome in outcomes:
        for key, count in sorted(outcome.failures.items()):
            print(f"  {outcome.name}: {key}: {count}")
        if outcome.slowest:
            print(f"  {outcome.name}: slowest error: {outcome.slowest}")
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} CPUs at the end)")


if __name__ == "__main__":
    main()
