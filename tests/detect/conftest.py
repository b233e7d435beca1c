"""A small simulated company, replayed once per session: one episode of each kind."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from limen.detect import Alert, Detector
from limen.detect.simulation import Trace, simulate, small

OVERLAP = 300.0


@dataclass
class Replayed:
    trace: Trace
    detector: Detector
    scores: dict[str, float]
    alerts: list[Alert]
    times: dict[str, float]

    def alerts_during(self, episode_id: str) -> list[Alert]:
        """Alerts of the episode's identities overlapping its events within 5 minutes."""
        episode = next(e for e in self.trace.episodes if e.id == episode_id)
        times = [self.times[e] for e in episode.event_ids]
        lo, hi = min(times) - OVERLAP, max(times) + OVERLAP
        names = set(episode.identities)
        return [
            a
            for a in self.alerts
            if a.identity_name in names and a.first_ts <= hi and a.last_ts >= lo
        ]


def run(trace: Trace) -> Replayed:
    from limen.detect import observe

    detector = Detector(trace.registry())
    scores: dict[str, float] = {}
    times: dict[str, float] = {}
    alerts: list[Alert] = []
    for document in trace.events:
        obs = observe(document)
        verdict = detector.score(obs)
        scores[obs.event_id] = verdict.score
        times[obs.event_id] = obs.ts
        alerts.extend(verdict.closed)
        alerts.extend(detector.close_idle(obs.ts))
    alerts.extend(detector.close_all())
    return Replayed(trace, detector, scores, alerts, times)


@pytest.fixture(scope="session")
def replayed() -> Replayed:
    return run(simulate(5, small()))
