"""Fixtures for discovery tests: one compiled engine, secrets made at test time, real repos.

No secret in these tests is committed as a literal: every credential comes from a rule
example template expanded with a seeded random generator, so runs are repeatable and
the repository trips no scanner or push protection.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random

import pytest
import typer
from typer.testing import CliRunner

from limen.cli import scan as scan_command
from limen.discovery import Engine, Rule, expand_example, load_rules


@pytest.fixture(scope="session")
def rules() -> list[Rule]:
    return load_rules()


@pytest.fixture(scope="session")
def engine(rules: list[Rule]) -> Engine:
    return Engine(rules)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the compiled-rules cache out of the developer's home directory."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> Random:
    # Seeded per test: repeatable, yet each test gets different secrets.
    return Random(request.node.nodeid)


@pytest.fixture
def secret(rng: Random) -> Callable[[str], str]:
    """Expand a template such as ``ghp_$[github-token]`` into a fresh credential."""
    return lambda template: expand_example(template, rng)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "limen-data"
    monkeypatch.setenv("LIMEN_DATA_DIR", str(path))
    return path


class Cli:
    """``limen scan`` on a Typer app of its own, so tests do not depend on cli/main.py."""

    def __init__(self) -> None:
        self.app = typer.Typer()

        @self.app.callback()
        def root() -> None:
            """Test root."""

        scan_command.register(self.app)
        self.runner = CliRunner()

    def __call__(self, *args: str | Path) -> tuple[int, str, str]:
        result = self.runner.invoke(self.app, ["scan", *map(str, args)], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def scan_cli(data_dir: Path) -> Cli:
    return Cli()


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada Lovelace",
        "GIT_COMMITTER_EMAIL": "ada@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
        **(env or {}),
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=full_env, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path
