"""NHI posture: Limen's findings mapped to the OWASP Non-Human Identities Top 10 (2025).

https://owasp.org/www-project-non-human-identities-top-10/2025/

Each risk gets a count, the identities (or machines) behind it, and the fix. The counts
come from the access review (:mod:`limen.lifecycle.review`), the fleet's open exposures
(``limen scan`` reports), credentials and the event log. A risk Limen cannot see (cloud
deployment configuration) says so instead of reporting zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Authorizer, Resource
from limen.store import Database
from limen.store.models import (
    ApiToken,
    Event,
    FleetExposure,
    FleetMachine,
    Identity,
    IdentityKind,
    OAuthClient,
    Partner,
)

__all__ = ["RISKS", "Posture", "PostureReport", "Risk"]

RISKS: Final = (
    ("NHI1", "Improper Offboarding"),
    ("NHI2", "Secret Leakage"),
    ("NHI3", "Vulnerable Third-Party NHI"),
    ("NHI4", "Insecure Authentication"),
    ("NHI5", "Overprivileged NHI"),
    ("NHI6", "Insecure Cloud Deployment Configurations"),
    ("NHI7", "Long-Lived Secrets"),
    ("NHI8", "Environment Isolation"),
    ("NHI9", "NHI Reuse"),
    ("NHI10", "Human Use of NHI"),
)
_PROD = re.compile(r"(^|[^a-z])prod", re.IGNORECASE)
_NON_PROD = re.compile(r"(^|[^a-z])(dev|test|staging|stage|qa|sandbox)", re.IGNORECASE)
_BROWSER = re.compile(r"Mozilla/|curl/", re.IGNORECASE)
_READ_ONLY_PARTNER = frozenset({"users:read"})


@dataclass(slots=True)
class Risk:
    id: str
    title: str
    assessed: bool = True
    count: int = 0
    identities: list[str] = field(default_factory=list)
    names: str = "identities"
    """What :attr:`identities` names: ``identities``, or ``machines`` (NHI2's exposures)."""
    fix: str = ""
    evidence: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "assessed": self.assessed,
            "count": self.count if self.assessed else None,
            "identities": self.identities,
            "names": self.names,
            "fix": self.fix,
            "evidence": self.evidence[:20],
        }


@dataclass(slots=True)
class PostureReport:
    generated_at: str
    days: int
    risks: list[Risk]

    def document(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "days": self.days,
            "standard": "OWASP Non-Human Identities Top 10 (2025)",
            "risks": [r.document() for r in self.risks],
        }


class Posture:
    """The posture report, for an actor the guard lets review access."""

    def __init__(self, db: Database, authorizer: Authorizer, review: Any) -> None:
        self._db = db
        self._guard = authorizer
        self._review = review

    def report(self, actor: Actor, *, days: int = 30) -> PostureReport:
        self._guard.authorize(actor, "access.review", Resource("posture"))
        reviewed = self._review.review(actor, days=days)
        with self._db.unit_of_work(readonly=True) as uow:
            risks = _assess(uow.session, reviewed)
        return PostureReport(reviewed.generated_at.isoformat(), days, risks)


def _with(reviewed: Any, kinds: set[str]) -> tuple[list[str], list[str]]:
    names, evidence = [], []
    for entry in reviewed.identities:
        hits = [f for f in entry.findings if f["type"] in kinds]
        if hits:
            names.append(entry.name)
            evidence.extend(f"{entry.name}: {f['detail']}" for f in hits[:2])
    return names, evidence


def _assess(session: Session, reviewed: Any) -> list[Risk]:
    risks = {rid: Risk(rid, title) for rid, title in RISKS}
    machine_names = {e.id: e.name for e in reviewed.identities}

    names, evidence = _with(reviewed, {"no-active-owner", "rotation-needed"})
    risk = risks["NHI1"]
    risk.identities, risk.evidence, risk.count = names, evidence, len(names)
    risk.fix = (
        "Provision people from the identity provider (SCIM) so that leavers' agents and "
        "services are suspended or handed to their manager; give each orphan an active "
        "owner (limen identity update NAME --owner …) or suspend it."
    )

    exposures = session.execute(
        sa.select(FleetExposure.provider, FleetExposure.location, FleetMachine.name)
        .join(FleetMachine, FleetMachine.id == FleetExposure.machine_id)
        .where(FleetExposure.status == "open")
    ).all()
    risk = risks["NHI2"]
    risk.count = len(exposures)
    risk.identities = sorted({machine for _, _, machine in exposures})
    risk.names = "machines"
    risk.evidence = [
        f"{machine}: {provider} at {location}" for provider, location, machine in exposures
    ]
    risk.fix = (
        "Move each exposed credential into the vault and rotate it (limen scan . --fix); "
        "hand it to programs by reference (limen run, limen inject)."
    )

    risk = risks["NHI3"]
    partners = session.execute(
        sa.select(Identity.name, OAuthClient.scopes)
        .join(Partner, Partner.identity_id == Identity.id)
        .join(OAuthClient, OAuthClient.identity_id == Identity.id)
        .where(OAuthClient.revoked_at.is_(None))
    ).all()
    broad = sorted({name for name, scopes in partners if set(scopes or []) - _READ_ONLY_PARTNER})
    risk.identities, risk.count = broad, len(broad)
    risk.evidence = [
        f"{name}: {', '.join(sorted(scopes or []))}" for name, scopes in partners if name in broad
    ]
    risk.fix = (
        "Grant each third-party integration only the scopes its playbook uses, review them "
        "here, and revoke those no longer used (limen partner revoke NAME)."
    )

    risk = risks["NHI4"]
    static = session.execute(
        sa.select(ApiToken.identity_id, ApiToken.prefix)
        .join(Identity, Identity.id == ApiToken.identity_id)
        .where(
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at.is_(None),
            Identity.kind != IdentityKind.HUMAN,
        )
    ).all()
    secrets = session.execute(
        sa.select(OAuthClient.identity_id, OAuthClient.client_id).where(
            OAuthClient.revoked_at.is_(None), OAuthClient.auth_method != "private_key_jwt"
        )
    ).all()
    weak = sorted({machine_names[i] for i, _ in [*static, *secrets] if i in machine_names})
    risk.identities, risk.count = weak, len(weak)
    risk.evidence = [
        f"{machine_names[i]}: static token {p}… with no expiry"
        for i, p in static
        if i in machine_names
    ]
    risk.evidence += [
        f"{machine_names[i]}: client {c} authenticates with a shared secret"
        for i, c in secrets
        if i in machine_names
    ]
    risk.fix = (
        "Replace static bearer tokens with OAuth client credentials and short-lived access "
        "tokens; prefer private_key_jwt (limen client create --jwks …) over shared secrets."
    )

    names, evidence = _with(reviewed, {"unused-right"})
    star = [
        e.name
        for e in reviewed.identities
        if any(r.target == "*" for r in e.rights) and e.name not in names
    ]
    risk = risks["NHI5"]
    risk.identities = sorted(names + star)
    risk.count = len(risk.identities)
    risk.evidence = evidence + [f"{n}: holds the '*' scope" for n in star]
    risk.fix = (
        "Remove the rights each identity never used (limen access review lists them with "
        "the change to make), and never grant '*' to an agent or service."
    )

    risk = risks["NHI6"]
    risk.assessed = False
    risk.fix = (
        "Not visible to Limen: check workload identity federation and CI/CD OIDC trust "
        "policies in the cloud provider; hand workloads Limen tokens instead of static keys."
    )

    names, evidence = _with(reviewed, {"long-lived-credential", "secret-overdue"})
    risk = risks["NHI7"]
    risk.identities, risk.evidence, risk.count = names, evidence, len(names)
    risk.fix = (
        "Give every token an expiry (limen token create --expires-in 30d), rotation policies "
        "to vault items (limen vault policy), and rotate what is overdue (limen vault report)."
    )

    risk = risks["NHI8"]
    mixed = []
    for entry in reviewed.identities:
        vaults = {r.target for r in entry.rights if r.kind == "vault"}
        prod = {v for v in vaults if _PROD.search(v)}
        other = {v for v in vaults if _NON_PROD.search(v)}
        if prod and other:
            mixed.append(entry.name)
            risk.evidence.append(
                f"{entry.name}: reaches {', '.join(sorted(prod))} and {', '.join(sorted(other))}"
            )
    risk.identities, risk.count = mixed, len(mixed)
    risk.fix = (
        "Give each environment its own identities and vaults: one identity should not reach "
        "production and development secrets."
    )

    names, evidence = _with(reviewed, {"shared-secret"})
    risk = risks["NHI9"]
    risk.identities, risk.evidence, risk.count = names, evidence, len(names)
    risk.fix = (
        "Give each agent and service its own credential for each system, so that one can be "
        "revoked without breaking the others and every action is attributable."
    )

    risk = risks["NHI10"]
    since = reviewed.generated_at - _days(reviewed.days)
    used_by_people: dict[str, str] = {}
    ids = sorted(machine_names)
    for start in range(0, len(ids), 5000):
        for actor_id, context in session.execute(
            sa.select(Event.actor_id, Event.context).where(
                Event.occurred_at >= since,
                Event.actor_id.in_(ids[start : start + 5000]),
                Event.action != "access.evaluate",
            )
        ):
            agent = str((context or {}).get("user_agent") or "")
            if _BROWSER.search(agent) and actor_id not in used_by_people:
                used_by_people[actor_id] = agent[:80]
    risk.identities = sorted(machine_names[i] for i in used_by_people)
    risk.count = len(risk.identities)
    risk.evidence = [f"{machine_names[i]}: used from {a}" for i, a in used_by_people.items()]
    risk.fix = (
        "People use their own identity (a personal token: limen token create --identity "
        "ME); an agent's or service's credential stays in the program it was issued to."
    )
    return [risks[rid] for rid, _ in RISKS]


def _days(days: int) -> timedelta:
    return timedelta(days=days)
