"""``limen scan --fix`` against a real installation: the secret lands in the vault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_fix_moves_secret_into_vault_and_read_returns_it(
    cli: Any, settings: Any, tmp_path: Path, secret
) -> None:
    assert cli("init", "--json").exit_code == 0
    project = tmp_path / "project"
    project.mkdir()
    token = secret("ghp_$[github-token]")
    env = project / ".env"
    env.write_text(f"GITHUB_TOKEN={token}\nDEBUG=1\n")
    (project / "app.py").write_text(secret("STRIPE = 'sk_live_$[base62:30]'\n"))

    dry = cli("scan", str(project), "--fix", "--dry-run", "-q")
    assert dry.exit_code == 1
    assert "limen://discovered/" in dry.stderr and token not in dry.stderr
    assert env.read_text().startswith(f"GITHUB_TOKEN={token}")

    done = cli("scan", str(project), "--fix", "--yes", "-q", "--vault", "found")
    assert done.exit_code == 1  # app.py cannot be rewritten, so a finding remains
    assert "not a rewritable config file" in done.stderr
    reference = env.read_text().splitlines()[0].split("=", 1)[1]
    assert reference.startswith("limen://found/github-pat-classic-")
    assert (project / ".env.limen-bak").read_text().startswith(f"GITHUB_TOKEN={token}")

    read = cli("read", reference)
    assert read.exit_code == 0, read.stderr
    assert read.stdout.strip() == token

    again = cli("scan", str(env), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["findings"] == []


def test_fix_is_interactive_without_yes(cli: Any, tmp_path: Path, secret) -> None:
    assert cli("init", "--json").exit_code == 0
    env = tmp_path / ".env"
    original = secret("TOKEN=glpat-$[base62:20]\n")
    env.write_text(original)
    declined = cli("scan", str(env), "--fix", "-q", input="n\n")
    assert declined.exit_code == 1 and env.read_text() == original
    accepted = cli("scan", str(env), "--fix", "-q", input="y\n")
    assert accepted.exit_code == 0 and "limen://discovered/" in env.read_text()
