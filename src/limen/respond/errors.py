"""Errors of the respond package: containment, kill switches, Shared Signals streams."""

from __future__ import annotations

from limen.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "AccountNotFound",
    "InvalidStream",
    "KillSwitchNotEngaged",
    "PartnerDisabled",
    "StreamNotFound",
    "WrongKind",
]


class WrongKind(NotFound):
    """The identity exists but is not of the kind the caller asked for (a user, an agent…).

    A not-found, so that ``…/users/{id}`` does not reveal that ``id`` names an agent.
    """

    code = "identity-not-found"


class KillSwitchNotEngaged(Conflict):
    """There is no engaged kill switch for that kind of identity to disengage."""

    code = "kill-switch-not-engaged"


class StreamNotFound(NotFound):
    """No Shared Signals stream with that id belongs to this receiver."""

    code = "stream-not-found"


class InvalidStream(InvalidInput):
    """The stream configuration cannot be accepted (unknown delivery method, bad URL, …)."""

    code = "invalid-stream"


class AccountNotFound(NotFound):
    """The account id in the path is not this installation's."""

    code = "account-not-found"


class PartnerDisabled(Conflict):
    """The partner's clients are all revoked: there is no secret left to rotate."""

    code = "partner-disabled"
