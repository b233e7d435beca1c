"""Console benchmark: how long each console page takes with a large directory and log.

    python benchmarks/console.py [--identities 10000] [--events 100000] [--requests 30]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-cache]

Fills a fresh installation with ``--identities`` identities (humans, each with agents and
services, and shadow agents) and ``--events`` sealed, chained events (through
``limen.audit.record``, the producers' API; most by a few hundred busy agents, some on
behalf of their owners), starts ``limen server`` (one uvicorn worker), signs in to the
console with the admin token as a browser does, and requests each page ``--requests``
times in turn. The figure is the time from sending a request to having the whole page,
on loopback: an upper bound of the server's time.

Target (issue #19): every console page in <= 100 ms (p95) with 10,000 identities and
1,000,000 events (``--events 1000000``; the default is smaller to keep a run short).
The peer line is ``GET /v1/identities`` (the JSON API's page of 50) in the same run.

Filling a million events takes many minutes, so each filled installation is kept under
``/tmp/limen-bench-cache`` (``LIMEN_BENCH_CACHE``), keyed by the backend and the sizes,
and copied from there on later runs (a SQLite data directory; for PostgreSQL a
``pg_dump`` of the scratch schema, restored into a new one). The copy is migrated before
the server starts, so a cache made before a new migration still measures the new schema.
``--no-cache`` fills afresh.

The server runs without its live detector (``LIMEN_DETECT=false``): the events are
written straight to the log, so a detector would start scoring all of them from the first
while the pages are timed — on SQLite on a thread of the very process that serves them —
which is what a restored log costs once, not what a page costs on an installation whose
detector keeps up. (Before this, every page of a million-event run was timed beside that.)

Each page's row also gives the server's CPU time per request (all its threads, from
``/proc``), which the load of a shared machine moves far less than the times; ``--sql
PLANS`` adds each page's SQL statement count, served once more in this process, and writes
the plan of each of its statements to ``PLANS``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import sqlalchemy as sa
from _harness import cpu_seconds, limen_server, percentile
from _postgres import scratch_schema
from _sqlwatch import plan, watching
from _table import print_table

from limen.audit import Actor, AuditKeys, link_pending, record
from limen.config import Settings
from limen.detect import severity_of
from limen.ids import new_id
from limen.installation import initialise
from limen.store import Database
from limen.store.models import DetectAlert, Identity

TARGET_MS = 100.0
FILL_VERSION = 1
"""Bump when :func:`_fill` changes what it writes, so that no older cache is reused."""
CACHE = Path(os.environ.get("LIMEN_BENCH_CACHE", "/tmp/limen-bench-cache"))


def _fill(db: Database, keys: AuditKeys, identities: int, events: int) -> dict[str, str]:
    """Identities and events; returns names worth asking for."""
    rng = random.Random(19)
    rows: list[dict[str, object]] = []
    humans = max(1, identities // 5)
    for h in range(humans):
        human_id = new_id()
        rows.append({"id": human_id, "kind": "human", "name": f"person-{h:05d}"})
        for a in range(2):
            rows.append(
                {
                    "id": new_id(),
                    "kind": "agent",
                    "name": f"person-{h:05d}-agent-{a}",
                    "owner_id": human_id,
                }
            )
        rows.append(
            {"id": new_id(), "kind": "service", "name": f"person-{h:05d}-job", "owner_id": human_id}
        )
    while len(rows) < identities:
        rows.append(
            {"id": new_id(), "kind": "agent", "name": f"shadow-{len(rows):05d}", "managed": False}
        )
    now = time.time()
    with db.unit_of_work() as uow:
        for n, row in enumerate(rows[:identities]):
            row.setdefault("owner_id", None)
            row.setdefault("managed", True)
            row.update(status="active", roles=[], attributes={})
            if row["kind"] == "agent" and n % 50 == 0:  # one agent in 50 is under suspicion
                row["attributes"] = {"risk": 70 + n % 30}
            row["created_at"] = row["updated_at"] = _moment(now - identities + n)
        uow.session.execute(sa.insert(Identity), rows[:identities])
        alerts = [  # and has an alert open (the alerts page, the overview)
            {
                "id": new_id(),
                "subject": row["id"],
                "identity_id": row["id"],
                "identity_name": row["name"],
                "kind": "agent",
                "score": row["attributes"]["risk"] / 100,  # type: ignore[index]
                "severity": severity_of(row["attributes"]["risk"] / 100),  # type: ignore[index]
                "status": "open",
                "reasons": [{"code": "rate", "weight": 1.0, "text": "unusual rate"}],
                "event_ids": [],
                "first_at": _moment(now),
                "last_at": _moment(now),
                "raised_at": _moment(now),
                "closed": False,
                "teach_pending": False,
            }
            for row in rows[:identities]
            if row["attributes"]
        ]
        if alerts:  # an empty executemany would insert one row of defaults
            uow.session.execute(sa.insert(DetectAlert), alerts)
    agents = [r for r in rows[:identities] if r["kind"] == "agent" and r["owner_id"]]
    busy = agents[:300]
    quiet = agents[-1]
    owner_names = {r["id"]: r["name"] for r in rows if r["kind"] == "human"}
    keys.attach(db)
    written = 0
    with db.unit_of_work() as uow:  # the quiet agent's only events: the oldest
        for _ in range(3):
            record(
                uow.session,
                _actor(quiet, owner_names),
                "vault.item.read",
                resource_type="item",
                resource_id="i",
            )
    while written < events:
        with db.unit_of_work() as uow:
            for _ in range(min(5000, events - written)):
                who = rng.choice(busy)
                record(
                    uow.session,
                    _actor(who, owner_names, rng.random() < 0.3),
                    rng.choice(("vault.item.read", "access.evaluate", "token.issue")),
                    resource_type="item",
                    resource_id=str(rng.randrange(1000)),
                )
            written += min(5000, events - written)
    link_pending(db, keys.chain)
    return {
        "busy": str(busy[0]["name"]),
        "quiet": str(quiet["name"]),
        "human": str(owner_names[busy[0]["owner_id"]]),
    }


def _moment(seconds: float) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def _actor(row: dict[str, object], owners: dict[object, str], on_behalf: bool = False) -> Actor:
    delegation: tuple[dict[str, object], ...] = ()
    if on_behalf:
        owner = row["owner_id"]
        delegation = ({"id": owner, "kind": "human", "name": owners[owner]},)
    return Actor(
        kind=str(row["kind"]),
        name=str(row["name"]),
        identity_id=str(row["id"]),
        delegation=delegation,
    )


def _keep(kept: Path, data_dir: Path, url: str | None, token: str, names: dict) -> None:
    """Save a filled installation: its data directory and, on PostgreSQL, a dump of its
    schema. ``done.json`` is written last, so a run cut short leaves no half cache."""
    shutil.rmtree(kept, ignore_errors=True)
    kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copytree(data_dir, kept / "data")
    if url is not None:
        base, schema = _schema_of(url)
        with (kept / "schema.sql").open("wb") as out:
            subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "-n", schema, "-d", base],
                stdout=out,
                check=True,
            )
        (kept / "schema.name").write_text(schema)
    # the admin token of a throwaway installation, kept beside its key file
    (kept / "done.json").write_text(json.dumps({"token": token, "names": names}))


def _restore(kept: Path, data_dir: Path, url: str | None) -> tuple[str, dict[str, str]]:
    shutil.copytree(kept / "data", data_dir, dirs_exist_ok=True)
    if url is not None:
        base, schema = _schema_of(url)
        # the dump names its schema everywhere; the scratch schema is new and empty
        dumped = (kept / "schema.name").read_text()
        script = (kept / "schema.sql").read_bytes().replace(dumped.encode(), schema.encode())
        script = script.replace(f"CREATE SCHEMA {schema};".encode(), b"", 1)
        # a dump restores no planner statistics; a live installation has them
        script += f"ANALYZE {schema}.events; ANALYZE {schema}.identities;\n".encode()
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", base],
            input=script,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    done = json.loads((kept / "done.json").read_text())
    return done["token"], done["names"]


def _schema_of(url: str) -> tuple[str, str]:
    """The libpq URL of the database and the scratch schema a scratch URL points at."""
    found = re.search(r"[?&]options=-csearch_path%3D(\w+)", url)
    assert found, url
    base = url.replace("postgresql+psycopg://", "postgresql://")
    return base[: base.index("?")], found.group(1)


def _sign_in(client: httpx.Client, token: str) -> None:
    form = client.get("/console/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    done = client.post("/console/sign-in", data={"token": token, "csrf": csrf.group(1)})
    assert done.status_code in (200, 303), done.text


RETRIES = 5
"""How many more times a page that answered 503 is asked, half a second apart."""


def _time(
    client: httpx.Client,
    path: str,
    requests: int,
    *,
    expect: int = 200,
    unavailable: list[str] | None = None,
    **kw: object,
) -> list[float]:
    """``requests`` timed requests of ``path`` after one to warm up.

    A 503 is counted in ``unavailable``, not fatal: a node whose change feed's beat went
    unanswered gives up on a statement that has run for 0.6 s (``store/_timeouts.py``), and
    on a machine loaded enough a busy PostgreSQL looks like that. The page is asked again,
    up to :data:`RETRIES` times, and the sample is the time of the answer it ends with
    (a 503 after the last try is kept as a sample too, and counted)."""
    client.get(path, **kw)  # warm
    samples = []
    for _ in range(requests):
        for attempt in range(RETRIES + 1):
            start = time.perf_counter()
            response = client.get(path, **kw)
            took = (time.perf_counter() - start) * 1000
            if response.status_code != 503 or unavailable is None:
                break
            unavailable.append(f"{path}: {took:.0f} ms")
            if attempt < RETRIES:
                time.sleep(0.5)
        samples.append(took)
        if response.status_code == 503 and unavailable is not None:
            continue
        assert response.status_code == expect, (path, response.status_code, response.text[:300])
    return samples


def live_path(client: httpx.Client) -> str:
    """What the overview asks every second while nothing changes (answered from memory)."""
    page = client.get("/console/overview").text
    found = re.search(r'hx-get="(/console/live\?seen=\d+)"', page)
    assert found, "the overview does not ask for changes"
    return found.group(1)


def _figures(samples: list[float], peer: list[float]) -> dict[str, float]:
    """A page's figures for ``compare.py`` (which reads one JSON line): under load the
    ratios to the peer, measured in the same run, say more than the milliseconds."""
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    return {
        "p50 ms": round(p50, 1),
        "p95 ms": round(p95, 1),
        "p50 / peer p50": round(p50 / percentile(peer, 0.5), 2),
        "p95 / peer p95": round(p95 / percentile(peer, 0.95), 2),
    }


def _cpu_ms(before: float | None, after: float | None, requests: int) -> float:
    """The server's CPU time per request (all its threads): unlike the times, it hardly
    grows with the machine's load, so it compares runs on a shared machine."""
    if before is None or after is None:
        return float("nan")
    return (after - before) * 1000 / requests


def _p(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 0.5):.1f} / p95 {percentile(samples, 0.95):.1f} ms"


def bench(
    url: str | None,
    identities: int,
    events: int,
    requests: int,
    figures: dict[str, dict[str, float]],
    cache: bool = True,
    plans: Path | None = None,
    only: str | None = None,
) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_dir, ExitStack() as stack:
        tmp = Path(tmp_dir)
        if url is not None:
            url = stack.enter_context(scratch_schema(url))
        settings = Settings(data_dir=tmp, database_url=url)
        kept = None
        if cache:
            backend_name = "postgresql" if url else "sqlite"
            kept = CACHE / f"console-v{FILL_VERSION}-{backend_name}-{identities}-{events}"
        if kept is not None and (kept / "done.json").exists():
            started = time.perf_counter()
            token, names = _restore(kept, tmp, url)
            db = Database(settings.resolved_database_url)
            db.migrate()
            print(f"restored {kept} in {time.perf_counter() - started:.0f} s")
        else:
            db = Database(settings.resolved_database_url)
            db.migrate()
            token = initialise(db, key_file=settings.resolved_key_file).admin_token
            assert token
            keys = AuditKeys.from_key_file(settings.resolved_key_file)
            started = time.perf_counter()
            names = _fill(db, keys, identities, events)
            print(
                f"filled {identities} identities, {events} events in "
                f"{time.perf_counter() - started:.0f} s"
            )
            if kept is not None:
                db.dispose()
                _keep(kept, tmp, url, token, names)
        db.dispose()
        backend = "PostgreSQL" if url else "SQLite"
        # a loaded machine takes its time to start a server over a million events; no
        # detector (see the module's docstring)
        server = limen_server(tmp, url, start_timeout=300, detect="false")
        with server as (base, pid), httpx.Client(base_url=base, timeout=120) as client:
            _sign_in(client, token)
            pages = _pages(client, names)
            cpu = cpu_seconds(pid)
            api = _time(
                client,
                "/v1/identities?limit=50",
                requests,
                unavailable=[],
                headers={"Authorization": f"Bearer {token}"},
            )
            cpu_ms = _cpu_ms(cpu, cpu_seconds(pid), requests + 1)
            rows.append(
                (
                    f"{backend}: GET /v1/identities?limit=50 (peer)",
                    _p(api),
                    f"server CPU {cpu_ms:.1f} ms a request",
                )
            )
            figures[f"{backend}: peer"] = {**_figures(api, api), "server CPU ms": round(cpu_ms, 1)}
            peer = percentile(api, 0.95)
            for name, path in pages.items():
                if only and only not in name:
                    continue
                cpu = cpu_seconds(pid)
                unavailable: list[str] = []
                samples = _time(
                    client,
                    path,
                    requests,
                    expect=204 if "live" in name else 200,
                    unavailable=unavailable,
                )
                cpu_ms = _cpu_ms(cpu, cpu_seconds(pid), requests + 1)  # and the warm-up
                figures[f"{backend}: {name}"] = {
                    **_figures(samples, api),
                    "server CPU ms": round(cpu_ms, 1),
                }
                ratio = percentile(samples, 0.95) / peer
                rows.append(
                    (
                        f"{backend}: {name}",
                        _p(samples),
                        f"p95 <= {TARGET_MS:.0f} ms; {ratio:.1f}x the peer's p95; "
                        f"server CPU {cpu_ms:.1f} ms a request"
                        + (f"; {len(unavailable)} answers were 503" if unavailable else ""),
                    )
                )
            if not only:
                rows += _verify_now(client, backend, peer)
        if plans is not None:
            rows += _statements(settings, token, names, backend, plans)
    return rows


def _pages(client: httpx.Client, names: dict[str, str]) -> dict[str, str]:
    cursor_page = client.get("/console/identities?kind=agent").text
    deep = re.search(r'href="(/console/identities\?[^"]*cursor=[^"]+)"', cursor_page)
    assert deep
    return {
        "overview": "/console/overview",
        "identities, first 50 (people, machines nested)": "/console/identities",
        "identities, owner=a person": f"/console/identities?owner={names['human']}",
        "identities, risk=any": "/console/identities?risk=any",
        "identities, managed=shadow": "/console/identities?managed=shadow",
        "identities, agents, active": "/console/identities?kind=agent&status=active",
        "identities, next 50 (keyset)": deep.group(1).replace("&amp;", "&"),
        "identities, search q=": f"/console/identities?q={names['quiet'][-12:]}",
        "identities, kind=shadow": "/console/identities?kind=shadow",
        "identity page, busy agent": f"/console/identities/{names['busy']}",
        "identity page, quiet agent": f"/console/identities/{names['quiet']}",
        "identity page, human (owner)": f"/console/identities/{names['human']}",
        "events, 50 newest": "/console/events",
        "events, action=identity.suspend": "/console/events?action=identity.suspend",
        "events, identity=quiet agent": f"/console/events?identity={names['quiet']}",
        "alerts, open": "/console/alerts?status=open",
        "vault compliance": "/console/vault",
        "discovery": "/console/discovery",
        "live, nothing changed": live_path(client),
        "kill switch": "/console/kill-switch",
    }


def _statements(
    settings: Settings, token: str, names: dict[str, str], backend: str, plans: Path
) -> list[tuple[str, str, str]]:
    """Each page once more, served in this process on the same data: how many SQL
    statements it ran and how long they took; the plan of each (the same SQL once) goes
    to ``plans``. Unlike the times, the counts and the plans do not depend on the load."""
    from fastapi.testclient import TestClient

    from limen.api.app import create_app

    rows = []
    app = create_app(settings.model_copy(update={"detect": False}))
    with TestClient(app, base_url="http://127.0.0.1") as client, plans.open("a") as out:
        _sign_in(client, token)
        engine = app.state.services.db.engine
        for name, path in _pages(client, names).items():
            client.get(path)  # warm
            with watching() as watch:
                started = time.perf_counter()
                response = client.get(path)
                took = (time.perf_counter() - started) * 1000
            assert response.status_code in (200, 204), (path, response.status_code)
            rows.append(
                (
                    f"{backend}: {name}, SQL",
                    f"{len(watch.statements)} statements",
                    f"{watch.ms:.1f} ms of the page's {took:.1f} ms in-process",
                )
            )
            out.write(f"\n## {backend}: {name} ({path})\n")
            for statement in watch.distinct():
                out.write(f"\n-- {statement.ms:.1f} ms\n{statement.sql}\n")
                out.write(f"-- parameters: {repr(statement.parameters)[:300]}\n")
                out.write(plan(engine, statement) + "\n")
    return rows


def _verify_now(client: httpx.Client, backend: str, peer: float) -> list[tuple[str, str, str]]:
    """``Verify now`` twice: the first click checks the whole chain, the second resumes
    from the checkpoint the first verified (checkpoints are signed as the log grows).
    Not a page: the console's Verify now runs in the request (issue #19 asks for it to
    be bounded or a background job), so this row says how long a person waits."""
    rows = []
    for name in ("Verify now, first (whole chain)", "Verify now, again (resumed)"):
        page = client.get("/console/events").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        start = time.perf_counter()
        # no client timeout: the first click verifies the whole chain inside the request
        done = client.post("/console/events/verify", data={"csrf": csrf.group(1)}, timeout=None)
        took = (time.perf_counter() - start) * 1000
        assert done.status_code in (200, 303), done.text[:300]
        rows.append((f"{backend}: {name}", f"{took:.0f} ms", f"{took / peer:.0f}x the peer's p95"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres", help="also run on this PostgreSQL (a scratch schema)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="fill afresh, keep nothing")
    parser.add_argument(
        "--sql",
        type=Path,
        metavar="PLANS",
        help="also count each page's SQL statements (in-process) and write the plans of "
        "each page's statements to this file",
    )
    parser.add_argument(
        "--only", help="time only the pages whose name contains this (and the peer)"
    )
    args = parser.parse_args()
    rows = []
    figures: dict[str, dict[str, float]] = {}
    cache = not args.no_cache
    if not args.no_sqlite:
        rows += bench(
            None, args.identities, args.events, args.requests, figures, cache, args.sql, args.only
        )
    if args.postgres:
        rows += bench(
            args.postgres,
            args.identities,
            args.events,
            args.requests,
            figures,
            cache,
            args.sql,
            args.only,
        )
    print(json.dumps(figures))
    print_table(rows)


if __name__ == "__main__":
    main()
