"""Response playbooks: ``/v1/playbooks`` (read: the view group; change: manage)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.playbooks import (
    PlaybookIn,
    PlaybookList,
    PlaybookOut,
    PlaybookTestIn,
    PlaybookTestOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/playbooks", tags=["playbooks"], route_class=Route)


@router.get("", response_model=PlaybookList, openapi_extra=guarded("playbook.read"))
def list_playbooks(services: ServicesDep, actor: ActorDep) -> PlaybookList:
    return PlaybookList(items=[PlaybookOut(**p) for p in services.playbooks.list(actor)])


@router.put("/{name}", response_model=PlaybookOut, openapi_extra=guarded("playbook.write"))
def put_playbook(
    name: str, body: PlaybookIn, services: ServicesDep, actor: ActorDep
) -> PlaybookOut:
    """Add or replace a playbook."""
    return PlaybookOut(**services.playbooks.put(actor, name, body.text, mode=body.mode))


@router.get("/{name}", response_model=PlaybookOut, openapi_extra=guarded("playbook.read"))
def show_playbook(name: str, services: ServicesDep, actor: ActorDep) -> PlaybookOut:
    return PlaybookOut(**services.playbooks.get(actor, name))


@router.delete("/{name}", status_code=204, openapi_extra=guarded("playbook.write"))
def remove_playbook(name: str, services: ServicesDep, actor: ActorDep) -> Response:
    services.playbooks.remove(actor, name)
    return Response(status_code=204)


@router.post("/{name}/test", response_model=PlaybookTestOut, openapi_extra=guarded("playbook.read"))
def test_playbook(
    name: str, body: PlaybookTestIn, services: ServicesDep, actor: ActorDep
) -> PlaybookTestOut:
    """What the playbook would do for an alert already raised; nothing changes."""
    return PlaybookTestOut(**services.playbooks.test(actor, name, body.alert))
