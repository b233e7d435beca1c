"""Where blobs come from: files and folders, git history, staged changes, this machine.

Each source yields :class:`Blob` records and reports problems through a ``warn``
callback instead of raising, so one unreadable file or a broken repository never stops
a scan. :class:`ScanSource` is the seam: anything with ``blobs(warn)`` can be scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from limen.discovery.findings import SourceKind

__all__ = ["Blob", "ScanSource", "Warn"]

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Blob:
    """One piece of content to scan: a file on disk (read lazily) or bytes in hand."""

    path: str
    source: SourceKind = "file"
    fs_path: str | Path | None = None
    data: bytes | None = field(default=None, repr=False)
    commit: str | None = None
    author: str | None = None
    seen_at: str | None = None
    detail: tuple[tuple[str, str], ...] = ()


class ScanSource(Protocol):
    """Anything that can list blobs to scan."""

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield the blobs of this source; report problems with ``warn``."""
        ...
