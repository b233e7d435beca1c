"""Each attack of issue #18 raises an alert; each benign surprise does not (small traces)."""

from __future__ import annotations

import pytest

from limen.detect import CODES
from limen.detect.simulation import ATTACK_KINDS, BENIGN_KINDS
from tests.detect.conftest import Replayed


def _episode(replayed: Replayed, kind: str) -> str:
    return next(e.id for e in replayed.trace.episodes if e.kind == kind)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_each_attack_raises_an_alert_with_reasons(replayed: Replayed, kind: str) -> None:
    alerts = replayed.alerts_during(_episode(replayed, kind))
    assert alerts, f"no alert for the {kind} episode"
    alert = max(alerts, key=lambda a: a.score)
    assert alert.score >= replayed.detector.config.alert_threshold
    assert alert.severity in ("low", "medium", "high", "critical")
    reasons = alert.top_reasons()
    assert reasons and all(r.code in CODES and r.text for r in reasons)
    assert set(alert.event_ids) & set(replayed.trace.labels)


@pytest.mark.parametrize("kind", BENIGN_KINDS)
def test_no_benign_surprise_raises_an_alert(replayed: Replayed, kind: str) -> None:
    episode = next(e for e in replayed.trace.episodes if e.kind == kind)
    assert episode.event_ids, f"the {kind} episode produced no events"
    attacked = {name for e in replayed.trace.attacks for name in e.identities}
    alerts = [a for a in replayed.alerts_during(episode.id) if a.identity_name not in attacked]
    assert alerts == []


def test_malicious_events_outscore_the_rest(replayed: Replayed) -> None:
    test_start = replayed.trace.test_start
    malicious = [replayed.scores[e] for e in replayed.trace.labels]
    ordinary = [
        score
        for event_id, score in replayed.scores.items()
        if event_id not in replayed.trace.labels and replayed.times[event_id] >= test_start
    ]
    assert all(0.0 <= s <= 1.0 for s in malicious + ordinary)
    assert sum(malicious) / len(malicious) > 0.5
    assert sum(ordinary) / len(ordinary) < 0.05


def test_an_owner_suspended_in_the_stream_marks_its_agent(replayed: Replayed) -> None:
    episode = next(e for e in replayed.trace.attacks if e.kind == "offboarded-owner")
    agent = replayed.detector.registry.find(None, episode.identities[0])
    assert agent is not None and agent.owner is not None
    assert replayed.detector.registry.get(agent.owner).status == "suspended"
    codes = {c for a in replayed.alerts_during(episode.id) for c in a.reasons}
    assert "owner-inactive" in codes
