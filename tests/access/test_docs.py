"""docs/policy.md's main example runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

DOC = Path(__file__).parents[2] / "docs" / "policy.md"


def test_policy_doc_example(cli: Any, installed: Any, make_identity: Any, tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    cedar = re.search(r"```cedar[^\n]*\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    (tmp_path / "agents.cedar").write_text(cedar)
    console = re.search(r"```console\n(\$ limen policy validate agents.cedar.*?)```", text, re.S)
    assert console is not None
    make_identity("alice")
    make_identity("alice-bot", kind="agent", owner="alice")

    lines = console.group(1).splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("$ limen "):
            continue
        args = [
            str(tmp_path / a) if a.endswith(".cedar") else a
            for a in shlex.split(line[len("$ limen ") :])
        ]
        expected = lines[index + 1]
        result = cli(*args)
        assert result.exit_code in (0, 1), result.stderr
        prefix = expected.split("(…)")[0].strip()
        assert result.stdout.strip().startswith(prefix), (line, result.stdout)
