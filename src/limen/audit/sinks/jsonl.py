"""JSON Lines file sink: one event per line, appended and flushed to disk per batch."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from limen.audit.sinks.base import SinkFailure

__all__ = ["JsonLinesSink"]


class JsonLinesSink:
    def __init__(self, path: Path) -> None:
        self._path = path

    def deliver(self, events: Sequence[dict[str, Any]]) -> None:
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                # Acknowledged means durable: the position only advances after fsync.
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise SinkFailure(f"cannot append to {self._path}: {exc.strerror}") from None
