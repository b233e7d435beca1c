"""Run one benchmark on two versions of Limen in the same run, alternated, and print ratios.

    python benchmarks/compare.py --baseline ../limen-old pdp.py -- --decisions 5000
    python benchmarks/compare.py --baseline ../limen-old --rounds 3 vault_read.py

``--baseline`` is another checkout of Limen (``git worktree add ../limen-old <commit>``).
Each round runs the benchmark script of each checkout once, in turn (baseline first on
odd rounds, this checkout first on even ones), each with its own ``src`` first on the
Python path, so the script and the server processes it starts run that version's code.
Every figure both versions print (the rows of their result tables) is reported as the
median over the rounds, with the ratio this/baseline. On a shared machine the absolute
figures move with the load; the ratio of runs alternated within one run is what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ROW = re.compile(r"^(?P<figure>\S.*?\S)\s{2,}(?P<measured>[\d,.]+)(?: (?P<unit>[a-zµ/%]+))?\b")
_NUMBER = re.compile(r"[\d,]+(?:\.\d+)?")


def _run(checkout: Path, script: str, args: list[str]) -> dict[str, tuple[float, str]]:
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    done = subprocess.run(
        [sys.executable, str(checkout / "benchmarks" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {script} failed:\n{done.stdout}\n{done.stderr}")
    figures: dict[str, tuple[float, str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            figures.update(_json_figures(line))
            continue
        match = _ROW.match(line.strip())
        if match and not line.startswith("figure"):
            number = _NUMBER.match(match.group("measured"))
            if number:
                value = float(number.group().replace(",", ""))
                figures[match.group("figure")] = (value, match.group("unit") or "")
    return figures


def _json_figures(line: str) -> dict[str, tuple[float, str]]:
    """A benchmark whose table has several figures per row (``vault_read.py``) also prints
    them as one JSON object, ``{row: {figure: number}}``: each becomes "row figure"."""
    try:
        document = json.loads(line)
    except ValueError:
        return {}
    figures = {}
    for row, values in document.items() if isinstance(document, dict) else ():
        for figure, value in values.items() if isinstance(values, dict) else ():
            if isinstance(value, (int, float)):
                figures[f"{row} {figure}"] = (float(value), "")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", help="a script in benchmarks/, e.g. pdp.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="after --: the script's own")
    options = parser.parse_args()
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    this = HERE.parent
    runs: dict[str, dict[str, list[float]]] = {"baseline": {}, "this": {}}
    units: dict[str, str] = {}
    for round_ in range(options.rounds):
        order = [("baseline", options.baseline), ("this", this)]
        if round_ % 2:
            order.reverse()
        for name, checkout in order:
            print(f"round {round_ + 1}/{options.rounds}: {name}", file=sys.stderr)
            for figure, (value, unit) in _run(checkout, options.script, args).items():
                runs[name].setdefault(figure, []).append(value)
                units.setdefault(figure, unit)
    shared = [f for f in runs["this"] if f in runs["baseline"]]
    width = max((len(f) for f in shared), default=10)
    print(f"{'figure':<{width}}  {'baseline':>12}  {'this':>12}  {'this/baseline':>13}")
    for figure in shared:
        old = statistics.median(runs["baseline"][figure])
        new = statistics.median(runs["this"][figure])
        ratio = f"{new / old:.2f}" if old else "n/a"
        unit = units[figure]
        print(f"{figure:<{width}}  {old:>10.4g} {unit:<2}{new:>10.4g} {unit:<2}{ratio:>12}")
    only = sorted(set(runs["this"]) ^ set(runs["baseline"]))
    if only:
        print("\nfigures only one version prints: " + "; ".join(only))


if __name__ == "__main__":
    main()
