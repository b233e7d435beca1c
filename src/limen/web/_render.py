"""Templates and the security headers of every console response."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from limen import __version__

__all__ = ["HTMX_VERSION", "SECURITY_HEADERS", "render", "templates"]

HTMX_VERSION: Final = "2.0.11"
"""The vendored htmx (``static/htmx.min.js``, see ``static/README.md``)."""

_HERE = Path(__file__).parent

SECURITY_HEADERS: Final = {
    # Everything comes from Limen itself; no inline script or style, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the package and change only with it: checking each file's
    # time on every render cost a stat per template per page (slow on a busy disk).
    auto_reload=False,
)


def _when(moment: datetime | None) -> str:
    """``2026-12-06 09:31 UTC`` (what a person reads), empty for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def _iso_when(text: str | None) -> str:
    """:func:`_when` of an ISO 8601 string (the documents domain services return)."""
    return _when(datetime.fromisoformat(text)) if text else ""


templates.filters["when"] = _when
templates.filters["iso_when"] = _iso_when
templates.filters["ago"] = _ago
templates.globals["version"] = __version__
templates.globals["htmx_version"] = HTMX_VERSION


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page (or, for an htmx request, the fragment ``template`` renders the same)."""
    context.setdefault("user", None)
    context.setdefault("csrf", None)
    page = templates.get_template(template)
    body = page.render(request=request, path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request, Cookie"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
