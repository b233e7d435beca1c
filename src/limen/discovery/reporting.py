"""Client side of ``limen scan --report``: send the inventory to a Limen server."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from limen.discovery.errors import ScanError
from limen.discovery.findings import Finding
from limen.discovery.inventory import DiscoveredIdentity

__all__ = ["HttpReporter", "report_document"]

REPORT_PATH = "/v1/discovery/reports"


def report_document(
    findings: Sequence[Finding], identities: Sequence[DiscoveredIdentity], *, origin: str | None
) -> dict[str, object]:
    """The report as sent: fingerprints, places and providers, never a secret."""
    return {
        "origin": origin,
        "identities": [identity.to_dict() for identity in identities],
        "findings": [
            {
                "rule_id": f.rule_id,
                "provider": f.provider,
                "location": f.location,
                "fingerprint": f.fingerprint,
                "source": f.source,
                "commit": f.commit,
                "owner": f.owner,
            }
            for f in findings
        ],
    }


class HttpReporter:
    """A :class:`~limen.discovery.Reporter` that posts to ``/v1/discovery/reports``."""

    def __init__(
        self, server: str, token: str, *, origin: str | None = None, timeout: float = 30.0
    ) -> None:
        self._url = server.rstrip("/") + REPORT_PATH
        self._token = token
        self._origin = origin
        self._timeout = timeout
        self.last_response: dict[str, object] | None = None

    def report(self, findings: Sequence[Finding], identities: Sequence[DiscoveredIdentity]) -> None:
        document = report_document(findings, identities, origin=self._origin)
        try:
            response = httpx.post(
                self._url,
                json=document,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise ScanError(f"cannot reach {self._url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ScanError(f"the server refused the report: {_problem_text(response)}")
        self.last_response = response.json()


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
