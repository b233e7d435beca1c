"""Shared Signals transmitter over HTTP: discovery, stream management, poll (SSF 1.0).

https://openid.net/specs/openid-sharedsignals-framework-1_0.html

- ``GET  /.well-known/ssf-configuration`` (public, §7)
- ``POST|GET|PATCH|PUT|DELETE /ssf/streams`` (§8.1.1), ``GET|POST /ssf/status`` (§8.1.2),
  ``POST /ssf/verify`` (§8.1.4)
- ``POST /ssf/poll/{stream_id}`` (RFC 8936 poll delivery)

Receivers authenticate with a bearer token holding the ``ssf:manage`` scope (an OAuth
access token from ``/oauth2/token``, or an API token); each sees only its own streams.
SETs are signed with the keys published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from limen.api.deps import DatabaseDep, built_once, require_scope
from limen.api.problems import malformed_json, problem_response
from limen.api.routing import Route
from limen.audit import Actor
from limen.errors import InvalidInput
from limen.keyfile import read_key_file
from limen.respond import ssf
from limen.store.models import SsfStream

__all__ = [
    "ERROR_PREFIX",
    "render_ssf_error",
    "router",
    "start_transmitter",
    "stop_transmitter",
    "transmitter",
]

router = APIRouter(tags=["shared signals"], route_class=Route)

Receiver = Annotated[Actor, Depends(require_scope("ssf:manage"))]
JSONBody = Annotated[dict[str, Any], Body()]
_NO_STORE = {"Cache-Control": "no-store"}


ERROR_PREFIX = "/ssf/"


def render_ssf_error(status: int, code: str, detail: str | None) -> Response:
    """Problem details, with SSF's status codes: a request it cannot accept is a 400 (§8.1.1)."""
    return problem_response(400 if status == 422 else status, code=code, detail=detail)


def issuer_of(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def transmitter(app: FastAPI) -> ssf.Transmitter:
    """The app's transmitter, signing with the token service's keys; built on first use."""

    def build() -> ssf.Transmitter:
        from limen.api.oauth import token_service

        keys = token_service(app).keys
        return ssf.Transmitter(app.state.db, signer=keys, sealer=_sealer(app), **_tuning(app))

    return built_once(app, "ssf", build)


def _sealer(app: FastAPI) -> ssf.HeaderSealer | None:
    """Seals receivers' push credentials under the root key file; None without one."""
    sealer = getattr(app.state, "ssf_sealer", None)
    if sealer is None:
        path = app.state.settings.resolved_key_file
        if not path.exists():
            return None
        sealer = ssf.HeaderSealer(read_key_file(path))
        app.state.ssf_sealer = sealer
    return sealer


def _tuning(app: FastAPI) -> dict[str, Any]:
    # Tests and benchmarks shorten the intervals through app.state.ssf_tuning.
    return dict(getattr(app.state, "ssf_tuning", {}) or {})


def start_transmitter(app: FastAPI) -> None:
    """Start the delivery worker (lifespan). Without a signing key it stays off, and says so."""
    try:
        transmitter(app).start()
    except Exception:
        import logging

        logging.getLogger("limen.api").warning(
            "the Shared Signals transmitter is not running", exc_info=True
        )


def stop_transmitter(app: FastAPI) -> None:
    current = getattr(app.state, "ssf", None)
    if current is not None:
        current.stop()
        app.state.ssf = None


def _config(stream: SsfStream, request: Request) -> dict[str, Any]:
    delivery: dict[str, Any] = {"method": stream.delivery_method}
    if stream.delivery_method == ssf.POLL:
        delivery["endpoint_url"] = f"{issuer_of(request)}/ssf/poll/{stream.id}"
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
    return document


@router.get("/.well-known/ssf-configuration")
def configuration(request: Request) -> dict[str, Any]:
    """Transmitter configuration metadata (SSF 1.0 §7.1)."""
    issuer = issuer_of(request)
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


@router.post("/ssf/streams", status_code=201)
def create_stream(
    body: JSONBody, request: Request, db: DatabaseDep, actor: Receiver, response: Response
) -> dict[str, Any]:
    with db.unit_of_work() as uow:
        stream = ssf.create_stream(
            uow,
            actor,
            body,
            issuer=issuer_of(request),
            audience=actor.identity_id or actor.name,
            sealer=_sealer(request.app),
        )
        document = _config(stream, request)
    response.headers.update(_NO_STORE)
    return document


@router.get("/ssf/streams", response_model=None)
def read_streams(
    request: Request,
    db: DatabaseDep,
    actor: Receiver,
    response: Response,
    stream_id: str | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    response.headers.update(_NO_STORE)
    with db.unit_of_work(readonly=True) as uow:
        if stream_id is not None:
            return _config(ssf.get_stream(uow.session, actor, stream_id), request)
        return [_config(s, request) for s in ssf.list_streams(uow.session, actor)]


@router.patch("/ssf/streams")
def update_stream(
    body: JSONBody, request: Request, db: DatabaseDep, actor: Receiver
) -> dict[str, Any]:
    with db.unit_of_work() as uow:
        stream = ssf.update_stream(uow, actor, body, replace=False, sealer=_sealer(request.app))
        return _config(stream, request)


@router.put("/ssf/streams")
def replace_stream(
    body: JSONBody, request: Request, db: DatabaseDep, actor: Receiver
) -> dict[str, Any]:
    with db.unit_of_work() as uow:
        stream = ssf.update_stream(uow, actor, body, replace=True, sealer=_sealer(request.app))
        return _config(stream, request)


@router.delete("/ssf/streams", status_code=204)
def delete_stream(db: DatabaseDep, actor: Receiver, stream_id: str = Query()) -> Response:
    with db.unit_of_work() as uow:
        ssf.delete_stream(uow, actor, stream_id)
    return Response(status_code=204)


def _status(stream: SsfStream) -> dict[str, Any]:
    document: dict[str, Any] = {"stream_id": stream.id, "status": stream.status}
    if stream.status_reason:
        document["reason"] = stream.status_reason
    return document


@router.get("/ssf/status")
def read_status(db: DatabaseDep, actor: Receiver, stream_id: str = Query()) -> dict[str, Any]:
    with db.unit_of_work(readonly=True) as uow:
        return _status(ssf.get_stream(uow.session, actor, stream_id))


@router.post("/ssf/status")
def update_status(body: JSONBody, db: DatabaseDep, actor: Receiver) -> dict[str, Any]:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason must be a string")
    with db.unit_of_work() as uow:
        stream = ssf.set_status(
            uow,
            actor,
            str(body.get("stream_id") or ""),
            status=str(body.get("status") or ""),
            reason=reason,
        )
        return _status(stream)


@router.post("/ssf/verify", status_code=204)
def verify(body: JSONBody, request: Request, db: DatabaseDep, actor: Receiver) -> Response:
    with db.unit_of_work() as uow:
        ssf.request_verification(
            uow, actor, str(body.get("stream_id") or ""), state=body.get("state")
        )
    current = getattr(request.app.state, "ssf", None)
    if current is not None:
        current.wake()
    return Response(status_code=204)


@router.post("/ssf/poll/{stream_id}")
async def poll(stream_id: str, request: Request, actor: Receiver) -> dict[str, Any]:
    """RFC 8936 §2.4: acknowledge with ``ack``/``setErrs``; receive up to ``maxEvents``."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise InvalidInput(malformed_json(exc.msg, exc.doc, exc.pos)) from None
    except ValueError:
        raise InvalidInput("the poll request body is not UTF-8 JSON") from None
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
    sender = transmitter(request.app)
    return await run_in_threadpool(
        sender.poll,
        actor,
        stream_id,
        max_events=max_events,
        return_immediately=bool(body.get("returnImmediately", False)),
        ack=ack,
        set_errs=set_errs,
    )
