"""The seam every push sink implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

__all__ = ["SINK_KINDS", "Sink", "SinkFailure"]

SINK_KINDS: Final = ("webhook", "nats", "jsonl")


class SinkFailure(Exception):
    """The destination did not take the batch; it will be offered again later.

    The message is stored as the sink's last error, so it never includes a secret.
    """


class Sink(Protocol):
    """Takes a batch of event documents, in chain order, or raises :class:`SinkFailure`."""

    def deliver(self, events: Sequence[dict[str, Any]]) -> None: ...
