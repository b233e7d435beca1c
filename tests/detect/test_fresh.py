"""A run of queries right after a first query to a database stays new for the hour."""

from __future__ import annotations

from limen.detect import Detector

_DAY = 86400.0
_START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday


def _event(n: int, ts: float, database: str) -> dict:
    return {
        "id": f"e{n}",
        "occurred_at": ts,
        "actor": {"name": "report-bot", "kind": "agent"},
        "action": "db.query",
        "resource": {"type": "database", "id": database},
        "context": {
            "ip": "10.0.0.7",
            "user_agent": "reports/1.4",
            "tool": "db.query",
            "session": f"report-bot-{int(ts // 3600)}",
        },
    }


def test_every_query_of_the_first_run_to_a_new_database_is_new() -> None:
    detector = Detector()
    n = 0
    for day in range(10):
        for hour in range(9, 17):
            for i in range(6):
                n += 1
                ts = _START + day * _DAY + hour * 3600.0 + i * 300.0
                # Its work brings a new database about once a day.
                database = f"db:day-{day}" if (hour, i) == (12, 0) else f"db:reports-{i % 2}"
                detector.score(_event(n, ts, database))
    start = _START + 10 * _DAY + 10 * 3600.0
    codes = []
    for i in range(12):
        n += 1
        verdict = detector.score(_event(n, start + i * 60.0, "db:payments"))
        codes.append({reason.code for reason in verdict.reasons})
    assert all("new-resource" in c for c in codes), codes
