"""What every benchmark needs around Limen: a `limen server` process, its CPU time, percentiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from limen.testing import server_process


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux ``/proc``), or ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def limen_server(
    data_dir: Path, database_url: str | None = None, *, start_timeout: float = 60.0, **settings: str
) -> Iterator[tuple[str, int]]:
    """``limen server`` (one uvicorn worker, log level warning) on a free loopback port.

    Yields its base URL and process id once ``/health`` answers 200. The caller's own
    ``LIMEN_*`` variables are not passed on, so only the given data and database count,
    and ``settings`` (``vault_reuse_seconds="0"`` is ``LIMEN_VAULT_REUSE_SECONDS=0``).
    A server that does not start raises :class:`RuntimeError` with what it printed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    env.update(LIMEN_DATA_DIR=str(data_dir), LIMEN_LOG_LEVEL="warning")
    if database_url:
        env["LIMEN_DATABASE_URL"] = database_url
    env.update({f"LIMEN_{name.upper()}": value for name, value in settings.items()})
    output = data_dir / "server.out"
    with server_process(env, output=output, start_timeout=start_timeout) as (base, process):
        yield base, process.pid
