"""OpenID Shared Signals Framework 1.0 transmitter, with CAEP 1.0 and RISC 1.0 events.

- SSF 1.0: https://openid.net/specs/openid-sharedsignals-framework-1_0.html
- SET (RFC 8417), push delivery (RFC 8935), poll delivery (RFC 8936).

Receivers manage streams (``streams``); the transmitter turns Limen's event log into
SETs in a database outbox (``outbox``) and delivers them (``transmitter``).
"""

from limen.respond.ssf._credentials import HeaderSealer
from limen.respond.ssf.events import (
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    CREDENTIAL_CHANGE,
    EVENTS_SUPPORTED,
    RISK_LEVEL_CHANGE,
    SESSION_REVOKED,
    VERIFICATION,
)
from limen.respond.ssf.streams import (
    POLL,
    PUSH,
    STATUSES,
    create_stream,
    delete_stream,
    events_delivered,
    every_stream,
    get_stream,
    list_streams,
    request_verification,
    set_status,
    update_stream,
)
from limen.respond.ssf.transmitter import PollResult, Signer, Transmitter

__all__ = [
    "ACCOUNT_DISABLED",
    "ACCOUNT_ENABLED",
    "CREDENTIAL_CHANGE",
    "EVENTS_SUPPORTED",
    "POLL",
    "PUSH",
    "RISK_LEVEL_CHANGE",
    "SESSION_REVOKED",
    "STATUSES",
    "VERIFICATION",
    "HeaderSealer",
    "PollResult",
    "Signer",
    "Transmitter",
    "create_stream",
    "delete_stream",
    "events_delivered",
    "every_stream",
    "get_stream",
    "list_streams",
    "request_verification",
    "set_status",
    "update_stream",
]
