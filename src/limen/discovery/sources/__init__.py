"""Where blobs come from: files and folders, git history, staged changes, this machine."""

from __future__ import annotations

from limen.discovery.sources.base import Blob, ScanSource, Warn

__all__ = ["Blob", "ScanSource", "Warn"]
