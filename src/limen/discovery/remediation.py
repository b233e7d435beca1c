"""Seams for what happens after a scan: moving secrets into the vault, reporting upstream.

Both are small :class:`typing.Protocol` classes so the CLI can plug in the vault service
and an HTTP client while tests plug in real in-memory implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from limen.discovery.findings import Finding
from limen.discovery.inventory import DiscoveredIdentity

__all__ = ["Remediator", "Reporter"]


class Remediator(Protocol):
    """Stores a found secret somewhere safe and returns the reference that replaces it."""

    def store(self, finding: Finding) -> str:
        """Store ``finding.secret``; return a ``limen://vault/item/field`` reference."""
        ...


class Reporter(Protocol):
    """Hands findings and discovered identities to a Limen server."""

    def report(self, findings: Sequence[Finding], identities: Sequence[DiscoveredIdentity]) -> None:
        """Send one scan's results; raise a :class:`~limen.errors.LimenError` on failure."""
        ...
