"""The figures-versus-targets table the benchmarks print at the end of a run."""

from __future__ import annotations

import os
from collections.abc import Sequence

Row = tuple[str, str, str]
"""``(figure, measured, target)``; a target may be empty, or name a reference line."""


def load_row() -> Row:
    """The machine's 1-minute load average: on a shared machine, read every figure with it."""
    return (
        "machine load average (1 min) at the end of the run",
        f"{os.getloadavg()[0]:.1f}",
        f"{os.cpu_count()} cores",
    )


def print_table(rows: Sequence[Row]) -> None:
    rows = [*rows, load_row()]
    width = max(len(r[0]) for r in rows)
    measured = max(len("measured"), *(len(r[1]) for r in rows))
    print(f"\n{'figure'.ljust(width)}  {'measured'.rjust(measured)}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value.rjust(measured)}  {target}")
