"""The server's log lines, as an operator reads them in an incident: one line per retry,
with time, level, logger and the error; JSON with ``LIMEN_LOG_FORMAT=json``; a traceback
only at debug level."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from limen.logs import configure_logging

_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def _a_retry() -> None:
    """What a background worker logs when one pass fails and it tries again."""
    try:
        raise ConnectionError("server closed the connection unexpectedly\n\tThis probably…")
    except ConnectionError:
        logging.getLogger("limen.audit.worker").warning(
            "audit worker pass failed; retrying", exc_info=True
        )


def test_a_retry_is_one_line_with_time_level_logger_and_the_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "text")
    _a_retry()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"{_STAMP} WARNING limen\.audit\.worker: audit worker pass failed; retrying "
        r"\(ConnectionError: server closed the connection unexpectedly\)",
        lines[0],
    ), lines[0]


def test_json_lines_for_a_log_collector(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", "json")
    _a_retry()
    logging.getLogger("limen.store.broadcast").info("not at warning level")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    document = json.loads(lines[0])
    assert re.fullmatch(_STAMP, document.pop("time"))
    assert document == {
        "level": "warning",
        "logger": "limen.audit.worker",
        "message": "audit worker pass failed; retrying",
        "error": "ConnectionError: server closed the connection unexpectedly",
    }


@pytest.mark.parametrize("style", ["text", "json"])
def test_tracebacks_only_at_debug_level(style: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", style)  # type: ignore[arg-type]
    _a_retry()
    assert "Traceback" not in capsys.readouterr().err
    configure_logging("debug", style)  # type: ignore[arg-type]
    _a_retry()
    assert "Traceback (most recent call last)" in capsys.readouterr().err
