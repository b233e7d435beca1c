"""A burst of first touches stands out even for an identity whose everyday work is new."""

from __future__ import annotations

from limen.detect import Detector

_DAY = 86400.0
_START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday


def _event(n: int, ts: float, actor: str, action: str, rtype: str, rid: str) -> dict:
    return {
        "id": f"e{n}",
        "occurred_at": ts,
        "actor": {"name": actor, "kind": "agent"},
        "action": action,
        "resource": {"type": rtype, "id": rid},
        "context": {
            "ip": "10.0.0.7",
            "user_agent": "helper/1.0",
            "tool": action,
            "session": f"{actor}-{int(ts // 3600)}",
        },
    }


def test_a_run_of_new_secrets_shows_through_an_agent_that_opens_new_tickets_all_day() -> None:
    detector = Detector()
    n = 0
    ticket = 0
    # Ten working days: the support agent opens about thirty fresh tickets every few
    # minutes, hour after hour; a vault user reads the same three secrets, so secrets are
    # rarely new to anyone in the organisation.
    for day in range(10):
        for hour in range(9, 17):
            base = _START + day * _DAY + hour * 3600.0
            for i in range(30):
                n += 1
                ticket += 1
                detector.score(
                    _event(n, base + i * 8.0, "triage-bot", "tool.call", "ticket", str(ticket))
                )
            for i in range(5):
                n += 1
                detector.score(
                    _event(
                        n,
                        base + 600.0 + i * 60.0,
                        "vault-user",
                        "vault.secret.read",
                        "secret",
                        f"app/{i % 3}",
                    )
                )
    # Day eleven: twenty secrets it never read, within a minute.
    burst = _START + 10 * _DAY + 10 * 3600.0
    codes: set[str] = set()
    for i in range(20):
        n += 1
        verdict = detector.score(
            _event(n, burst + i * 3.0, "triage-bot", "vault.secret.read", "secret", f"prod/{i}")
        )
        codes.update(reason.code for reason in verdict.reasons)
    assert "novel-burst" in codes
