"""Masking secret values in a stream of bytes (``limen run``'s output).

Values can arrive split across reads, so the masker holds back the last ``longest - 1``
bytes: a secret that starts there may not have arrived whole yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["MASK", "Masker"]

MASK: Final = b"<concealed by limen>"


class Masker:
    def __init__(self, secrets: Iterable[str], *, mask: bytes = MASK) -> None:
        values = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile(b"|".join(re.escape(v) for v in values)) if values else None
        self._hold = max((len(v) for v in values), default=1) - 1
        self._mask = mask
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        """Masked bytes that are safe to emit now."""
        if self._pattern is None:
            return data
        self._buffer += data
        return self._drain(len(self._buffer) - self._hold)

    def flush(self) -> bytes:
        """Everything still held, masked, once the stream has ended."""
        if self._pattern is None:
            rest, self._buffer = self._buffer, b""
            return rest
        return self._drain(len(self._buffer))

    def _drain(self, safe: int) -> bytes:
        # Only a match starting before ``safe`` is final: one starting later might be the
        # beginning of a longer secret whose end has not arrived yet. Every match that
        # starts before ``safe`` lies wholly inside the buffer, so the result is the same
        # as masking the whole stream at once, however it was split.
        assert self._pattern is not None
        buffer = self._buffer
        out = []
        position = 0
        for match in self._pattern.finditer(buffer):
            if match.start() >= safe:
                break
            out.append(buffer[position : match.start()])
            out.append(self._mask)
            position = match.end()
        emit = max(position, safe)
        out.append(buffer[position:emit])
        self._buffer = buffer[emit:]
        return b"".join(out)
