"""NATS JetStream sink: each event published to a subject, acknowledged by the stream.

Every message carries ``Nats-Msg-Id: <event id>``, so JetStream drops a redelivered event
within its duplicate window: at-least-once from Limen, once in the stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import nats
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from limen.audit.sinks.base import SinkFailure

__all__ = ["JetStreamSink"]


class JetStreamSink:
    def __init__(
        self, url: str, subject: str, *, stream: str | None = None, timeout: float = 5.0
    ) -> None:
        self._url = url
        self._subject = subject
        self._stream = stream
        self._timeout = timeout

    def deliver(self, events: Sequence[dict[str, Any]]) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._publish(events), self._timeout * 2))
        except (NatsError, OSError, TimeoutError) as exc:
            raise SinkFailure(f"NATS JetStream unavailable ({type(exc).__name__})") from None

    async def _publish(self, events: Sequence[dict[str, Any]]) -> None:
        client = await nats.connect(
            self._url,
            connect_timeout=self._timeout,
            # One attempt: a down server is the dispatcher's to retry, with backoff.
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
        )
        try:
            stream = client.jetstream(timeout=self._timeout)
            if self._stream:
                try:
                    await stream.stream_info(self._stream)
                except NotFoundError:
                    await stream.add_stream(name=self._stream, subjects=[self._subject])
            acks = [
                stream.publish(
                    self._subject,
                    json.dumps(event, separators=(",", ":")).encode(),
                    headers={"Nats-Msg-Id": str(event["id"])},
                )
                for event in events
            ]
            await asyncio.gather(*acks)
        finally:
            await client.close()
