"""Detect-and-respond latency: from a reported event's commit to the alert and the suspension.

    python benchmarks/respond.py [--runs 30]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

A ``limen server`` runs the live detector and one live playbook (``suspend`` agents on an
``owner-inactive`` alert). Each run reports one event by a different agent whose owner was
suspended, with ``POST /v1/events`` (a gateway's ``events:write`` token), and waits until
the agent is suspended. Measured per run, from the moment the POST returned (the event
was committed before it did):

- *alert*: until the alert row was committed (``detect_alerts.created_at``);
- *suspension*: until the playbook's suspension (``identities.status_changed_at``);
- *alert → suspension*: the playbook alone (it acts in the transaction that stores the
  alert, so both commit together: this is the time its actions take in there).

Runs start once the server's detector holds every partition (on PostgreSQL it is a child
process that starts once the server answers).

Targets (issue #18): alert within 1 s (p99) of the event's commit; suspension within
100 ms of the alert. The human-speed reference is the 1-10-60 rule: a minute to detect,
an hour to contain.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from _harness import limen_server, percentile
from _postgres import scratch_schema

from limen import identity
from limen.audit import Actor
from limen.detect import DetectConfig
from limen.installation import initialise
from limen.respond.playbooks import Playbooks
from limen.store import Database
from limen.store.models import DetectAlert, DetectCursor, Identity

PLAYBOOK = """\
match: {min_score: 0.6, kinds: [agent], reasons: [owner-inactive]}
actions: [suspend]
"""
TARGET_ALERT_P99_MS = 1000.0
TARGET_PLAYBOOK_MS = 100.0
HUMAN_DETECT_MS = 60_000.0  # the 1-10-60 rule: a minute to detect
HUMAN_CONTAIN_MS = 3_600_000.0  # an hour to contain


def _prepare(db: Database, key_file: Path, runs: int) -> str:
    operator = Actor.operator()
    initialise(db, key_file=key_file, admin_email="admin@example.com")
    with db.unit_of_work() as uow:
        identity.create(uow, operator, kind="human", name="gone")
        for n in range(runs):
            identity.create(uow, operator, kind="agent", name=f"bot-{n}", owner="gone")
        gateway = identity.create(uow, operator, kind="service", name="gateway")
        _, token = identity.issue_api_token(
            uow, operator, gateway, purpose="personal", scopes=["events:write"]
        )
    with db.unit_of_work() as uow:
        identity.suspend(uow, operator, "gone", reason="left")

    class _Everyone:
        def authorize(self, *args: object, **kwargs: object) -> None:
            return None

    Playbooks(db, _Everyone()).put(operator, "suspend-orphans", PLAYBOOK)  # type: ignore[arg-type]
    return token


def _detector_ready(db: Database) -> None:
    """Wait until the server's detector (a thread, or a child process on PostgreSQL that
    starts once the server answers) holds every partition: steady state, not start-up."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.unit_of_work(readonly=True) as uow:
            held = uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(DetectCursor)
                .where(DetectCursor.name.like("live:%"), DetectCursor.owner.is_not(None))
            )
        if held == DetectConfig().partitions:
            return
        time.sleep(0.05)
    raise SystemExit("the detector did not start within 60 s")


def _run(db: Database, url: str, token: str, runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"alert": [], "suspension": [], "playbook": []}
    _detector_ready(db)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        for n in range(runs):
            name = f"bot-{n}"
            event = {
                "occurred_at": datetime.now(UTC).isoformat(),
                "actor": {"name": name, "kind": "agent"},
                "action": "db.query",
                "resource": {"type": "db", "id": "crm"},
            }
            response = client.post("/v1/events", json={"events": [event]})
            committed = datetime.now(UTC)
            response.raise_for_status()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with db.unit_of_work(readonly=True) as uow:
                    row = uow.session.execute(
                        sa.select(Identity.status, Identity.status_changed_at).where(
                            Identity.name == name
                        )
                    ).one()
                    alert = uow.session.scalar(
                        sa.select(DetectAlert.created_at).where(DetectAlert.identity_name == name)
                    )
                if str(row.status) == "suspended" and alert is not None:
                    break
                time.sleep(0.005)
            else:
                raise SystemExit(f"{name} was not suspended within 10 s")
            ms = 1000.0
            results["alert"].append((alert - committed).total_seconds() * ms)
            results["suspension"].append((row.status_changed_at - committed).total_seconds() * ms)
            results["playbook"].append((row.status_changed_at - alert).total_seconds() * ms)
    return results


def _ratios(label: str, results: dict[str, list[float]]) -> str:
    """One line per backend: each headline figure, its target and the human reference."""
    alert = percentile(results["alert"], 0.99)
    playbook = percentile(results["playbook"], 0.99)
    suspension = percentile(results["suspension"], 0.99)
    verdict = "met" if alert <= TARGET_ALERT_P99_MS and playbook <= TARGET_PLAYBOOK_MS else "MISSED"
    return (
        f"{label}: alert p99 {alert:.1f} ms (target {TARGET_ALERT_P99_MS:,.0f} ms, "
        f"x{TARGET_ALERT_P99_MS / alert:.1f} under; a human's minute to detect: "
        f"x{HUMAN_DETECT_MS / alert:,.0f} faster); alert -> suspension p99 {playbook:.1f} ms "
        f"(target {TARGET_PLAYBOOK_MS:.0f} ms, x{TARGET_PLAYBOOK_MS / playbook:.1f} under); "
        f"event -> suspension p99 {suspension:.1f} ms (a human's hour to contain: "
        f"x{HUMAN_CONTAIN_MS / suspension:,.0f} faster); targets {verdict}"
    )


def _backend(label: str, runs: int, database_url: str | None) -> str:
    scratch = Path(tempfile.mkdtemp(prefix="limen-bench-respond-"))
    try:
        url_db = database_url or f"sqlite:///{scratch / 'limen.db'}"
        db = Database(url_db)
        token = _prepare(db, scratch / "limen.key", runs)
        settings = {"playbook_suspensions_per_minute": "100000"}
        with limen_server(scratch, database_url, **settings) as (url, _pid):
            results = _run(db, url, token, runs)
        db.dispose()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for what, samples in results.items():
        print(
            f"| {label} | {what} | {percentile(samples, 0.5):.1f} | "
            f"{percentile(samples, 0.95):.1f} | {percentile(samples, 0.99):.1f} | "
            f"{max(samples):.1f} |"
        )
    return _ratios(label, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", help="also run on this PostgreSQL (a scratch schema)")
    args = parser.parse_args()
    print(f"{args.runs} runs; milliseconds from the POST's return (the event's commit)")
    print("| backend | until | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|")
    lines = [_backend("SQLite", args.runs, None)]
    if args.postgres:
        with scratch_schema(args.postgres) as url:
            lines.append(_backend("PostgreSQL", args.runs, url))
    print(
        f"targets: alert p99 <= {TARGET_ALERT_P99_MS:.0f} ms; alert -> suspension <= "
        f"{TARGET_PLAYBOOK_MS:.0f} ms; a human analyst (1-10-60): 60,000 ms to detect, "
        "3,600,000 ms to contain"
    )
    for line in lines:
        print(line)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
