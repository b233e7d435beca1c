"""A false-positive mark teaches the detector: the same behaviour no longer alerts."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from limen.detect import Detector, observe
from limen.detect.simulation import simulate, small


def _shifted(document: dict, *, days: int, suffix: str) -> dict:
    moved = copy.deepcopy(document)
    when = datetime.fromisoformat(moved["occurred_at"]) + timedelta(days=days)
    moved["occurred_at"] = when.isoformat()
    moved["id"] = moved["id"] + suffix
    return moved


def test_marking_a_false_positive_stops_the_repeat_alert() -> None:
    trace = simulate(5, small(attack_kinds=("odd-hour-country",), benign_kinds=()))
    episode = trace.attacks[0]
    victim = episode.identities[0]
    malicious = [d for d in trace.events if d["id"] in set(episode.event_ids)]
    last = malicious[-1]["id"]

    def trained() -> tuple[Detector, list]:
        detector = Detector(trace.registry())
        alerts = []
        for document in trace.events:
            verdict = detector.score(document)
            if verdict.raised is not None and verdict.raised.identity_name == victim:
                alerts.append(verdict.raised)
            if document["id"] == last:
                break
        detector.close_all()
        return detector, alerts

    detector, alerts = trained()
    assert alerts, "the first occurrence must alert"
    repeat = [_shifted(d, days=7, suffix="-again") for d in malicious]
    unmarked, _ = trained()
    assert [a for a in (unmarked.score(d).raised for d in repeat) if a is not None]

    for alert in alerts:
        detector.mark_false_positive(alert.id)

    # The same trip at the same hour, a week later: now normal for this person.
    raised = [detector.score(d).raised for d in repeat]
    assert [a for a in raised if a is not None] == []


def test_a_false_positive_mark_after_a_restart_takes_the_events() -> None:
    trace = simulate(5, small(attack_kinds=("new-database",), benign_kinds=()))
    episode = trace.attacks[0]
    wanted = set(episode.event_ids)
    malicious = [d for d in trace.events if d["id"] in wanted]
    detector = Detector(trace.registry())
    for document in trace.events:
        detector.score(document)
    detector.close_all()
    assert any(wanted & set(a.event_ids) for a in detector.episodes.held.values())

    fresh_key = detector.mark_false_positive(
        "an-alert-id-from-the-log", events=malicious, reasons=["new-resource"]
    )
    assert fresh_key == detector.registry.find(None, episode.identities[0]).key
    repeat = [_shifted(d, days=1, suffix="-again") for d in malicious]
    scores = [detector.score(observe(d)).score for d in repeat]
    assert max(scores) < detector.config.alert_threshold
