"""The README's first session runs as written, as a new user would paste it, and its table
of settings names every setting."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under {heading}"
    return match.group(1)


@pytest.mark.skipif(shutil.which("limen") is None, reason="the limen command is not installed")
def test_first_session_runs_as_written(tmp_path: Path) -> None:
    script = _block_after("## A first session")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    init = json.loads(done.stdout[: done.stdout.index("}") + 1])
    assert init["admin_token"].startswith("limen_")
    assert (tmp_path / "limen-data" / "limen.db").exists()
    assert "deploy-bot" in done.stdout
    assert "identity.suspend" in done.stdout
    assert init["account_id"] in done.stdout  # limen info --json at the end


def test_every_setting_is_in_the_readme_table() -> None:
    from limen.config import Settings

    table = README.read_text(encoding="utf-8").split("| variable | default | meaning |", 1)[1]
    missing = [name for name in Settings.model_fields if f"| `LIMEN_{name.upper()}` |" not in table]
    assert missing == []
