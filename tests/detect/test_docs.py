"""docs/detect.md: the backtest example runs as written on a real data dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from limen.config import Settings
from limen.detect.simulation import ATTACK_KINDS
from limen.installation import InitResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "detect.md"


def _example(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- example:{name} -->\s*```bash\n(.*?)```\s*<!-- /example -->", text, re.DOTALL
    )
    assert match, f"docs/detect.md has no example {name!r}"
    return match.group(1)


def test_the_backtest_example(
    backend: str, settings: Settings, installed: InitResult, tmp_path: Path
) -> None:
    if backend == "postgres":
        pytest.skip("the documented commands run on SQLite; test_cli covers both")
    env = {"PATH": os.environ["PATH"], "LIMEN_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _example("backtest")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "wrote" in lines[0] and "registered 63 identities" in result.stdout
    kinds = lines[-len(ATTACK_KINDS) :]
    assert sorted(kinds) == sorted(ATTACK_KINDS)
    strongest = json.loads(lines[-len(ATTACK_KINDS) - 1])
    assert strongest["severity"] in ("high", "critical") and strongest["reasons"]
    assert int(lines[-len(ATTACK_KINDS) - 2]) > 0
