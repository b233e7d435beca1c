"""``scim2-tester`` (the SCIM RFCs' conformance checker) against a live server: every
check it runs passes, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
from scim2_client.client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

from limen.audit import Actor


class SyncSCIMClient(BaseSyncSCIMClient):
    """scim2-client's network engine, on httpx (its own engine wants httpx2)."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = self.client.build_request("GET", endpoint).url
        base = self.client.base_url
        return url.host == base.host and url.port == base.port and url.path.startswith(base.path)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)


def test_every_scim2_tester_check_passes(live_server: Any, app: Any) -> None:
    services = app.state.services
    _, _, raw = services.provisioning.issue_token(Actor.operator(), "tester")
    with httpx.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {raw}"},
        timeout=30,
    ) as http:
        client = SyncSCIMClient(http)
        results = check_server(client)
    ran = [r for r in results if r.status is not Status.SKIPPED]
    failed = [
        f"{r.title}: {r.status.name}: {r.reason}" for r in ran if r.status not in (Status.SUCCESS,)
    ]
    assert len(ran) > 20
    assert failed == [], "\n".join(failed)
