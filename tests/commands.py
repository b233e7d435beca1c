"""Run one ``limen`` command in a fresh interpreter and see which modules it loaded: how
the start-up tests show that a command loads only what it uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_RUNNER = """\
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["limen", *argv]
from limen.cli.main import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


@dataclass(frozen=True)
class Loaded:
    code: object
    """The command's exit code."""
    tops: set[str]
    """The top-level packages it loaded (``sqlalchemy`` for ``sqlalchemy.orm``)."""
    stdout: str
    stderr: str


def run_and_list_modules(tmp_path: Path, *argv: str, env: dict[str, str]) -> Loaded:
    """Run ``limen *argv`` with ``env`` added to this process's environment."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(out), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )
    assert out.exists(), done.stderr
    report = json.loads(out.read_text())
    tops = {name.split(".")[0] for name in report["modules"]}
    return Loaded(report["code"], tops, done.stdout, done.stderr)
