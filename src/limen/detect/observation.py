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
    """What the detector knows about one event; :func:`observe` makes one."""

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
    event_id: str
    ts: float
    """POSIX seconds."""
    actor_id: str | None
    actor_name: str | None
    actor_kind: str
    action: str
    delegation: tuple[tuple[str | None, str | None], ...]
    """``(id, name)`` of each identity in the delegation chain."""
    resource_type: str
    resource: str
    """``type:id``."""
    resource_name: str
    outcome: str
    ip: str
    net: str
    """The /24 or /48 of ``ip``."""
    ua: str
    ua_family: str
    """The user agent without version numbers."""
    tool: str
    step: str
    """The tool called, else the action."""
    session: str
    nbytes: float
    country: str
    asn: str


def observe(document: Mapping[str, Any]) -> Observation:
    """Read an event document; raise :class:`InvalidEventDocument` if it cannot be scored.

    A document without an ``id`` gets ``""``: who read it names it (a replay by its line).
    """
    # A replay reads every event of a month through here, so plain dicts (what JSON
    # gives) skip the slower Mapping checks and strings skip str().
    try:
        when = document["occurred_at"]
        actor = document.get("actor") or {}
        action = document["action"]
    except (KeyError, TypeError):
        raise InvalidEventDocument("an event needs occurred_at, actor and action") from None
    if type(action) is not str or not action:
        raise InvalidEventDocument("action must be a non-empty string")
    ts = _timestamp(when)
    if not _is_object(actor):
        raise InvalidEventDocument("actor must be an object with id or name, and kind")
    actor_id = actor.get("id") or None
    actor_name = actor.get("name") or None
    if actor_id is None and actor_name is None:
        raise InvalidEventDocument("actor needs an id or a name")
    resource = document.get("resource") or _EMPTY
    context = document.get("context") or _EMPTY
    if not _is_object(resource) or not _is_object(context):
        raise InvalidEventDocument("resource and context must be objects")
    rtype = _text(resource.get("type"))
    rname = _text(resource.get("name"))
    rid = _text(resource.get("id")) or rname
    geo = context.get("geo") or _EMPTY
    if not _is_object(geo):
        geo = _EMPTY
    nbytes = context.get("bytes") or 0
    if type(nbytes) is not int and type(nbytes) is not float:
        try:
            nbytes = float(nbytes)
        except (TypeError, ValueError):
            nbytes = 0.0
    asn = geo.get("asn")
    delegation = document.get("delegation")
    tool = _text(context.get("tool"))
    ip = _text(context.get("ip"))
    ua = _text(context.get("user_agent"))
    # Filled in place: a keyword constructor of twenty fields would cost a replay more
    # than the rest of this function.
    obs = object.__new__(Observation)
    obs.event_id = _text(document.get("id"))
    obs.ts = ts
    obs.actor_id = _text(actor_id) if actor_id is not None else None
    obs.actor_name = _text(actor_name) if actor_name is not None else None
    obs.actor_kind = _text(actor.get("kind"))
    obs.action = action
    obs.delegation = _delegation(delegation) if delegation else ()
    obs.resource_type = rtype
    obs.resource = f"{rtype}:{rid}" if (rtype or rid) else ""
    obs.resource_name = rname or rid
    obs.outcome = _text(document.get("outcome")) or "success"
    obs.ip = ip
    obs.net = _network(ip)
    obs.ua = ua
    obs.ua_family = _family(ua)
    obs.tool = tool
    obs.step = tool or action
    obs.session = _text(context.get("session"))
    obs.nbytes = float(nbytes) if nbytes > 0 else 0.0
    obs.country = _text(geo.get("country")).upper()
    obs.asn = str(asn) if asn not in (None, "") else ""
    return obs


_EMPTY: Mapping[str, Any] = {}


def _is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _text(value: Any) -> str:
    """A field as text; absent, null or empty is ``""``."""
    if type(value) is str:
        return value
    return str(value) if value else ""


def _timestamp(value: Any) -> float:
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEventDocument(
                f"occurred_at {value[:40]!r} is not an ISO 8601 time"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise InvalidEventDocument("occurred_at must be an ISO 8601 time or a number of POSIX seconds")


def _delegation(value: Any) -> tuple[tuple[str | None, str | None], ...]:
    if not value:
        return ()
    chain: list[tuple[str | None, str | None]] = []
    for entry in value:
        if _is_object(entry):
            chain.append((entry.get("id") or None, entry.get("name") or None))
        elif type(entry) is str:
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
