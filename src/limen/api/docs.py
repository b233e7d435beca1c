"""The API's own description: ``/openapi.json`` with its security schemes, and ``/docs``.

OpenAPI 3.1 security (https://spec.openapis.org/oas/v3.1.0#security-scheme-object): every
route the guard authorizes lists two ways in, either of which suffices:

- ``bearerToken``: HTTP bearer (RFC 6750) with any Limen token, an opaque ``limen_…``
  token (personal, admin, service account) or an OAuth access token (a JWT);
- ``oauth2ClientCredentials``: an access token from ``/oauth2/token`` with the
  client_credentials grant, holding one of the scopes the route's actions accept.

Public routes (health, metadata, the token endpoints) say so with ``security: []``.

``/docs`` is Swagger UI, served with its assets from Limen itself (``api/static/``; see
the README there), so it works with no network beyond Limen; its Authorize button takes
a Limen token. ReDoc, which FastAPI would load from a CDN, is not served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse, Response

from limen.access import ACTIONS
from limen.api.routing import PUBLIC, Route
from limen.errors import NotFound

__all__ = ["BEARER", "OAUTH2", "SWAGGER_UI_VERSION", "install_security_schemes", "router"]

SWAGGER_UI_VERSION: Final = "5.35.0"
BEARER: Final = "bearerToken"
OAUTH2: Final = "oauth2ClientCredentials"
TOKEN_URL: Final = "/oauth2/token"  # noqa: S105 - a path, not a secret

router = APIRouter(tags=["documentation"], route_class=Route, include_in_schema=False)

_DIR = Path(__file__).parent / "static"
_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".LICENSE": "text/plain; charset=utf-8",
    ".NOTICE": "text/plain; charset=utf-8",
}
_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
# Read once, on first use: two large files, served from memory.
_FILES: dict[str, tuple[bytes, str]] = {}


def _asset(name: str) -> tuple[bytes, str] | None:
    if not _FILES:
        for path in sorted(_DIR.iterdir()):
            if path.suffix in _TYPES:
                _FILES[path.name] = (path.read_bytes(), _TYPES[path.suffix])
    return _FILES.get(name)


@router.get("/docs", openapi_extra=PUBLIC)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, every asset from Limen."""
    root = request.scope.get("root_path", "").rstrip("/")
    static = f"{root}/docs/static"
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="Limen API",
        swagger_js_url=f"{static}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
        swagger_css_url=f"{static}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
        swagger_favicon_url=f"{static}/swagger-favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_ui_parameters={
            "validatorUrl": None,  # Swagger UI would otherwise ask validator.swagger.io
            "persistAuthorization": False,
            "deepLinking": True,
            "showExtensions": True,
        },
    )
    page.headers.update(_HEADERS)
    return page


@router.get("/docs/oauth2-redirect", openapi_extra=PUBLIC)
async def swagger_ui_redirect(request: Request) -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/docs/static/{name}", openapi_extra=PUBLIC)
async def swagger_ui_asset(name: str) -> Response:
    found = _asset(name)
    if found is None:
        raise NotFound(f"no documentation asset {name[:80]!r}")
    body, media_type = found
    response = Response(body, media_type=media_type, headers=_HEADERS)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def install_security_schemes(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare Limen's security schemes and, on each operation,
    what it accepts: a guarded route either scheme, a public one none."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _declare(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# The vault's actions take scopes that name the vault (limen.vault.scopes): declared here
# in that grammar, since the guard is handed them per vault rather than per action.
_VAULT_SCOPES: Final = {
    "vault.read": ("vault:{vault_id}:read",),
    "vault.item.read": ("vault:{vault_id}:read",),
    "vault.item.write": ("vault:{vault_id}:write",),
    "vault.create": ("vault:admin",),
    "vault.update": ("vault:admin",),
    "vault.report": ("vault:admin",),
}
_VAULT_SUMMARIES: Final = {
    "vault:{vault_id}:read": "list and read one vault's items (vault:*:read: every vault's)",
    "vault:{vault_id}:write": "create, change, delete one vault's items (vault:*:write)",
    "vault:admin": "create, change and delete vaults, see vault activity",
}


def _scopes(action: str) -> tuple[str, ...]:
    return ACTIONS[action].scopes or _VAULT_SCOPES.get(action, ())


def _declare(schema: dict[str, Any]) -> None:
    scopes = {
        scope: spec.summary for spec in ACTIONS.values() for scope in spec.scopes if scope != "*"
    }
    scopes.update(_VAULT_SUMMARIES)
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A Limen token: personal, admin or service account (limen_…), or an OAuth "
                "access token (JWT) from /oauth2/token. The guard then asks whether its "
                "holder's roles allow the operation."
            ),
        },
        OAUTH2: {
            "type": "oauth2",
            "description": "An OAuth client registered with POST /v1/clients or limen client.",
            "flows": {
                "clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(sorted(scopes.items()))}
            },
        },
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            actions = operation.get("x-limen-actions")
            if actions:
                wanted = sorted({s for a in actions for s in _scopes(a)})
                operation["security"] = [{BEARER: []}, {OAUTH2: wanted}]
            elif operation.get("x-limen-public"):
                operation["security"] = []
