"""Limen relies on two libraries' internals, each fenced in one module: FastAPI's
``Dependant`` (``limen.api._fastapi``) and SQLAlchemy's compiled statements
(``limen.store._sqlalchemy``). These tests fail when an upgrade changes their shape, before
anything subtler breaks; ``pyproject.toml`` bounds both libraries to versions they pass on."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.dialects import postgresql, sqlite

from limen.api._fastapi import DEPENDANT_FIELDS, plain_call
from limen.store._sqlalchemy import COMPILER_ATTRIBUTES, driver_sql

# -- FastAPI -------------------------------------------------------------------------------


def test_dependant_still_has_every_field_the_fence_reads() -> None:
    assert dataclasses.is_dataclass(Dependant)
    fields = {f.name for f in dataclasses.fields(Dependant)}
    assert fields >= DEPENDANT_FIELDS, DEPENDANT_FIELDS - fields


async def _caller(request: Request) -> str:
    return request.headers.get("x-caller", "nobody")


def _dependant(endpoint: object, path: str = "/x/{name}") -> Dependant:
    app = FastAPI()
    app.get(path)(endpoint)
    route = next(r for r in app.routes if isinstance(r, APIRoute))
    return route.dependant


def test_a_plain_endpoint_is_read_as_its_request_path_names_and_dependencies() -> None:
    async def endpoint(
        request: Request, caller: Annotated[str, Depends(_caller)], name: str
    ) -> JSONResponse:
        return JSONResponse({})

    plain = plain_call(_dependant(endpoint))
    assert plain is not None
    assert plain.request_name == "request"
    assert plain.path_names == (("name", "name"),)
    assert plain.dependencies == (("caller", _caller),)


def test_an_aliased_path_parameter_is_read_under_its_name_in_the_path() -> None:
    async def endpoint(ident: str = Path(alias="name")) -> JSONResponse:
        return JSONResponse({})

    plain = plain_call(_dependant(endpoint))
    assert plain is not None
    assert plain.path_names == (("ident", "name"),)


def test_what_needs_fastapi_is_read_as_such() -> None:
    async def query(q: str) -> JSONResponse:
        return JSONResponse({})

    async def converted(name: int) -> JSONResponse:
        return JSONResponse({})

    def blocking(name: str) -> JSONResponse:
        return JSONResponse({})

    for endpoint in (query, converted, blocking):
        assert plain_call(_dependant(endpoint)) is None, endpoint.__name__


# -- SQLAlchemy ----------------------------------------------------------------------------


_STATEMENT = sa.select(
    (sa.bindparam("zeta", type_=sa.Integer) * 10 + sa.bindparam("alpha", type_=sa.Integer)).label(
        "n"
    )
).limit(1)


def test_the_compiled_statement_still_has_every_attribute_the_fence_reads() -> None:
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        compiled = _STATEMENT.compile(dialect=dialect)
        missing = [name for name in COMPILER_ATTRIBUTES if not hasattr(compiled, name)]
        assert missing == [], (dialect.name, missing)


def test_positional_binds_come_in_the_order_the_sql_takes_them() -> None:
    # Not alphabetical and not the order of a dict: the order of the "?" in the SQL.
    compiled = driver_sql(_STATEMENT, sqlite.dialect())
    assert compiled.positional is not None
    assert [n for n in compiled.positional if n in ("zeta", "alpha")] == ["zeta", "alpha"]
    values = {**compiled.fixed, "zeta": 4, "alpha": 2}
    row = sqlite3.connect(":memory:").execute(
        compiled.sql, [values[name] for name in compiled.positional]
    )
    assert row.fetchone() == (42,)


def test_a_driver_that_binds_by_name_gets_names_and_the_fixed_limit() -> None:
    compiled = driver_sql(_STATEMENT, postgresql.psycopg.dialect())
    assert compiled.positional is None
    assert "%(zeta)s" in compiled.sql and "%(alpha)s" in compiled.sql
    assert 1 in compiled.fixed.values()  # the LIMIT, bound in the statement itself
