"""Shared Signals transmitter over HTTP: discovery, stream management, poll (SSF 1.0).

https://openid.net/specs/openid-sharedsignals-framework-1_0.html

- ``GET  /.well-known/ssf-configuration`` (public, §7)
- ``POST|GET|PATCH|PUT|DELETE /ssf/streams`` (§8.1.1), ``GET|POST /ssf/status`` (§8.1.2),
  ``POST /ssf/verify`` (§8.1.4)
- ``POST /ssf/poll/{stream_id}`` (RFC 8936 poll delivery)

Limen adds ``GET /v1/ssf/streams``: every receiver's streams, for people with the
``view`` group (``ssf.streams.read``), in problem details like the rest of ``/v1``.

Receivers authenticate with a bearer token holding the ``ssf:manage`` scope (an OAuth
access token from ``/oauth2/token``, or an API token); each sees only its own streams.
The CAEP interoperability profile's scope names work too: ``ssf.manage`` for everything,
``ssf.read`` for reading streams and their status (``GET /ssf/streams``,
``GET /ssf/status``).
SETs are signed with the keys published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from limen.api.bodies import JSON, json_of, request_body
from limen.api.deps import ActorDep, ServicesDep, current_actor, services_of
from limen.api.problems import problem_response
from limen.api.routing import PUBLIC, Route, guarded
from limen.api.schemas.ssf import StreamList, StreamSummary
from limen.audit import Actor, Resource
from limen.errors import InvalidInput
from limen.respond import ssf
from limen.services import Services
from limen.store.models import SsfStream

__all__ = ["ERROR_PREFIX", "render_ssf_error", "router"]

router = APIRouter(tags=["shared signals"], route_class=Route)


async def _receiver(request: Request) -> Actor:
    """The caller, if the guard lets it manage its streams (``ssf.stream``)."""
    actor = await current_actor(request)
    await services_of(request).guard.authorize_async(actor, "ssf.stream", Resource("ssf_stream"))
    return actor


Receiver = Annotated[Actor, Depends(_receiver)]


async def _reader(request: Request) -> Actor:
    """The caller, if the guard lets it read its streams (``ssf.stream.read``)."""
    actor = await current_actor(request)
    await services_of(request).guard.authorize_async(
        actor, "ssf.stream.read", Resource("ssf_stream")
    )
    return actor


Reader = Annotated[Actor, Depends(_reader)]
STREAMS = guarded("ssf.stream")
READ_STREAMS = guarded("ssf.stream.read")
JSONBody = Annotated[dict[str, Any], Body()]
_NO_STORE = {"Cache-Control": "no-store"}


ERROR_PREFIX = "/ssf/"


def render_ssf_error(status: int, code: str, detail: str | None) -> Response:
    """Problem details, with SSF's status codes: a request it cannot accept is a 400 (§8.1.1)."""
    return problem_response(400 if status == 422 else status, code=code, detail=detail)


def _issuer(services: Services) -> str:
    return services.settings.resolved_public_url


def _allowed_hosts(services: Services) -> frozenset[str]:
    raw = services.settings.ssf_allowed_hosts or ""
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def _config(stream: SsfStream, services: Services) -> dict[str, Any]:
    delivery: dict[str, Any] = {"method": stream.delivery_method}
    if stream.delivery_method == ssf.POLL:
        delivery["endpoint_url"] = f"{_issuer(services)}/ssf/poll/{stream.id}"
    else:
        delivery["endpoint_url"] = stream.endpoint_url
        # The authorization header is the receiver's secret; it is never read back.
    document: dict[str, Any] = {
        "stream_id": stream.id,
        "iss": stream.iss,
        "aud": stream.aud[0] if len(stream.aud) == 1 else list(stream.aud),
        "delivery": delivery,
        "events_supported": list(ssf.EVENTS_SUPPORTED),
        "events_requested": list(stream.events_requested or []),
        "events_delivered": ssf.events_delivered(stream),
    }
    if stream.description:
        document["description"] = stream.description
    # Limen's extension: what this stream's SETs are signed with (it may ask for RS256).
    document["signing_alg"] = stream.signing_alg or services.settings.ssf_signing_alg
    return document


@router.get("/.well-known/ssf-configuration", openapi_extra=PUBLIC)
def configuration(request: Request) -> dict[str, Any]:
    """Transmitter configuration metadata (SSF 1.0 §7.1)."""
    issuer = _issuer(services_of(request))
    return {
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "delivery_methods_supported": [ssf.PUSH, ssf.POLL],
        "configuration_endpoint": f"{issuer}/ssf/streams",
        "status_endpoint": f"{issuer}/ssf/status",
        "verification_endpoint": f"{issuer}/ssf/verify",
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    }


@router.post("/ssf/streams", status_code=201, openapi_extra=STREAMS)
def create_stream(
    body: JSONBody, services: ServicesDep, actor: Receiver, response: Response
) -> dict[str, Any]:
    with services.db.unit_of_work() as uow:
        stream = ssf.create_stream(
            uow,
            actor,
            body,
            issuer=_issuer(services),
            audience=actor.identity_id or actor.name,
            sealer=services.ssf_sealer,
            allowed_hosts=_allowed_hosts(services),
        )
        document = _config(stream, services)
    response.headers.update(_NO_STORE)
    return document


@router.get("/ssf/streams", response_model=None, openapi_extra=READ_STREAMS)
def read_streams(
    services: ServicesDep,
    actor: Reader,
    response: Response,
    stream_id: str | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    response.headers.update(_NO_STORE)
    with services.db.unit_of_work(readonly=True) as uow:
        if stream_id is not None:
            return _config(ssf.get_stream(uow.session, actor, stream_id), services)
        return [_config(s, services) for s in ssf.list_streams(uow.session, actor)]


@router.patch("/ssf/streams", openapi_extra=STREAMS)
def update_stream(body: JSONBody, services: ServicesDep, actor: Receiver) -> dict[str, Any]:
    with services.db.unit_of_work() as uow:
        stream = ssf.update_stream(
            uow,
            actor,
            body,
            replace=False,
            sealer=services.ssf_sealer,
            allowed_hosts=_allowed_hosts(services),
        )
        return _config(stream, services)


@router.put("/ssf/streams", openapi_extra=STREAMS)
def replace_stream(body: JSONBody, services: ServicesDep, actor: Receiver) -> dict[str, Any]:
    with services.db.unit_of_work() as uow:
        stream = ssf.update_stream(
            uow,
            actor,
            body,
            replace=True,
            sealer=services.ssf_sealer,
            allowed_hosts=_allowed_hosts(services),
        )
        return _config(stream, services)


@router.delete("/ssf/streams", status_code=204, openapi_extra=STREAMS)
def delete_stream(services: ServicesDep, actor: Receiver, stream_id: str = Query()) -> Response:
    with services.db.unit_of_work() as uow:
        ssf.delete_stream(uow, actor, stream_id)
    return Response(status_code=204)


def _status(stream: SsfStream) -> dict[str, Any]:
    document: dict[str, Any] = {"stream_id": stream.id, "status": stream.status}
    if stream.status_reason:
        document["reason"] = stream.status_reason
    return document


@router.get("/ssf/status", openapi_extra=READ_STREAMS)
def read_status(services: ServicesDep, actor: Reader, stream_id: str = Query()) -> dict[str, Any]:
    with services.db.unit_of_work(readonly=True) as uow:
        return _status(ssf.get_stream(uow.session, actor, stream_id))


@router.post("/ssf/status", openapi_extra=STREAMS)
def update_status(body: JSONBody, services: ServicesDep, actor: Receiver) -> dict[str, Any]:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason must be a string")
    with services.db.unit_of_work() as uow:
        stream = ssf.set_status(
            uow,
            actor,
            str(body.get("stream_id") or ""),
            status=str(body.get("status") or ""),
            reason=reason,
        )
        return _status(stream)


@router.post("/ssf/verify", status_code=204, openapi_extra=STREAMS)
def verify(body: JSONBody, services: ServicesDep, actor: Receiver) -> Response:
    with services.db.unit_of_work() as uow:
        ssf.request_verification(
            uow, actor, str(body.get("stream_id") or ""), state=body.get("state")
        )
    services.transmitter.wake()
    return Response(status_code=204)


@router.post(
    "/ssf/poll/{stream_id}", openapi_extra={**STREAMS, **request_body(JSON, required=False)}
)
async def poll(stream_id: str, request: Request, actor: Receiver) -> dict[str, Any]:
    """RFC 8936 §2.4: acknowledge with ``ack``/``setErrs``; receive up to ``maxEvents``."""
    body = await json_of(request, empty={})
    if not isinstance(body, dict):
        raise InvalidInput("the poll request body must be a JSON object")
    max_events = body.get("maxEvents", 25)
    ack = body.get("ack", [])
    set_errs = body.get("setErrs", {})
    if not isinstance(max_events, int) or not 0 <= max_events <= 1000:
        raise InvalidInput("maxEvents must be an integer between 0 and 1000")
    if not isinstance(ack, list) or not all(isinstance(j, str) for j in ack):
        raise InvalidInput("ack must be an array of jti strings")
    if not isinstance(set_errs, dict) or not all(isinstance(v, dict) for v in set_errs.values()):
        raise InvalidInput("setErrs must map jti to {err, description}")
    return await services_of(request).transmitter.poll(
        actor,
        stream_id,
        max_events=max_events,
        return_immediately=bool(body.get("returnImmediately", False)),
        ack=ack,
        set_errs=set_errs,
    )


@router.get("/v1/ssf/streams", response_model=StreamList, openapi_extra=guarded("ssf.streams.read"))
def every_stream(services: ServicesDep, actor: ActorDep, receiver: str | None = None) -> StreamList:
    """Every receiver's streams (``receiver``: one identity's, by id or name): who
    receives what, how, and whether it is enabled. Never a receiver's credentials."""
    rows = services.responder.ssf_streams(actor, receiver=receiver)
    return StreamList(items=[StreamSummary.from_domain(s, name) for s, name in rows])
