"""Peer support counts by the share of the group that uses a value, not by one member."""

from __future__ import annotations

from limen.detect import Detector
from limen.detect.registry import Registry, describe

_DAY = 86400.0
_START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday
_AGENTS = 12


def _event(n: int, ts: float, actor: str, database: str) -> dict:
    return {
        "id": f"e{n}",
        "occurred_at": ts,
        "actor": {"name": actor, "kind": "agent"},
        "action": "db.query",
        "resource": {"type": "database", "id": database},
        "context": {
            "ip": "10.0.0.7",
            "user_agent": "etl/2.1",
            "tool": "db.query",
            "session": f"{actor}-{int(ts // 3600)}",
        },
    }


def _first_query(users_of_ledger: int) -> tuple[float, list[str]]:
    """Score of etl-0's first query to db:ledger when ``users_of_ledger`` of the other
    agents of its class query it daily, and the reasons given."""
    # Each agent has its own owner: the class is what they share.
    owners = [describe(key=f"owner-{i}", name=f"owner-{i}", kind="human") for i in range(_AGENTS)]
    agents = [
        describe(
            key=f"etl-{i}",
            name=f"etl-{i}",
            kind="agent",
            owner=f"owner-{i}",
            attributes={"class": "etl"},
        )
        for i in range(_AGENTS)
    ]
    detector = Detector(Registry([*owners, *agents]))
    n = 0
    for day in range(10):
        for hour in range(9, 17):
            base = _START + day * _DAY + hour * 3600.0
            for i in range(_AGENTS):
                database = "db:ledger" if 1 <= i <= users_of_ledger else f"db:work-{i}"
                for step in range(3):
                    n += 1
                    detector.score(_event(n, base + i * 60.0 + step * 5.0, f"etl-{i}", database))
    verdict = detector.score(_event(n + 1, _START + 10 * _DAY + 10 * 3600.0, "etl-0", "db:ledger"))
    return verdict.score, [reason.text for reason in verdict.reasons]


def test_a_database_one_class_peer_uses_is_more_surprising_than_one_most_use() -> None:
    lone, reasons = _first_query(users_of_ledger=1)
    common, _ = _first_query(users_of_ledger=8)
    assert lone > common
    assert any(
        f"1 of {_AGENTS - 1} other members of class etl already uses it" in text for text in reasons
    ), reasons
