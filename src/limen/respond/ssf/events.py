"""Which audit events become which Security Event Tokens, and the SET claims (RFC 8417).

- RFC 8417 (Security Event Token): https://www.rfc-editor.org/rfc/rfc8417
- OpenID SSF 1.0 §4 (one event per SET, ``sub_id`` at the top level):
  https://openid.net/specs/openid-sharedsignals-framework-1_0.html
- CAEP 1.0 ``session-revoked`` (§3.1), ``credential-change`` (§3.3):
  https://openid.net/specs/openid-caep-1_0.html
- CAEP 1.0 ``risk-level-change`` (§3.8), sent by a playbook's ``notify`` with ``ssf``:
  https://openid.net/specs/openid-caep-1_0-final.html
- RISC 1.0 ``account-disabled`` / ``account-enabled`` (§2.3, §2.4):
  https://openid.net/specs/openid-risc-1_0.html

The transmitter reads Limen's one event log, so a SET goes out for every change that
committed, whichever surface or node made it, and for none that rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from limen.ids import new_id
from limen.store.models import ApiToken, Event, OAuthClient

__all__ = [
    "ACCOUNT_DISABLED",
    "ACCOUNT_ENABLED",
    "CREDENTIAL_CHANGE",
    "EVENTS_SUPPORTED",
    "RISK_LEVELS",
    "RISK_LEVEL_CHANGE",
    "SESSION_REVOKED",
    "SOURCE_ACTIONS",
    "VERIFICATION",
    "Signal",
    "set_claims",
    "signals_for",
]

SESSION_REVOKED: Final = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CREDENTIAL_CHANGE: Final = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
ACCOUNT_DISABLED: Final = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
ACCOUNT_ENABLED: Final = "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
RISK_LEVEL_CHANGE: Final = "https://schemas.openid.net/secevent/caep/event-type/risk-level-change"
VERIFICATION: Final = "https://schemas.openid.net/secevent/ssf/event-type/verification"

EVENTS_SUPPORTED: Final = (
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    CREDENTIAL_CHANGE,
    RISK_LEVEL_CHANGE,
    SESSION_REVOKED,
)
"""What a stream may request; verification events are always delivered (SSF §8.1.4)."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One security event about one identity, ready to become a SET per stream."""

    event_type: str
    subject_id: str
    payload: dict[str, Any]
    occurred_at: int
    source_event_id: str | None


def _initiating_entity(event: Event) -> str:
    # CAEP §2: "admin", "user", "policy" or "system". A partner tool or an operator acts
    # as an administrator; Limen's own automation is "system".
    if event.actor_kind == "system":
        return "system"
    if event.actor_id is not None and event.actor_id == event.resource_id:
        return "user"
    return "admin"


def _caep_common(event: Event) -> dict[str, Any]:
    common: dict[str, Any] = {
        "event_timestamp": int(event.occurred_at.timestamp()),
        "initiating_entity": _initiating_entity(event),
    }
    if event.reason:
        common["reason_admin"] = {"en": event.reason}
    return common


def _suspended(session: Session, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    if not event.resource_id:
        return []
    return [
        (ACCOUNT_DISABLED, event.resource_id, {}),
        (SESSION_REVOKED, event.resource_id, _caep_common(event)),
    ]


def _reactivated(session: Session, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    return [(ACCOUNT_ENABLED, event.resource_id, {})] if event.resource_id else []


def _token_revoked(session: Session, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    holder: str | None = None
    if event.resource_type == "api_token" and event.resource_id:
        token = session.get(ApiToken, event.resource_id)
        holder = token.identity_id if token else None
    else:
        holder = (event.context or {}).get("sub")
    return [(SESSION_REVOKED, holder, _caep_common(event))] if holder else []


def _credential(change_type: str) -> Callable[[Session, Event], list[tuple[str, str, dict]]]:
    def build(session: Session, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
        context = event.context or {}
        holder = context.get("identity_id")
        credential_type = "api-token"
        if event.resource_type == "oauth_client":
            credential_type = "client-secret"
            if holder is None and event.resource_id:
                client = session.get(OAuthClient, event.resource_id)
                holder = client.identity_id if client else None
            if context.get("auth_method") == "private_key_jwt":
                credential_type = "client-key"
        elif event.resource_type == "api_token" and holder is None and event.resource_id:
            token = session.get(ApiToken, event.resource_id)
            holder = token.identity_id if token else None
        if not holder:
            return []
        payload = {
            **_caep_common(event),
            "credential_type": credential_type,
            "change_type": change_type,
        }
        if event.resource_name:
            payload["friendly_name"] = event.resource_name
        return [(CREDENTIAL_CHANGE, holder, payload)]

    return build


RISK_LEVELS: Final = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "critical": "HIGH"}
"""An alert's severity as CAEP's risk level: the event knows only LOW, MEDIUM and HIGH."""


def _flagged(session: Session, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    # A playbook's notify names the SSF event it asked for; a dry run tells no one.
    context = event.context or {}
    if (
        context.get("action") != "notify"
        or context.get("ssf") != "risk-level-change"
        or context.get("dry_run")
        or not event.resource_id
    ):
        return []
    reasons = [str(r) for r in context.get("reasons") or []]
    payload = {
        **_caep_common(event),
        # The subject is an account (an identity), whatever its kind: CAEP's USER.
        "principal": "USER",
        "current_level": RISK_LEVELS.get(str(context.get("severity")), "HIGH"),
        "risk_reason": ", ".join(reasons) if reasons else "anomalous behaviour",
    }
    return [(RISK_LEVEL_CHANGE, event.resource_id, payload)]


_BUILDERS: dict[str, Callable[[Session, Event], list[tuple[str, str, dict[str, Any]]]]] = {
    "identity.suspend": _suspended,
    "identity.reactivate": _reactivated,
    "token.revoke": _token_revoked,
    "oauth.client.create": _credential("create"),
    "oauth.client.revoke": _credential("revoke"),
    "oauth.client.rotate": _credential("update"),
    "playbook.run": _flagged,
}

SOURCE_ACTIONS: Final = frozenset(_BUILDERS)
"""Audit actions the transmitter turns into signals."""


def signals_for(session: Session, event: Event) -> list[Signal]:
    """The security events one audit event stands for (none for most)."""
    build = _BUILDERS.get(event.action)
    if build is None or event.outcome != "success":
        return []
    return [
        Signal(event_type, subject, payload, int(event.occurred_at.timestamp()), event.id)
        for event_type, subject, payload in build(session, event)
    ]


def set_claims(
    *,
    issuer: str,
    audience: list[str],
    event_type: str,
    subject: dict[str, Any],
    payload: dict[str, Any],
    issued_at: int,
    txn: str | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claims of one SET: ``iss``, ``iat``, ``jti``, ``aud``, ``sub_id``, one event.

    ``txn`` (RFC 8417 §2.2) carries the id of the audit event behind it, so a receiver's
    analyst and Limen's trail can name the same change.
    """
    claims: dict[str, Any] = {
        "iss": issuer,
        "iat": issued_at,
        "jti": jti or new_id(),
        "aud": audience[0] if len(audience) == 1 else list(audience),
        "sub_id": subject,
        "events": {event_type: payload},
    }
    if txn:
        claims["txn"] = txn
    return claims
