"""The --fix and fleet examples in docs/scan.md leave what they promise (the docs story test
runs every block too, in order; these check the results in detail)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "scan.md"

pytestmark = pytest.mark.skipif(
    shutil.which("limen") is None, reason="the limen command is not installed"
)


def block(path: Path, heading: str, index: int = 0) -> str:
    """The ``index``-th bash block under ``heading`` (up to the next heading of its level)."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    section = text.split(heading + "\n", 1)[1]
    section = re.split(rf"\n{level} ", section, maxsplit=1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return blocks[index]


def run(script: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No -e: the examples include commands that exit 1 on purpose (findings); what counts
    # is what they leave behind, checked by each test.
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    home = tmp_path / "home"
    (home / "src").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        LIMEN_DATA_DIR=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    env.update(extra)
    return env


def test_the_fix_example_runs_and_undoes(tmp_path: Path) -> None:
    done = run(
        block(DOCS, "## `--fix`: move secrets into the vault, keep the project running"),
        cwd=tmp_path,
        env=environment(tmp_path),
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "token resolved" in done.stdout
    assert "nothing left to find" in done.stdout
    billing = tmp_path / "billing"
    assert sorted(p.name for p in billing.iterdir()) == [".env", "config.yaml"]
    assert re.fullmatch(r"GITLAB_TOKEN=glpat-[0-9a-f]{20}\n", (billing / ".env").read_text())
    assert "limen://" not in (billing / "config.yaml").read_text()
    assert "+GITLAB_TOKEN=limen://discovered/" in done.stderr  # the dry run's diff
    assert "-GITLAB_TOKEN=glpat-" not in done.stderr.replace("…", "")  # redacted


def test_the_fleet_example_fills_the_inventory(
    tmp_path: Path, live_server: Any, installed: Any, settings: Any, secret: Any
) -> None:
    extra = {"LIMEN_URL": live_server.url, "LIMEN_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        extra["LIMEN_DATABASE_URL"] = settings.database_url
    env = environment(tmp_path, **extra)
    (Path(env["HOME"]) / "src" / ".env").write_text(secret("GITHUB_TOKEN=ghp_$[github-token]\n"))
    done = run(block(DOCS, "## A fleet of machines"), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "laptops" in done.stdout  # `limen fleet machines` lists the fleet
    (exposure,) = json.loads((tmp_path / "exposures.json").read_text())["items"]
    assert exposure["machine"] == socket.gethostname()
    assert exposure["rule_id"] == "github-pat-classic" and exposure["status"] == "open"
