"""Masking secret values in a stream of bytes (``limen run``'s output).

Values can arrive split across reads, so the masker holds back just enough bytes to
be sure no secret straddles the boundary: after every complete match is replaced, any
match still to come must start within the last ``longest - 1`` bytes.
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
        out = []
        position = 0
        for match in self._pattern.finditer(self._buffer):
            out.append(self._buffer[position : match.start()])
            out.append(self._mask)
            position = match.end()
        rest = self._buffer[position:]
        cut = max(0, len(rest) - self._hold)
        out.append(rest[:cut])
        self._buffer = rest[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        """Whatever is held back, once the stream has ended (it cannot hold a whole secret)."""
        rest, self._buffer = self._buffer, b""
        return rest
