"""A fleet of machines reporting their scans: enrolment tokens, machines, exposures.

Laptops and CI runners run ``limen scan --endpoint --report`` with an enrolment token
(``limen fleet token create``). Each report names its machine and that machine's user;
the server keeps one :class:`~limen.store.models.FleetMachine` per name within the
token's fleet, and one :class:`~limen.store.models.FleetExposure` per credential
fingerprint and place. A later report of the same scope that no longer finds an exposure
marks it resolved, so the inventory shows what each machine holds *now*.

An enrolment token can only report (scope ``discovery:write``): it reads nothing back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from limen import identity as identities
from limen.audit import Actor, record
from limen.errors import InvalidInput, NotFound
from limen.store import UnitOfWork
from limen.store.models import ApiToken, FleetExposure, FleetMachine, Identity, utcnow

__all__ = [
    "ENROLMENT_SCOPES",
    "Enrolment",
    "MachineReport",
    "ReportedExposure",
    "enrol",
    "list_exposures",
    "list_machines",
    "record_report",
]

ENROLMENT_SCOPES: Final = ("discovery:write",)
_PURPOSE: Final = "fleet"
_IDENTITY: Final = "fleet-reporter"
_DEFAULT_FLEET: Final = "default"


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new enrolment token; ``token`` is shown once and stored only as a hash."""

    fleet: str
    token_id: str
    token: str = field(repr=False)
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReportedExposure:
    fingerprint: str
    rule_id: str
    provider: str
    location: str
    source: str


@dataclass(frozen=True, slots=True)
class MachineReport:
    """What one report changed in the fleet inventory."""

    machine_id: str
    opened: int
    resolved: int


def enrol(
    uow: UnitOfWork, actor: Actor, fleet: str, *, expires_at: datetime | None = None
) -> Enrolment:
    """Issue an enrolment token for ``fleet`` (a name such as ``laptops`` or ``ci``)."""
    fleet = fleet.strip()
    if not fleet or len(fleet) > 200:
        raise InvalidInput("a fleet name has 1 to 200 characters")
    reporter = uow.session.scalar(sa.select(Identity).where(Identity.name == _IDENTITY))
    if reporter is None:
        reporter = identities.create(
            uow,
            actor,
            kind="service",
            name=_IDENTITY,
            display_name="Machines reporting limen scan results",
            attributes={"fleet": True},
        )
    token, raw = identities.issue_api_token(
        uow,
        actor,
        reporter,
        purpose=_PURPOSE,
        scopes=list(ENROLMENT_SCOPES),
        name=fleet,
        expires_at=expires_at,
    )
    return Enrolment(fleet=fleet, token_id=token.id, token=raw, expires_at=expires_at)


def record_report(
    uow: UnitOfWork,
    actor: Actor,
    *,
    machine: str,
    owner: str | None,
    scope: str | None,
    exposures: Sequence[ReportedExposure],
) -> MachineReport:
    """Record one machine's report: upsert the machine, open what it found, resolve the rest."""
    session = uow.session
    fleet = _DEFAULT_FLEET
    if actor.token_id is not None:
        token = session.get(ApiToken, actor.token_id)
        if token is not None and token.purpose == _PURPOSE and token.name:
            fleet = token.name
    now = utcnow()
    row = session.scalar(
        sa.select(FleetMachine).where(FleetMachine.fleet == fleet, FleetMachine.name == machine)
    )
    if row is None:
        row = FleetMachine(fleet=fleet, name=machine, first_seen=now, reports=0)
        session.add(row)
    row.owner = owner or row.owner
    row.token_id = actor.token_id if fleet != _DEFAULT_FLEET else row.token_id
    row.last_seen = now
    row.reports = (row.reports or 0) + 1
    uow.flush()
    scope_key = hashlib.sha256((scope or "").encode("utf-8", "replace")).hexdigest()
    known = {
        (e.fingerprint, e.location): e
        for e in session.scalars(
            sa.select(FleetExposure).where(
                FleetExposure.machine_id == row.id, FleetExposure.scope_key == scope_key
            )
        )
    }
    seen: set[tuple[str, str]] = set()
    opened = 0
    for found in exposures:
        key = (found.fingerprint, found.location[:1000])
        if key in seen:
            continue
        seen.add(key)
        exposure = known.get(key)
        if exposure is None:
            session.add(
                FleetExposure(
                    machine_id=row.id,
                    scope_key=scope_key,
                    fingerprint=found.fingerprint,
                    rule_id=found.rule_id,
                    provider=found.provider,
                    location=key[1],
                    source=found.source,
                    status="open",
                    first_seen=now,
                    last_seen=now,
                )
            )
            opened += 1
        else:
            if exposure.status != "open":
                opened += 1
            exposure.status, exposure.last_seen, exposure.resolved_at = "open", now, None
    resolved = 0
    for key, exposure in known.items():
        if key not in seen and exposure.status == "open":
            exposure.status, exposure.resolved_at = "resolved", now
            resolved += 1
            record(
                session,
                actor,
                "finding.resolve",
                resource_type="finding",
                resource_id=exposure.fingerprint,
                resource_name=exposure.location[:300],
                context={"machine": machine, "fleet": fleet, "rule_id": exposure.rule_id},
            )
    record(
        session,
        actor,
        "fleet.machine.report",
        resource_type="fleet_machine",
        resource_id=row.id,
        resource_name=machine,
        context={"fleet": fleet, "owner": owner, "opened": opened, "resolved": resolved},
    )
    uow.flush()
    return MachineReport(machine_id=row.id, opened=opened, resolved=resolved)


def list_machines(session: sa.orm.Session) -> list[dict[str, object]]:
    """Every machine with its open exposure count, most recently seen first."""
    open_counts = dict(
        session.execute(
            sa.select(FleetExposure.machine_id, sa.func.count())
            .where(FleetExposure.status == "open")
            .group_by(FleetExposure.machine_id)
        ).all()
    )
    machines = session.scalars(
        sa.select(FleetMachine).order_by(FleetMachine.last_seen.desc(), FleetMachine.name)
    )
    return [
        {
            "id": m.id,
            "fleet": m.fleet,
            "name": m.name,
            "owner": m.owner,
            "first_seen": m.first_seen,
            "last_seen": m.last_seen,
            "reports": m.reports,
            "open_exposures": int(open_counts.get(m.id, 0)),
        }
        for m in machines
    ]


def list_exposures(
    session: sa.orm.Session, *, machine: str | None = None, include_resolved: bool = False
) -> list[dict[str, object]]:
    """Exposures (newest first), of one machine (by id or name) or of the whole fleet."""
    query = sa.select(FleetExposure, FleetMachine).join(
        FleetMachine, FleetMachine.id == FleetExposure.machine_id
    )
    if machine is not None:
        query = query.where(sa.or_(FleetMachine.id == machine, FleetMachine.name == machine))
        exists = session.scalar(
            sa.select(sa.func.count())
            .select_from(FleetMachine)
            .where(sa.or_(FleetMachine.id == machine, FleetMachine.name == machine))
        )
        if not exists:
            raise NotFound(f"no machine {machine!r} has reported")
    if not include_resolved:
        query = query.where(FleetExposure.status == "open")
    query = query.order_by(FleetExposure.last_seen.desc(), FleetExposure.location)
    return [
        {
            "id": e.id,
            "machine": m.name,
            "fleet": m.fleet,
            "owner": m.owner,
            "fingerprint": e.fingerprint,
            "rule_id": e.rule_id,
            "provider": e.provider,
            "location": e.location,
            "source": e.source,
            "status": e.status,
            "first_seen": e.first_seen,
            "last_seen": e.last_seen,
            "resolved_at": e.resolved_at,
        }
        for e, m in session.execute(query).all()
    ]
