"""Which values each peer group has established: what makes a first touch ordinary.

A peer group is an owner with the agents and services it owns, a class of agents or
services, or a team of humans (see ``registry``). A value (a resource, a tool, a network…)
that another member of one of an identity's groups already uses is the ordinary way new
work arrives — a new project, an agent upgrade rolled out to its class, a migration —
and costs the identity far less surprise than one no peer ever touched.

The index is derived data: :meth:`PeerIndex.rebuild` makes it again from the members'
baselines, so it needs no storage of its own and any node can rebuild it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ORG_GROUP", "PeerIndex"]

ORG_GROUP = "org"
"""The group every identity belongs to: values anyone in the organisation established."""

_GROUP_LIMIT = 2048
_ORG_LIMIT = 8192
_SIGHTING_LIMIT = 1024
# A value several peers started using within this window is a roll-out, not an intrusion.
_SIGHTING_WINDOW = 86400.0
_SIGHTING_MEMBERS = 2
_SWEEP_EVERY = 3600.0


class PeerIndex:
    """For each group, how many members have established each (dimension, value)."""

    __slots__ = ("_groups", "_kinds", "_members", "_sightings", "_swept")

    def __init__(self) -> None:
        # resource kind -> [uses, first uses] over everyone: how often a kind of resource
        # is new to whoever touches it (files often, databases rarely).
        self._kinds: dict[str, list[float]] = {}
        self._groups: dict[str, dict[str, int]] = {}
        # group -> token -> {member: last time it used the value, established or not}
        self._sightings: dict[str, dict[str, dict[str, float]]] = {}
        self._swept = 0.0
        # group -> the identities known to belong to it: how much one member's habit says
        # about what is ordinary for the group.
        self._members: dict[str, set[str]] = {}

    def join(self, groups: Iterable[str], member: str) -> None:
        """``member`` belongs to each of ``groups`` (it acts, here or on another node)."""
        for group in groups:
            if group == ORG_GROUP:
                continue
            members = self._members.get(group)
            if members is None:
                members = self._members[group] = set()
            members.add(member)

    def size(self, group: str) -> int:
        """How many members of ``group`` are known (0 for the organisation, or unknown)."""
        members = self._members.get(group)
        return len(members) if members is not None else 0

    def add(self, groups: Iterable[str], dim: str, value: str) -> None:
        """One more member of each of ``groups`` has established ``value``."""
        token = f"{dim}\x1f{value}"
        for group in groups:
            members = self._groups.get(group)
            if members is None:
                members = self._groups[group] = {}
            members[token] = members.get(token, 0) + 1
            limit = _ORG_LIMIT if group == ORG_GROUP else _GROUP_LIMIT
            if len(members) > limit:
                _shrink(members, limit)

    def sight(self, groups: Iterable[str], dim: str, value: str, *, member: str, ts: float) -> None:
        """``member`` used ``value`` before establishing it (a first use, maybe a roll-out)."""
        token = f"{dim}\x1f{value}"
        if ts - self._swept > _SWEEP_EVERY:
            self._sweep(ts)
        for group in groups:
            if group == ORG_GROUP:
                continue
            tokens = self._sightings.get(group)
            if tokens is None:
                tokens = self._sightings[group] = {}
            members = tokens.get(token)
            if members is None:
                if len(tokens) >= _SIGHTING_LIMIT:
                    _expire(tokens, ts)
                members = tokens[token] = {}
            members[member] = ts
            if len(members) > 2 * _SIGHTING_MEMBERS:
                del members[min(members, key=members.__getitem__)]

    def _sweep(self, ts: float) -> None:
        """Forget sightings older than the roll-out window."""
        self._swept = ts
        for group in list(self._sightings):
            tokens = self._sightings[group]
            _expire(tokens, ts)
            if not tokens:
                del self._sightings[group]

    def support(
        self, groups: Iterable[str], dim: str, value: str, *, member: str = "", ts: float = 0.0
    ) -> tuple[str, int] | None:
        """The closest group in which some member uses ``value``, and how many do.

        Besides members that established the value, a group supports it when at least two
        *other* members (one, in an owner's circle) started using it within the last day:
        a change rolled out to the group (an upgrade, a migration, a new project) before
        anyone learned it.
        """
        token = f"{dim}\x1f{value}"
        for group in groups:
            members = self._groups.get(group)
            if members is not None:
                count = members.get(token, 0)
                if count:
                    return group, count
            tokens = self._sightings.get(group)
            if tokens is not None:
                sighted = tokens.get(token)
                if sighted:
                    recent = sum(
                        1
                        for other, last in sighted.items()
                        if other != member and ts - last <= _SIGHTING_WINDOW
                    )
                    # In an owner's circle one other member suffices: an agent following
                    # its owner onto something new is delegation doing its job.
                    needed = 1 if group.startswith("owner:") else _SIGHTING_MEMBERS
                    if recent >= needed:
                        return group, recent
        return None

    def count_kind(self, kind: str, *, first: bool, weight: float) -> None:
        """Someone used a resource of ``kind`` (for the first time, if ``first``)."""
        counts = self._kinds.get(kind)
        if counts is None:
            counts = self._kinds[kind] = [0.0, 0.0]
        counts[0] += weight
        if first:
            counts[1] += weight
        if counts[0] > 20000.0:
            counts[0] *= 0.5
            counts[1] *= 0.5

    def kind_novelty(self, kind: str) -> list[float] | None:
        """[uses, first uses] of resources of ``kind`` across the organisation."""
        return self._kinds.get(kind)

    def clear(self) -> None:
        self._kinds.clear()
        self._groups.clear()
        self._sightings.clear()
        self._members.clear()

    def __len__(self) -> int:
        return sum(len(members) for members in self._groups.values())


def _expire(tokens: dict[str, dict[str, float]], ts: float) -> None:
    stale = [
        token
        for token, members in tokens.items()
        if not members or ts - max(members.values()) > _SIGHTING_WINDOW
    ]
    for token in stale:
        del tokens[token]
    if len(tokens) >= _SIGHTING_LIMIT:
        for token in list(tokens)[: _SIGHTING_LIMIT // 4]:
            del tokens[token]


def _shrink(members: dict[str, int], limit: int) -> None:
    # Keep the values most members share; a value held by one member of a huge group
    # says little about what is ordinary for the others.
    keep = sorted(members.items(), key=lambda item: item[1], reverse=True)[: limit * 3 // 4]
    members.clear()
    members.update(keep)
