"""The AuthZEN 1.0 policy decision point over HTTP.

``POST /access/v1/evaluation``, ``POST /access/v1/evaluations`` (scope
``access:evaluate``) and ``GET /.well-known/authzen-configuration`` (public).
https://openid.net/specs/authorization-api-1_0.html
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from limen import access, tokens
from limen.api.deps import require_scope
from limen.api.oauth import issuer_of, status_view, token_service
from limen.audit import Actor

__all__ = ["pdp", "router"]

router = APIRouter(tags=["access"])
_lock = threading.Lock()

Evaluator = Annotated[Actor, Depends(require_scope("access:evaluate"))]


def pdp(app: FastAPI) -> access.PolicyDecisionPoint:
    """The app's policy decision point, sharing the app's status view."""
    point = getattr(app.state, "pdp", None)
    if point is None:
        view = status_view(app)
        with _lock:
            point = getattr(app.state, "pdp", None)
            if point is None:

                def chain(raw: str) -> tuple[str, ...]:
                    claims = token_service(app).verify(raw, audience=tokens.ANY_AUDIENCE)
                    return (*claims.actors, claims.sub) if claims.act else (claims.sub,)

                point = access.PolicyDecisionPoint(app.state.db, status=view, token_chain=chain)
                app.state.pdp = point
    return point


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise access.InvalidEvaluation("the request body is not JSON") from None


def _headers(request: Request) -> dict[str, str]:
    # AuthZEN §10.1: echo the PEP's request id so it can correlate the answer.
    request_id = request.headers.get("x-request-id")
    return {"X-Request-ID": request_id[:200]} if request_id else {}


@router.post("/access/v1/evaluation")
async def evaluation(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §6: one decision."""
    parsed = access.parse_evaluation(await _json(request))
    point = pdp(request.app)

    def run() -> dict[str, Any]:
        with request.app.state.db.unit_of_work() as uow:
            return point.evaluate(uow, actor, parsed).to_authzen()

    return JSONResponse(await run_in_threadpool(run), headers=_headers(request))


@router.post("/access/v1/evaluations")
async def evaluations(request: Request, actor: Evaluator) -> JSONResponse:
    """AuthZEN §7: many decisions with shared defaults and an evaluation semantic."""
    parsed = access.parse_evaluations(await _json(request))
    point = pdp(request.app)

    def run() -> dict[str, Any]:
        with request.app.state.db.unit_of_work() as uow:
            decisions = point.evaluate_many(uow, actor, parsed)
        return {"evaluations": [d.to_authzen() for d in decisions]}

    return JSONResponse(await run_in_threadpool(run), headers=_headers(request))


@router.get("/.well-known/authzen-configuration")
def configuration(request: Request) -> JSONResponse:
    """AuthZEN PDP metadata."""
    return JSONResponse(access.pdp_metadata(issuer_of(request)))
