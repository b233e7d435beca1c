"""Group commit for events that are a request's only write: secret reads, decisions.

Such an event must be durable before the answer leaves (a secret handed out with no
record of who read it would make the trail lie by omission). One transaction per event,
though, caps a SQLite node at a few hundred a second, since writers queue on one lock.
So callers hand their event writes to one writer thread per database, which commits
whatever has queued up in one transaction and then tells every caller in the batch. A
batch fails or succeeds as a whole, and each caller learns which.

On PostgreSQL, where an insert waits on the network rather than on a lock, what a turn of
an event loop gathers is inserted from that loop on an asyncio connection instead:
handing it to a thread cost more CPU than the insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from limen.audit.log import insert_recorded, insert_recorded_async, take_recorded
from limen.store import Database

__all__ = ["EventWriter", "commit_now"]

Write = Callable[[Session], None]
"""Records one or more events in the session it is given (see :func:`limen.audit.record`),
and does nothing else: the writer's session has no database behind it."""
Done = Callable[[BaseException | None], None]

_MAX_BATCH = 2000


class EventWriter:
    """One writer thread that commits queued event writes together."""

    def __init__(self, db: Database, *, max_batch: int = _MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Sequence[Write], Done] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # PostgreSQL: batches being inserted from an event loop (kept until done), and
        # when each began.
        self._in_flight: dict[asyncio.Task[None], float] = {}
        # When each submission still queued for the writer thread (or in its batch) was
        # queued, oldest first: the thread drops one per submission it has settled.
        self._queued_at: deque[float] = deque()
        # Per event loop, the requests of the current turn (touched only by that loop).
        self._gathering: dict[
            asyncio.AbstractEventLoop, list[tuple[Sequence[Write], asyncio.Future[None]]]
        ] = {}
        self._stats_lock = threading.Lock()
        self._commits = 0
        self._commit_seconds = 0.0

    @property
    def commit_stats(self) -> tuple[int, float]:
        """Batches committed so far, and the seconds they took in all (for ``/metrics``)."""
        with self._stats_lock:
            return self._commits, self._commit_seconds

    def _committed(self, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self._stats_lock:
            self._commits += 1
            self._commit_seconds += elapsed

    @property
    def backlog(self) -> int:
        """Event writes queued for the writer thread and not yet committed (about)."""
        return self._queue.qsize()

    @property
    def lag(self) -> float:
        """Seconds the oldest event write not yet committed has waited (0: none waits).
        A writer blocked (a lock held on the log, a database that does not answer) holds
        few writes on a quiet node, but holds them ever longer."""
        oldest = []
        with contextlib.suppress(IndexError):
            oldest.append(self._queued_at[0])
        with contextlib.suppress(RuntimeError):  # a loop changed it meanwhile: look again
            oldest.append(min(self._in_flight.values(), default=float("inf")))
        started = min(oldest, default=float("inf"))
        return 0.0 if started == float("inf") else max(0.0, time.monotonic() - started)

    def submit(self, writes: Sequence[Write], done: Done) -> None:
        """Queue ``writes``; ``done(error)`` is called from the writer thread after commit."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="limen-event-writer", daemon=True
                    )
                    self._thread.start()
        self._queued_at.append(time.monotonic())
        self._queue.put((writes, done))

    def write(self, writes: Sequence[Write]) -> None:
        """Queue ``writes`` and block until they are committed (raises if they were not)."""
        finished = threading.Event()
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            finished.set()

        self.submit(writes, done)
        finished.wait()
        if outcome[0] is not None:
            raise outcome[0]

    async def written(self, writes: Sequence[Write]) -> None:
        """Queue ``writes`` and wait, without blocking the event loop, until committed.

        Every request that reaches this point in one turn of the loop joins one hand-over
        to the writer thread, and one wake-up of the loop settles them all: per request,
        the thread hand-offs would cost more than the inserts.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        gathered = self._gathering.get(loop)
        if gathered is None:
            gathered = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathered.append((writes, future))
        await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        gathered = self._gathering.pop(loop)
        writes = [write for batch, _ in gathered for write in batch]

        def settle(error: BaseException | None) -> None:
            for _, future in gathered:
                if future.done():  # the request was cancelled meanwhile
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

        if self._db.dialect.async_driver:
            # The insert waits on the network, not on a lock: it is awaited right here,
            # and several batches may be in flight at once (each is its own transaction).
            task = loop.create_task(self._commit_on_loop(writes, settle))
            self._in_flight[task] = time.monotonic()
            task.add_done_callback(self._landed)
            return
        self.submit(writes, lambda error: loop.call_soon_threadsafe(settle, error))

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    async def _commit_on_loop(
        self, writes: Sequence[Write], settle: Callable[[BaseException | None], None]
    ) -> None:
        started = time.perf_counter()
        try:
            await insert_recorded_async(self._db, _recorded_rows(writes))
            self._committed(started)
        except BaseException as exc:  # every caller in the batch learns it failed
            settle(exc)
            if not isinstance(exc, Exception):  # cancelled (the loop is shutting down)
                raise
        else:
            settle(None)

    def close(self) -> None:
        """Commit what is queued, then stop the thread (a later submit starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first[0])
            stop = False
            while size < self._max_batch:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    stop = True
                    break
                batch.append(entry)
                size += len(entry[0])
            error: BaseException | None = None
            started = time.perf_counter()
            try:
                commit_now(self._db, [write for writes, _ in batch for write in writes])
                self._committed(started)
            except Exception as exc:  # every caller in the batch learns it failed
                error = exc
            for _, done in batch:
                with contextlib.suppress(IndexError):
                    self._queued_at.popleft()
                done(error)
            if stop:
                return


def commit_now(db: Database, writes: Sequence[Write]) -> None:
    """Commit ``writes`` here and now, all or none (what the writer does with a batch).

    Not a unit of work: the events are the only rows, and inserting them in one statement
    outside a transaction saves its BEGIN and COMMIT round trips.
    """
    insert_recorded(db, _recorded_rows(writes))


def _recorded_rows(writes: Sequence[Write]) -> list[tuple[Any, ...]]:
    session = Session()  # no database behind it: a write may only record events
    try:
        for write in writes:
            write(session)
        return take_recorded(session)
    finally:
        session.close()
