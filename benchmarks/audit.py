"""Audit trail throughput: appends with chaining, verification, feed pagination.

    python benchmarks/audit.py [--events 100000] [--postgres URL]

Appends go through ``limen.audit.record`` (the API every producer uses) in transactions
of ``--batch`` events; "with chaining" includes linking every appended event. The peer
in the same run is the same appends with no chain work, so the table shows what
tamper evidence costs. Verification runs in one process (``verify()``'s default) and
with one process per CPU (``limen audit verify``'s default), start-up included. Targets
(issue #7): >= 20,000 events/s appended on SQLite, >= 500,000 events/s verified.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _postgres import scratch_schema

from limen.audit import Actor, AuditKeys, link_pending, record, verify
from limen.audit.feed import FeedCursor, read_feed
from limen.installation import initialise
from limen.store import Database

APPEND_TARGET = 20_000
VERIFY_TARGET = 500_000


def _append(
    url: str, key_file: Path, count: int, batch: int, ready: Any = None, spent: Any = None
) -> None:
    db = Database(url)
    # Rows are sealed as a server writes them; the chainer refuses unsealed ones.
    AuditKeys.from_key_file(key_file).attach(db)
    if ready is not None:
        ready.wait()  # start together, after the imports
    cpu = time.process_time()
    actor = Actor(kind="agent", name="bench", identity_id="a" * 26, context={"ip": "127.0.0.1"})
    for start in range(0, count, batch):
        with db.unit_of_work() as uow:
            for n in range(start, min(start + batch, count)):
                record(
                    uow.session,
                    actor,
                    "vault.secret.read",
                    resource_type="vault_item",
                    resource_id=str(n),
                    context={"vault_id": "v" * 26, "version": 1},
                )
    if spent is not None:
        spent.put(time.process_time() - cpu)  # the appends' CPU, not the imports'
    db.dispose()


def _fresh(
    url: str | None, tmp: Path, name: str, schemas: ExitStack
) -> tuple[Database, AuditKeys, Path]:
    if url is None:
        url = f"sqlite:///{tmp / (name + '.db')}"
    else:
        url = schemas.enter_context(scratch_schema(url))
    db = Database(url)
    key_file = tmp / f"{name}.key"
    initialise(db, key_file=key_file)
    return db, AuditKeys.from_key_file(key_file), key_file


Row = tuple[str, float, float | None, int | None]


def _cpu() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _per_cpu(count: int, seconds: float) -> float | None:
    """A rate per CPU second; none for a run shorter than the clock's tick (a tiny one)."""
    return count / seconds if seconds > 0 else None


class _Timer:
    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu() - self.cpu


def bench(url: str | None, events: int, batch: int, writers: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_dir, ExitStack() as schemas:
        tmp = Path(tmp_dir)

        db, keys, key_file = _fresh(url, tmp, "plain", schemas)
        with _Timer() as t:
            _append(db.url, key_file, events, batch)
        rows.append(("append, no chain (peer)", events / t.wall, _per_cpu(events, t.cpu), None))
        db.dispose()

        db, keys, key_file = _fresh(url, tmp, "single", schemas)
        with _Timer() as t:
            _append(db.url, key_file, events, batch)
            link_pending(db, keys.chain)
        rows.append(
            ("append + chain, 1 writer", events / t.wall, _per_cpu(events, t.cpu), APPEND_TARGET)
        )

        with _Timer() as t:
            report = verify(db, keys)
        assert report.ok
        rows.append(
            (
                "verify, 1 process",
                report.checked / t.wall,
                _per_cpu(report.checked, t.cpu),
                VERIFY_TARGET,
            )
        )
        cpus = os.cpu_count() or 1
        if cpus > 1:
            with _Timer() as t:
                report = verify(db, keys, workers=cpus, min_per_worker=events // cpus)
            assert report.ok
            label = f"verify, {cpus} processes (incl. start-up)"
            rows.append(
                (label, report.checked / t.wall, _per_cpu(report.checked, t.cpu), VERIFY_TARGET)
            )

        with _Timer() as t:
            cursor = FeedCursor.reset("itemusages", limit=1000)
            served = 0
            with db.unit_of_work(readonly=True) as uow:
                while True:
                    page = read_feed(uow.session, cursor, account_id="bench")
                    served += len(page.items)
                    cursor = page.cursor
                    if not page.has_more:
                        break
        assert served == events
        rows.append(("feed pagination (1000/page)", served / t.wall, _per_cpu(served, t.cpu), None))
        db.dispose()

        db, keys, key_file = _fresh(url, tmp, "concurrent", schemas)
        per_writer = events // writers
        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(writers + 1)
        spent = context.Queue()
        procs = [
            context.Process(
                target=_append, args=(db.url, key_file, per_writer, batch, ready, spent)
            )
            for _ in range(writers)
        ]
        for proc in procs:
            proc.start()
        ready.wait()
        wall, cpu = time.perf_counter(), time.process_time()
        # The chainer runs alongside the writers, as the server's worker does.
        while any(p.is_alive() for p in procs):
            link_pending(db, keys.chain, wait=True)
            time.sleep(0.01)
        link_pending(db, keys.chain)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        cpu += sum(spent.get() for _ in procs)
        for proc in procs:
            proc.join()
        label = f"append + chain, {writers} writer processes"
        appended = per_writer * writers
        rows.append((label, appended / wall, _per_cpu(appended, cpu), APPEND_TARGET))
        assert verify(db, keys).ok
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="events per transaction")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        help="also run on this PostgreSQL URL (in scratch schemas, dropped afterwards)",
    )
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if args.postgres:
        backends.append(("postgresql", args.postgres))
    print(
        f"{args.events} events, {args.batch} per transaction, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    print("events/s by wall clock; 'per CPU s' divides by the CPU time this process and its")
    print("child processes used instead, which is what the code costs when other work shares")
    print("the machine. 'x target' is the wall-clock rate over the target.")
    header = f"{'backend':<11} {'measure':<38} {'events/s':>10} {'per CPU s':>10} {'target':>9}"
    print(header + f" {'x target':>8}  verdict")
    for name, url in backends:
        for label, rate, cpu_rate, target in bench(url, args.events, args.batch, args.writers):
            verdict = "" if target is None else ("meets" if rate >= target else "below")
            shown = "" if target is None else f"{target:,}"
            ratio = "" if target is None else f"{rate / target:.2f}"
            cpu = "" if cpu_rate is None else f"{cpu_rate:,.0f}"
            print(
                f"{name:<11} {label:<38} {rate:>10,.0f} {cpu:>10} {shown:>9} {ratio:>8}  {verdict}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
