"""The app as a whole: every declared route is served and documented, hot paths first."""

from __future__ import annotations

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from limen.api.app import HOT_PATHS, ROUTERS


def _declared() -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def test_openapi_documents_every_declared_route(client: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    hidden = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and not route.include_in_schema
        for method in route.methods
    }
    assert _declared() - hidden <= documented


def test_every_hot_path_names_a_declared_route() -> None:
    # A renamed route would silently fall back to being matched last.
    declared_paths = {path for _, path in _declared()}
    assert set(HOT_PATHS) <= declared_paths


def test_a_hot_path_with_another_method_is_405_not_404(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.get("/access/v1/evaluation", headers=admin_headers)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
