"""Client side of ``limen scan --report``: send the inventory to a Limen server."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from limen.discovery.errors import ScanError
from limen.discovery.findings import Finding
from limen.discovery.inventory import DiscoveredIdentity
from limen.discovery.outputs.formats import printable

__all__ = ["HttpReporter", "report_document"]

REPORT_PATH = "/v1/discovery/reports"


def report_document(
    findings: Sequence[Finding],
    identities: Sequence[DiscoveredIdentity],
    *,
    origin: str | None,
    machine: str | None = None,
    owner: str | None = None,
    scope: str | None = None,
) -> dict[str, object]:
    """The report as sent: fingerprints, places and providers, never a secret.

    ``machine`` and ``owner`` name the laptop or runner and its user for the fleet
    inventory; ``scope`` says what was scanned, so the server can mark credentials this
    machine reported before in the same scope, and no longer has, as resolved.
    """
    document: dict[str, object] = {
        "origin": origin,
        "identities": [_identity(identity) for identity in identities],
        "findings": [
            {
                "rule_id": f.rule_id,
                "provider": f.provider,
                "location": printable(f.location),
                "fingerprint": f.fingerprint,
                "source": f.source,
                "commit": f.commit,
                "owner": f.owner,
            }
            for f in findings
        ],
    }
    if machine is not None:
        document["machine"] = {"name": machine, "owner": owner, "scope": scope}
    return document


class HttpReporter:
    """A :class:`~limen.discovery.Reporter` that posts to ``/v1/discovery/reports``."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        origin: str | None = None,
        machine: str | None = None,
        owner: str | None = None,
        scope: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._url = server.rstrip("/") + REPORT_PATH
        self._token = token
        self._origin = origin
        self._machine = {"machine": machine, "owner": owner, "scope": scope}
        self._timeout = timeout
        self.last_response: dict[str, object] | None = None

    def report(self, findings: Sequence[Finding], identities: Sequence[DiscoveredIdentity]) -> None:
        document = report_document(findings, identities, origin=self._origin, **self._machine)
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


def _identity(identity: DiscoveredIdentity) -> dict[str, object]:
    document = identity.to_dict()
    # The wire is UTF-8: a place whose name is not valid UTF-8 travels escaped.
    document["places"] = [printable(p) for p in identity.places]
    return document
