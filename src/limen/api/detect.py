"""Detection over HTTP: ``POST /v1/detect/simulation/identities`` creates the identities
of a simulated company (``limen detect simulate --register`` in remote mode), so the
server's registry matches the events the command wrote. It asks for ``identity.create``
(the manage group: admins), as creating each of them by hand would."""

from __future__ import annotations

from fastapi import APIRouter

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.detect import SimulatedIdentities, SimulationRegistered
from limen.audit import Resource

__all__ = ["router"]

router = APIRouter(prefix="/v1/detect", tags=["detect"], route_class=Route)


@router.post(
    "/simulation/identities",
    response_model=SimulationRegistered,
    openapi_extra=guarded("identity.create"),
)
def register_simulated_identities(
    body: SimulatedIdentities, services: ServicesDep, actor: ActorDep
) -> SimulationRegistered:
    """Create the identities, owners first, in one transaction; one that exists by name
    is left as it is. An identity that cannot be created (an email another identity has,
    an owner that is not a human) refuses the whole request, and nothing is created."""
    from limen.detect.simulation import IdentitySpec, register  # the generator: only here

    services.guard.authorize(actor, "identity.create", Resource("identity"))
    specs = [IdentitySpec(**identity.model_dump()) for identity in body.identities]
    with services.db.unit_of_work() as uow:
        created = register(uow, actor, identities=specs)
    return SimulationRegistered(registered=created)
