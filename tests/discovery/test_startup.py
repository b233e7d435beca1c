"""Commands load only what they use: ``limen --version`` and ``limen scan`` start without
the database, migration, web or settings libraries (``benchmarks/startup.py`` times them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.commands import run_and_list_modules

HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "pydantic", "httpx")


def _loaded(tmp_path: Path, *argv: str) -> tuple[object, set[str]]:
    loaded = run_and_list_modules(
        tmp_path,
        *argv,
        env={"LIMEN_DATA_DIR": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    return loaded.code, loaded.tops


@pytest.mark.parametrize(
    "argv",
    [
        ("--version",),
        ("scan", "{folder}", "-q"),
        ("scan", "{folder}", "--json"),
        ("scan", "--staged", "{folder}", "-q"),
    ],
)
def test_fast_commands_import_no_heavy_library(tmp_path: Path, argv: tuple[str, ...]) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "app.py").write_text("print('hello')\n")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    code, tops = _loaded(tmp_path, *(a.format(folder=folder) for a in argv))
    assert code == 0
    assert sorted(tops & set(HEAVY)) == []


def test_a_command_that_needs_the_database_still_gets_it(tmp_path: Path) -> None:
    code, tops = _loaded(tmp_path, "info", "--json")
    assert code != 0  # no installation in this data directory
    assert "sqlalchemy" in tops


def test_the_scan_data_dir_default_is_the_settings_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from limen.config import Settings
    from limen.discovery import default_data_dir

    monkeypatch.delenv("LIMEN_DATA_DIR", raising=False)
    assert default_data_dir() == Settings().data_dir
    monkeypatch.setenv("LIMEN_DATA_DIR", "~/elsewhere")
    assert default_data_dir() == Settings().data_dir
