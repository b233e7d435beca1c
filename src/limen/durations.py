"""Durations as people type them: ``90d``, ``12h``, ``2w``, ``30m``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

from limen.errors import InvalidInput

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_LONGEST = timedelta(days=36_500)


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s`` (at most a hundred years)."""
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidInput(f"{(text or '')[:40]!r} is not a duration like 30d, 12h, 2w")
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if duration > _LONGEST:
        raise InvalidInput(f"{text.strip()!r} is longer than a hundred years")
    return duration
