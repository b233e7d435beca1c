"""The event log as the shells read it: every call asks the guard first."""

from __future__ import annotations

from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.feed import Feature, FeedCursor, FeedPage, read_feed
from limen.audit.log import EventFilter, EventPage, list_events, newest_events
from limen.store import Database

__all__ = ["EventReader"]


class EventReader:
    """Search the log and read the Events-API feeds on behalf of an actor."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def search(
        self, actor: Actor, filters: EventFilter, *, after: str | None = None, limit: int = 100
    ) -> EventPage:
        self._guard.authorize(actor, "event.read", Resource("event"))
        with self._db.unit_of_work(readonly=True) as uow:
            return list_events(uow.session, filters, after=after, limit=limit)

    def newest(self, actor: Actor, filters: EventFilter, *, limit: int = 100) -> EventPage:
        """The ``limit`` newest events that match, oldest of them first."""
        self._guard.authorize(actor, "event.read", Resource("event"))
        with self._db.unit_of_work(readonly=True) as uow:
            return newest_events(uow.session, filters, limit=limit)

    def feed(
        self, actor: Actor, feature: Feature, cursor: FeedCursor, *, account_id: str
    ) -> FeedPage:
        """One page of an Events-API feed; the token needs the ``events:<feature>`` scope."""
        self._guard.authorize(
            actor, "event.read", Resource("event", name=feature), scopes=(f"events:{feature}",)
        )
        with self._db.unit_of_work(readonly=True) as uow:
            return read_feed(uow.session, cursor, account_id=account_id)
