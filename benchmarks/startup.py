"""Start-up benchmark: how long a whole ``limen`` command takes, against the peers.

Runs each command as a user would (a fresh process every time) in one interleaved loop,
so a burst of load on a shared machine hits every command alike, and prints the median
and the ratio to the targets and to the peers' one-file scans:

- ``limen --version``                          target ≤ 100 ms
- ``limen scan`` of a one-file folder          target ≤ 200 ms (Betterleaks, Kingfisher alongside)
- ``limen scan --staged`` with one staged file target ≤ 200 ms
- ``limen read limen://…``                     target ≤ 250 ms
- ``limen run -- true`` with one reference in its environment (measured alongside)

Each command's CPU time (user + system, from the child's resource usage) is printed too:
on a loaded machine it moves far less than the wall-clock time, so it is the figure to
compare between versions (``benchmarks/compare.py --baseline … startup.py``).

The compiled rule database is cached on disk (keyed by the rule set's digest) after the
first run, as it is for a user; one warm-up run of each command fills the caches.

Usage::

    python benchmarks/startup.py            # median of 10 runs
    python benchmarks/startup.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _table import print_table

TARGETS = {"limen --version": 0.100, "limen scan (one file)": 0.200, "limen scan --staged": 0.200}
READ_TARGET = 0.250


def compile_limen() -> None:
    """Write Limen's bytecode, as ``pip install`` does; an editable install may lack it.

    (With PYTHONDONTWRITEBYTECODE set, as on the development machines, every run would
    otherwise compile Limen's modules from source: about 30 ms of each start-up.)
    """
    import limen

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(limen.__file__).parent)],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _limen() -> list[str]:
    found = shutil.which("limen", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "limen.cli.main"]


def _prepare(work: Path, env: dict[str, str]) -> tuple[Path, Path, str]:
    folder = work / "one-file"
    folder.mkdir()
    (folder / "app.py").write_text("def main():\n    print('hello')\n")
    repo = work / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    (repo / "settings.py").write_text("DEBUG = True\n")
    subprocess.run([*git, "add", "settings.py"], check=True)
    limen = _limen()
    subprocess.run([*limen, "init", "--json"], env=env, check=True, capture_output=True)
    subprocess.run([*limen, "vault", "create", "bench"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*limen, "item", "create", "--vault", "bench", "--title", "db", "password=hunter22-x"],
        env=env,
        check=True,
        capture_output=True,
    )
    return folder, repo, "limen://bench/db/password"


def _time(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall-clock seconds, CPU seconds (user + system) and exit code of one run."""
    start = time.perf_counter()
    child = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    compile_limen()
    work = Path(tempfile.mkdtemp(prefix="limen-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    env.update(LIMEN_DATA_DIR=str(work / "data"), XDG_CACHE_HOME=str(work / "cache"))
    try:
        folder, repo, reference = _prepare(work, env)
        env["BENCH_PASSWORD"] = reference  # what limen run resolves for its child
        limen = _limen()
        commands: dict[str, tuple[list[str], Path]] = {
            "limen --version": ([*limen, "--version"], work),
            "limen scan (one file)": ([*limen, "scan", str(folder), "-q"], work),
            "limen scan --staged": ([*limen, "scan", "--staged", "-q"], repo),
            "limen read limen://…": ([*limen, "read", reference], work),
            "limen run (one reference)": ([*limen, "run", "--", "true"], work),
        }
        peers = {
            "betterleaks (one file)": (
                ["betterleaks", "fs", str(folder), "--no-banner", "-l", "error"],
                work,
            ),
            "kingfisher (one file)": (
                ["kingfisher", "scan", str(folder), "-q", "--no-validate", "--no-update-check"],
                work,
            ),
        }
        for name, (cmd, _) in list(peers.items()):
            if shutil.which(cmd[0]) is None:
                print(f"{name}: not installed (pip install -e '.[bench]'), left out")
                del peers[name]
        everything = {**commands, **peers}
        samples: dict[str, list[float]] = {name: [] for name in everything}
        cpu: dict[str, list[float]] = {name: [] for name in everything}
        failures: dict[str, int] = {}
        for name, (cmd, cwd) in everything.items():  # warm-up: caches, page cache
            _, _, code = _time(cmd, env, cwd)
            if name.startswith("kingfisher") and code == 2:
                cmd.remove("--no-update-check")  # older Kingfisher releases lack the flag
        for _ in range(args.runs):
            for name, (cmd, cwd) in everything.items():
                seconds, cpu_seconds, code = _time(cmd, env, cwd)
                samples[name].append(seconds)
                cpu[name].append(cpu_seconds)
                if code not in (0, 1):
                    failures[name] = code
        medians = {name: statistics.median(values) for name, values in samples.items()}
        cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
        print(f"\nmedian of {args.runs} runs, interleaved (wall clock, CPU)")
        for name, value in medians.items():
            extra = f"  (exit {failures[name]})" if name in failures else ""
            print(f"  {name:<26}{value * 1000:8.0f} ms{cpu_medians[name] * 1000:8.0f} ms{extra}")
        rows = []
        for name, target in TARGETS.items():
            rows.append(
                (f"{name}, median", f"{medians[name] * 1000:.0f} ms", f"≤ {target * 1000:.0f} ms")
            )
        rows.append(
            (
                "limen read limen://…, median",
                f"{medians['limen read limen://…'] * 1000:.0f} ms",
                f"≤ {READ_TARGET * 1000:.0f} ms",
            )
        )
        for name in commands:
            rows.append((f"{name}, CPU median", f"{cpu_medians[name] * 1000:.0f} ms", ""))
        scan = medians["limen scan (one file)"]
        for name in peers:
            rows.append((f"{name} / limen scan (one file)", f"{medians[name] / scan:.2f}x", ""))
        print_table(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
