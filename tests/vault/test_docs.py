"""docs/vault.md: the quickstart and the Python example run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from limen.config import Settings
from limen.installation import InitResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "vault.md"


def _example(name: str, language: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- example:{name} -->\s*```{language}[^\n]*\n(.*?)```\s*<!-- /example -->",
        text,
        re.DOTALL,
    )
    assert match, f"docs/vault.md has no example {name!r}"
    return match.group(1)


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "LIMEN_DATA_DIR": str(settings.data_dir), **extra}
    if settings.database_url:
        env["LIMEN_DATABASE_URL"] = settings.database_url
    return env


def test_the_quickstart_and_the_python_example(
    backend: str, settings: Settings, installed: InitResult, live_server: Any, tmp_path: Path
) -> None:
    if backend == "postgres":
        # Eight `limen` processes cost seconds each; the commands are the same on both
        # backends, and tests/vault/test_cli.py runs each of them on PostgreSQL.
        pytest.skip("the documented commands run on SQLite; test_cli covers PostgreSQL")
    work = tmp_path / "work"
    work.mkdir()
    quickstart = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _example("quickstart", "bash")],
        cwd=work,
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert quickstart.returncode == 0, quickstart.stderr
    out = quickstart.stdout
    assert "sk_live_51Hexample\n" in out  # limen read
    assert "deploying with <concealed by limen>" in out  # limen run masks
    assert out.count("sk_live_51Hexample") == 1
    rendered = (work / "config.yml").read_text()
    assert rendered == "stripe:\n  key: sk_live_51Hexample\n"
    token = out.strip().splitlines()[-1]
    assert token.startswith("limen_")

    python = subprocess.run(
        [sys.executable, "-c", _example("python", "python")],
        env=_environment(settings, OP_CONNECT_HOST=live_server.url, OP_CONNECT_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert python.returncode == 0, python.stderr
    assert python.stdout.splitlines() == ["sk_live_51Hexample", "{'host': 'api.stripe.com'}"]
