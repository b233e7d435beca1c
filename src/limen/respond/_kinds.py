"""Which identities the kill switch covers: apart from containment, so that a command
talking to a server checks ``--kind`` without loading the database layer."""

from __future__ import annotations

from typing import Final

__all__ = ["KILL_SWITCH_KINDS"]

KILL_SWITCH_KINDS: Final = frozenset({"agent", "service"})
"""Humans are left out: a kill switch over people would lock out the admins who must undo it.

Plain strings, equal to (and hashed as) their ``IdentityKind`` members."""
