"""Bearer tokens for the Events-API feed, scoped to features like 1Password's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.feed import FEATURES
from limen.errors import InvalidInput
from limen.store import Database, UnitOfWork
from limen.store.models import ApiToken

__all__ = ["EventsTokens", "issue_events_token"]

PURPOSE = "events"


def issue_events_token(
    uow: UnitOfWork,
    actor: Actor,
    *,
    features: Iterable[str],
    name: str = "events-reporting",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token that reads only the named feeds; the raw token is returned once.

    It belongs to a service identity named ``name`` (created on first use), so it can be
    suspended or revoked like any other credential.
    """
    from limen import identity  # identity records events through this package

    wanted = sorted({f.strip() for f in features if f.strip()})
    unknown = [f for f in wanted if f not in FEATURES]
    if not wanted or unknown:
        raise InvalidInput(f"features must be some of {', '.join(FEATURES)}")
    try:
        owner = identity.get(uow.session, name)
    except identity.IdentityNotFound:
        owner = identity.create(uow, actor, kind="service", name=name)
    if str(owner.kind) != "service":
        raise InvalidInput(f"{name!r} is not a service identity")
    return identity.issue_api_token(
        uow,
        actor,
        owner,
        purpose=PURPOSE,
        scopes=[f"events:{f}" for f in wanted],
        name=name,
        expires_at=expires_at,
    )


class EventsTokens:
    """Issue Events-API feed tokens for an actor the guard lets through (``token.create``).

    Listing and revoking them is what every opaque token has (``/v1/tokens``).
    """

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def issue(
        self,
        actor: Actor,
        *,
        features: Iterable[str],
        name: str = "events-reporting",
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        self._guard.authorize(actor, "token.create", Resource("identity", name=name))
        with self._db.unit_of_work() as uow:
            return issue_events_token(
                uow, actor, features=features, name=name, expires_at=expires_at
            )
