"""What an offboarding did, told in sentences, and the orphans policies: the parts of
provisioning a command working against a server needs, without the database layer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from limen.errors import InvalidInput

__all__ = ["ORPHAN_POLICIES", "explain_offboarding", "orphans_policy"]

ORPHAN_POLICIES: Final = ("suspend", "transfer-to-manager", "keep")


def orphans_policy(value: str) -> str:
    """``value`` if it names an orphans policy; otherwise the one-line error a typo gets."""
    if value not in ORPHAN_POLICIES:
        raise InvalidInput(
            f"--orphans must be one of {', '.join(ORPHAN_POLICIES)}, not {value[:40]!r}"
        )
    return value


_POLICY_FROM: Final = {
    "request": "given when deprovisioning",
    "token": "the SCIM token's policy",
    "setting": "the LIMEN_ORPHANS setting",
}


def explain_offboarding(step: dict[str, Any]) -> list[str]:
    """What one offboarding did, in the sentences the CLI (``limen identity show``,
    ``limen identity offboarding``) and the console both print: who did it and when,
    the orphans policy, which agents and services were suspended, re-parented (to whom)
    or kept, what was revoked, and which vault items are flagged for rotation."""
    names = step.get("names") or {}

    def listed(ids: list[str]) -> str:
        return ", ".join(names.get(i, i) for i in ids)

    at = _when(step.get("at"))
    done = "deprovisioned" if step.get("deleted") else "suspended"
    how = "by hand" if step.get("by_hand") else "through the identity provider (SCIM)"
    lines = [f"{at}: {step.get('by') or 'someone'} {done} this person {how}."]
    if step.get("note"):
        lines.append(f"Reason: {step['note']}")
    policy = step.get("orphans") or "suspend"
    source = _POLICY_FROM.get(step.get("orphans_from") or "")
    lines.append(f"Orphans policy: {policy}" + (f" ({source})." if source else "."))
    suspended = step.get("suspended") or []
    transferred = step.get("transferred") or []
    kept = step.get("kept") or []
    if suspended:
        lines.append(
            f"Suspended {_count(len(suspended), 'agent or service', 'agents and services')}"
            f" they owned: {listed(suspended)}."
        )
    if transferred:
        to = names.get(
            step.get("transferred_to") or "", step.get("transferred_to") or "their manager"
        )
        lines.append(f"Re-parented to {to}: {listed(transferred)}.")
    if kept:
        lines.append(f"Kept as they were: {listed(kept)}.")
    if not (suspended or transferred or kept):
        lines.append("They owned no active agent or service.")
    lines.append(
        f"Revoked {_count(step.get('revoked_tokens') or 0, 'token', 'tokens')} and "
        f"{_count(step.get('revoked_clients') or 0, 'OAuth client', 'OAuth clients')}; "
        "every token issued on their behalf (delegation) stopped working."
    )
    rotation = step.get("needs_rotation") or []
    if rotation:
        lines.append(
            f"Flagged {_count(len(rotation), 'vault item', 'vault items')} for rotation: "
            f"{listed(rotation)}."
        )
    else:
        lines.append("No vault item they could read needed rotation.")
    return lines


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _when(value: Any) -> str:
    """An ISO time as ``2026-12-06 15:40 UTC``."""
    if not isinstance(value, str):
        return "at an unknown time"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
