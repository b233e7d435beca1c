"""The ``/scim/v2`` routes: Users, Groups, and the discovery documents (RFC 7644 §3, §4)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from limen.api.bodies import JSON, request_body
from limen.api.deps import current_actor, services_of
from limen.api.routing import PUBLIC, Route, guarded
from limen.api.scim import filter as scim_filter
from limen.api.scim import patch as scim_patch
from limen.api.scim import resources
from limen.audit import Actor, Resource
from limen.errors import InvalidInput, NotFound
from limen.lifecycle import PreconditionFailed, Provisioning

__all__ = ["ERROR_PREFIX", "render_scim_error", "router"]

router = APIRouter(prefix="/scim/v2", tags=["scim"], route_class=Route)

ERROR_PREFIX = "/scim/v2"
MEDIA_TYPE = "application/scim+json"
_GUARD = guarded("scim.provision")
# RFC 7644 §3.1: application/scim+json, and application/json from clients that send it.
_WITH_BODY = {**_GUARD, **request_body(MEDIA_TYPE, JSON)}
_SCIM_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "sensitive",
    }
)
DEFAULT_COUNT = 100


class InvalidSyntax(InvalidInput):
    code = "invalidSyntax"
    title = "Invalid syntax"


def render_scim_error(status: int, code: str, detail: str | None) -> Response:
    """RFC 7644 §3.12: ``{"schemas": [Error], "status": "400", "scimType": …, "detail": …}``."""
    status, body = _error_body(status, code, detail)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def _error_body(status: int, code: str, detail: str | None) -> tuple[int, dict[str, Any]]:
    if code == "precondition-failed":
        status = 412
    elif status == 422:
        status = 400
    body: dict[str, Any] = {"schemas": [resources.ERROR_SCHEMA], "status": str(status)}
    if code in _SCIM_TYPES:
        body["scimType"] = code
    elif status == 409:
        body["scimType"] = "uniqueness"
    elif status == 400:
        body["scimType"] = "invalidValue"
    if detail:
        body["detail"] = detail
    return status, body


def _respond(
    body: Any, *, status: int = 200, version: str | None = None, location: str | None = None
) -> JSONResponse:
    headers = {}
    if version:
        headers["ETag"] = version
    if location:
        headers["Location"] = location
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _base(request: Request) -> str:
    return services_of(request).settings.resolved_public_url.rstrip("/") + ERROR_PREFIX


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSyntax("the request body is not valid JSON") from None


def _if_match(request: Request) -> int | None:
    """The version an ``If-Match: W/"3"`` names; ``*`` and no header: any."""
    header = (request.headers.get("if-match") or "").strip()
    if not header or header == "*":
        return None
    text = header.removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        return -1  # a version this server never issued: the precondition fails


def _select(resource: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9), top-level names."""
    wanted = params.get("attributes")
    excluded = params.get("excludedAttributes")
    always = {"id", "schemas", "meta"}
    if wanted:
        names = {n.strip().split(".")[0].rsplit(":", 1)[-1].lower() for n in wanted.split(",")}
        return {k: v for k, v in resource.items() if k.lower() in names | always}
    if excluded:
        names = {n.strip().split(".")[0].rsplit(":", 1)[-1].lower() for n in excluded.split(",")}
        return {k: v for k, v in resource.items() if k.lower() not in names - always}
    return resource


def _page(
    params: Mapping[str, Any], rendered: list[dict[str, Any]], *, filtered: bool = False
) -> JSONResponse:
    """The page ``params`` ask for; ``filtered``: the store already applied the filter."""
    text = params.get("filter")
    if text and not filtered:
        tree = scim_filter.parse(text)
        rendered = [r for r in rendered if scim_filter.matches(tree, r)]
    sort_by = params.get("sortBy")
    if sort_by:
        path = scim_filter.parse_path(sort_by)
        descending = (params.get("sortOrder") or "ascending").lower() == "descending"

        def key(resource: dict[str, Any]) -> tuple[int, str]:
            values = scim_filter.lookup(resource, path)
            return (0, str(values[0]).lower()) if values else (1, "")

        present = [r for r in rendered if scim_filter.lookup(r, path)]
        absent = [r for r in rendered if not scim_filter.lookup(r, path)]
        present.sort(key=key, reverse=descending)
        rendered = present + absent  # missing values last, either way (§3.4.2.3)
    try:
        start = max(1, int(params.get("startIndex") or 1))
        count = int(params.get("count") if params.get("count") is not None else DEFAULT_COUNT)
    except ValueError:
        raise InvalidInput("startIndex and count are integers") from None
    count = max(0, min(count, resources.MAX_RESULTS))
    chosen = rendered[start - 1 : start - 1 + count]
    return _respond(
        {
            "schemas": [resources.LIST_SCHEMA],
            "totalResults": len(rendered),
            "startIndex": start,
            "itemsPerPage": len(chosen),
            "Resources": [_select(r, params) for r in chosen],
        }
    )


def _search_params(body: Any) -> dict[str, Any]:
    """A SearchRequest body as the query parameters it stands for."""
    if not isinstance(body, dict):
        raise InvalidInput("a SearchRequest is a JSON object")
    params: dict[str, Any] = {}
    for name in ("filter", "sortBy", "sortOrder", "startIndex", "count"):
        value = body.get(name)
        if value is not None:
            params[name] = str(value)
    for name in ("attributes", "excludedAttributes"):
        value = body.get(name)
        if isinstance(value, list):
            params[name] = ",".join(str(v) for v in value)
        elif isinstance(value, str):
            params[name] = value
    return params


def _fast_user_name(text: str | None) -> str | None:
    """``userName eq "x"``: answered by one indexed lookup, not a scan."""
    if not text:
        return None
    tree = scim_filter.parse(text)
    if (
        isinstance(tree, scim_filter.Compare)
        and tree.op == "eq"
        and isinstance(tree.value, str)
        and tree.path.attr.lower() == "username"
        and tree.path.sub is None
        and tree.path.value_filter is None
        and (tree.path.schema or resources.USER_SCHEMA).lower() == resources.USER_SCHEMA.lower()
    ):
        return tree.value
    return None


# -- discovery ---------------------------------------------------------------------------


@router.get("/ServiceProviderConfig", openapi_extra=PUBLIC)
async def service_provider_config(request: Request) -> JSONResponse:
    """What this service provider supports (RFC 7644 §5): public, as the RFC allows."""
    return _respond(resources.service_provider_config(_base(request)))


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [resources.LIST_SCHEMA],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


@router.get("/ResourceTypes", openapi_extra=PUBLIC)
async def resource_types(request: Request) -> JSONResponse:
    return _respond(_listing(resources.resource_types(_base(request))))


@router.get("/ResourceTypes/{name}", openapi_extra=PUBLIC)
async def resource_type(request: Request, name: str) -> JSONResponse:
    for item in resources.resource_types(_base(request)):
        if item["id"].lower() == name.lower():
            return _respond(item)
    raise NotFound(f"no resource type {name[:100]!r}")


@router.get("/Schemas", openapi_extra=PUBLIC)
async def schemas(request: Request) -> JSONResponse:
    return _respond(_listing(resources.schemas(_base(request))))


@router.get("/Schemas/{uri}", openapi_extra=PUBLIC)
async def schema(request: Request, uri: str) -> JSONResponse:
    for item in resources.schemas(_base(request)):
        if item["id"].lower() == uri.lower():
            return _respond(item)
    raise NotFound(f"no schema {uri[:200]!r}")


# -- users and groups --------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """Users or Groups: the provisioning calls and wire forms of one resource type, so the
    routes and the bulk operations are written once for both."""

    path: str
    noun: str
    render: Callable[[Any, str], dict[str, Any]]
    draft: Callable[[Any], Any]
    listed: Callable[[Provisioning, Actor], list[Any]]
    read: Callable[[Provisioning, Actor, str], Any]
    create: Callable[[Provisioning, Actor, Any], Any]
    replace: Callable[..., Any]
    delete: Callable[..., Any]
    # ``userName eq "x"`` is answered by one indexed lookup instead of a scan; groups have
    # no such lookup.
    named: Callable[[Provisioning, Actor, str], Awaitable[list[Any]]] | None = None

    def patch(
        self,
        provisioning: Provisioning,
        actor: Actor,
        ident: str,
        operations: Any,
        *,
        base: str,
        if_match: int | None,
    ) -> Any:
        """RFC 7644 §3.5.2: the resource as it is, with the operations applied, stored only
        if it is still the version read (and the one the client named, if it named one)."""
        current = self.read(provisioning, actor, ident)
        if if_match is not None and if_match != current.version:
            raise PreconditionFailed("the resource changed since that version was read")
        patched = scim_patch.apply(self.render(current, base), operations)
        return self.replace(
            provisioning, actor, ident, self.draft(patched), if_match=current.version
        )

    def respond(self, request: Request, record: Any, *, status: int = 200) -> JSONResponse:
        rendered = self.render(record, _base(request))
        return _respond(
            _select(rendered, request.query_params),
            status=status,
            version=rendered["meta"]["version"],
            location=rendered["meta"]["location"] if status == 201 else None,
        )


USERS = _Kind(
    path="Users",
    noun="user",
    render=resources.render_user,
    draft=resources.user_draft,
    listed=Provisioning.users,
    read=Provisioning.user,
    create=Provisioning.create_user,
    replace=Provisioning.replace_user,
    delete=Provisioning.delete_user,
    named=Provisioning.users_named,
)
GROUPS = _Kind(
    path="Groups",
    noun="group",
    render=resources.render_group,
    draft=resources.group_draft,
    listed=Provisioning.groups,
    read=Provisioning.group,
    create=Provisioning.create_group,
    replace=Provisioning.replace_group,
    delete=Provisioning.delete_group,
)
_KINDS = {kind.path: kind for kind in (USERS, GROUPS)}


async def _provisioner(request: Request) -> Any:
    """The caller, once the guard let it provision: before its body is read."""
    actor = await current_actor(request)
    await services_of(request).guard.authorize_async(actor, "scim.provision", Resource("scim"))
    return actor


async def _in_thread(call: Callable[[], Any]) -> Any:
    return await run_in_threadpool(call)


async def _listed(
    kind: _Kind, request: Request, params: Mapping[str, Any], *, actor: Any = None
) -> JSONResponse:
    actor = actor or await _provisioner(request)
    provisioning = services_of(request).provisioning
    user_name = _fast_user_name(params.get("filter")) if kind.named else None
    if kind.named is None or user_name is None:
        records = await _in_thread(lambda: kind.listed(provisioning, actor))
    else:
        # The lookup before every push: one indexed query, compared as the filter would
        # (userName is caseExact=false), so the filter is not applied a second time.
        records = await kind.named(provisioning, actor, user_name)
    base = _base(request)
    return _page(params, [kind.render(r, base) for r in records], filtered=user_name is not None)


def _resource_routes(kind: _Kind) -> None:
    """The seven routes of one resource type (RFC 7644 §3.2-3.6), under the names the
    OpenAPI description has always given them (``list_users``, ``patch_group``, …)."""
    collection, one = f"/{kind.path}", f"/{kind.path}/{{{kind.noun}_id}}"
    # The path parameter keeps its name (``user_id``, ``group_id``) in the OpenAPI document.
    # (A default, not an Annotated type: annotations are strings here and ``kind`` is local.)
    ident_param = f"{kind.noun}_id"

    @router.get(collection, openapi_extra=_GUARD, name=f"list_{kind.noun}s")
    async def listing(request: Request) -> JSONResponse:
        return await _listed(kind, request, request.query_params)

    @router.post(f"{collection}/.search", openapi_extra=_WITH_BODY, name=f"search_{kind.noun}s")
    async def search(request: Request) -> JSONResponse:
        """RFC 7644 §3.4.3: the query in a SearchRequest body."""
        actor = await _provisioner(request)
        return await _listed(kind, request, _search_params(await _body(request)), actor=actor)

    @router.post(collection, openapi_extra=_WITH_BODY, name=f"create_{kind.noun}")
    async def create(request: Request) -> JSONResponse:
        actor = await _provisioner(request)
        draft = kind.draft(await _body(request))
        provisioning = services_of(request).provisioning
        record = await _in_thread(lambda: kind.create(provisioning, actor, draft))
        return kind.respond(request, record, status=201)

    @router.get(one, openapi_extra=_GUARD, name=f"get_{kind.noun}")
    async def get(request: Request, ident: str = Path(alias=ident_param)) -> JSONResponse:
        actor = await current_actor(request)
        provisioning = services_of(request).provisioning
        return kind.respond(
            request, await _in_thread(lambda: kind.read(provisioning, actor, ident))
        )

    @router.put(one, openapi_extra=_WITH_BODY, name=f"replace_{kind.noun}")
    async def replace(request: Request, ident: str = Path(alias=ident_param)) -> JSONResponse:
        actor = await _provisioner(request)
        draft = kind.draft(await _body(request))
        provisioning = services_of(request).provisioning
        version = _if_match(request)
        record = await _in_thread(
            lambda: kind.replace(provisioning, actor, ident, draft, if_match=version)
        )
        return kind.respond(request, record)

    @router.patch(one, openapi_extra=_WITH_BODY, name=f"patch_{kind.noun}")
    async def patch(request: Request, ident: str = Path(alias=ident_param)) -> JSONResponse:
        actor = await _provisioner(request)
        body = await _body(request)
        provisioning = services_of(request).provisioning
        base = _base(request)
        version = _if_match(request)
        record = await _in_thread(
            lambda: kind.patch(provisioning, actor, ident, body, base=base, if_match=version)
        )
        return kind.respond(request, record)

    @router.delete(one, openapi_extra=_GUARD, name=f"delete_{kind.noun}")
    async def delete(request: Request, ident: str = Path(alias=ident_param)) -> Response:
        actor = await current_actor(request)
        provisioning = services_of(request).provisioning
        version = _if_match(request)
        await _in_thread(lambda: kind.delete(provisioning, actor, ident, if_match=version))
        return Response(status_code=204)


for _kind in _KINDS.values():
    _resource_routes(_kind)


@router.post("/.search", openapi_extra=_WITH_BODY)
async def search_all(request: Request) -> JSONResponse:
    """RFC 7644 §3.4.3 at the root: users and groups in one result."""
    actor = await _provisioner(request)
    params = _search_params(await _body(request))
    provisioning = services_of(request).provisioning
    base = _base(request)

    def both() -> list[dict[str, Any]]:
        users = [resources.render_user(r, base) for r in provisioning.users(actor)]
        return users + [resources.render_group(r, base) for r in provisioning.groups(actor)]

    return _page(params, await _in_thread(both))


# -- bulk (RFC 7644 §3.7) -----------------------------------------------------------------

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


@router.post("/Bulk", openapi_extra=_WITH_BODY)
async def bulk(request: Request) -> JSONResponse:
    """Operations in order; ``bulkId:<id>`` in later data names a resource an earlier
    operation created. Each operation is its own transaction; ``failOnErrors`` stops the
    run after that many errors."""
    actor = await _provisioner(request)
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise InvalidInput("a BulkRequest needs an Operations list")
    operations = body["Operations"]
    if len(operations) > resources.MAX_BULK_OPERATIONS:
        raise InvalidInput(
            f"at most {resources.MAX_BULK_OPERATIONS} operations per request",
        )
    fail_on = body.get("failOnErrors")
    limit = fail_on if isinstance(fail_on, int) and fail_on > 0 else None
    provisioning = services_of(request).provisioning
    base = _base(request)

    def run() -> list[dict[str, Any]]:
        created: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        errors = 0
        for operation in operations:
            if limit is not None and errors >= limit:
                break
            result = _bulk_one(provisioning, actor, operation, created, base)
            if int(result["status"]) >= 400:
                errors += 1
            results.append(result)
        return results

    results = await _in_thread(run)
    return _respond({"schemas": [BULK_RESPONSE], "Operations": results})


def _bulk_one(
    provisioning: Any,
    actor: Any,
    operation: Any,
    created: dict[str, str],
    base: str,
) -> dict[str, Any]:
    from limen.errors import LimenError

    method = str(operation.get("method") or "").upper() if isinstance(operation, dict) else ""
    bulk_id = operation.get("bulkId") if isinstance(operation, dict) else None
    result: dict[str, Any] = {"method": method or "?"}
    if bulk_id is not None:
        result["bulkId"] = bulk_id
    try:
        if not isinstance(operation, dict) or method not in ("POST", "PUT", "PATCH", "DELETE"):
            raise InvalidInput("each operation needs a method: POST, PUT, PATCH or DELETE")
        path = _resolve(str(operation.get("path") or ""), created)
        data = _resolve(operation.get("data"), created)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("Users", "Groups") or len(parts) > 2:
            raise InvalidInput("path must be /Users, /Groups, /Users/<id> or /Groups/<id>")
        kind = _KINDS[parts[0]]
        ident = parts[1] if len(parts) == 2 else None
        if (method == "POST") != (ident is None):
            raise InvalidInput("POST goes to a collection; PUT, PATCH and DELETE to a resource")
        version = operation.get("version")
        if_match = None
        if isinstance(version, str) and version.strip():
            text = version.strip().removeprefix("W/").strip('"')
            if_match = int(text) if text.isdigit() else -1
        if method == "DELETE":
            kind.delete(provisioning, actor, ident, if_match=if_match)
            result["status"] = "204"
            return result
        if method == "POST":
            record = kind.create(provisioning, actor, kind.draft(data))
            status = "201"
        elif method == "PUT":
            record = kind.replace(provisioning, actor, ident, kind.draft(data), if_match=if_match)
            status = "200"
        else:
            record = kind.patch(provisioning, actor, ident, data, base=base, if_match=if_match)
            status = "200"
        rendered = kind.render(record, base)
        if bulk_id is not None and method == "POST":
            created[str(bulk_id)] = record.id
        result.update(
            status=status,
            location=rendered["meta"]["location"],
            version=rendered["meta"]["version"],
        )
        return result
    except LimenError as exc:
        from limen.api.problems import status_for

        code, body = _error_body(status_for(exc), exc.code, exc.detail)
        result.update(status=str(code), response=body)
        return result


def _resolve(value: Any, created: dict[str, str]) -> Any:
    """``bulkId:<id>`` → the id of the resource an earlier operation created."""
    if isinstance(value, str):
        if value.startswith("bulkId:"):
            key = value[len("bulkId:") :]
            if key not in created:
                raise InvalidInput(f"bulkId {key[:64]!r} names no resource created before it")
            return created[key]
        return re.sub(
            r"bulkId:([\w.-]+)",
            lambda m: created.get(m.group(1), m.group(0)),
            value,
        )
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    return value
