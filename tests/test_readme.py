"""The README's table of settings names every setting. (tests/test_docs.py runs the README
and the docs as one story.)"""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    from limen.config import Settings

    table = README.read_text(encoding="utf-8").split("| variable | default | meaning |", 1)[1]
    missing = [name for name in Settings.model_fields if f"| `LIMEN_{name.upper()}` |" not in table]
    assert missing == []
