"""The route class of every Limen router: simple endpoints are called directly.

FastAPI solves an endpoint's dependencies and validates its parameters on every request,
inspecting each parameter's annotation again each time, inside two exit stacks. For an
endpoint that needs none of it, one that takes the request, plain ``str`` path
parameters and dependencies that themselves take only the request, that work is a large
share of a vault read or a decision (``benchmarks/vault_read.py`` and
``benchmarks/pdp.py`` show the difference).

:class:`Route` keeps everything FastAPI builds from the endpoint (its OpenAPI entry,
matching, 405s) and, for such an endpoint, replaces only the per-request handler with a
direct call (FastAPI's internal ``Dependant`` says which endpoints are simple; it is read
in :mod:`limen.api._fastapi` only). Any other endpoint keeps FastAPI's handler as is. The
exceptions an endpoint raises reach the app's exception handlers either way. The direct
call serves a route placed on the app itself, as ``create_app`` does; through
``include_router``, which may add dependencies of its own, FastAPI builds the handler as
usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, request_response
from starlette.types import Scope

from limen.api import bodies
from limen.api._fastapi import Dependant, body_kind, plain_call

__all__ = ["PUBLIC", "Route", "guarded"]


def guarded(*actions: str) -> dict[str, Any]:
    """``openapi_extra`` of a route: the guard's actions (``limen.access.ACTIONS``) it
    asks for. The route-by-role test holds every route to what it declares here."""
    return {"x-limen-actions": list(actions)}


PUBLIC: dict[str, Any] = {"x-limen-public": True}
"""``openapi_extra`` of a route that is public by design (health, metadata, the token
endpoint and others that authenticate their caller themselves, as their RFC says)."""


class Route(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose simple endpoints skip dependency solving,
    and which refuses a body of a media type it does not take (:mod:`limen.api.bodies`).

    ``direct`` says which kind this route is; ``accepts``, the media types of the body it
    takes (empty: it takes none).
    """

    accepts: frozenset[str] = frozenset()

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        handler = _direct_handler(self.dependant, endpoint)
        self.direct = handler is not None
        if handler is not None:
            # Starlette's wrapper: the request, the exception handlers, nothing more.
            self.app = request_response(self._checked(handler))

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        # FastAPI's handler (called once, by APIRoute.__init__), behind the media-type check.
        self.accepts = _accepted_media_types(self)
        return self._checked(super().get_route_handler())

    def _checked(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        return bodies.checked(handler, self.accepts) if self.accepts else handler

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The app asks every route in turn until one matches, and FastAPI's full check
        # does its whole scope bookkeeping even for a path that is plainly not its own,
        # which adds up on a route listed late. The path's pattern decides.
        # (Behind a root path, Starlette's own check strips it first.)
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and not self.path_regex.match(scope["path"])
        ):
            return Match.NONE, {}
        return super().matches(scope)


def _accepted_media_types(route: APIRoute) -> frozenset[str]:
    """What the route's OpenAPI operation says it takes: a declared ``requestBody``
    (:func:`limen.api.bodies.request_body`), else what FastAPI parses for it."""
    declared = (route.openapi_extra or {}).get("requestBody")
    if declared is not None:
        return frozenset(media_type.lower() for media_type in declared.get("content", {}))
    kind = body_kind(route)
    if kind == "json":
        return frozenset({bodies.JSON})
    if kind == "form":
        return frozenset(bodies.FORM_TYPES)
    return frozenset()


def _direct_handler(
    dependant: Dependant, endpoint: Callable[..., Any]
) -> Callable[[Request], Awaitable[Response]] | None:
    """A handler that calls ``endpoint`` as FastAPI would, or ``None`` if it needs FastAPI."""
    plain = plain_call(dependant)
    if plain is None or not _returns_a_response(endpoint):
        return None  # FastAPI solves, serialises and validates
    request_name, path_names = plain.request_name, plain.path_names
    dependencies = plain.dependencies

    async def handle(request: Request) -> Response:
        arguments: dict[str, Any] = {}
        if request_name is not None:
            arguments[request_name] = request
        for name, call in dependencies:
            value = await call(request)
            if name is not None:  # a route-level dependency is run for its effect only
                arguments[name] = value
        path_params = request.path_params
        for name, in_path in path_names:
            arguments[name] = path_params[in_path]
        response = await endpoint(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{endpoint.__qualname__} must return a Response")
        return response

    return handle


def _returns_a_response(endpoint: Callable[..., Any]) -> bool:
    try:
        annotation = inspect.signature(endpoint, eval_str=True).return_annotation
    except (NameError, TypeError, SyntaxError):
        return False  # an annotation that only a type checker can resolve: FastAPI decides
    return isinstance(annotation, type) and issubclass(annotation, Response)
