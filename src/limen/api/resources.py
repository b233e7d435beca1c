"""Operator resource tags: ``/v1/resources`` (read: the view group; tag: manage)."""

from __future__ import annotations

from fastapi import APIRouter

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.resources import ResourceList, ResourceOut, ResourceTagsIn

__all__ = ["router"]

router = APIRouter(prefix="/v1/resources", tags=["resources"], route_class=Route)


@router.get("", response_model=ResourceList, openapi_extra=guarded("resource.read"))
def list_resources(services: ServicesDep, actor: ActorDep, tag: str | None = None) -> ResourceList:
    """Tagged resources; ``tag``: only those carrying it."""
    found = services.resource_tags.list(actor, tag=tag)
    return ResourceList(items=[ResourceOut(**r) for r in found])


@router.post("/tag", response_model=ResourceOut, openapi_extra=guarded("resource.write"))
def tag_resource(body: ResourceTagsIn, services: ServicesDep, actor: ActorDep) -> ResourceOut:
    """Add tags to a resource (those it has already are kept)."""
    return ResourceOut(**services.resource_tags.tag(actor, body.resource, body.tags))


@router.post("/untag", response_model=ResourceOut, openapi_extra=guarded("resource.write"))
def untag_resource(body: ResourceTagsIn, services: ServicesDep, actor: ActorDep) -> ResourceOut:
    """Remove tags from a resource."""
    return ResourceOut(**services.resource_tags.untag(actor, body.resource, body.tags))
