"""Server side of ``limen scan --report``: discovered identities join the registry.

A scan run on a laptop or in CI hands its inventory to a Limen server. Each discovered
credential or agent becomes an *unmanaged* identity (``managed = False``) so that it shows
up next to the managed ones until someone vaults, claims or revokes it; each finding
becomes an event. Reports carry keyed fingerprints and places, never a secret: the wire
shape has no field that could hold one.

Reporting the same credential again updates its identity (places, last seen) instead of
adding another: identities are named after their fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from limen import identity as identities
from limen.audit import Actor, record
from limen.store import UnitOfWork
from limen.store.models import Identity

__all__ = ["IntakeResult", "ReportedFinding", "ReportedIdentity", "ingest"]

_MAX_PLACES = 50


@dataclass(frozen=True, slots=True)
class ReportedIdentity:
    key: str
    kind: str
    provider: str
    name: str | None = None
    rule_ids: Sequence[str] = ()
    places: Sequence[str] = ()
    likely_owner: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None


@dataclass(frozen=True, slots=True)
class ReportedFinding:
    rule_id: str
    provider: str
    location: str
    fingerprint: str
    source: str = "file"
    commit: str | None = None
    owner: str | None = None


@dataclass
class IntakeResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    findings: int = 0


def ingest(
    uow: UnitOfWork,
    actor: Actor,
    *,
    identities_found: Sequence[ReportedIdentity],
    findings: Sequence[ReportedFinding],
    origin: str | None = None,
) -> IntakeResult:
    """Register discovered identities as unmanaged and record every finding as an event."""
    result = IntakeResult()
    for found in identities_found:
        name = _registry_name(found)
        existing = uow.session.scalar(sa.select(Identity).where(Identity.name == name))
        if existing is None:
            created = identities.create(
                uow,
                actor,
                kind="agent" if found.kind == "agent" else "service",
                name=name,
                display_name=found.name or f"{found.provider} credential",
                attributes=_attributes(found, origin, previous=None),
                managed=False,
            )
            result.created.append(created.id)
        else:
            existing.attributes = _attributes(found, origin, previous=existing.attributes)
            record(
                uow.session,
                actor,
                "identity.rediscover",
                resource_type="identity",
                resource_id=existing.id,
                resource_name=existing.name,
                context={"origin": origin},
            )
            result.updated.append(existing.id)
    for finding in findings:
        record(
            uow.session,
            actor,
            "finding.report",
            resource_type="finding",
            resource_id=finding.fingerprint,
            resource_name=finding.location[:300],
            context={
                "rule_id": finding.rule_id,
                "provider": finding.provider,
                "source": finding.source,
                "commit": finding.commit,
                "owner": finding.owner,
                "origin": origin,
            },
        )
        result.findings += 1
    uow.flush()
    return result


def _registry_name(found: ReportedIdentity) -> str:
    stem = found.name if found.kind == "agent" and found.name else found.provider
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:60] or "unknown"
    return f"discovered-{found.kind}-{slug}-{found.key[:12]}"


def _attributes(
    found: ReportedIdentity, origin: str | None, *, previous: dict[str, Any] | None
) -> dict[str, Any]:
    before = previous or {}
    places = list(dict.fromkeys([*before.get("places", []), *found.places]))
    first = [t for t in (before.get("first_seen"), found.first_seen) if t]
    last = [t for t in (before.get("last_seen"), found.last_seen) if t]
    return {
        "discovered": True,
        "discovery_key": found.key,
        "provider": found.provider,
        "rule_ids": sorted(set(before.get("rule_ids", [])) | set(found.rule_ids)),
        "places": places[-_MAX_PLACES:],
        "likely_owner": found.likely_owner or before.get("likely_owner"),
        "first_seen": min(first) if first else None,
        "last_seen": max(last) if last else None,
        "origin": origin or before.get("origin"),
    }
