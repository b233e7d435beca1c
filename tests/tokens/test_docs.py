"""docs/tokens.md's Python example runs as written against a real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).parents[2] / "docs" / "tokens.md"


def test_tokens_doc_example(
    live_server: Any,
    make_identity: Any,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = re.search(r"```python[^\n]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert code is not None
    make_identity("deploy-bot", kind="service")
    c = make_client("deploy-bot", ["secrets:read", "tools:call"])
    monkeypatch.setenv("LIMEN_URL", live_server.url)
    monkeypatch.setenv("CLIENT_ID", c.client_id)
    monkeypatch.setenv("CLIENT_SECRET", c.secret)
    exec(compile(code.group(1), str(DOC), "exec"), {})  # noqa: S102 - our own doc's example
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("eyJ") and out[0].endswith("300 tools:call")
    assert out[1] == live_server.url
