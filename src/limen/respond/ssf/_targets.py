"""Where push delivery may send: never to this host's or its network's private places.

A receiver chooses its push URL and the ``Authorization`` header Limen sends with each
SET, so an unchecked URL would let anyone with ``ssf:manage`` make Limen send requests
of their choosing inside its network (server-side request forgery). A URL whose host is,
or resolves to, a loopback, link-local, private, multicast, reserved or unspecified
address is refused unless an operator allows that host (``LIMEN_SSF_ALLOWED_HOSTS``).
It is checked when the stream is configured and again before every push, since a name
may resolve differently later.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from limen.netcheck import is_internal
from limen.respond.errors import InvalidStream

__all__ = ["check_push_target"]


def check_push_target(url: str, *, allowed_hosts: Collection[str] = ()) -> None:
    """Raise :class:`InvalidStream` unless ``url`` is an http(s) URL Limen may push to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidStream("push delivery needs an http(s) delivery.endpoint_url")
    host = parts.hostname.lower()
    if host in allowed_hosts:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidStream(f"the push endpoint's port in {url!r} is not a number") from None
    internal = is_internal(host, port)
    if internal is None:
        raise InvalidStream(f"the push endpoint's host {host!r} cannot be resolved")
    if internal:
        raise InvalidStream(
            f"the push endpoint's host {host!r} is a loopback, link-local or private "
            "address; an operator can allow it with LIMEN_SSF_ALLOWED_HOSTS"
        )
