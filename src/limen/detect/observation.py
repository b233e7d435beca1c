"""One event document, reduced to the fields the detector reads.

The input is the document ``limen audit search --jsonl`` prints and ``POST /v1/events``
accepts (see ``limen.audit.documents``): ``occurred_at``, ``actor {id|name, kind}``,
``delegation``, ``action``, ``resource {type, id, name}``, ``outcome`` and ``context`` with
``ip``, ``user_agent``, ``tool``, ``session``, ``bytes`` and ``geo {country, asn}``.
Everything is optional except the time, the actor and the action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from limen.detect.errors import InvalidEventDocument

__all__ = ["Observation", "observe"]

_VERSION = re.compile(r"[0-9][0-9A-Za-z._-]*")
_FAMILIES: dict[str, str] = {}
_FAMILY_CACHE_LIMIT = 4096


class Observation:
    """What the detector knows about one event."""

    __slots__ = (
        "action",
        "actor_id",
        "actor_kind",
        "actor_name",
        "asn",
        "country",
        "delegation",
        "event_id",
        "ip",
        "nbytes",
        "net",
        "outcome",
        "resource",
        "resource_name",
        "resource_type",
        "session",
        "step",
        "tool",
        "ts",
        "ua",
        "ua_family",
    )

    def __init__(
        self,
        *,
        event_id: str,
        ts: float,
        actor_id: str | None,
        actor_name: str | None,
        actor_kind: str,
        action: str,
        delegation: tuple[tuple[str | None, str | None], ...] = (),
        resource_type: str = "",
        resource: str = "",
        resource_name: str = "",
        outcome: str = "success",
        ip: str = "",
        ua: str = "",
        tool: str = "",
        session: str = "",
        nbytes: float = 0.0,
        country: str = "",
        asn: str = "",
    ) -> None:
        self.event_id = event_id
        self.ts = ts
        self.actor_id = actor_id
        self.actor_name = actor_name
        self.actor_kind = actor_kind
        self.action = action
        self.delegation = delegation
        self.resource_type = resource_type
        self.resource = resource
        self.resource_name = resource_name
        self.outcome = outcome
        self.ip = ip
        self.net = _network(ip)
        self.ua = ua
        self.ua_family = _family(ua)
        self.tool = tool
        self.step = tool or action
        self.session = session
        self.nbytes = nbytes
        self.country = country
        self.asn = asn


def observe(document: Mapping[str, Any], *, fallback_id: str = "") -> Observation:
    """Read an event document; raise :class:`InvalidEventDocument` if it cannot be scored."""
    try:
        when = document["occurred_at"]
        actor = document.get("actor") or {}
        action = document["action"]
    except (KeyError, TypeError):
        raise InvalidEventDocument("an event needs occurred_at, actor and action") from None
    if not isinstance(action, str) or not action:
        raise InvalidEventDocument("action must be a non-empty string")
    ts = _timestamp(when)
    if not isinstance(actor, Mapping):
        raise InvalidEventDocument("actor must be an object with id or name, and kind")
    actor_id = actor.get("id") or None
    actor_name = actor.get("name") or None
    if actor_id is None and actor_name is None:
        raise InvalidEventDocument("actor needs an id or a name")
    resource = document.get("resource") or {}
    context = document.get("context") or {}
    if not isinstance(resource, Mapping) or not isinstance(context, Mapping):
        raise InvalidEventDocument("resource and context must be objects")
    rtype = str(resource.get("type") or "")
    rname = str(resource.get("name") or "")
    rid = str(resource.get("id") or rname)
    geo = context.get("geo") or {}
    if not isinstance(geo, Mapping):
        geo = {}
    nbytes = context.get("bytes") or 0
    try:
        nbytes = float(nbytes)
    except (TypeError, ValueError):
        nbytes = 0.0
    asn = geo.get("asn")
    return Observation(
        event_id=str(document.get("id") or fallback_id),
        ts=ts,
        actor_id=str(actor_id) if actor_id is not None else None,
        actor_name=str(actor_name) if actor_name is not None else None,
        actor_kind=str(actor.get("kind") or ""),
        action=action,
        delegation=_delegation(document.get("delegation")),
        resource_type=rtype,
        resource=f"{rtype}:{rid}" if (rtype or rid) else "",
        resource_name=rname or rid,
        outcome=str(document.get("outcome") or "success"),
        ip=str(context.get("ip") or ""),
        ua=str(context.get("user_agent") or ""),
        tool=str(context.get("tool") or ""),
        session=str(context.get("session") or ""),
        nbytes=max(0.0, nbytes),
        country=str(geo.get("country") or "").upper(),
        asn=str(asn) if asn not in (None, "") else "",
    )


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise InvalidEventDocument("occurred_at must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEventDocument(f"occurred_at {value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _delegation(value: Any) -> tuple[tuple[str | None, str | None], ...]:
    if not value:
        return ()
    chain: list[tuple[str | None, str | None]] = []
    for entry in value:
        if isinstance(entry, Mapping):
            chain.append((entry.get("id") or None, entry.get("name") or None))
        elif isinstance(entry, str):
            chain.append((entry, entry))
    return tuple(chain)


def _network(ip: str) -> str:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: one site or one provider block."""
    if not ip:
        return ""
    if ":" in ip:
        return ":".join(ip.split(":", 3)[:3])
    return ip.rpartition(".")[0] or ip


def _family(ua: str) -> str:
    """The user agent without version numbers: an upgrade keeps the family."""
    if not ua:
        return ""
    family = _FAMILIES.get(ua)
    if family is None:
        family = _VERSION.sub("", ua)
        if len(_FAMILIES) >= _FAMILY_CACHE_LIMIT:
            _FAMILIES.clear()
        _FAMILIES[ua] = family
    return family
