"""Whether a host is one of this host's or its network's private places.

Limen opens connections to addresses its callers choose in two places (Shared Signals
push endpoints and audit sinks added over HTTP); both refuse a host that is, or resolves
to, a loopback, link-local, private, multicast, reserved or unspecified address unless an
operator allows it, so a token holder cannot reach services inside Limen's network
(server-side request forgery). This is that one check.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["is_internal"]


def is_internal(host: str, port: int) -> bool | None:
    """True if ``host`` is or resolves to an internal address, False if it resolves only
    to public ones, ``None`` if it does not resolve (now)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if (
            address.is_loopback
            or address.is_link_local
            or address.is_private
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        ):
            return True
    return False
