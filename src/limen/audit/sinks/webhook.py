"""Webhook sink: ``POST`` a JSON batch, signed with HMAC-SHA256.

Body: ``{"sink": <id>, "events": [...]}``. Header ``X-Limen-Signature: t=<unix time>,
v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The receiver recomputes the HMAC with the
secret ``limen sink add`` showed once, compares in constant time and rejects old ``t``.
Any 2xx acknowledges the batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from limen.audit.sinks.base import SinkFailure

__all__ = ["WebhookSink", "sign"]


def sign(secret: bytes, body: bytes, *, timestamp: int) -> str:
    mac = hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookSink:
    def __init__(self, sink_id: str, url: str, secret: bytes, *, timeout: float = 10.0) -> None:
        self._sink_id = sink_id
        self._url = url
        self._secret = secret
        self._timeout = timeout

    def deliver(self, events: Sequence[dict[str, Any]]) -> None:
        body = json.dumps({"sink": self._sink_id, "events": list(events)}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Limen-Sink": self._sink_id,
            "X-Limen-Signature": sign(self._secret, body, timestamp=int(time.time())),
        }
        try:
            response = httpx.post(self._url, content=body, headers=headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            # The URL may carry credentials; name the failure, not the URL.
            raise SinkFailure(f"webhook unreachable ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise SinkFailure(f"webhook answered {response.status_code}")
