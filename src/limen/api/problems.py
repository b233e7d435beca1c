"""RFC 9457 problem details for every error the HTTP surfaces return.

https://www.rfc-editor.org/rfc/rfc9457
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from limen import errors
from limen.api.bodies import malformed_json

__all__ = [
    "PROBLEM_TYPE_BASE",
    "ErrorRenderer",
    "install_problem_handlers",
    "malformed_json",
    "problem_response",
    "render_error",
    "request_id_header",
    "status_for",
]

log = logging.getLogger("limen.api")

PROBLEM_TYPE_BASE = "https://limen.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# The only place HTTP status codes are chosen for domain errors.
_STATUS: tuple[tuple[type[errors.LimenError], int], ...] = (
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Denied, 403),
    (errors.Unauthenticated, 401),
    (errors.BadRequest, 400),
    (errors.ContentTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.InvalidInput, 422),
    (errors.Unavailable, 503),
)

_HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def status_for(exc: errors.LimenError) -> int:
    for family, status in _STATUS:
        if isinstance(exc, family):
            return status
    return 400


ErrorRenderer = Callable[[int, str, str | None], Response]
"""``(status, code, detail) -> response`` for a surface whose spec prescribes its own error body."""


def request_id_header(request: Request) -> dict[str, str]:
    """``X-Request-ID`` as the caller sent it (bounded), to echo on the answer."""
    request_id = request.headers.get("x-request-id")
    return {"X-Request-ID": request_id[:200]} if request_id else {}


def render_error(
    request: Request,
    status: int,
    *,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Render an error in the style of the surface the request went to.

    Surfaces such as the Connect API register ``(path prefix, renderer)`` pairs in
    ``app.state.error_renderers``; every other path gets RFC 9457 problem details.
    A caller's ``X-Request-ID`` is echoed on every error, as on every AuthZEN answer.
    """
    headers = {**(headers or {}), **request_id_header(request)}
    for prefix, renderer in getattr(request.app.state, "error_renderers", ()):
        if request.url.path.startswith(prefix):
            response = renderer(status, code, detail)
            for name, value in (headers or {}).items():
                response.headers[name] = value
            return response
    return problem_response(status, code=code, title=title, detail=detail, headers=headers, **extra)


def problem_response(
    status: int,
    *,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or _HTTP_TITLES.get(status, "Error"),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _challenge(request: Request) -> str:
    """The authentication scheme the caller used (RFC 6749 §5.2: a client that failed
    HTTP Basic authentication is challenged for Basic), Bearer otherwise (RFC 6750 §3)."""
    scheme = request.headers.get("authorization", "").split(" ", 1)[0].lower()
    if scheme == "basic":
        return 'Basic realm="limen"'
    if scheme == "bearer":
        return 'Bearer realm="limen", error="invalid_token"'
    return 'Bearer realm="limen"'


async def _limen_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.LimenError)
    status = status_for(exc)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": _challenge(request)}
    elif status == 503:
        # The database blinked or status cannot be confirmed: worth retrying soon.
        headers = {"Retry-After": "1"}
    return render_error(
        request, status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    code = _HTTP_TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return render_error(
        request, exc.status_code, code=code, detail=detail, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            # A body that is not JSON at all is a 400 (api.bodies), not invalid input.
            # FastAPI puts the character offset where a field name would be; say where
            # (line, column) and what the parser expected instead.
            position = next((p for p in error.get("loc", ()) if isinstance(p, int)), 0)
            reason = (error.get("ctx") or {}).get("error", "malformed")
            detail = malformed_json(str(reason), exc.body or "", position)
            return render_error(
                request,
                400,
                code=errors.MalformedBody.code,
                title=errors.MalformedBody.title,
                detail=detail,
                errors=[{"field": "body", "message": detail}],
            )
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        # Never echo the offending input back: it may be a secret someone pasted.
        problems.append({"field": location or "body", "message": error.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    return render_error(request, 422, code="invalid-input", detail=detail, errors=problems)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return render_error(request, 500, code="internal-error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.LimenError, _limen_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
