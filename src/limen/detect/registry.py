"""The identities the detector scores: kind, owner, status, team or class, and home time zone.

Built from the identity table (``Registry.load``) or directly (tests, simulations). Status
changes as ``identity.suspend``/``identity.reactivate``/``identity.deprovision`` events go
by, so a replay sees each suspension from the moment it happened, as the live detector does.
Actors the registry does not know (shadow identities reported from outside) get an entry
of their own on first sight, with the kind their event names and no owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.detect.peers import ORG_GROUP
from limen.store.models import Identity

__all__ = ["IdentityInfo", "Registry", "describe"]

_COLUMNS = sa.select(
    Identity.id,
    Identity.name,
    Identity.email,
    Identity.kind,
    Identity.owner_id,
    Identity.status,
    Identity.attributes,
    Identity.managed,
)
_TEAM_KEYS = ("team", "department", "group")
_CLASS_KEYS = ("class", "agent_class", "service_class", "agent_type", "type")
_TZ_KEYS = ("tz", "timezone", "time_zone")
_STATUS_ACTIONS = {
    "identity.suspend": "suspended",
    "identity.reactivate": "active",
    "identity.deprovision": "deprovisioned",
    "identity.delete": "deprovisioned",
}


@dataclass(slots=True)
class IdentityInfo:
    """What the detector needs to know about one identity."""

    key: str
    """The baseline key: the identity id, or ``actor:<name>`` for an unknown actor."""
    name: str
    kind: str
    owner: str | None = None
    """The owner's key, if any."""
    status: str = "active"
    team: str | None = None
    cls: str | None = None
    tz: str | None = None
    utc_offset: float = 0.0
    """Home offset from UTC in hours, from the ``tz`` attribute (0 when unknown)."""
    managed: bool = True
    groups: tuple[str, ...] = field(default=())

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class Registry:
    """Identities by id and by name; peer groups; statuses that follow the event stream."""

    def __init__(self, identities: Iterable[IdentityInfo] = ()) -> None:
        self._by_key: dict[str, IdentityInfo] = {}
        self._by_name: dict[str, IdentityInfo] = {}
        for info in identities:
            self.add(info)

    @classmethod
    def load(cls, session: Session) -> Registry:
        """Every identity in the store, with owners resolved to their ids."""
        registry = cls()
        for row in session.execute(_COLUMNS).all():
            registry._adopt(row)
        return registry

    @classmethod
    def of(cls, rows: Iterable[Any]) -> Registry:
        """A registry of rows with the identity's fields as attributes (``id``, ``name``,
        ``email``, ``kind``, ``owner_id``, ``status``, ``attributes``, ``managed``), as
        the API's identity documents have them: ``limen detect replay`` against a server."""
        registry = cls()
        for row in rows:
            registry._adopt(row)
        return registry

    def refresh(self, session: Session, identity_id: str) -> IdentityInfo | None:
        """Read one identity again (created, or its owner, status or attributes changed).

        Returns its new entry, or ``None`` if it no longer exists (the old entry stays:
        its events may still be scored).
        """
        row = session.execute(_COLUMNS.where(Identity.id == identity_id)).first()
        return self._adopt(row) if row is not None else None

    def _adopt(self, row: Any) -> IdentityInfo:
        info = describe(
            key=row.id,
            name=row.name,
            kind=str(row.kind),
            owner=row.owner_id,
            status=str(row.status),
            attributes=row.attributes or {},
            managed=row.managed,
        )
        self.add(info)
        self._by_name[info.name] = info
        if row.email:
            self._by_name[row.email] = info
        return info

    def add(self, info: IdentityInfo) -> None:
        if not info.groups:
            info.groups = _groups(info)
        self._by_key[info.key] = info
        self._by_name.setdefault(info.name, info)

    def get(self, key: str) -> IdentityInfo | None:
        return self._by_key.get(key)

    def find(self, identity_id: str | None, name: str | None) -> IdentityInfo | None:
        """The identity an event names by id or by name (or email)."""
        if identity_id:
            info = self._by_key.get(identity_id)
            if info is not None:
                return info
        if name:
            return self._by_name.get(name)
        return None

    def resolve(self, identity_id: str | None, name: str | None, kind: str) -> IdentityInfo:
        """:meth:`find`, or a new unmanaged entry for an actor never seen before."""
        info = self.find(identity_id, name)
        if info is None:
            label = name or identity_id or "unknown"
            info = IdentityInfo(
                key=identity_id or f"actor:{label}",
                name=label,
                kind=kind or "unknown",
                managed=False,
            )
            self.add(info)
            if identity_id and name:
                self._by_name.setdefault(name, info)
        return info

    def apply_status_event(self, action: str, resource_id: str, resource_name: str) -> bool:
        """Follow a lifecycle event (``identity.suspend`` …); True if a status changed."""
        status = _STATUS_ACTIONS.get(action)
        if status is None:
            return False
        info = self.find(resource_id or None, resource_name or None)
        if info is None or info.status == status:
            return False
        info.status = status
        return True

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Any:
        return iter(self._by_key.values())


def describe(
    *,
    key: str,
    name: str,
    kind: str,
    owner: str | None = None,
    status: str = "active",
    attributes: Mapping[str, Any] | None = None,
    managed: bool = True,
) -> IdentityInfo:
    """An :class:`IdentityInfo` from an identity's fields and attributes."""
    attributes = attributes or {}
    team = _first(attributes, _TEAM_KEYS)
    cls = _first(attributes, _CLASS_KEYS)
    tz = _first(attributes, _TZ_KEYS)
    return IdentityInfo(
        key=key,
        name=name,
        kind=kind,
        owner=owner,
        status=status,
        team=team,
        cls=cls,
        tz=tz,
        utc_offset=_offset(tz),
        managed=managed,
    )


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _offset(tz: str | None) -> float:
    if not tz:
        return 0.0
    try:
        offset = datetime.now(UTC).astimezone(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0.0
    return offset.total_seconds() / 3600 if offset is not None else 0.0


def _groups(info: IdentityInfo) -> tuple[str, ...]:
    """The peer groups an identity belongs to, closest first.

    A human is in its team and in its own "owner" group, so the agents and services it
    owns count it as a peer: an agent's first touch of a resource its owner works with
    is the delegation working as intended.
    """
    groups: list[str] = []
    if info.kind == "human":
        groups.append(f"owner:{info.key}")
        if info.team:
            groups.append(f"team:{info.team}")
    else:
        if info.owner:
            groups.append(f"owner:{info.owner}")
        if info.cls:
            groups.append(f"class:{info.kind}:{info.cls}")
        if info.team:
            groups.append(f"team:{info.team}")
    if info.managed:
        groups.append(ORG_GROUP)
    return tuple(groups)
