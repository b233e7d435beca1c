"""Native identity API: ``/v1/identities``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from limen import identity, respond
from limen.api.deps import DatabaseDep, require_scope
from limen.api.routing import Route
from limen.api.schemas.identities import IdentityCreate, IdentityList, IdentityPublic, StatusChange
from limen.audit import Actor
from limen.store import Database

__all__ = ["router"]

router = APIRouter(prefix="/v1/identities", tags=["identities"], route_class=Route)

Reader = Annotated[Actor, Depends(require_scope("identities:read"))]
Writer = Annotated[Actor, Depends(require_scope("identities:write"))]


@router.post("", status_code=201, response_model=IdentityPublic)
def create_identity(body: IdentityCreate, db: DatabaseDep, actor: Writer) -> IdentityPublic:
    with db.unit_of_work() as uow:
        created = identity.create(
            uow,
            actor,
            kind=body.kind,
            name=body.name,
            email=body.email,
            display_name=body.display_name,
            owner=body.owner,
            roles=body.roles,
            attributes=body.attributes,
        )
        return IdentityPublic.from_domain(created)


@router.get("", response_model=IdentityList)
def list_identities(
    db: DatabaseDep,
    actor: Reader,
    kind: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IdentityList:
    with db.unit_of_work(readonly=True) as uow:
        page = identity.list_identities(
            uow.session, kind=kind, status=status, owner=owner, after=cursor, limit=limit
        )
        return IdentityList(
            items=[IdentityPublic.from_domain(i) for i in page.identities],
            next_cursor=page.next_cursor,
        )


@router.get("/{ref}", response_model=IdentityPublic)
def get_identity(ref: str, db: DatabaseDep, actor: Reader) -> IdentityPublic:
    with db.unit_of_work(readonly=True) as uow:
        return IdentityPublic.from_domain(identity.get(uow.session, ref))


@router.post("/{ref}/suspend", response_model=IdentityPublic)
def suspend_identity(
    ref: str, db: DatabaseDep, actor: Writer, body: StatusChange | None = None
) -> IdentityPublic:
    return _change_status(respond.contain, db, actor, ref, body)


@router.post("/{ref}/reactivate", response_model=IdentityPublic)
def reactivate_identity(
    ref: str, db: DatabaseDep, actor: Writer, body: StatusChange | None = None
) -> IdentityPublic:
    return _change_status(respond.release, db, actor, ref, body)


def _change_status(
    change: Callable[..., respond.Contained],
    db: Database,
    actor: Actor,
    ref: str,
    body: StatusChange | None,
) -> IdentityPublic:
    with db.unit_of_work() as uow:
        done = change(
            uow,
            actor,
            ref,
            reason=body.reason if body else None,
            cascade=bool(body and body.cascade),
        )
        return IdentityPublic.from_domain(done.identity)
