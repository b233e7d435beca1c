"""``limen scan --fix`` against a real installation: the project still runs, nothing secret
stays on disk, and ``--undo-fix`` puts every file back from the vault."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# Prints digests, never the values: a test's output must not show a secret either.
APP = """\
import hashlib, os, sys, yaml
config = yaml.safe_load(open("config.yaml"))
for value in (os.environ["GITHUB_TOKEN"], config["stripe"]["key"], os.environ["DEBUG"]):
    print(hashlib.sha256(value.encode()).hexdigest()[:16])
"""


def _project(root: Path, secret: Any) -> tuple[dict[str, str], list[str]]:
    root.mkdir()
    github = secret("ghp_$[github-token]")
    stripe = secret("sk_live_$[base62:30]")
    files = {
        ".env": f"GITHUB_TOKEN={github}\nDEBUG=1\n",
        "config.yaml": f"stripe:\n  key: {stripe}  # billing\n  mode: live\n",
        "app.py": APP,
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return files, [github, stripe]


def _on_disk(root: Path, values: list[str]) -> list[str]:
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and any(v.encode() in p.read_bytes() for v in values)
    ]


def test_fixed_project_runs_as_before_and_undo_restores_it(
    cli: Any, settings: Any, tmp_path: Path, secret: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init", "--json").exit_code == 0
    project = tmp_path / "project"
    files, values = _project(project, secret)
    monkeypatch.chdir(project)
    run_app = ("run", "--env-file", ".env", "--", sys.executable, "app.py")
    before = cli(*run_app)
    assert before.exit_code == 0, before.stderr
    assert len(before.stdout.split()) == 3

    dry = cli("scan", ".", "--fix", "--dry-run", "-q")
    assert dry.exit_code == 1
    assert "limen://discovered/" in dry.stderr and "config.yaml.tpl" in dry.stderr
    assert all(v not in dry.stderr for v in values)
    assert (project / ".env").read_text() == files[".env"]

    done = cli("scan", ".", "--fix", "--yes", "-q")
    assert done.exit_code == 0, done.stderr
    assert "limen run --env-file" in done.stderr and "limen inject -i" in done.stderr
    # Nothing secret is left in the project or in Limen's record of the fix.
    assert _on_disk(project, values) == []
    assert _on_disk(settings.data_dir / "scan-fixes", values) == []
    assert not (project / "config.yaml").exists()
    assert "/config.yaml" in (project / ".gitignore").read_text().splitlines()
    assert cli("scan", ".", "-q").exit_code == 0

    # The project runs as before: references resolve for `run`, the template for `inject`.
    rendered = cli("inject", "-i", "config.yaml.tpl", "-o", "config.yaml")
    assert rendered.exit_code == 0, rendered.stderr
    after = cli(*run_app)
    assert after.exit_code == 0, after.stderr
    assert after.stdout == before.stdout
    assert (project / "config.yaml").read_text() == files["config.yaml"]
    assert cli("scan", ".", "-q").exit_code == 0  # the rendered copy is git-ignored

    undone = cli("scan", "--undo-fix", "--json")
    assert undone.exit_code == 0, undone.stderr
    assert sorted(Path(p).name for p in json.loads(undone.stdout)["restored"]) == [
        ".env",
        "config.yaml",
    ]
    assert {p.name: p.read_text() for p in project.iterdir()} == files
    nothing = cli("scan", "--undo-fix")
    assert nothing.exit_code == 2 and "no fix to undo" in nothing.stderr


def test_fix_without_a_terminal_asks_for_yes(cli: Any, tmp_path: Path, secret: Any) -> None:
    assert cli("init", "--json").exit_code == 0
    env = tmp_path / ".env"
    original = secret("TOKEN=glpat-$[base62:20]\n")
    env.write_text(original)
    refused = cli("scan", str(env), "--fix", "-q")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("limen: ") and "pass --yes" in refused.stderr
    assert env.read_text() == original


def _interact(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run ``limen`` on a pseudo-terminal, answer its question, return (exit code, screen)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [shutil.which("limen") or "limen", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    screen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(primary, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(primary)
    return code, screen.decode("utf-8", "replace")


@pytest.mark.skipif(shutil.which("limen") is None, reason="the limen command is not installed")
def test_fix_asks_per_file_on_a_terminal(
    cli: Any, settings: Any, tmp_path: Path, secret: Any
) -> None:
    assert cli("init", "--json").exit_code == 0
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    env_vars["LIMEN_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env_vars["LIMEN_DATABASE_URL"] = settings.database_url
    env = tmp_path / ".env"
    token = secret("glpat-$[base62:20]")
    original = f"TOKEN={token}\n"
    env.write_text(original)
    code, screen = _interact(["scan", str(env), "--fix", "-q"], env_vars, "n")
    assert code == 1 and env.read_text() == original
    assert "+TOKEN=limen://discovered/" in screen and token not in screen
    code, screen = _interact(["scan", str(env), "--fix", "-q"], env_vars, "y")
    assert code == 0, screen
    assert env.read_text().startswith("TOKEN=limen://discovered/")
