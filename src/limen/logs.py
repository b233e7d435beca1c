"""The server's log lines: one per event, with time, level and logger; JSON if asked.

``LIMEN_LOG_FORMAT=text`` (the default) prints
``2026-12-06T07:41:03.512Z WARNING limen.store.broadcast: lost the change feed …``;
``json`` prints one JSON object per line (``time``, ``level``, ``logger``, ``message``,
and ``error`` for an exception) for a log shipper. A traceback is added only at
``LIMEN_LOG_LEVEL=debug``: an operator in an incident reads one line per failure, with
its error, not a page of frames for every retry.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final, Literal

__all__ = ["LogFormat", "configure_logging"]

LogFormat = Literal["text", "json"]

# uvicorn's loggers, so that its lines (startup, access log) look like ours.
_UVICORN: Final = ("uvicorn", "uvicorn.error", "uvicorn.access")


class _Formatter(logging.Formatter):
    def __init__(self, style: LogFormat, *, tracebacks: bool) -> None:
        super().__init__()
        self._json = style == "json"
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        stamp = f"{moment}.{int(record.msecs):03d}Z"
        message = record.getMessage()
        error = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            error = f"{type(exc).__name__}: {_first_line(exc)}"
        if self._json:
            document: dict[str, Any] = {
                "time": stamp,
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if error:
                document["error"] = error
                if self._tracebacks:
                    document["traceback"] = self.formatException(record.exc_info)
            return json.dumps(document, ensure_ascii=False)
        line = f"{stamp} {record.levelname} {record.name}: {message}"
        if error and error not in message:
            line += f" ({error})"
        if error and self._tracebacks:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def configure_logging(level: str = "info", style: LogFormat = "text") -> None:
    """Send every log line (Limen's and uvicorn's) to stderr in one format."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(style, tracebacks=numeric <= logging.DEBUG))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
