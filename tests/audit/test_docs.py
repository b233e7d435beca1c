"""docs/audit.md: the collector example runs as written against a live server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from limen.config import Settings
from limen.installation import InitResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def _example(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- example:{name} -->\s*```bash\n(.*?)```\s*<!-- /example -->", text, re.DOTALL
    )
    assert match, f"docs/audit.md has no example {name!r}"
    return match.group(1)


def test_the_collector_example(
    backend: str, settings: Settings, installed: InitResult, live_server: Any, tmp_path: Path
) -> None:
    if backend == "postgres":
        pytest.skip("the documented commands run on SQLite; the tests beside this one cover both")
    env = {
        "PATH": os.environ["PATH"],
        "LIMEN_DATA_DIR": str(settings.data_dir),
        "LIMEN_URL": live_server.url,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _example("collector")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == '["auditevents","itemusages","signinattempts"]'
    actions = [line.split("\t")[1] for line in lines if line.count("\t") == 2]
    assert actions[:3] == ["identity.create", "token.issue", "installation.create"]
    assert len(actions) == len([a for a in actions if a]) >= 5
    assert any(line.startswith("ok: ") for line in lines)
    assert (tmp_path / "cursor.txt").read_text().strip()
    assert list((tmp_path / "checkpoints").glob("checkpoint-*.json"))
    exported = [json.loads(line) for line in (tmp_path / "identity-events.jsonl").open()]
    assert {e["action"] for e in exported} == {"identity.create"}
    assert "limen_" not in result.stdout + result.stderr  # the token stays in $TOKEN
