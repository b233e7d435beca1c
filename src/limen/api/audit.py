"""The audit chain over HTTP: ``/v1/audit`` (verify, signed checkpoints).

``POST /v1/audit/verify`` is ``limen audit verify`` run by the server: the report says
whether the chain holds and, if not, the first bad event (a bad trail is a report with
``ok: false``, not an error). ``GET /v1/audit/checkpoints`` hands out the signed
checkpoints to keep somewhere Limen cannot write, and to send back to verify against.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.audit import VerifyRequest
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
