"""The transmitter: a background worker per node that fans out and pushes SETs, and polling.

It wakes when an identity's status changes or a token is revoked (on this node directly,
on others through PostgreSQL NOTIFY) and otherwise looks at the log once per
``idle_interval``, so a SET leaves within milliseconds of the change that caused it.
A wake-up first lets ``settle`` pass: the request that caused the change, and the ones
right behind it (a PEP asking whether the suspended identity may still act), finish
without sharing the interpreter and SQLite's write lock with the fan-out, and a burst of
changes (a kill switch) goes out in one round.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from limen.audit import Actor, record
from limen.errors import Unavailable
from limen.respond.errors import InvalidStream
from limen.respond.ssf import outbox, rfc8935
from limen.respond.ssf._credentials import HeaderSealer
from limen.respond.ssf._targets import check_push_target
from limen.respond.ssf.streams import get_stream
from limen.store import Database
from limen.store.models import Identity, utcnow

__all__ = ["PollResult", "Signer", "Transmitter"]

log = logging.getLogger(__name__)

SET_TYP = "secevent+jwt"
_WAKE_TOPICS = ("identity.changed", "token.revoked", "oauth.client.revoked")
# Long polls waiting at once per receiver; more return at once (RFC 8936 lets a
# transmitter answer a long poll early) instead of piling up.
_POLLS_PER_RECEIVER = 2
_POLL_INTERVAL = 0.1
# The longest wait between rounds that fail (the database is away), as the audit worker's
# and the live detector's.
_RETRY_MAX_SECONDS = 5.0


class Signer(Protocol):
    """Signs claims as a compact JWS with a key published in Limen's JWKS."""

    def sign_jwt(self, claims: Mapping[str, Any], *, typ: str, alg: str = ...) -> str: ...


class PollResult(dict[str, Any]):
    """RFC 8936 §2.5 response: ``{"sets": {jti: SET}, "moreAvailable": bool}``."""


class Transmitter:
    def __init__(
        self,
        db: Database,
        *,
        signer: Signer,
        alg: str = "EdDSA",
        sealer: HeaderSealer | None = None,
        idle_interval: float = 1.0,
        settle: float = 0.02,
        push_timeout: float = 5.0,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        max_attempts: int = 50,
        lease: timedelta = timedelta(seconds=30),
        keep: timedelta = timedelta(days=7),
        client: httpx.Client | None = None,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self._db = db
        self.allowed_hosts = frozenset(allowed_hosts)
        """Hosts push receivers may be at although they are private (see _targets)."""
        self._polling: dict[str, int] = {}
        self._polling_lock = threading.Lock()
        self._signer = signer
        self.alg = alg
        """The JWS algorithm of SETs on a stream that did not ask for one (``signing_alg``):
        ``EdDSA``, or ``RS256`` (CAEP interop profile)."""
        self._sealer = sealer
        self._idle = idle_interval
        self._settle = settle
        self._push_timeout = push_timeout
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_attempts = max_attempts
        self._lease = lease
        self._keep = keep
        self._next_prune = 0.0
        # Receivers are configured by whoever holds ssf:manage; never follow redirects
        # they did not ask for, and never send our Authorization header anywhere else.
        self._client = client or httpx.Client(follow_redirects=False, trust_env=False)
        self._actor = Actor.system("limen ssf transmitter")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        for topic in _WAKE_TOPICS:
            self._db.broadcaster.subscribe(topic, self._on_change)
        self._thread = threading.Thread(target=self._run, name="limen-ssf", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for topic in _WAKE_TOPICS:
            self._db.broadcaster.unsubscribe(topic, self._on_change)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._client.close()

    def wake(self) -> None:
        """Look at the log and the outbox now rather than at the next interval."""
        self._wake.set()

    def _on_change(self, _payload: Any) -> None:
        self._wake.set()

    def _run(self) -> None:
        backoff = self._idle
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                # As the other background workers do: one line per retry, with the error's
                # first line (limen.logs), its traceback only at debug level, and a growing
                # wait, so an outage of minutes is a few lines, not one a second. A change
                # still wakes it at once: its SETs need not wait for the backoff.
                log.warning(
                    "the Shared Signals transmitter failed a round; retrying in %.2f s",
                    backoff,
                    exc_info=True,
                )
                self._wake.clear()
                if not self._stop.is_set():  # stop() sets it before it wakes this
                    self._wake.wait(backoff)
                backoff = min(backoff * 2, max(self._idle, _RETRY_MAX_SECONDS))
                continue
            backoff = self._idle
            if not busy and self._wake.wait(self._idle):
                self._stop.wait(self._settle)
                self._wake.clear()

    # -- work ---------------------------------------------------------------------

    def run_once(self) -> bool:
        """One round: fan out new log events, push what is due. True if it did anything."""
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600
            with self._db.unit_of_work(readonly=True) as uow:
                stale = outbox.prunable(uow.session, older_than=self._keep)
            if stale:
                with self._db.unit_of_work() as uow:
                    outbox.prune(uow, older_than=self._keep)
        with self._db.unit_of_work(readonly=True) as uow:
            if not outbox.has_work(uow.session):
                return False
        with self._db.unit_of_work() as uow:
            added = outbox.fan_out(uow)
        with self._db.unit_of_work() as uow:
            leases = outbox.lease_due(uow, lease=self._lease)
        for lease in leases:
            self._deliver(lease)
        return bool(added or leases)

    def _deliver(self, lease: outbox.Lease) -> None:
        try:
            check_push_target(lease.endpoint_url, allowed_hosts=self.allowed_hosts)
        except InvalidStream as refused:
            result = rfc8935.PushResult(False, permanent=True, error=refused.detail)
        else:
            token = self._signer.sign_jwt(
                lease.claims, typ=SET_TYP, alg=lease.signing_alg or self.alg
            )
            authorization = None
            if lease.authorization_header is not None:
                if self._sealer is None:
                    raise Unavailable("no root key to open the receiver's push credential with")
                authorization = self._sealer.open(lease.stream_id, lease.authorization_header)
            result = rfc8935.push(
                self._client,
                lease.endpoint_url,
                token,
                authorization=authorization,
                timeout=self._push_timeout,
            )
        retry_at = None
        retryable = not result.delivered and not result.permanent
        if retryable and lease.attempts + 1 < self._max_attempts:
            delay = min(self._backoff_max, self._backoff_base * 2**lease.attempts)
            retry_at = utcnow() + timedelta(seconds=delay)
        if not result.delivered:
            # Operators read the server's log before the event log: say it there too.
            # Only the receiver's host and port: a push URL may carry a credential in its
            # user info or query.
            log.warning(
                "Shared Signals push of SET %s to %s (stream %s) failed, attempt %d: %s; %s",
                lease.jti,
                _host(lease.endpoint_url),
                lease.stream_id,
                lease.attempts + 1,
                result.error,
                f"retrying at {retry_at.isoformat(timespec='seconds')}"
                if retry_at
                else "not sending it again",
            )
        with self._db.unit_of_work() as uow:
            receiver = uow.session.get(Identity, lease.receiver_id)
            actor = self._actor
            if receiver is not None:
                actor = Actor(
                    kind=self._actor.kind,
                    name=self._actor.name,
                    scopes=self._actor.scopes,
                    channel=self._actor.channel,
                    context={"receiver": receiver.name},
                )
            outbox.settle(
                uow,
                lease,
                delivered=result.delivered,
                permanent=result.permanent,
                error=result.error,
                retry_at=retry_at,
                actor=actor,
            )

    async def poll(
        self,
        actor: Actor,
        stream_id: str,
        *,
        max_events: int = 25,
        return_immediately: bool = False,
        ack: Sequence[str] = (),
        set_errs: Mapping[str, Mapping[str, Any]] | None = None,
        wait: float = 10.0,
    ) -> PollResult:
        """RFC 8936 §2.4: acknowledge, then return waiting SETs (long-polling up to ``wait``).

        While it waits, a poll holds no thread: each look at the outbox is a short piece
        of work in the thread pool. A receiver has at most a couple of polls waiting at
        once; beyond that a poll is answered at once. The call is an ``ssf.poll`` event
        naming the receiver, with what it acknowledged and what it was given.
        """
        settled = await asyncio.to_thread(self._acknowledge, actor, stream_id, ack, set_errs)
        receiver = actor.identity_id or actor.name
        with self._polling_lock:
            waiting_now = self._polling.get(receiver, 0)
            may_wait = not return_immediately and waiting_now < _POLLS_PER_RECEIVER
            if may_wait:
                self._polling[receiver] = waiting_now + 1
        try:
            deadline = time.monotonic() + (wait if may_wait else 0)
            while True:
                sets, more = await asyncio.to_thread(self._waiting, actor, stream_id, max_events)
                if sets or more or max_events <= 0 or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(_POLL_INTERVAL)
        finally:
            if may_wait:
                with self._polling_lock:
                    self._polling[receiver] -= 1
                    if not self._polling[receiver]:
                        del self._polling[receiver]
        await asyncio.to_thread(self._record_poll, actor, stream_id, settled, set_errs, sets, more)
        return PollResult(sets=sets, moreAvailable=more)

    def _acknowledge(
        self,
        actor: Actor,
        stream_id: str,
        ack: Sequence[str],
        set_errs: Mapping[str, Mapping[str, Any]] | None,
    ) -> int:
        with self._db.unit_of_work() as uow:
            stream = get_stream(uow.session, actor, stream_id)
            return outbox.acknowledge(uow, stream, ack=ack, set_errs=set_errs)

    def _waiting(
        self, actor: Actor, stream_id: str, max_events: int
    ) -> tuple[dict[str, str], bool]:
        # A poll need not wait for the worker: bring the outbox up to date first
        # (after a cheap read, so an idle long poll does not keep taking the write lock).
        with self._db.unit_of_work(readonly=True) as uow:
            behind = outbox.has_work(uow.session)
        if behind:
            with self._db.unit_of_work() as uow:
                outbox.fan_out(uow)
        with self._db.unit_of_work(readonly=True) as uow:
            stream = get_stream(uow.session, actor, stream_id)
            rows, more = outbox.pending_for_poll(uow.session, stream, max_events=max_events)
            waiting = [(row.jti, dict(row.claims)) for row in rows]
            alg = stream.signing_alg or self.alg
        # Signed outside the transaction: the first signature may create the key.
        signed = {jti: self._signer.sign_jwt(c, typ=SET_TYP, alg=alg) for jti, c in waiting}
        return signed, more

    def _record_poll(
        self,
        actor: Actor,
        stream_id: str,
        settled: int,
        set_errs: Mapping[str, Mapping[str, Any]] | None,
        sets: dict[str, str],
        more: bool,
    ) -> None:
        with self._db.unit_of_work() as uow:
            record(
                uow.session,
                actor,
                "ssf.poll",
                resource_type="ssf_stream",
                resource_id=stream_id,
                context={
                    "receiver": actor.name,
                    "settled": settled,
                    "rejected": len(set_errs or {}),
                    "returned": list(sets),
                    "more_available": more,
                },
            )


def _host(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "the receiver"
    return f"{host}:{port}" if port else host
