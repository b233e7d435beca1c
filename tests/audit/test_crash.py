"""kill -9 during heavy appends and linking loses no committed event; the chain verifies.

Two writer processes and two chainer processes share the database, as two server
processes would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

from limen.audit import AuditKeys, link_pending, verify
from limen.config import Settings
from limen.store import Database

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from limen.audit import Actor, AuditKeys, record
    from limen.store import Database

    db = Database(sys.argv[1])
    AuditKeys.from_key_file(Path(sys.argv[3])).attach(db)  # as every Limen process does
    actor = Actor(kind="service", name="crash-writer")
    with open(sys.argv[2], "a") as committed:
        while True:
            with db.unit_of_work() as uow:
                events = [record(uow.session, actor, "test.crash") for _ in range(50)]
                uow.flush()
                ids = [event.id for event in events]
            # Only after the commit returned: these ids are durable.
            committed.write("\\n".join(ids) + "\\n")
            committed.flush()
    """
)

CHAINER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from limen.audit import AuditKeys, link_pending
    from limen.store import Database

    db = Database(sys.argv[1])
    keys = AuditKeys.from_key_file(Path(sys.argv[2]))
    keys.attach(db)
    while True:
        link_pending(db, keys.chain, batch=200)
    """
)


def test_kill_9_loses_no_committed_event_and_the_chain_verifies(
    db: Database, keys: AuditKeys, settings: Settings, tmp_path: Path
) -> None:
    url = settings.resolved_database_url
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    logs = [tmp_path / f"committed-{n}.txt" for n in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(log), str(settings.resolved_key_file)],
            env=env,
        )
        for log in logs
    ]
    # Two chainers, as two server processes would run them, take turns on the head lock.
    processes += [
        subprocess.Popen(
            [sys.executable, "-c", CHAINER, url, str(settings.resolved_key_file)], env=env
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        # Each writer must have committed, not just the total: a writer that is still
        # importing when the other one is done has no log yet, and proves nothing.
        while not all(log.exists() and len(log.read_text().split()) >= 1000 for log in logs):
            assert time.monotonic() < deadline, "writers made no progress"
            assert all(p.poll() is None for p in processes), "a writer died on its own"
            time.sleep(0.05)
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert all(process.returncode == -signal.SIGKILL for process in processes)

    committed = {line for log in logs for line in log.read_text().split()}
    with db.engine.connect() as conn:
        stored = set(conn.scalars(sa.text("SELECT id FROM events WHERE action = 'test.crash'")))
    assert committed <= stored, f"{len(committed - stored)} committed events lost"

    link_pending(db, keys.chain)
    report = verify(db, keys)
    assert report.ok, report.problem
    with db.engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT count(*) FROM events"))
        unlinked = conn.scalar(sa.text("SELECT count(*) FROM events WHERE chain_pos IS NULL"))
    assert unlinked == 0 and report.last_position == total
