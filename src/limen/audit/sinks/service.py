"""Push sinks for an actor: every call asks the guard (``sink.read``/``sink.write``) first.

The functions of :mod:`limen.audit.sinks.outbox` are the CLI's on the server host; this
is the door the API uses. A JSON Lines sink writes a file on the server's own disk, so
only the server host's operator adds one (``limen sink add``): through this door a caller
may add webhooks and NATS subjects, never choose a path for the server to write, nor
a loopback, link-local or private address unless ``LIMEN_SINK_ALLOWED_HOSTS`` allows it.
"""

from __future__ import annotations

from collections.abc import Collection

from limen.audit._keys import AuditKeys
from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.sinks._targets import check_sink_target
from limen.audit.sinks.outbox import SinkStatus, add_sink, deliver_due, get_sink, list_sinks
from limen.audit.sinks.outbox import remove_sink as _remove_sink
from limen.errors import InvalidInput, Unavailable
from limen.store import Database

__all__ = ["REMOTE_SINK_KINDS", "Sinks"]

REMOTE_SINK_KINDS = ("webhook", "nats")
"""What may be added through :class:`Sinks`: not ``jsonl``, a path on the server host."""


class Sinks:
    """Add, list, show, remove and flush push sinks on behalf of an actor."""

    def __init__(
        self,
        db: Database,
        authorizer: Authorizer,
        keys: AuditKeys | None,
        *,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self._db = db
        self._guard = authorizer
        self._keys = keys
        self._allowed_hosts = frozenset(allowed_hosts)

    def _audit_keys(self) -> AuditKeys:
        if self._keys is None:
            raise Unavailable("the server cannot read its key file, which sinks need")
        return self._keys

    def add(
        self,
        actor: Actor,
        *,
        name: str,
        kind: str,
        target: str,
        subject: str | None = None,
        stream: str | None = None,
        from_start: bool = True,
    ) -> tuple[SinkStatus, str | None]:
        """Register a sink; a webhook's signing secret is returned once."""
        self._guard.authorize(actor, "sink.write", Resource("audit_sink", name=name))
        if kind not in REMOTE_SINK_KINDS:
            raise InvalidInput(
                f"sink kind must be one of {', '.join(REMOTE_SINK_KINDS)} here; a file sink "
                "is added on the server host (limen sink add NAME --kind jsonl)"
            )
        if target.startswith(("http://", "https://", "nats://", "tls://")):
            # a malformed target is refused as it always was, by add_sink
            check_sink_target(target, allowed_hosts=self._allowed_hosts)
        return add_sink(
            self._db,
            self._audit_keys(),
            actor,
            name=name,
            kind=kind,
            target=target,
            subject=subject,
            stream=stream,
            from_start=from_start,
        )

    def list(self, actor: Actor) -> list[SinkStatus]:
        self._guard.authorize(actor, "sink.read", Resource("audit_sink"))
        with self._db.unit_of_work(readonly=True) as uow:
            return list_sinks(uow.session)

    def get(self, actor: Actor, ref: str) -> SinkStatus:
        self._guard.authorize(actor, "sink.read", Resource("audit_sink", name=ref))
        with self._db.unit_of_work(readonly=True) as uow:
            return get_sink(uow.session, ref)

    def remove(self, actor: Actor, ref: str) -> None:
        self._guard.authorize(actor, "sink.write", Resource("audit_sink", name=ref))
        _remove_sink(self._db, actor, ref)

    def deliver(self, actor: Actor, *, rounds: int = 100) -> tuple[int, list[SinkStatus]]:
        """Offer due sinks their pending events now (the server does so continuously);
        returns how many were delivered and the sinks that are failing."""
        self._guard.authorize(actor, "sink.write", Resource("audit_sink"))
        keys = self._audit_keys()
        total = 0
        for _ in range(rounds):
            count = deliver_due(self._db, keys)
            total += count
            if count == 0:
                break
        with self._db.unit_of_work(readonly=True) as uow:
            return total, [s for s in list_sinks(uow.session) if s.last_error]
