"""Push-based SET delivery over HTTP (RFC 8935).

https://www.rfc-editor.org/rfc/rfc8935

The SET is the request body (``Content-Type: application/secevent+jwt``). The receiver
answers ``202 Accepted``, or ``400`` with ``{"err", "description"}`` when it rejects the
SET itself (§2.3, §2.4); a rejected SET is not sent again. Anything else (no answer,
a 5xx, an authentication failure while the receiver is being reconfigured) is worth
retrying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx

__all__ = ["MEDIA_TYPE", "PushResult", "push"]

MEDIA_TYPE: Final = "application/secevent+jwt"


@dataclass(frozen=True, slots=True)
class PushResult:
    delivered: bool
    permanent: bool = False
    error: str | None = None


def push(
    client: httpx.Client,
    url: str,
    token: str,
    *,
    authorization: str | None = None,
    timeout: float = 5.0,
) -> PushResult:
    """POST one signed SET to ``url`` and classify the answer."""
    headers = {"Content-Type": MEDIA_TYPE, "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        response = client.post(url, content=token, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        # The exception text can carry the URL and its query; the type says enough.
        return PushResult(False, error=f"receiver unreachable ({type(exc).__name__})")
    if 200 <= response.status_code < 300:
        return PushResult(True)
    if response.status_code == 400:
        return PushResult(False, permanent=True, error=_rfc8935_error(response))
    return PushResult(False, error=f"receiver answered {response.status_code}")


def _rfc8935_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        err = str(body.get("err", "invalid_request"))[:100]
        description = str(body.get("description", ""))[:200]
    except (ValueError, AttributeError):
        return "receiver rejected the SET (400)"
    return f"receiver rejected the SET: {err}" + (f" ({description})" if description else "")
