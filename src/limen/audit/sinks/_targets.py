"""Where a sink added over HTTP may send: never to this host's or its network's private places.

A webhook or NATS sink added through ``POST /v1/sinks`` makes the server open connections
to an address of the caller's choosing, so an unchecked target would let anyone with
``sink.write`` reach services inside Limen's network (server-side request forgery). A
target whose host is, or resolves to, a loopback, link-local, private, multicast, reserved
or unspecified address is refused unless an operator allows that host
(``LIMEN_SINK_ALLOWED_HOSTS``). The check is made when the sink is added; a name that
does not resolve then is accepted (its deliveries fail until it does), and a name that
later resolves elsewhere is not checked again. Sinks added with ``limen sink add`` on the
server host are the operator's own choice and are not checked. The same rule as Shared
Signals push targets (``LIMEN_SSF_ALLOWED_HOSTS``).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from limen.errors import InvalidInput
from limen.netcheck import is_internal

__all__ = ["check_sink_target"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "nats": 4222, "tls": 4222}


def check_sink_target(target: str, *, allowed_hosts: Collection[str] = ()) -> None:
    """Raise :class:`InvalidInput` unless every URL in ``target`` (NATS takes a
    comma-separated list) is at a host a remotely added sink may reach."""
    for url in (part.strip() for part in target.split(",")):
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            raise InvalidInput("the sink's target is not a valid URL") from None
        if not parts.hostname:
            raise InvalidInput("the sink's target names no host")
        host = parts.hostname.lower()
        if host in allowed_hosts:
            continue
        # A host that does not resolve yet is accepted: its deliveries fail, as to any
        # host that is down.
        if is_internal(host, port):
            raise InvalidInput(
                f"the sink's host {host!r} is a loopback, link-local or private address; "
                "an operator can allow it with LIMEN_SINK_ALLOWED_HOSTS"
            )
