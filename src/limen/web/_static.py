"""The console's static assets, served from the package: nothing comes from elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.responses import Response

from limen.errors import NotFound
from limen.web._render import SECURITY_HEADERS

__all__ = ["static_response"]

_DIR = Path(__file__).parent / "static"
_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".LICENSE": "text/plain; charset=utf-8",
}
# Read once: a handful of small files, served from memory.
_FILES: Final = {
    path.name: (path.read_bytes(), _TYPES[path.suffix])
    for path in sorted(_DIR.iterdir())
    if path.suffix in _TYPES
}


def static_response(name: str) -> Response:
    found = _FILES.get(name)
    if found is None:
        raise NotFound(f"no console asset {name[:80]!r}")
    body, media_type = found
    response = Response(body, media_type=media_type)
    response.headers.update(SECURITY_HEADERS)
    # Pages name assets with ?v=<version>: a new release is a new URL.
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
