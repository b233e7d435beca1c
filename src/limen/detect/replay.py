"""Backtesting: run the detector from an empty baseline over a file of event documents.

``limen detect replay EVENTS.jsonl --output PRED.jsonl`` calls :func:`replay`. Events are
scored in time order (the file need not be sorted; ties keep file order), with the same
:class:`~limen.detect.detector.Detector` the server runs. Output, one JSON document per
line: ``{"event": <id>, "score": <0..1>}`` for every input event in time order, and
``{"alert": <id>, "identity": …, "from": …, "to": …, "raised_at": …, "score": …,
"severity": …, "reasons": [...]}`` for every alert, written when its episode closes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from limen.detect.alerts import Alert
from limen.detect.detector import DetectConfig, Detector
from limen.detect.errors import InvalidEventDocument
from limen.detect.observation import Observation, observe
from limen.detect.registry import Registry

__all__ = ["ReplaySummary", "read_events", "replay"]

_CLOSE_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay did."""

    events: int
    alerts: int
    identities: int
    first: float | None
    last: float | None
    severities: dict[str, int]

    def to_document(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "alerts": self.alerts,
            "identities": self.identities,
            "alerts_by_severity": self.severities,
        }


def read_events(lines: Iterable[bytes | str]) -> list[Observation]:
    """Parse JSON lines into observations in time order; blank lines are skipped.

    Raises :class:`InvalidEventDocument` naming the first bad line.
    """
    # A file of events is hundreds of thousands of objects that hold no reference cycles:
    # the cyclic collector would walk the growing list again and again as it fills.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_events(lines)
    finally:
        if collecting:
            gc.enable()


def _read_events(lines: Iterable[bytes | str]) -> list[Observation]:
    observations: list[Observation] = []
    append = observations.append
    loads = orjson.loads
    for number, line in enumerate(lines, start=1):
        try:
            document = loads(line)
        except orjson.JSONDecodeError:
            if not line.strip():
                continue
            raise InvalidEventDocument(f"line {number} is not JSON") from None
        if type(document) is not dict:
            raise InvalidEventDocument(f"line {number} is not a JSON object")
        try:
            obs = observe(document)
        except InvalidEventDocument as exc:
            raise InvalidEventDocument(f"line {number}: {exc.detail}") from None
        if not obs.event_id:
            obs.event_id = f"line-{number}"
        append(obs)
    # Stable: events at the same instant keep the order of the file.
    observations.sort(key=_time)
    return observations


def _time(obs: Observation) -> float:
    return obs.ts


def replay(
    observations: Iterable[Observation],
    *,
    registry: Registry,
    write: Callable[[bytes], Any],
    config: DetectConfig | None = None,
    progress: Callable[[int], None] | None = None,
    detector: Detector | None = None,
) -> ReplaySummary:
    """Score ``observations`` (in time order) from an empty baseline; write the lines.

    ``progress`` is called with the number of events done every 4,096 events.
    """
    detector = detector or Detector(registry, config=config)
    score = detector.score
    dumps = orjson.dumps
    count = 0
    alerts = 0
    severities: dict[str, int] = {}
    first: float | None = None
    last = 0.0
    next_close = 0.0

    def emit(closed: list[Alert]) -> None:
        nonlocal alerts
        for alert in closed:
            alerts += 1
            severities[alert.severity] = severities.get(alert.severity, 0) + 1
            write(dumps(alert.to_document()) + b"\n")

    for obs in observations:
        if first is None:
            first = obs.ts
            next_close = obs.ts + _CLOSE_EVERY
        if obs.ts >= next_close:
            emit(detector.close_idle(obs.ts))
            next_close = obs.ts + _CLOSE_EVERY
        verdict = score(obs)
        write(b'{"event":%s,"score":%.4f}\n' % (dumps(obs.event_id), verdict.score))
        if verdict.closed:
            emit(verdict.closed)
        last = obs.ts
        count += 1
        if progress is not None and not count & 4095:
            progress(count)
    emit(detector.close_all())
    if progress is not None:
        progress(count)
    return ReplaySummary(
        events=count,
        alerts=alerts,
        identities=len(detector.baselines),
        first=first,
        last=last if first is not None else None,
        severities=severities,
    )
