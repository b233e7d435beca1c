"""Routes called directly answer exactly as FastAPI would; other routes keep FastAPI."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from limen.api.app import ROUTERS
from limen.api.routing import Route

calls: list[str] = []


async def _caller(request: Request) -> str:
    calls.append("caller")
    name = request.headers.get("x-caller")
    if name is None:
        raise HTTPException(status_code=401, detail="who are you")
    return name


Caller = Annotated[str, Depends(_caller)]


async def _audited(request: Request) -> None:
    calls.append("audited")


def _app() -> FastAPI:
    router = APIRouter(route_class=Route)

    @router.get("/greet/{name}")
    async def greet(request: Request, caller: Caller, name: str) -> JSONResponse:
        return JSONResponse({"caller": caller, "name": name, "path": request.url.path})

    @router.get("/audited", dependencies=[Depends(_audited)])
    async def audited() -> JSONResponse:
        return JSONResponse({"ok": True})

    @router.get("/square/{n}")
    async def square(n: int) -> JSONResponse:
        return JSONResponse({"square": n * n})

    @router.get("/search")
    async def search(q: str) -> JSONResponse:
        return JSONResponse({"q": q})

    @router.get("/model")
    async def model() -> dict[str, Any]:
        return {"model": True}

    @router.get("/sync/{name}")
    def sync(name: str) -> JSONResponse:
        return JSONResponse({"name": name})

    @router.get("/twice")
    async def twice(first: Caller, second: Annotated[str, Depends(_caller)]) -> JSONResponse:
        return JSONResponse({"same": first == second})

    # An annotation only a type checker resolves: building the app must not fail on it.
    @router.get("/unresolvable")
    async def unresolvable() -> OnlyForTypeCheckers:  # type: ignore[name-defined]  # noqa: F821
        return {"served": True}  # type: ignore[return-value]

    @router.get("/broken")
    async def broken() -> JSONResponse:
        return {"not": "a response"}  # type: ignore[return-value]

    app = FastAPI()
    # As create_app does: the routes themselves, not an included router (see below).
    app.router.routes.extend(router.routes)
    return app


@pytest.fixture
def routes() -> dict[str, Route]:
    return {route.path: route for route in _app().routes if isinstance(route, Route)}


@pytest.fixture
def test_client() -> TestClient:
    calls.clear()
    return TestClient(_app(), raise_server_exceptions=False)


def test_only_endpoints_that_need_nothing_from_fastapi_are_called_directly(
    routes: dict[str, Route],
) -> None:
    direct = {path for path, route in routes.items() if route.direct}
    assert direct == {"/greet/{name}", "/audited", "/broken"}


def test_a_direct_route_gets_the_request_path_parameters_and_dependencies(
    test_client: TestClient,
) -> None:
    response = test_client.get("/greet/ada", headers={"x-caller": "bob"})
    assert response.status_code == 200
    assert response.json() == {"caller": "bob", "name": "ada", "path": "/greet/ada"}


def test_an_error_raised_in_a_dependency_reaches_the_exception_handlers(
    test_client: TestClient,
) -> None:
    response = test_client.get("/greet/ada")
    assert response.status_code == 401
    assert response.json() == {"detail": "who are you"}


def test_a_route_level_dependency_runs_before_the_endpoint(test_client: TestClient) -> None:
    assert test_client.get("/audited").json() == {"ok": True}
    assert calls == ["audited"]


def test_routes_that_need_fastapi_still_convert_and_validate(test_client: TestClient) -> None:
    assert test_client.get("/square/7").json() == {"square": 49}
    assert test_client.get("/square/seven").status_code == 422
    assert test_client.get("/search", params={"q": "db"}).json() == {"q": "db"}
    assert test_client.get("/search").status_code == 422
    assert test_client.get("/model").json() == {"model": True}
    assert test_client.get("/sync/ada").json() == {"name": "ada"}


def test_a_repeated_dependency_is_still_called_once(test_client: TestClient) -> None:
    assert test_client.get("/twice", headers={"x-caller": "bob"}).json() == {"same": True}
    assert calls == ["caller"]


def test_an_endpoint_that_breaks_its_promise_of_a_response_fails_loudly(
    test_client: TestClient,
) -> None:
    assert test_client.get("/broken").status_code == 500


def test_routes_match_by_path_and_method_also_behind_a_root_path() -> None:
    for root_path in ("", "/limen"):
        test_client = TestClient(_app(), root_path=root_path)
        assert test_client.get("/sync/ada").json() == {"name": "ada"}
        assert test_client.post("/sync/ada").status_code == 405
        assert test_client.get("/nowhere").status_code == 404


def test_an_included_router_keeps_fastapis_handler_and_its_dependencies() -> None:
    # include_router may add dependencies of its own; FastAPI then builds the handler.
    app = FastAPI()
    router = APIRouter(route_class=Route)

    @router.get("/plain")
    async def plain() -> JSONResponse:
        return JSONResponse({"ok": True})

    app.include_router(router, dependencies=[Depends(_caller)])
    test_client = TestClient(app)
    assert test_client.get("/plain").status_code == 401
    assert test_client.get("/plain", headers={"x-caller": "bob"}).json() == {"ok": True}


def test_every_limen_route_uses_the_route_class_and_the_hottest_are_direct() -> None:
    routes = [route for router in ROUTERS for route in router.routes]
    assert all(isinstance(route, Route) for route in routes)
    direct = {(method, route.path) for route in routes if route.direct for method in route.methods}
    # A change that gives one of these a query parameter or a dependency chain would
    # quietly put FastAPI's per-request work back on the busiest requests.
    assert {
        ("POST", "/access/v1/evaluation"),
        ("POST", "/access/v1/evaluations"),
        ("GET", "/v1/vaults/{vault_id}/items/{item_id}"),
        ("POST", "/oauth2/token"),
        ("POST", "/oauth2/introspect"),
        ("GET", "/health"),
    } <= direct
