"""The vault over HTTP, in the shape of the 1Password Connect API.

https://developer.1password.com/docs/connect/api-reference/ — so that the official
``onepasswordconnectsdk`` client, and the tools built on Connect, work unchanged with
``OP_CONNECT_HOST`` pointing at Limen and ``OP_CONNECT_TOKEN`` set to a Limen service
account token. This is also Limen's native vault API: one surface, one id format.
Errors on these routes are Connect's ``{"status", "message"}``.

Limen extensions: ``POST /v1/vaults`` (create a vault), ``PATCH /v1/vaults/{id}`` (rename,
description, rotation policy) and ``DELETE /v1/vaults/{id}`` (an empty vault), all with
``vault:admin``; the trash (``GET …/items?trashed=true``, ``POST …/items/{id}/restore``);
and vault or item references by name wherever Connect takes an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from limen.api.bodies import request_body
from limen.api.deps import ActorDep, services_of
from limen.api.routing import PUBLIC, Route, guarded
from limen.api.schemas.connect import (
    ItemIn,
    VaultCreate,
    VaultUpdate,
    activity_document,
    apply_patch,
    file_document,
    item_document,
    summary_document,
    timestamp,
    vault_document,
)
from limen.errors import BadRequest, InvalidInput
from limen.vault import VaultService, check_file_size, parse_filter

__all__ = ["ERROR_PREFIXES", "FILE_UPLOAD_PATH", "connect_error", "router"]

router = APIRouter(tags=["vault (1Password Connect)"], route_class=Route)

ERROR_PREFIXES = ("/v1/vaults", "/v1/activity")


def connect_error(status: int, code: str, detail: str | None) -> Response:
    """Connect's error body: ``{"status": 403, "message": "..."}``."""
    return JSONResponse({"status": status, "message": detail or code}, status_code=status)


def vault_service(request: Request) -> VaultService:
    return services_of(request).vault


def _json(document: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(document, status_code=status)


@router.get(
    "/heartbeat", include_in_schema=True, response_class=PlainTextResponse, openapi_extra=PUBLIC
)
async def heartbeat() -> PlainTextResponse:
    """Connect's liveness probe: a plain-text ``.``, no authentication."""
    return PlainTextResponse(".")


@router.get("/v1/vaults", openapi_extra=guarded("vault.read"))
def list_vaults(request: Request, actor: ActorDep, filter: str | None = None) -> JSONResponse:
    """Vaults this token may read; ``filter=name eq "payments"``."""
    parsed = parse_filter(filter, ("name",))
    vaults = vault_service(request).list_vaults(actor, name=parsed[1] if parsed else None)
    return _json([vault_document(v) for v in vaults])


@router.post("/v1/vaults", status_code=201, openapi_extra=guarded("vault.create"))
def create_vault(request: Request, actor: ActorDep, body: VaultCreate) -> JSONResponse:
    vault = vault_service(request).create_vault(
        actor, body.name, description=body.description, max_secret_age_days=body.max_secret_age_days
    )
    return _json(vault_document(vault), 201)


@router.get("/v1/vaults/{vault_id}", openapi_extra=guarded("vault.read"))
def get_vault(request: Request, actor: ActorDep, vault_id: str) -> JSONResponse:
    return _json(vault_document(vault_service(request).get_vault(actor, vault_id)))


@router.patch("/v1/vaults/{vault_id}", openapi_extra=guarded("vault.update"))
def update_vault(
    request: Request, actor: ActorDep, vault_id: str, body: VaultUpdate
) -> JSONResponse:
    """Rename a vault, change its description or its rotation policy (what is sent).

    Items follow the vault's id; ``limen://`` references by its old name stop resolving.
    """
    given = body.model_fields_set
    if not given:
        raise BadRequest("nothing to change: send name, description or maxSecretAgeDays")
    service = vault_service(request)
    view = service.update_vault(actor, vault_id, name=body.name, description=body.description)
    if "max_secret_age_days" in given:
        view = service.set_policy(actor, view.id, max_secret_age_days=body.max_secret_age_days)
    return _json(vault_document(view))


@router.delete("/v1/vaults/{vault_id}", status_code=204, openapi_extra=guarded("vault.update"))
def delete_vault(request: Request, actor: ActorDep, vault_id: str) -> Response:
    """Delete an empty vault; its trash goes with it. A vault holding items is a 409."""
    vault_service(request).delete_vault(actor, vault_id)
    return Response(status_code=204)


@router.get("/v1/vaults/{vault_id}/items", openapi_extra=guarded("vault.read"))
def list_items(
    request: Request,
    actor: ActorDep,
    vault_id: str,
    filter: str | None = None,
    trashed: bool = False,
) -> JSONResponse:
    """Item summaries; ``filter=title eq "db"`` or ``filter=tag eq "prod"``;
    ``trashed=true`` lists the vault's trash instead."""
    parsed = parse_filter(filter, ("title", "tag"))
    kwargs = {parsed[0]: parsed[1]} if parsed else {}
    items = vault_service(request).list_items(actor, vault_id, trashed=trashed, **kwargs)
    return _json([summary_document(i) for i in items])


@router.get("/v1/vaults/{vault_id}/items/{item_id}/versions", openapi_extra=guarded("vault.read"))
def item_versions(request: Request, actor: ActorDep, vault_id: str, item_id: str) -> JSONResponse:
    """Every version of an item: number, when, by whom (never a value). Limen extension."""
    versions = vault_service(request).item_versions(actor, vault_id, item_id)
    return _json(
        [
            {"version": number, "createdAt": timestamp(at), "createdBy": by}
            for number, at, by in versions
        ]
    )


@router.get("/v1/vault-report", openapi_extra=guarded("vault.report"))
def rotation_report(request: Request, actor: ActorDep, all: bool = False) -> JSONResponse:
    """Items whose secrets are older than their rotation policy allows or that an
    offboarding flagged for rotation (``all=true``: every item under a policy too),
    oldest secret first: ``limen vault report``. Errors here are problem details
    (outside Connect's ``/v1/vaults``)."""
    entries = vault_service(request).report(actor)
    return _json([e.to_document() for e in entries if all or e.due])


@router.post(
    "/v1/vaults/{vault_id}/items/{item_id}/restore", openapi_extra=guarded("vault.item.write")
)
def restore_item(request: Request, actor: ActorDep, vault_id: str, item_id: str) -> JSONResponse:
    """Take an item out of the trash (by id, or title); it reads again at its version."""
    item = vault_service(request).restore_item(actor, vault_id, item_id)
    return _json(summary_document(item))


@router.post("/v1/vaults/{vault_id}/items", openapi_extra=guarded("vault.item.write"))
def create_item(request: Request, actor: ActorDep, vault_id: str, body: ItemIn) -> JSONResponse:
    item = vault_service(request).create_item(actor, vault_id, body.to_draft())
    return _json(item_document(item))


@router.get("/v1/vaults/{vault_id}/items/{item_id}", openapi_extra=guarded("vault.item.read"))
async def get_item(
    request: Request,
    actor: ActorDep,
    vault_id: str,
    item_id: str,
) -> JSONResponse:
    """The item; ``version=N`` reads an older version (a Limen extension)."""
    # Read by hand rather than declared: a declared query parameter would put FastAPI's
    # per-request work back on the busiest read (tests/api/test_routing.py).
    version = _version_asked(request)
    vaults = vault_service(request)
    if version is None:
        item = await vaults.get_item_async(actor, vault_id, item_id)
    else:
        item = await run_in_threadpool(vaults.get_item, actor, vault_id, item_id, version=version)
    return _json(item_document(item))


def _version_asked(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput("version must be a whole number, 1 or more")
    return int(raw)


@router.put("/v1/vaults/{vault_id}/items/{item_id}", openapi_extra=guarded("vault.item.write"))
def replace_item(
    request: Request, actor: ActorDep, vault_id: str, item_id: str, body: ItemIn
) -> JSONResponse:
    # A body naming another item or vault is a mistake, not a request to replace this
    # one with it: refuse it rather than overwrite the item the URL names.
    if body.id is not None and body.id != item_id:
        raise BadRequest(f"the body's id {body.id[:64]!r} is not the item in the URL")
    if body.vault is not None and body.vault.id and body.vault.id != vault_id:
        raise BadRequest(f"the body's vault.id {body.vault.id[:64]!r} is not the vault in the URL")
    item = vault_service(request).replace_item(actor, vault_id, item_id, body.to_draft())
    return _json(item_document(item))


@router.patch("/v1/vaults/{vault_id}/items/{item_id}", openapi_extra=guarded("vault.item.write"))
def patch_item(
    request: Request,
    actor: ActorDep,
    vault_id: str,
    item_id: str,
    operations: Annotated[list[dict[str, Any]], Body()],
) -> JSONResponse:
    """RFC 6902 JSON Patch: ``[{"op": "replace", "path": "/fields/password/value", ...}]``."""
    item = vault_service(request).update_item(
        actor, vault_id, item_id, lambda draft: apply_patch(draft, operations)
    )
    return _json(item_document(item))


@router.delete(
    "/v1/vaults/{vault_id}/items/{item_id}",
    status_code=204,
    openapi_extra=guarded("vault.item.write"),
)
def delete_item(request: Request, actor: ActorDep, vault_id: str, item_id: str) -> Response:
    vault_service(request).delete_item(actor, vault_id, item_id)
    return Response(status_code=204)


@router.get("/v1/vaults/{vault_id}/items/{item_id}/files", openapi_extra=guarded("vault.read"))
def list_files(
    request: Request,
    actor: ActorDep,
    vault_id: str,
    item_id: str,
    inline_files: bool = False,
) -> JSONResponse:
    service = vault_service(request)
    files = service.list_files(actor, vault_id, item_id)
    if not inline_files:
        return _json([file_document(f) for f in files])
    documents = []
    for info in files:
        _, content = service.read_file(actor, vault_id, item_id, info.id)
        documents.append(file_document(info, content))
    return _json(documents)


FILE_UPLOAD_PATH = r"/v1/vaults/[^/]+/items/[^/]+/files"
"""The upload route's path: it bounds its own body (:func:`_file_body`), by the file limit
rather than ``LIMEN_MAX_REQUEST_BYTES``."""


@router.post(
    "/v1/vaults/{vault_id}/items/{item_id}/files",
    status_code=201,
    openapi_extra={
        **guarded("vault.item.write"),
        **request_body("application/octet-stream", schema={"type": "string", "format": "binary"}),
        "parameters": [
            {
                "name": "name",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "maxLength": 300},
                "description": "The file's name (no '/').",
            }
        ],
    },
)
async def attach_file(
    request: Request, actor: ActorDep, vault_id: str, item_id: str
) -> JSONResponse:
    """Attach the request body, as it is, to an item as the file ``name``, sealed like
    every secret (``limen item attach``; a Limen extension: Connect only reads files).
    A body over the file limit is a 413, told by its length or counted as it arrives."""
    name = request.query_params.get("name")
    if not name:
        raise InvalidInput("name: the file needs a name (?name=…)")
    content = await _file_body(request)
    # Sealing and the write are blocking database work: off the event loop.
    info = await run_in_threadpool(
        vault_service(request).attach_file, actor, vault_id, item_id, name=name, content=content
    )
    return _json(file_document(info), 201)


async def _file_body(request: Request) -> bytes:
    """The body of a file upload, read no further than one chunk past the file limit: a
    longer one is refused (:class:`~limen.vault.FileTooLarge`) as soon as it is, from its
    ``Content-Length`` or, chunked, as it arrives, with no more than the limit held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        check_file_size(int(declared))
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        check_file_size(received)
        chunks.append(chunk)
    return b"".join(chunks)


@router.get(
    "/v1/vaults/{vault_id}/items/{item_id}/files/{file_id}", openapi_extra=guarded("vault.read")
)
def get_file(
    request: Request,
    actor: ActorDep,
    vault_id: str,
    item_id: str,
    file_id: str,
    inline_files: bool = False,
) -> JSONResponse:
    service = vault_service(request)
    if inline_files:
        info, content = service.read_file(actor, vault_id, item_id, file_id)
        return _json(file_document(info, content))
    return _json(file_document(service.file_info(actor, vault_id, item_id, file_id)))


@router.get(
    "/v1/vaults/{vault_id}/items/{item_id}/files/{file_id}/content",
    openapi_extra=guarded("vault.item.read"),
)
def get_file_content(
    request: Request, actor: ActorDep, vault_id: str, item_id: str, file_id: str
) -> Response:
    info, content = vault_service(request).read_file(actor, vault_id, item_id, file_id)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{info.name}"'},
    )


@router.get("/v1/activity", openapi_extra=guarded("event.read"))
def activity(
    request: Request,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Recent vault requests as Connect ``APIRequest`` objects, newest first."""
    events, total = vault_service(request).activity(actor, limit=limit, offset=offset)
    response = _json([activity_document(e) for e in events])
    # As Connect does: which slice of the collection this is, and its size.
    first = offset + 1 if events else offset
    response.headers["Content-Range"] = f"{first}-{offset + len(events)}/{total}"
    return response
