"""Soak: two ``limen server`` nodes on one PostgreSQL under steady traffic while their
database connections are killed every so often; memory should stay flat.

    python benchmarks/soak.py [--minutes 5] [--kill-every 20] [--clients 4]
        [--watch [--tracemalloc] [--trim]] [--arena-max N]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

``--clients`` threads keep asking both nodes, over real HTTP, about a service identity:
an AuthZEN evaluation (``POST /access/v1/evaluation``) and the introspection of its
opaque token (``POST /oauth2/introspect``); every 5 s a SOAR suspends it on node A and
reactivates it (the partner API), and new credentials are issued. Every ``--kill-every``
seconds a fault strikes, in turn: every connection of both nodes dropped at the proxy in
front of PostgreSQL, every server session of node B terminated (``pg_terminate_backend``,
its LISTEN connection among them), and node A's LISTEN connection terminated.

Prints, per minute, each node's resident memory (``VmRSS``), requests, errors by kind
and p99 latency; at the end, memory growth from the end of the first minute to the end
of the run (the first minute includes warm-up: caches, pools, compiled policies).

``--watch`` runs the nodes under ``benchmarks/_memwatch.py`` and prints, per node and
minute, RSS beside what glibc's allocator holds in use and free, objects the collector
tracks, threads and open descriptors; ``--tracemalloc`` adds the bytes of Python objects
and the lines whose allocations grew most (it slows the nodes and costs memory itself):
Python objects or native memory. ``--trim`` returns free
heap to the system before each sample (``malloc_trim``); ``--arena-max`` sets
``MALLOC_ARENA_MAX`` for the nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from _harness import percentile
from _postgres import scratch_schema

from limen.testing.faults import (
    SURFACES,
    Answer,
    Cluster,
    terminate_listeners,
    terminate_sessions,
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Soak:
    def __init__(self, cluster: Cluster, clients: int) -> None:
        self.cluster = cluster
        self.clients = clients
        self.answers: list[Answer] = []
        self.changes: Counter[str] = Counter()
        self.struck: list[tuple[float, str]] = []
        """When each fault struck (``time.monotonic()``) and which it was."""
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def ask(self, n: int) -> None:
        plan = [(node, surface) for node in self.cluster.urls for surface in SURFACES]
        with httpx.Client(timeout=10) as client:
            i = n
            while not self.stop.is_set():
                node, surface = plan[i % len(plan)]
                i += 1
                answer = self.cluster.ask(client, node, surface)
                with self.lock:
                    self.answers.append(answer)

    def churn(self) -> None:
        """Suspend and reactivate every 5 s; new credentials after each reactivation."""
        with httpx.Client(timeout=10) as client:
            while not self.stop.wait(5):
                for action in ("suspend", "reactivate"):
                    status = self.cluster.change(action, client)
                    self.changes[f":{action} {status}"] += 1
                try:
                    self.cluster.new_credentials()
                except httpx.HTTPError as exc:
                    self.changes[f"new credentials failed: {type(exc).__name__}"] += 1

    def faults_loop(self, every: float) -> None:
        cluster = self.cluster
        kinds = [
            ("connections dropped", cluster.proxy.drop),
            (
                "node B sessions terminated",
                lambda: terminate_sessions(cluster.database_url, cluster.names[1]),
            ),
            (
                "node A LISTEN terminated",
                lambda: terminate_listeners(cluster.database_url, cluster.names[0], wait=1),
            ),
        ]
        n = 0
        while not self.stop.wait(every):
            name, strike = kinds[n % len(kinds)]
            n += 1
            struck = time.monotonic()
            strike()
            self.struck.append((struck, name))


def _samples(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _print_watched(watched: dict[str, list[dict[str, Any]]]) -> None:
    """Per node and minute: RSS beside what Python traces and what malloc holds, so
    growth of Python objects can be told from native growth."""
    mib = 1024 * 1024
    for label, samples in watched.items():
        if not samples:
            continue
        print()
        print(
            f"node {label.upper()} (memwatch)  {'RSS MiB':>8}  {'traced MiB':>10}  "
            f"{'malloc used':>11}  {'malloc free':>11}  {'gc objects':>10}  threads  fds"
            f"  sockets  garbage"
        )
        for minute, sample in enumerate(samples, 1):
            print(
                f"  minute {minute:>3}       {sample['rss_kib'] / 1024:>8.1f}  "
                f"{sample.get('traced', 0) / mib:>10.2f}  {sample['heap_in_use'] / mib:>11.1f}  "
                f"{sample['heap_free'] / mib:>11.1f}  {sample['gc_objects']:>10}  "
                f"{sample['threads']:>7}  {sample['fds']:>3}  {sample.get('sockets', 0):>7}"
                f"  {'-' if sample.get('garbage') is None else sample['garbage']:>7}"
            )
        if len(samples) >= 2:
            first, last = samples[0], samples[-1]
            minutes = len(samples) - 1
            for key, name in (
                ("rss_kib", "RSS"),
                ("traced", "traced by tracemalloc"),
                ("heap_in_use", "malloc in use"),
            ):
                scale = 1 / 1024 if key == "rss_kib" else 1 / mib
                growth = (last.get(key, 0) - first.get(key, 0)) * scale
                print(f"  {name}: {growth:+.2f} MiB from minute 1 ({growth / minutes:+.2f}/min)")
            for line in last.get("grew", []):
                print(f"    grew since minute 1: {line}")
            if "sockets" in last:
                print(f"  sockets: {first['sockets']} at minute 1, {last['sockets']} at the end")
                kinds = ", ".join(
                    f"{kind} x{count}"
                    for kind, count in sorted(last.get("socket_kinds", {}).items())
                )
                print(f"    at the end: {kinds}")
            for line in last.get("types_grew", []):
                print(f"    objects of a type, more than at minute 1: {line}")
            freed = [sample.get("sockets_freed") for sample in samples]
            if any(n is not None for n in freed):
                print(f"  sockets a full collection freed, per minute: {freed}")
                for key in ("garbage_types", "garbage_connections", "garbage_pools"):
                    seen: Counter[str] = Counter()
                    for sample in samples:
                        for line in sample.get(key, []):
                            name, _, n = line.rpartition(" ")
                            seen[name] += int(n)
                    top = ", ".join(f"{name} {n}" for name, n in seen.most_common(10))
                    print(f"    found unreachable over the run ({key[8:]}): {top}")
            for line in last.get("new_described", []):
                print(f"    made since minute 1 and still there: {line}")
            for line in last.get("new_held_by", []):
                print(f"    held by: {line}")


def _print_faults(answers: list[Answer], struck: list[tuple[float, str]], started: float) -> None:
    """Each fault's errors: those of requests sent from its strike until the next one, and
    how long after the strike the last of them was sent (per node): the time it cost."""
    if not struck:
        return
    errors = sorted((a for a in answers if a.status != 200), key=lambda a: a.sent)
    before = sum(1 for a in errors if a.sent < struck[0][0])
    windows = []
    for n, (at, name) in enumerate(struck):
        until = struck[n + 1][0] if n + 1 < len(struck) else float("inf")
        mine = [a for a in errors if at <= a.sent < until]
        span = {
            node: max(a.sent for a in mine if a.node == node) - at
            for node in sorted({a.node for a in mine})
        }
        windows.append((len(mine), at, name, span, Counter(a.status for a in mine)))
    by_kind: dict[str, list[int]] = {}
    for count, _, name, _, _ in windows:
        by_kind.setdefault(name, []).append(count)
    print("errors after each kind of fault (until the next fault): median, max")
    for name, counts in sorted(by_kind.items()):
        print(f"  {name}: {statistics.median(counts):.0f}, {max(counts)} (x{len(counts)})")
    if before:
        print(f"  before the first fault: {before}")
    worst = [w for w in sorted(windows, key=lambda w: -w[0])[:5] if w[0]]
    if worst:
        print("the faults with most errors (minute of the run; last error after the strike):")
    for count, at, name, span, statuses in worst:
        nodes = ", ".join(f"{node} {seconds:.2f} s" for node, seconds in span.items())
        kinds = ", ".join(f"{status or 'no answer'} x{c}" for status, c in sorted(statuses.items()))
        print(f"  minute {(at - started) / 60 + 1:.0f}, {name}: {count} errors ({kinds}); {nodes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("LIMEN_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--watch",
        action="store_true",
        help="run the nodes under benchmarks/_memwatch.py: malloc, gc, threads, descriptors",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="with --watch: trace Python allocations too"
    )
    parser.add_argument(
        "--trim", action="store_true", help="with --watch: malloc_trim(0) before each sample"
    )
    parser.add_argument(
        "--new",
        action="store_true",
        help="with --watch: describe the objects made since minute 1 and what holds them",
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="with --watch: a full garbage collection before each sample (what it freed is "
        "shown as garbage): what is kept, not what awaits the collector",
    )
    parser.add_argument("--arena-max", type=int, help="MALLOC_ARENA_MAX for the nodes")
    args = parser.parse_args()
    if not args.postgres:
        parser.error("name a PostgreSQL server: --postgres URL or LIMEN_TEST_POSTGRES_URL")

    with scratch_schema(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        print("starting two nodes…", flush=True)
        env: dict[str, str] = {}
        launcher: list[str] = []
        if args.arena_max:
            env["MALLOC_ARENA_MAX"] = str(args.arena_max)
        if args.watch:
            launcher = [str(Path(__file__).with_name("_memwatch.py"))]
            env.update(
                MEMWATCH_OUT=f"{tmp}/memwatch-{{label}}.jsonl",
                MEMWATCH_TRACEMALLOC="1" if args.tracemalloc else "0",
                MEMWATCH_TRIM="1" if args.trim else "0",
                MEMWATCH_NEW="1" if args.new else "0",
                MEMWATCH_COLLECT="1" if args.collect else "0",
            )
        with Cluster(url, Path(tmp), env=env, launcher=launcher) as cluster:
            soak = Soak(cluster, args.clients)
            threads = [
                *(threading.Thread(target=soak.ask, args=(n,)) for n in range(args.clients)),
                threading.Thread(target=soak.churn),
                threading.Thread(target=soak.faults_loop, args=(args.kill_every,)),
            ]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            end = started + args.minutes * 60
            print(
                f"{'minute':>6}  {'RSS A MiB':>9}  {'RSS B MiB':>9}  {'requests':>8}"
                f"  {'errors':>6}  {'503s':>5}  {'p99 ms':>7}  faults so far",
                flush=True,
            )
            rss: list[tuple[float, float]] = []
            seen = 0
            minute = 0
            try:
                while time.monotonic() < end:
                    time.sleep(max(0.0, min(60.0, end - time.monotonic())))
                    minute += 1
                    with soak.lock:
                        batch = soak.answers[seen:]
                        seen = len(soak.answers)
                    sample = (rss_mib(cluster.pids["a"]), rss_mib(cluster.pids["b"]))
                    rss.append(sample)
                    errors = sum(1 for a in batch if a.status != 200)
                    unavailable = sum(1 for a in batch if a.status == 503)
                    p99 = percentile([a.took for a in batch], 0.99) * 1000 if batch else 0.0
                    print(
                        f"{minute:>6}  {sample[0]:>9.1f}  {sample[1]:>9.1f}  {len(batch):>8}"
                        f"  {errors:>6}  {unavailable:>5}  {p99:>7.1f}"
                        f"  {len(soak.struck)}",
                        flush=True,
                    )
            finally:
                soak.stop.set()
                for thread in threads:
                    thread.join(timeout=30)
            if args.watch:
                watched = {label: _samples(Path(tmp) / f"memwatch-{label}.jsonl") for label in "ab"}

    answers = soak.answers
    failed = Counter(
        f"{a.node} {a.surface} {a.status} {a.error}" for a in answers if a.status != 200
    )
    print()
    print(f"requests: {len(answers)}, errors: {sum(failed.values())}")
    for key, count in sorted(failed.items()):
        print(f"  {key}: {count}")
    faults = Counter(name for _, name in soak.struck)
    print("faults: " + ", ".join(f"{k} x{v}" for k, v in sorted(faults.items())))
    _print_faults(answers, soak.struck, started)
    print("partner changes: " + ", ".join(f"{k} x{v}" for k, v in sorted(soak.changes.items())))
    if len(rss) >= 2:
        for i, node in enumerate("AB"):
            growth = rss[-1][i] - rss[0][i]
            per_minute = growth / (len(rss) - 1)
            print(
                f"node {node}: RSS {rss[0][i]:.1f} MiB after minute 1, {rss[-1][i]:.1f} MiB at "
                f"the end ({growth:+.1f} MiB, {per_minute:+.2f} MiB/min)"
            )
    if args.watch:
        _print_watched(watched)
    latencies = [a.took * 1000 for a in answers if a.status == 200]
    if latencies:
        print(
            f"latency of answered requests: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms"
        )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end)")


if __name__ == "__main__":
    main()
