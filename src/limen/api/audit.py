"""The audit chain over HTTP: ``/v1/audit`` (verify, signed checkpoints, pruning).

``POST /v1/audit/verify`` is ``limen audit verify`` run by the server: the report says
whether the chain holds and, if not, the first bad event (a bad trail is a report with
``ok: false``, not an error). ``GET /v1/audit/checkpoints`` hands out the signed
checkpoints to keep somewhere Limen cannot write, and to send back to verify against;
``POST`` there signs the head now. ``GET /v1/audit/prune-plan`` says what pruning would
delete, and ``POST /v1/audit/prune`` deletes no more than that plan (``limen audit
prune`` asks in between).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.audit import (
    CheckpointSigned,
    PruneOut,
    PrunePlanOut,
    PruneRequest,
    VerifyRequest,
)
from limen.audit.checkpoints import SignedCheckpoint

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=Route)


@router.post("/verify", response_model=None, openapi_extra=guarded("audit.verify"))
def verify_chain(
    services: ServicesDep, actor: ActorDep, body: VerifyRequest | None = None
) -> dict[str, Any]:
    """Recompute every link (or those after the last verified checkpoint, ``resume``) and
    compare the chain with every signed checkpoint, stored and sent."""
    body = body or VerifyRequest()
    external = [SignedCheckpoint.from_document(c) for c in body.checkpoints]
    report = services.chain_audit.verify(actor, external=external, resume=body.resume)
    return dict(report.to_document())


@router.get("/checkpoints", response_model=None, openapi_extra=guarded("event.read"))
def checkpoints(services: ServicesDep, actor: ActorDep) -> list[dict[str, object]]:
    """Every signed checkpoint, oldest first, in the format ``--export`` writes."""
    return [c.to_document() for c in services.chain_audit.checkpoints(actor)]


@router.post("/checkpoints", response_model=CheckpointSigned, openapi_extra=guarded("audit.verify"))
def sign_checkpoint(services: ServicesDep, actor: ActorDep) -> CheckpointSigned:
    """Sign the chain head now with the server's key (``limen audit checkpoint``)."""
    signed = services.chain_audit.sign(actor)
    return CheckpointSigned(checkpoint=signed.to_document() if signed else None)


@router.get("/prune-plan", response_model=PrunePlanOut, openapi_extra=guarded("audit.prune"))
def prune_plan(
    services: ServicesDep,
    actor: ActorDep,
    before: Annotated[datetime, Query(description="Events older than this (ISO 8601).")],
) -> PrunePlanOut:
    """What pruning events older than ``before`` would delete now, changing nothing:
    only as far as a signed checkpoint covers them (409 if none covers any)."""
    plan = services.chain_audit.plan_prune(actor, before=before)
    return PrunePlanOut(
        events=plan.events,
        from_position=plan.from_position,
        through_position=plan.through_position,
        checkpoint_id=plan.checkpoint_id,
    )


@router.post("/prune", response_model=PruneOut, openapi_extra=guarded("audit.prune"))
def prune_events(body: PruneRequest, services: ServicesDep, actor: ActorDep) -> PruneOut:
    """Delete old events for good, recorded as ``audit.prune`` by the token's identity;
    verification then starts from the checkpoint that covered them."""
    done = services.chain_audit.prune(
        actor, before=body.before, reason=body.reason, through=body.through_position
    )
    return PruneOut(
        deleted=done.deleted,
        through_position=done.through_position,
        checkpoint_id=done.checkpoint_id,
    )
