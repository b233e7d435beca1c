"""Every script in ``benchmarks/`` still runs: CI never measures, so without this a changed
API breaks a script and nobody notices until a figure is needed.

Each script runs as a user runs it (a subprocess, its own ``limen server`` where it starts
one) at its smallest sensible size, on SQLite; the two that need two nodes on one
PostgreSQL run only when ``LIMEN_TEST_POSTGRES_URL`` names one. A run passes when the
script exits 0 and prints its result table. Nothing here reads a figure: timings on a
shared CI machine mean nothing, and ``benchmarks/compare.py`` is where they are read.

The longer runs are marked ``slow`` and left out of the default run (``addopts`` in
``pyproject.toml``), which keeps CI well under its 20 minutes on 2 cores; run them with
``python -m pytest -m slow tests/test_benchmarks_run.py`` before reading a benchmark.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ENV

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
# A script starts servers and Python processes: on a loaded machine that takes a while.
# The subprocess's limit is below pytest's, so a hung script fails with its output.
TIMEOUT = 280
pytestmark = pytest.mark.timeout(300)

slow = pytest.mark.slow
# The table every script built on ``benchmarks/_table.print_table`` ends with.
TABLE_END = "machine load average (1 min) at the end of the run"

# (script, its smallest sensible arguments, lines of its result table). The lines are rows
# or headers a script prints only once it has measured everything; no figure is read.
SQLITE_RUNS = [
    pytest.param(
        "audit.py",
        "--events 200 --batch 50 --writers 2",
        ["append + chain, 1 writer", "append + chain, 2 writer processes"],
        id="audit",
    ),
    pytest.param(
        "console.py",
        "--identities 100 --events 300 --requests 1 --sql /dev/null",
        ["SQLite: identities, next 50 (keyset)", "SQLite: overview, SQL", TABLE_END],
        id="console",
        marks=slow,
    ),
    pytest.param(
        "vault_read.py",
        "--requests 100 --connections 2 --items 3 --in-process 50",
        ["in-proc p50", '{"sqlite": {'],
        id="vault_read",
    ),
    pytest.param(
        "scan.py",
        "--sizes 0 --tools limen --repeat 1",
        ["limen scan of one file, median", TABLE_END],
        id="scan",
    ),
    pytest.param(
        "access_review.py",
        "--identities 20 --policies 2 --events 200 --lookups 5 --users 5",
        ["access review, 20 identities", "SCIM GET /Users?filter=userName eq (5 users), p50"],
        id="access_review",
    ),
    pytest.param(
        "detect.py",
        "--scale 0.1 --skip-cost",
        ["ratio to naive", "targets: ap"],
        id="detect",
        marks=slow,
    ),
    pytest.param(
        "containment.py",
        "--runs 3",
        ["SQLite, one node", "floor: GET /health, SQLite"],
        id="containment",
        marks=slow,
    ),
    pytest.param(
        "respond.py",
        "--runs 2",
        ["| SQLite | alert |", "| SQLite | suspension |"],
        id="respond",
        marks=slow,
    ),
    pytest.param(
        "pdp.py",
        "--decisions 200 --seconds 0.5 --connections 2",
        ["HTTP decisions/s, batch of 100 (SQLite)", TABLE_END],
        id="pdp",
        marks=slow,
    ),
    pytest.param(
        "tokens.py",
        "--grants 50 --seconds 0.5 --connections 2",
        ["client_credentials grants/s, HTTP, 1 worker (SQLite)", TABLE_END],
        id="tokens",
        marks=slow,
    ),
    pytest.param(
        "startup.py",
        "--runs 1",
        ["limen --version, median", "limen read limen://…, median", TABLE_END],
        id="startup",
        marks=slow,
    ),
    pytest.param(
        "compare.py",
        f"--baseline {ROOT} --rounds 1 audit.py -- --events 100 --writers 1",
        ["this/baseline", "append, no chain (peer)"],
        id="compare",
        marks=slow,
    ),
]

# The two that need two nodes on one PostgreSQL, each at one short scenario.
POSTGRES_RUNS = [
    pytest.param(
        "faults.py",
        "--rounds 0 --kills 0 --outages 1 --silent 0",
        ["database refuses 1 s", "targets: window"],
        id="faults",
    ),
    pytest.param(
        "soak.py",
        "--minutes 0.1 --kill-every 3 --clients 1",
        ["RSS A MiB", "(load average"],
        id="soak",
    ),
]


def test_every_benchmark_script_is_run_here() -> None:
    """A new script in ``benchmarks/`` gets a line above (``_*.py`` are their helpers)."""
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    listed = {param.values[0] for param in SQLITE_RUNS + POSTGRES_RUNS}
    assert scripts == listed


@pytest.mark.parametrize(("script", "args", "table"), SQLITE_RUNS)
def test_a_benchmark_runs_on_sqlite_and_prints_its_table(
    script: str, args: str, table: list[str]
) -> None:
    printed = _run(script, shlex.split(args), _environment())
    for line in table:
        assert line in printed, f"{script} printed no {line!r}:\n{printed}"


@slow
@pytest.mark.postgres
@pytest.mark.parametrize(("script", "args", "table"), POSTGRES_RUNS)
def test_a_two_node_benchmark_runs_on_postgresql_and_prints_its_table(
    script: str, args: str, table: list[str]
) -> None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"two nodes need one PostgreSQL: set {POSTGRES_ENV}")
    printed = _run(script, [*shlex.split(args), "--postgres", url], _environment())
    for line in table:
        assert line in printed, f"{script} printed no {line!r}:\n{printed}"


def _environment(**extra: str) -> dict[str, str]:
    """The test process's environment without ``LIMEN_*``: several scripts take
    ``LIMEN_TEST_POSTGRES_URL`` as their default PostgreSQL, and the SQLite runs must not
    reach for it; the scripts find Limen on the path the test runs with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env.update(extra)
    return env


def _run(script: str, args: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            [sys.executable, str(BENCHMARKS / script), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{script} did not finish in {TIMEOUT} s:\n{_text(exc.stdout)}\n{_text(exc.stderr)}"
        )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
