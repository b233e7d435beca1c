"""Baselines in the store: save the changed ones, load a node's partitions after a restart,
and let a node's peer index know what the identities of other nodes' partitions established.

A baseline is stored as zlib-compressed JSON (``Baseline.to_state``), at most
:data:`MAX_STATE_BYTES`; the peer index is not stored, it is rebuilt from the baselines
loaded (``Detector.install``). Both functions run inside the caller's unit of work and
never commit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.detect.baseline import Baseline
from limen.detect.detector import Detector, partition_of
from limen.detect.errors import InvalidBaseline
from limen.store import UnitOfWork
from limen.store.models import DetectBaseline

__all__ = [
    "MAX_STATE_BYTES",
    "STATE_VERSION",
    "decode",
    "encode",
    "load_baselines",
    "load_outside_peers",
    "save_baselines",
]

STATE_VERSION: Final = 1
MAX_STATE_BYTES: Final = 64 * 1024
"""The most one identity's stored baseline may take."""
_BATCH: Final = 500


def encode(baseline: Baseline) -> bytes:
    """The stored form of a baseline; raises :class:`InvalidBaseline` past the size limit."""
    data = zlib.compress(orjson.dumps(baseline.to_state()), 6)
    if len(data) > MAX_STATE_BYTES:
        raise InvalidBaseline(f"a baseline of {len(data)} bytes exceeds {MAX_STATE_BYTES}")
    return data


def decode(data: bytes) -> Baseline:
    """A baseline from its stored form; raises :class:`InvalidBaseline` if unreadable."""
    try:
        return Baseline.from_state(orjson.loads(zlib.decompress(data)))
    except (zlib.error, orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise InvalidBaseline(f"a stored baseline cannot be read: {exc}") from None


def save_baselines(
    uow: UnitOfWork, detector: Detector, *, keys: Iterable[str] | None = None
) -> int:
    """Write the given baselines (default: those changed since the last save); returns how many."""
    subjects = sorted(detector.take_dirty() if keys is None else set(keys))
    partitions = detector.config.partitions
    session = uow.session
    now = datetime.now(UTC)
    written = 0
    for start in range(0, len(subjects), _BATCH):
        chunk = [key for key in subjects[start : start + _BATCH] if key in detector.baselines]
        if not chunk:
            continue
        existing = set(
            session.scalars(
                sa.select(DetectBaseline.subject).where(DetectBaseline.subject.in_(chunk))
            )
        )
        rows = []
        for key in chunk:
            baseline = detector.baselines[key]
            rows.append(
                {
                    "subject": key,
                    "partition": partition_of(key, partitions),
                    "version": STATE_VERSION,
                    "state": encode(baseline),
                    "learned_events": baseline.n,
                    "last_event_at": (
                        datetime.fromtimestamp(baseline.last_ts, UTC) if baseline.last_ts else None
                    ),
                    "updated_at": now,
                }
            )
        updates = [row for row in rows if row["subject"] in existing]
        inserts = [row for row in rows if row["subject"] not in existing]
        if updates:
            session.execute(sa.update(DetectBaseline), updates)
        if inserts:
            session.execute(sa.insert(DetectBaseline), inserts)
        written += len(rows)
    uow.flush()
    return written


def load_baselines(
    session: Session, detector: Detector, *, partitions: Iterable[int] | None = None
) -> int:
    """Adopt the stored baselines (of some partitions only, if given); returns how many.

    The peer index is rebuilt from what was loaded.
    """
    query = sa.select(DetectBaseline.subject, DetectBaseline.version, DetectBaseline.state)
    if partitions is not None:
        query = query.where(DetectBaseline.partition.in_(sorted(set(partitions))))
    loaded: list[tuple[str, Baseline]] = []
    for subject, version, state in session.execute(query):
        if version != STATE_VERSION:
            raise InvalidBaseline(f"baseline of {subject!r} has unknown version {version}")
        loaded.append((subject, decode(state)))
    return detector.install(loaded)


def load_outside_peers(
    session: Session,
    detector: Detector,
    *,
    held: Iterable[int],
    since: datetime | None = None,
) -> datetime | None:
    """Teach the peer index the values established by identities of partitions not
    ``held`` (scored by other nodes), from their baselines stored after ``since``.

    Returns the newest ``updated_at`` read (the next call's ``since``), or ``since``.
    """
    held = sorted(set(held))
    query = sa.select(DetectBaseline.subject, DetectBaseline.state, DetectBaseline.updated_at)
    if held:
        query = query.where(DetectBaseline.partition.not_in(held))
    if since is not None:
        query = query.where(DetectBaseline.updated_at > since)
    newest = since
    for subject, state, updated_at in session.execute(query):
        try:
            values = decode(state).peer_values()
        except InvalidBaseline:
            continue
        detector.add_outside(subject, values)
        if newest is None or updated_at > newest:
            newest = updated_at
    return newest
