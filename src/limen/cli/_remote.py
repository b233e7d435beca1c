"""Remote mode: the CLI talking to a Limen server over its HTTP API.

With ``LIMEN_URL`` and ``LIMEN_TOKEN`` both set (or ``limen --server URL --token T``), every
command whose HTTP API exists sends its request to that server instead of opening the
local data directory, as HashiCorp's ``vault`` CLI does with ``VAULT_ADDR``/``VAULT_TOKEN``.
The root callback decides the mode once; each command group then picks its local or remote
implementation from :func:`limen.cli._context.remote`.

A command without an HTTP API refuses in remote mode (``open_database`` is the one door to
the local data and says so): nothing falls back to the local installation silently.

Errors from the server (RFC 9457 problem details, or the Connect API's ``{"status",
"message"}``) become the same :mod:`limen.errors` family the local command would raise, so
:class:`~limen.cli._errors.LimenGroup` prints one line and exits with the family's code.
The token is sent as a bearer credential and appears in no message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from limen import __version__, errors

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SERVER_HOST_ONLY",
    "Remote",
    "missing_api",
    "normalise_times",
    "refusal",
    "server_host_only",
]

SERVER_HOST_ONLY: Final[dict[str, str]] = {
    "init": "creates an installation's data directory and key file",
    "server": "serves the local installation",
    "db": "works on the database directly",
    "admin-token": "issues a token with the local key file",
    "info": "describes the local installation",
}
"""Commands that only make sense on the server host, and why."""


def refusal(command: str) -> str | None:
    """Why top-level ``command`` cannot run in remote mode at all, or ``None`` if it may."""
    if command in SERVER_HOST_ONLY:
        return server_host_only(f"limen {command}", SERVER_HOST_ONLY[command])
    return None


def server_host_only(command_path: str, why: str) -> str:
    """The one line a command that only makes sense on the server host prints remotely."""
    return (
        f"`{command_path}` runs on the server host ({why}); "
        "unset LIMEN_TOKEN (or drop --server/--token) to run it there"
    )


def missing_api(command_path: str) -> str:
    """The one line a command without an HTTP API prints in remote mode."""
    return (
        f"`{command_path}` has no HTTP API yet, so it cannot run against a server; "
        "unset LIMEN_TOKEN to run it on the server host"
    )


class Remote:
    """A Limen server reached over HTTP with a bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        import httpx  # only in remote mode: a local command does not pay for importing it

        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"limen-cli/{__version__}",
                "Accept": "application/json",
            },
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("POST", path, json=body, params=params)

    def post_bytes(self, path: str, content: bytes, **params: Any) -> Any:
        """POST ``content`` as it is (``application/octet-stream``), e.g. a file."""
        return self.call("POST", path, params=params, content=content)

    def put(self, path: str, body: Any = None) -> Any:
        return self.call("PUT", path, json=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.call("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.call("DELETE", path, params=params)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, ``None`` for an empty one."""
        import httpx

        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        raw: dict[str, Any] = {}
        if content is not None:
            raw = {"content": content, "headers": {"Content-Type": "application/octet-stream"}}
        try:
            response = self._client.request(method, path, params=query, json=json, **raw)
        except httpx.ConnectError as exc:
            why = "connection refused or host unknown"
            if "CERTIFICATE" in str(exc).upper():
                why = "its TLS certificate is not trusted (SSL_CERT_FILE names a CA bundle)"
            raise errors.Unavailable(f"cannot reach LIMEN_URL {self.url}: {why}") from None
        except httpx.TimeoutException:
            raise errors.Unavailable(f"cannot reach LIMEN_URL {self.url}: timed out") from None
        except httpx.HTTPError as exc:
            raise errors.Unavailable(
                f"cannot reach LIMEN_URL {self.url}: {type(exc).__name__}"
            ) from None
        if response.is_success:
            if response.status_code == 204 or not response.content:
                return None
            return _json(response, self.url)
        raise _problem(response, self.url, sent=json)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise errors.Unavailable(
            f"{url} answered {response.status_code} with something other than JSON; "
            "is LIMEN_URL a Limen server?"
        ) from None


def _detail(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in ("detail", "message", "error_description"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if key == "detail" and isinstance(value, list) and value:
            first = value[0]
            if isinstance(first, dict) and "msg" in first:
                where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                return f"{where}: {first['msg']}" if where else str(first["msg"])
    title = body.get("title")
    return title if isinstance(title, str) else None


_CHOICE = re.compile(r"'([^']*)'")


def _choice(response: httpx.Response, sent: Any) -> str | None:
    """A value outside a fixed set, in the words the local command uses.

    The server names the field and its choices but never echoes the value (it may be a
    secret pasted in the wrong place); the CLI knows what it sent, so it says it here.
    """
    if not isinstance(sent, dict):
        return None
    try:
        first = response.json()["errors"][0]
        field, message = first["field"], first["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    value = sent.get(field) if isinstance(field, str) else None
    if not isinstance(value, str) or not str(message).startswith("Input should be "):
        return None
    choices = _CHOICE.findall(str(message))
    return errors.unknown_choice(field.replace("_", " "), value, choices) if choices else None


def _problem(response: httpx.Response, url: str, *, sent: Any = None) -> errors.LimenError:
    """The :mod:`limen.errors` family a problem-details answer stands for."""
    status = response.status_code
    detail = (_choice(response, sent) if status == 422 else None) or _detail(response)
    if status == 401:
        return errors.Unauthenticated(
            f"the server refused the token (401): {detail or 'unauthenticated'}"
        )
    if status == 403:
        return errors.Denied(f"not allowed (403): {detail or 'forbidden'}")
    family: type[errors.LimenError] | None = {
        400: errors.BadRequest,
        404: errors.NotFound,
        409: errors.Conflict,
        413: errors.ContentTooLarge,
        422: errors.InvalidInput,
        503: errors.Unavailable,
    }.get(status)
    if family is None:
        return errors.LimenError(f"{url} answered {status}: {detail or response.reason_phrase}")
    return family(detail or response.reason_phrase)


def normalise_times(document: Any, *keys: str) -> Any:
    """Write the named timestamps as :meth:`datetime.isoformat` does, as local output does
    (the server's JSON writes UTC as ``Z``)."""
    if isinstance(document, dict):
        for key in keys:
            value = document.get(key)
            if isinstance(value, str):
                document[key] = datetime.fromisoformat(value).isoformat()
    return document
