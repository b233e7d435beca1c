"""Request bodies: the media types a route takes, checked before it runs, and JSON that
does not parse.

Every route that takes a body says which media types it takes, in its OpenAPI operation:

- a body parameter FastAPI parses implies them (a model or ``Body()``:
  ``application/json``; ``Form()``: the two form types);
- a route that reads its body itself declares them with :func:`request_body`
  (``openapi_extra={**guarded(...), **request_body("application/json")}``), which is
  also what its OpenAPI entry shows.

:class:`limen.api.routing.Route` reads the declaration once, when the route is built,
and refuses a body of any other type, or one sent without a ``Content-Type``, with
:class:`~limen.errors.UnsupportedMediaType` before the endpoint or its dependencies run
(415 problem details, RFC 9110 §15.5.16; a surface whose spec says otherwise turns it
into its own error through its renderer: OAuth's ``invalid_request``, AuthZEN's 400).
``application/json`` also admits the structured ``+json`` suffix types (RFC 6839 §3.1),
as FastAPI does; ``*/*`` admits anything (the Events API, whose reference collectors
send JSON with no ``Content-Type``).

Malformed JSON is a 400 everywhere (:class:`~limen.errors.MalformedBody`), whether
FastAPI parsed it (``api.problems`` maps its ``json_invalid``) or the route did
(:func:`json_of`). New routes get both without doing anything.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from limen.errors import MalformedBody, UnsupportedMediaType

__all__ = [
    "ANY",
    "FORM_TYPES",
    "JSON",
    "check_media_type",
    "checked",
    "json_of",
    "malformed_json",
    "media_type_of",
    "request_body",
]

JSON = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ANY = "*/*"

Handler = Callable[[Request], Awaitable[Response]]


def request_body(
    *media_types: str, schema: dict[str, Any] | None = None, required: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the media types it takes
    (OpenAPI 3.1 ``requestBody``), and so the ones :class:`~limen.api.routing.Route`
    lets through."""
    content = {media_type: {"schema": schema or {"type": "object"}} for media_type in media_types}
    return {"requestBody": {"required": required, "content": content}}


def media_type_of(request: Request) -> str:
    """The request's media type, lower case, without parameters; ``""`` if none."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _has_body(request: Request) -> bool:
    # RFC 9112 §6.3: a request without Content-Length or Transfer-Encoding has no body.
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def _admits(accepted: frozenset[str], media_type: str) -> bool:
    if ANY in accepted or media_type in accepted:
        return True
    if JSON in accepted and media_type.startswith("application/"):
        return media_type.endswith("+json")
    return False


def check_media_type(request: Request, accepted: frozenset[str]) -> None:
    """Raise :class:`UnsupportedMediaType` if the request's body is of another type."""
    media_type = media_type_of(request)
    if media_type:
        if _admits(accepted, media_type):
            return
        sent = f"not {media_type[:100]}"
    elif ANY in accepted or not _has_body(request):
        return
    else:
        sent = "and the request names none (Content-Type)"
    wanted = " or ".join(sorted(accepted))
    raise UnsupportedMediaType(f"send the request body as {wanted}, {sent}")


def checked(handler: Handler, accepted: Iterable[str]) -> Handler:
    """``handler``, refusing a body whose media type is not in ``accepted`` first."""
    types = frozenset(accepted)

    async def handle(request: Request) -> Response:
        check_media_type(request, types)
        return await handler(request)

    return handle


def malformed_json(reason: str, document: str | bytes, position: int) -> str:
    """Say where and why a request body is not JSON, never quoting the body itself."""
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return f"the request body is not valid JSON: {reason} at line {line}, column {column}"


_REQUIRED: Any = object()


async def json_of(request: Request, *, empty: Any = _REQUIRED) -> Any:
    """The request body as JSON; ``empty`` if there is none (without ``empty``, an empty
    body is :class:`MalformedBody`). Malformed JSON is :class:`MalformedBody` (400),
    saying where, never what was sent."""
    raw = await request.body()
    if not raw.strip():
        if empty is _REQUIRED:
            raise MalformedBody("the request body is empty; send a JSON document")
        return empty
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedBody(malformed_json(exc.msg, exc.doc, exc.pos)) from None
    except ValueError:  # not UTF-8, -16 or -32
        raise MalformedBody("the request body is not UTF-8 JSON") from None
