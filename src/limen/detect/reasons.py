"""Reasons a person can read: why an event scored what it did.

Each piece of evidence the baseline finds is a ``(code, weight, facts)`` triple; the text
is only written when someone will read it (an alert, a reported event), so scoring a
quiet event costs no string formatting. ``weight`` is the evidence in nats the reason
added to the event's score, after the caps of its group (see ``docs/detect.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = ["CODES", "Reason", "explain"]

CODES: Final[dict[str, str]] = {
    "new-resource": "first use of a resource",
    "new-resource-kind": "first use of a kind of resource",
    "new-action": "first use of an action",
    "new-tool": "first call of a tool",
    "new-tool-sequence": "two steps in an order never seen",
    "novel-burst": "many first-time resources in a few minutes",
    "new-network": "a network never used",
    "new-asn": "a provider (AS) never used",
    "new-country": "a country never used",
    "new-user-agent": "a client version never used",
    "new-device": "a kind of client never used",
    "unusual-hour": "activity at an hour this identity is rarely active",
    "impossible-travel": "two countries further apart than any flight in the time between",
    "concurrent-access": "active from two places or clients at once",
    "event-burst": "far more events per minute than ever",
    "byte-burst": "far more bytes in a few minutes than ever",
    "large-transfer": "one transfer much larger than usual",
    "daily-egress": "more bytes in a day than ever",
    "refusals": "many recent requests refused",
    "owner-inactive": "acts for an owner who is suspended or deprovisioned",
    "actor-inactive": "the identity itself is suspended or deprovisioned",
    "alerted-session": "the same session as events that raised an alert minutes before",
}
"""Every reason code and what it means in one line."""


@dataclass(frozen=True, slots=True)
class Reason:
    """One readable reason: a stable code, the evidence it added, and a sentence."""

    code: str
    weight: float
    text: str

    def to_document(self) -> dict[str, Any]:
        return {"code": self.code, "weight": round(self.weight, 2), "text": self.text}


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} TB"


def _peers(facts: dict[str, Any], kind: str) -> str:
    group = facts.get("peer_group")
    if group is None:
        if kind == "human":
            return "; nobody in its team uses it"
        if kind in ("agent", "service"):
            return f"; no {kind} of its owner or class ever used it"
        return ""
    count = facts.get("peer_count", 1)
    label = group.split(":", 1)
    where = {
        "owner": "its owner's circle",
        "team": f"team {label[1]}" if len(label) > 1 else "its team",
        "class": f"class {group.rsplit(':', 1)[-1]}",
    }.get(label[0], group)
    plural = count != 1
    others = facts.get("peer_others")
    if others:
        # The share says how ordinary it is: one agent's habit in a class of twenty is not.
        return (
            f"; {count} of {others} other members of {where} already use{'' if plural else 's'} it"
        )
    return f"; {count} peer{'s' if plural else ''} in {where} already use{'' if plural else 's'} it"


def explain(code: str, facts: dict[str, Any], *, kind: str, offset_hours: float = 0.0) -> str:
    """The sentence for one piece of evidence."""
    who = f"this {kind}" if kind else "this identity"
    value = facts.get("value", "")
    if code == "new-resource":
        return (
            f"first {facts.get('action', 'use')} on {value} by {who} "
            f"({_n(facts.get('distinct', 0))} {facts.get('type') or 'resource'}s in "
            f"{_n(facts.get('seen', 0))} events before){_peers(facts, kind)}"
        )
    if code == "new-resource-kind":
        return f"first resource of kind {value!r} for {who}{_peers(facts, kind)}"
    if code == "new-action":
        return f"first {value!r} by {who} in {_n(facts.get('seen', 0))} events{_peers(facts, kind)}"
    if code == "new-tool":
        return f"first call of tool {value!r} by {who}{_peers(facts, kind)}"
    if code == "new-tool-sequence":
        first, _, second = str(value).partition(">")
        return f"{first} followed by {second}: an order {who} never used{_peers(facts, kind)}"
    if code == "novel-burst":
        return (
            f"{facts.get('count', 0):.0f} resources never touched before within minutes, "
            f"of kinds it rarely finds new; its most so far was {facts.get('peak', 0):.0f}"
        )
    if code in ("new-network", "new-asn", "new-country", "new-user-agent", "new-device"):
        noun = {
            "new-network": "network",
            "new-asn": "provider AS",
            "new-country": "country",
            "new-user-agent": "client version",
            "new-device": "kind of client",
        }[code]
        return f"first use of {noun} {value} by {who}{_peers(facts, kind)}"
    if code == "unusual-hour":
        local = datetime.fromtimestamp(facts.get("ts", 0.0), UTC) + timedelta(hours=offset_hours)
        share = facts.get("share", 0.0)
        return (
            f"active at {local:%a %H:%M} (UTC{offset_hours:+g}); "
            f"{share:.1%} of its activity falls in this hour"
        )
    if code == "impossible-travel":
        return (
            f"from {facts.get('from')} to {facts.get('to')} "
            f"({_n(facts.get('km', 0))} km) in {facts.get('minutes', 0):.0f} min"
        )
    if code == "concurrent-access":
        return f"also active from {facts.get('other')} {facts.get('minutes', 0):.0f} min before"
    if code == "event-burst":
        return (
            f"{facts.get('rate', 0):.0f} events in the last minute or so; "
            f"its busiest so far was {facts.get('peak', 0):.0f}"
        )
    if code == "byte-burst":
        return (
            f"{_bytes(facts.get('bytes', 0))} in the last minutes; "
            f"its most so far was {_bytes(facts.get('peak', 0))}"
        )
    if code == "large-transfer":
        usual = _bytes(facts.get("usual", 0))
        return f"{_bytes(facts.get('bytes', 0))} in one event; it usually moves {usual}"
    if code == "daily-egress":
        return (
            f"{_bytes(facts.get('bytes', 0))} over the last day; "
            f"its most so far was {_bytes(facts.get('peak', 0))}"
        )
    if code == "refusals":
        return (
            f"{facts.get('refused', 0)} of its last {facts.get('recent', 0)} requests refused; "
            f"its usual refusal rate is {facts.get('rate', 0.0):.1%}"
        )
    if code == "owner-inactive":
        return f"acts for {facts.get('owner')}, who is {facts.get('status')}"
    if code == "alerted-session":
        return (
            f"same session as events that raised an alert (score {facts.get('score', 0):.2f}) "
            f"{facts.get('minutes', 0):.0f} min before"
        )
    if code == "actor-inactive":
        return f"{who} is {facts.get('status')} yet still acts"
    return CODES.get(code, code)
