"""The AuthZEN 1.0 policy decision point over HTTP.

``POST /access/v1/evaluation``, ``POST /access/v1/evaluations``, the search APIs
``POST /access/v1/search/{subject,resource,action}`` (scope ``access:evaluate``) and
``GET /.well-known/authzen-configuration`` (public).
https://openid.net/specs/authorization-api-1_0.html
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from limen import access
from limen.api.bodies import JSON, malformed_json, media_type_of, request_body
from limen.api.deps import current_actor, services_of
from limen.api.problems import problem_response, request_id_header
from limen.api.routing import PUBLIC, Route, guarded
from limen.audit import Actor
from limen.metrics import Metrics

__all__ = ["ERROR_PREFIX", "render_authzen_error", "router"]

router = APIRouter(tags=["access"], route_class=Route)

ERROR_PREFIX = "/access/v1/"
_BODY = request_body(JSON)


def render_authzen_error(status: int, code: str, detail: str | None) -> Response:
    """Problem details, with AuthZEN's status for a body of another media type: §10.1
    (and the certification scenario) want 400 where HTTP's own answer is 415."""
    return problem_response(400 if status == 415 else status, code=code, detail=detail)


async def _evaluator(request: Request) -> Actor:
    """The caller, if the guard lets it ask for decisions (``access.evaluate``).

    One dependency rather than a chain of them: each level of dependency solving costs a
    share of a decision. A PEP's JWT verifies in memory; an opaque ``limen_`` token costs
    one indexed read the first time.
    """
    actor = await current_actor(request)
    await services_of(request).guard.authorize_async(actor, "access.evaluate")
    return actor


Evaluator = Annotated[Actor, Depends(_evaluator)]


async def _json(request: Request) -> Any:
    """The request's JSON; AuthZEN §10.1 (and its certification scenario) want 400 for a
    Content-Type other than ``application/json``, an empty body and malformed JSON."""
    media_type = media_type_of(request)
    if media_type != JSON:  # any other type was refused before (api.bodies): none was sent
        raise access.InvalidEvaluation(
            f"the request body must be application/json, not {media_type[:100] or 'untyped'}"
        )
    body = await request.body()
    if not body.strip():
        raise access.InvalidEvaluation("the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise access.InvalidEvaluation(malformed_json(exc.msg, exc.doc, exc.pos)) from None
    except ValueError:
        raise access.InvalidEvaluation("the request body is not UTF-8 JSON") from None


def _headers(request: Request) -> dict[str, str]:
    # AuthZEN §10.1: echo the PEP's request id so it can correlate the answer (errors
    # echo it too: see api.problems.render_error).
    return request_id_header(request)


def _count(metrics: Metrics, started: float, decisions: list[access.Decision]) -> None:
    metrics.decided(time.perf_counter() - started, (d.allowed for d in decisions))


async def _recorded(point: access.PolicyDecisionPoint, entries: list[Any]) -> None:
    """Wait until the decisions are in the event log (group commit, see DecisionLog)."""
    await point.log.written(entries)


@router.post("/access/v1/evaluation", openapi_extra={**guarded("access.evaluate"), **_BODY})
async def evaluation(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §6: one decision."""
    parsed = access.parse_evaluation(await _json(request))
    services = services_of(request)
    point = services.pdp
    # Deciding reads memory only (the status view and policy set), so it runs here
    # rather than paying a thread hop (benchmarks/pdp.py); recording is batched.
    started = time.perf_counter()
    decision = point.decide(parsed)
    _count(services.metrics, started, [decision])
    await _recorded(point, [(actor, parsed, decision)])
    return JSONResponse(decision.to_authzen(), headers=_headers(request))


@router.post("/access/v1/evaluations", openapi_extra={**guarded("access.evaluate"), **_BODY})
async def evaluations(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §7: many decisions with shared defaults and an evaluation semantic.

    Without an ``evaluations`` array the request is one evaluation and gets §6's answer
    (``{"decision": …}``); a malformed entry is denied in its place (200)."""
    parsed = access.parse_evaluations(await _json(request))
    services = services_of(request)
    point = services.pdp
    started = time.perf_counter()
    decisions = point.decide_many(parsed)
    _count(services.metrics, started, decisions)
    await _recorded(
        point,
        [
            (actor, e, d)
            for e, d in zip(parsed.evaluations, decisions, strict=False)
            if isinstance(e, access.Evaluation)
        ],
    )
    if parsed.single:
        return JSONResponse(decisions[0].to_authzen(), headers=_headers(request))
    body = {"evaluations": [d.to_authzen() for d in decisions]}
    return JSONResponse(body, headers=_headers(request))


async def _search(request: Request, kind: str) -> JSONResponse:
    parsed = access.parse_search(kind, await _json(request))
    # Resource candidates are read from the database: off the event loop.
    body = await asyncio.to_thread(services_of(request).pdp.search, parsed)
    return JSONResponse(body, headers=_headers(request))


@router.post("/access/v1/search/subject", openapi_extra={**guarded("access.evaluate"), **_BODY})
async def search_subject(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §8.4: which subjects of a type may do the action on the resource."""
    return await _search(request, "subject")


@router.post("/access/v1/search/resource", openapi_extra={**guarded("access.evaluate"), **_BODY})
async def search_resource(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §8.5: which resources of a type the subject may do the action on."""
    return await _search(request, "resource")


@router.post("/access/v1/search/action", openapi_extra={**guarded("access.evaluate"), **_BODY})
async def search_action(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §8.6: which actions the subject may do on the resource."""
    return await _search(request, "action")


@router.get("/.well-known/authzen-configuration", openapi_extra=PUBLIC)
def configuration(request: Request) -> JSONResponse:
    """AuthZEN PDP metadata."""
    return JSONResponse(access.pdp_metadata(services_of(request).settings.resolved_public_url))
