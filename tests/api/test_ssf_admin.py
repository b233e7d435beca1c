"""An admin sees every receiver's Shared Signals streams (``GET /v1/ssf/streams``)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.respond import ssf
from limen.store import Database
from limen.store.models import SsfStream


def _receiver(db: Database, name: str) -> dict[str, str]:
    with db.unit_of_work() as uow:
        row = identity.create(uow, Actor.system("test"), kind="service", name=name)
        _, raw = identity.issue_api_token(
            uow, Actor.system("test"), row, purpose="service-account", scopes=["ssf:manage"]
        )
    return {"Authorization": f"Bearer {raw}"}


def test_an_admin_lists_every_receivers_streams_and_a_receiver_only_its_own(
    client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    splunk, okta = _receiver(db, "splunk-ssf"), _receiver(db, "okta-ssf")
    poll = {"delivery": {"method": ssf.POLL}, "events_requested": list(ssf.EVENTS_SUPPORTED)}
    made = {}
    for name, headers in (("splunk-ssf", splunk), ("okta-ssf", okta)):
        response = client.post("/ssf/streams", json=poll, headers=headers)
        assert response.status_code == 201, response.text
        made[name] = response.json()["stream_id"]
    with db.unit_of_work() as uow:  # a push stream whose URL carries a credential
        okta_id = identity.get(uow.session, "okta-ssf").id
        uow.session.add(
            SsfStream(
                id="0" * 26,
                receiver_id=okta_id,
                iss="https://limen.test",
                aud=[okta_id],
                delivery_method=ssf.PUSH,
                endpoint_url="https://user:hunter2@siem.example/ssf?key=s3cret",
                events_requested=[],
            )
        )

    every = client.get("/v1/ssf/streams", headers=admin_headers)
    assert every.status_code == 200, every.text
    items = every.json()["items"]
    assert {(s["receiver"], s["stream_id"]) for s in items} >= set(
        (name, stream_id) for name, stream_id in made.items()
    )
    assert len(items) == 3
    assert "hunter2" not in every.text and "s3cret" not in every.text
    assert "https://siem.example/ssf" in [s["endpoint"] for s in items]
    one = client.get("/v1/ssf/streams?receiver=splunk-ssf", headers=admin_headers).json()
    assert [s["stream_id"] for s in one["items"]] == [made["splunk-ssf"]]

    own = client.get("/ssf/streams", headers=splunk).json()
    assert [s["stream_id"] for s in own] == [made["splunk-ssf"]]
    refused = client.get("/v1/ssf/streams", headers=splunk)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    missing = client.get("/v1/ssf/streams?receiver=nobody", headers=admin_headers)
    assert missing.status_code == 404
