"""Audit trail throughput: appends with chaining, verification, feed pagination.

    python benchmarks/audit.py [--events 100000] [--postgres URL]

Appends go through ``limen.audit.record`` (the API every producer uses) in transactions
of ``--batch`` events; "with chaining" includes linking every appended event. The peer
in the same run is the same appends with no chain work, so the table shows what
tamper evidence costs. Targets (issue #7): >= 20,000 events/s appended on SQLite,
>= 500,000 events/s verified.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from limen.audit import Actor, AuditKeys, link_pending, record, verify
from limen.audit.feed import FeedCursor, read_feed
from limen.installation import initialise
from limen.store import Database

APPEND_TARGET = 20_000
VERIFY_TARGET = 500_000


def _append(url: str, count: int, batch: int) -> None:
    db = Database(url)
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
    db.dispose()


def _fresh(url: str | None, tmp: Path, name: str) -> tuple[Database, AuditKeys]:
    if url is None:
        url = f"sqlite:///{tmp / (name + '.db')}"
    else:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    db = Database(url)
    key_file = tmp / f"{name}.key"
    initialise(db, key_file=key_file)
    return db, AuditKeys.from_key_file(key_file)


def bench(
    url: str | None, events: int, batch: int, writers: int
) -> list[tuple[str, float, int | None]]:
    rows: list[tuple[str, float, int | None]] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)

        db, keys = _fresh(url, tmp, "plain")
        start = time.perf_counter()
        _append(db.url, events, batch)
        rows.append(("append, no chain (peer)", events / (time.perf_counter() - start), None))
        db.dispose()

        db, keys = _fresh(url, tmp, "single")
        start = time.perf_counter()
        _append(db.url, events, batch)
        link_pending(db, keys.chain)
        rows.append(
            ("append + chain, 1 writer", events / (time.perf_counter() - start), APPEND_TARGET)
        )

        start = time.perf_counter()
        report = verify(db, keys)
        assert report.ok
        rows.append(("verify", report.checked / (time.perf_counter() - start), VERIFY_TARGET))

        start = time.perf_counter()
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
        rows.append(("feed pagination (1000/page)", served / (time.perf_counter() - start), None))
        db.dispose()

        db, keys = _fresh(url, tmp, "concurrent")
        per_writer = events // writers
        context = multiprocessing.get_context("spawn")
        start = time.perf_counter()
        procs = [
            context.Process(target=_append, args=(db.url, per_writer, batch))
            for _ in range(writers)
        ]
        for proc in procs:
            proc.start()
        # The chainer runs alongside the writers, as the server's worker does.
        while any(p.is_alive() for p in procs):
            link_pending(db, keys.chain, wait=True)
            time.sleep(0.01)
        link_pending(db, keys.chain)
        elapsed = time.perf_counter() - start
        rows.append(
            (
                f"append + chain, {writers} writer processes",
                per_writer * writers / elapsed,
                APPEND_TARGET,
            )
        )
        assert verify(db, keys).ok
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="events per transaction")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument(
        "--postgres", help="also run on this PostgreSQL URL (its public schema is wiped)"
    )
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if args.postgres:
        backends.append(("postgresql", args.postgres))
    print(
        f"{args.events} events, {args.batch} per transaction, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    print(f"{'backend':<11} {'measure':<38} {'events/s':>12} {'target':>10}  verdict")
    for name, url in backends:
        for label, rate, target in bench(url, args.events, args.batch, args.writers):
            verdict = "" if target is None else ("meets" if rate >= target else "below")
            shown = "" if target is None else f"{target:,}"
            print(f"{name:<11} {label:<38} {rate:>12,.0f} {shown:>10}  {verdict}")


if __name__ == "__main__":
    main()
