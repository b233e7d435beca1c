"""ASGI middleware that refuses request bodies larger than the configured limit.

A body's size is known from its ``Content-Length`` before it is read, and the server
reads no more than that (RFC 9112 §6.3); a request with neither that header nor
``Transfer-Encoding`` has no body. Only a chunked body is counted as it arrives, so most
requests pass straight through, without wrappers around their messages.

A route that reads its body as a stream and bounds it itself (a vault file upload, up to
the vault's file limit) is named in ``bounded_by_route`` and passes untouched: the
general limit is for bodies parsed whole, not for files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from limen.api.problems import render_error

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, bounded_by_route: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._bounded_by_route = [re.compile(pattern) for pattern in bounded_by_route]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(
            pattern.fullmatch(scope["path"]) for pattern in self._bounded_by_route
        ):
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, send)
                return
            if name == b"transfer-encoding":
                chunked = True
        if not chunked:
            await self.app(scope, receive, send)
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer here: an exception raised into the app would reach its body
                    # parsing, which turns any failure into a 400. The app sees the client
                    # leave, and whatever it answers to that is dropped.
                    refused = True
                    if not started:
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        """A 413 in the style of the surface the request went to (Connect, SCIM, OAuth…),
        as any other error there would be."""
        response = render_error(
            Request(scope),
            413,
            code="content-too-large",
            detail=f"request bodies are limited to {self.max_bytes} bytes",
        )
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
