"""Errors of the detector: bad event documents, unknown alerts, oversized baselines.

::

    LimenError
     ├── InvalidInput
     │    ├── InvalidEventDocument   an event document lacks a field the detector needs
     │    └── InvalidBaseline        a stored baseline cannot be read back
     └── NotFound
          └── AlertNotFound          no alert with that id is held in memory
"""

from __future__ import annotations

from limen.errors import InvalidInput, NotFound

__all__ = ["AlertNotFound", "InvalidBaseline", "InvalidEventDocument"]


class InvalidEventDocument(InvalidInput):
    """An event document lacks a field the detector needs, or a field has the wrong type."""

    code = "invalid-event-document"


class InvalidBaseline(InvalidInput):
    """A stored baseline cannot be read back (corrupt, or written by an unknown version)."""

    code = "invalid-baseline"


class AlertNotFound(NotFound):
    """No alert with that id is held by this detector; pass its events explicitly."""

    code = "alert-not-found"
