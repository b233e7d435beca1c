"""The route class of every Limen router: simple endpoints are called directly.

FastAPI solves an endpoint's dependencies and validates its parameters on every request,
inspecting each parameter's annotation again each time, inside two exit stacks. For an
endpoint that needs none of it, one that takes the request, plain ``str`` path
parameters and dependencies that themselves take only the request, that work is a large
share of a vault read or a decision (``benchmarks/vault_read.py`` and
``benchmarks/pdp.py`` show the difference).

:class:`Route` keeps everything FastAPI builds from the endpoint (its OpenAPI entry,
matching, 405s) and, for such an endpoint, replaces only the per-request handler with a
direct call. Any other endpoint keeps FastAPI's handler unchanged. The exceptions an
endpoint raises reach the app's exception handlers either way. The direct call serves a
route placed on the app itself, as ``create_app`` does; through ``include_router``,
which may add dependencies of its own, FastAPI builds the handler as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, request_response
from starlette.types import Scope

__all__ = ["PUBLIC", "Route", "guarded"]


def guarded(*actions: str) -> dict[str, Any]:
    """``openapi_extra`` of a route: the guard's actions (``limen.access.ACTIONS``) it
    asks for. The route-by-role test holds every route to what it declares here."""
    return {"x-limen-actions": list(actions)}


PUBLIC: dict[str, Any] = {"x-limen-public": True}
"""``openapi_extra`` of a route that is public by design (health, metadata, the token
endpoint and others that authenticate their caller themselves, as their RFC says)."""


class Route(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose simple endpoints skip dependency solving.

    ``direct`` says which kind this route is.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        handler = _direct_handler(self.dependant, endpoint)
        self.direct = handler is not None
        if handler is not None:
            # Starlette's wrapper: the request, the exception handlers, nothing more.
            self.app = request_response(handler)

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


def _direct_handler(
    dependant: Dependant, endpoint: Callable[..., Any]
) -> Callable[[Request], Awaitable[Response]] | None:
    """A handler that calls ``endpoint`` as FastAPI would, or ``None`` if it needs FastAPI."""
    if not _takes_only_the_request(dependant, allow_path_params=True):
        return None
    if not _returns_a_response(endpoint):
        return None  # FastAPI serialises and validates what it returns
    dependencies: list[tuple[str | None, Callable[[Request], Awaitable[Any]]]] = []
    for sub in dependant.dependencies:
        if sub.call is None or sub.dependencies or not _takes_only_the_request(sub):
            return None
        if any(call is sub.call for _, call in dependencies):
            return None  # FastAPI calls a repeated dependency once and shares its value
        dependencies.append((sub.name, sub.call))
    request_name = dependant.request_param_name
    path_names = [field.name for field in dependant.path_params]

    async def handle(request: Request) -> Response:
        arguments: dict[str, Any] = {}
        if request_name is not None:
            arguments[request_name] = request
        for name, call in dependencies:
            value = await call(request)
            if name is not None:  # a route-level dependency is run for its effect only
                arguments[name] = value
        path_params = request.path_params
        for name in path_names:
            arguments[name] = path_params[name]
        response = await endpoint(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{endpoint.__qualname__} must return a Response")
        return response

    return handle


def _takes_only_the_request(dependant: Dependant, *, allow_path_params: bool = False) -> bool:
    """An async call whose parameters are at most the request (and plain path strings)."""
    if not inspect.iscoroutinefunction(dependant.call):
        return False
    if (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return False
    if dependant.path_params and not allow_path_params:
        return False
    # A path parameter FastAPI would convert or constrain needs FastAPI's validation.
    return all(
        field.field_info.annotation is str and not field.field_info.metadata
        for field in dependant.path_params
    )


def _returns_a_response(endpoint: Callable[..., Any]) -> bool:
    try:
        annotation = inspect.signature(endpoint, eval_str=True).return_annotation
    except (NameError, TypeError, SyntaxError):
        return False  # an annotation that only a type checker can resolve: FastAPI decides
    return isinstance(annotation, type) and issubclass(annotation, Response)
