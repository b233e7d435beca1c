"""The one place Limen reads FastAPI's internals: the ``Dependant`` it builds from an
endpoint's signature (``APIRoute.dependant``, a ``fastapi.dependencies.models.Dependant``),
which is not public API.

:mod:`limen.api.routing` calls simple endpoints directly, skipping FastAPI's dependency
solving, and needs to know which endpoints are simple. :func:`plain_call` answers that
from the ``Dependant`` and hands back only plain values, so nothing else touches it.
``tests/test_library_fences.py`` fails if ``Dependant`` changes shape, and
``pyproject.toml`` bounds FastAPI to the versions that test has passed on.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

__all__ = ["DEPENDANT_FIELDS", "Dependant", "PlainCall", "body_kind", "plain_call"]

DEPENDANT_FIELDS = frozenset(
    {
        "call",
        "name",
        "dependencies",
        "path_params",
        "query_params",
        "header_params",
        "cookie_params",
        "body_params",
        "request_param_name",
        "websocket_param_name",
        "http_connection_param_name",
        "response_param_name",
        "background_tasks_param_name",
        "security_scopes_param_name",
    }
)
"""Every field of ``Dependant`` read here (a path parameter is read for ``name``, ``alias`` and
``field_info.annotation`` / ``field_info.metadata``)."""

RequestCall = Callable[[Request], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class PlainCall:
    """An endpoint that takes at most the request, plain ``str`` path parameters and
    dependencies that themselves take only the request."""

    request_name: str | None
    path_names: tuple[tuple[str, str], ...]
    """``(parameter name, name in the path)``: they differ for ``Path(alias=…)``."""
    dependencies: tuple[tuple[str | None, RequestCall], ...]
    """``(parameter name, call)``; no name for a route-level dependency (run for effect)."""


def plain_call(dependant: Dependant) -> PlainCall | None:
    """What calling the endpoint needs, or ``None`` if it needs FastAPI's solving."""
    if not _takes_only_the_request(dependant, allow_path_params=True):
        return None
    dependencies: list[tuple[str | None, RequestCall]] = []
    for sub in dependant.dependencies:
        if sub.call is None or sub.dependencies or not _takes_only_the_request(sub):
            return None
        if any(call is sub.call for _, call in dependencies):
            return None  # FastAPI calls a repeated dependency once and shares its value
        dependencies.append((sub.name, sub.call))
    return PlainCall(
        request_name=dependant.request_param_name,
        path_names=tuple((field.name, field.alias) for field in dependant.path_params),
        dependencies=tuple(dependencies),
    )


def body_kind(route: APIRoute) -> str | None:
    """``"json"`` or ``"form"`` for a route whose body FastAPI parses (its ``body_field``,
    a model, ``Body()`` or ``Form()`` parameter), ``None`` for one whose body it does not."""
    field = route.body_field
    if field is None:
        return None
    return "form" if isinstance(field.field_info, params.Form) else "json"


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
