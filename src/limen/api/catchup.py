"""ASGI middleware: a request that arrives while this node's status view is catching up
waits for it, briefly, rather than be refused.

When the node's change feed reconnects (its LISTEN connection was dropped, or the
database blinked), the view re-reads everything before it counts as current again,
which takes a few tens of milliseconds. A request arriving meanwhile waits up to
:data:`~limen.identity.CATCH_UP_SECONDS` for that, then goes on either way: a view that
is still not current refuses whatever it cannot vouch for with 503 (``stale``), so
nothing is ever permitted on stale status. While the feed knows the database is down
nothing waits: requests that need it fail at once with 503 and ``Retry-After``.

Health and readiness answer at once: they report the state, they do not depend on it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CatchUp"]

_AT_ONCE = ("/health", "/ready")


class CatchUp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in _AT_ONCE:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                status = services.status
                if not status.is_current():
                    await status.catch_up()
        await self.app(scope, receive, send)
