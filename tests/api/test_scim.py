"""SCIM 2.0 at /scim/v2 over HTTP, with the requests Okta and Entra ID send, on both backends.

The request bodies follow the providers' public documentation: Okta's "SCIM 2.0 protocol
reference" (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20) and Microsoft's
"Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
(learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import Event

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(client: TestClient, installed: InitResult) -> dict[str, str]:
    services = client.app.state.services  # type: ignore[attr-defined]
    _, _, raw = services.provisioning.issue_token(Actor.operator(), "okta")
    return {"Authorization": f"Bearer {raw}", "Content-Type": SCIM}


def _okta_user(user_name: str, external_id: str = "00ujl29u0le5T6Aj10h7") -> dict[str, Any]:
    # Okta: "Create the User" request body.
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def _events(db: Database, action: str) -> list[Event]:
    with db.unit_of_work(readonly=True) as uow:
        return list(uow.session.scalars(sa.select(Event).where(Event.action == action)))


def _identity(db: Database, ref: str) -> identity.Identity:
    with db.unit_of_work(readonly=True) as uow:
        found = identity.get(uow.session, ref)
        uow.session.expunge(found)
        return found


def test_okta_creates_finds_deactivates_and_reactivates_a_person(
    client: TestClient, db: Database, scim: dict[str, str]
) -> None:
    # Okta first looks the user up by userName, then creates it.
    lookup = client.get(
        "/scim/v2/Users",
        params={"filter": 'userName eq "test.user@okta.local"', "startIndex": 1, "count": 100},
        headers=scim,
    )
    assert lookup.status_code == 200
    assert lookup.headers["content-type"].startswith(SCIM)
    assert lookup.json()["totalResults"] == 0

    created = client.post("/scim/v2/Users", json=_okta_user("test.user@okta.local"), headers=scim)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["userName"] == "test.user@okta.local"
    assert user["active"] is True
    assert "password" not in user
    assert created.headers["ETag"] == user["meta"]["version"] == 'W/"1"'
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{user['id']}")
    person = _identity(db, user["id"])
    assert (person.kind, person.email, person.display_name) == (
        "human",
        "test.user@okta.local",
        "Test User",
    )

    found = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "TEST.user@okta.local"'}, headers=scim
    ).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]

    again = client.post("/scim/v2/Users", json=_okta_user("test.user@okta.local"), headers=scim)
    assert again.status_code == 409
    assert again.json() == {
        "schemas": [ERROR],
        "status": "409",
        "scimType": "uniqueness",
        "detail": "a user named 'test.user@okta.local' is already provisioned",
    }

    # Okta deactivates with a path-less replace.
    off = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
        headers=scim,
    )
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    assert _identity(db, user["id"]).status == "suspended"
    assert [e.resource_id for e in _events(db, "lifecycle.offboard")] == [user["id"]]

    back = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]},
        headers=scim,
    )
    assert back.json()["active"] is True
    assert _identity(db, user["id"]).status == "active"


def test_entra_id_patches_users_and_groups_and_groups_grant_roles(
    client: TestClient, db: Database, scim: dict[str, str], cli: Any
) -> None:
    # Entra ID: "Create User" with the enterprise extension.
    body = {
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
        ENTERPRISE: {"department": "Security", "employeeNumber": "100009"},
    }
    user = client.post("/scim/v2/Users", json=body, headers=scim).json()
    assert user["schemas"] == [USER, ENTERPRISE]
    assert user[ENTERPRISE]["department"] == "Security"
    assert _identity(db, user["id"]).attributes["department"] == "Security"

    by_external = client.get(
        "/scim/v2/Users",
        params={"filter": 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'},
        headers=scim,
    ).json()
    assert [r["id"] for r in by_external["Resources"]] == [user["id"]]

    # Entra ID: "Update User [Multi-valued properties]" and "[Single-valued properties]".
    patched = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "updatedEmail@microsoft.com",
                },
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Replace", "path": "userName", "value": "5b50642d-79fc@contoso.com"},
                {"op": "Add", "path": f"{ENTERPRISE}:costCenter", "value": "CC-7"},
            ],
        },
        headers=scim,
    )
    assert patched.status_code == 200, patched.text
    doc = patched.json()
    assert doc["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert doc["name"]["familyName"] == "updatedFamilyName"
    assert doc["userName"] == "5b50642d-79fc@contoso.com"
    assert doc[ENTERPRISE]["costCenter"] == "CC-7"
    assert doc["meta"]["version"] == 'W/"2"'
    assert _identity(db, user["id"]).email == "updatedemail@microsoft.com"

    # Groups: create, Add members, the operator maps the group to a role.
    group = client.post(
        "/scim/v2/Groups",
        json={
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "schemas": [GROUP],
            "members": [],
        },
        headers=scim,
    ).json()
    assert group["members"] == []
    result = cli("scim", "group-role", "Group1DisplayName", "security-operator", "--json")
    assert result.exit_code == 0, result.stderr
    added = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user["id"]}]}
            ],
        },
        headers=scim,
    )
    assert added.status_code == 200, added.text
    assert [m["value"] for m in added.json()["members"]] == [user["id"]]
    person = _identity(db, user["id"])
    assert person.roles == ["security-operator"]
    assert person.attributes["groups"] == ["Group1DisplayName"]
    # The lookup by name (any case) answers as the user's own resource, groups included.
    by_name = client.get(
        "/scim/v2/Users",
        params={"filter": 'userName eq "5B50642D-79FC@contoso.com"'},
        headers=scim,
    ).json()["Resources"]
    assert by_name == [client.get(f"/scim/v2/Users/{user['id']}", headers=scim).json()]
    assert [g["display"] for g in by_name[0]["groups"]] == ["Group1DisplayName"]

    # Entra ID checks membership with a filter on members and excludes them from the answer.
    check = client.get(
        "/scim/v2/Groups",
        params={
            "filter": f'id eq "{group["id"]}" and members[value eq "{user["id"]}"]',
            "excludedAttributes": "members",
        },
        headers=scim,
    ).json()
    assert check["totalResults"] == 1 and "members" not in check["Resources"][0]

    removed = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user["id"]}]}
            ],
        },
        headers=scim,
    )
    assert removed.json()["members"] == []
    assert _identity(db, user["id"]).roles == []

    # Okta's shapes on groups: add, then remove by filter, rename with the id in the value.
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "x"}]}
            ],
        },
        headers=scim,
    )
    renamed = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{user["id"]}"]'},
                {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2"}},
            ],
        },
        headers=scim,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["displayName"] == "Test SCIMv2"
    assert renamed.json()["members"] == []

    # Entra ID disables with a string boolean.
    off = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
        headers=scim,
    )
    assert off.json()["active"] is False
    assert _identity(db, user["id"]).status == "suspended"


def test_filtering_paging_sorting_etags_and_errors(
    client: TestClient, db: Database, scim: dict[str, str]
) -> None:
    ids = {}
    for n, name in enumerate(["carol", "alice", "bob", "dave"]):
        body = _okta_user(f"{name}@example.com", external_id=f"ext-{n}")
        body["displayName"] = name.title()
        if name == "dave":
            del body["emails"]
            body["userName"] = "dave"
        ids[name] = client.post("/scim/v2/Users", json=body, headers=scim).json()["id"]

    def names(**params: Any) -> list[str]:
        response = client.get("/scim/v2/Users", params=params, headers=scim)
        assert response.status_code == 200, response.text
        return [r["userName"] for r in response.json()["Resources"]]

    assert names(filter='userName sw "b"') == ["bob@example.com"]
    assert names(filter='emails.value co "example"', sortBy="userName") == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert names(
        filter='emails pr and (displayName eq "Alice" or displayName eq "Bob")',
        sortBy="displayName",
        sortOrder="descending",
    ) == ["bob@example.com", "alice@example.com"]
    assert names(filter="not (emails pr)") == ["dave"]
    assert names(
        filter='emails[type eq "work" and value ew ".com"]',
        count=1,
        startIndex=2,
        sortBy="userName",
    ) == ["bob@example.com"]
    page = client.get("/scim/v2/Users", params={"count": 2, "startIndex": 3}, headers=scim).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (4, 3, 2)
    only = client.get(
        f"/scim/v2/Users/{ids['alice']}", params={"attributes": "userName"}, headers=scim
    ).json()
    assert set(only) == {"schemas", "id", "userName", "meta"}

    bad = client.get("/scim/v2/Users", params={"filter": "userName eq"}, headers=scim)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith(SCIM)
    assert bad.json()["scimType"] == "invalidFilter"
    missing = client.get("/scim/v2/Users/01hzzzzzzzzzzzzzzzzzzzzzzz", headers=scim)
    assert missing.status_code == 404 and missing.json()["schemas"] == [ERROR]

    # ETags: a stale If-Match is refused with 412, the current one goes through.
    current = client.get(f"/scim/v2/Users/{ids['bob']}", headers=scim)
    etag = current.headers["ETag"]
    body = {**_okta_user("bob@example.com", "ext-2"), "displayName": "Robert"}
    ok = client.put(f"/scim/v2/Users/{ids['bob']}", json=body, headers={**scim, "If-Match": etag})
    assert ok.status_code == 200 and ok.json()["displayName"] == "Robert"
    stale = client.put(
        f"/scim/v2/Users/{ids['bob']}", json=body, headers={**scim, "If-Match": etag}
    )
    assert stale.status_code == 412 and stale.json()["status"] == "412"

    # No token, or a token without scim:write: SCIM errors, and the refusal is an event.
    assert client.get("/scim/v2/Users").status_code == 401
    with db.unit_of_work() as uow:
        admin = identity.get(uow.session, "admin@example.com")
        _, reader = identity.issue_api_token(
            uow, Actor.system("test"), admin, purpose="personal", scopes=["identities:read"]
        )
    refused = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
    assert refused.json()["schemas"] == [ERROR]
    assert "scim:write" in refused.json()["detail"]


def test_discovery_documents(client: TestClient) -> None:
    config = client.get("/scim/v2/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    assert config["etag"]["supported"] and config["sort"]["supported"]
    types = client.get("/scim/v2/ResourceTypes").json()
    assert [t["id"] for t in types["Resources"]] == ["User", "Group"]
    assert types["Resources"][0]["schemaExtensions"][0]["schema"] == ENTERPRISE
    schemas = client.get("/scim/v2/Schemas").json()
    assert {s["id"] for s in schemas["Resources"]} == {USER, GROUP, ENTERPRISE}
    assert client.get(f"/scim/v2/Schemas/{ENTERPRISE}").json()["name"] == "EnterpriseUser"


def test_bulk_creates_a_user_and_a_group_that_names_it(
    client: TestClient, db: Database, scim: dict[str, str]
) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "alice",
                "data": {"schemas": [USER], "userName": "alice@example.org"},
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "ops",
                "data": {
                    "schemas": [GROUP],
                    "displayName": "Ops",
                    "members": [{"type": "User", "value": "bulkId:alice"}],
                },
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:alice",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Al"}],
                },
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "again",
                "data": {"schemas": [USER], "userName": "alice@example.org"},
            },
            {"method": "DELETE", "path": "/Groups/bulkId:ops"},
        ],
    }
    response = client.post("/scim/v2/Bulk", json=body, headers=scim)
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200", "409", "204"]
    assert results[3]["response"]["scimType"] == "uniqueness"
    alice_id = results[0]["location"].rsplit("/", 1)[1]
    assert _identity(db, alice_id).display_name == "Al"
    assert client.get(results[1]["location"], headers=scim).status_code == 404

    # failOnErrors: the run stops after that many errors.
    stop = client.post(
        "/scim/v2/Bulk",
        json={**body, "failOnErrors": 1, "Operations": body["Operations"][3:]},
        headers=scim,
    )
    assert [r["status"] for r in stop.json()["Operations"]] == ["409"]
    config = client.get("/scim/v2/ServiceProviderConfig").json()
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}


def test_cedar_policies_read_the_groups_the_identity_provider_sets(
    client: TestClient, db: Database, scim: dict[str, str], admin_headers: dict[str, str]
) -> None:
    policy = (
        'permit(principal, action == Limen::Action::"read", resource) '
        'when { principal has groups && principal.groups.contains("Payments") };'
    )
    added = client.put("/v1/policies/payments", json={"text": policy}, headers=admin_headers)
    assert added.status_code == 200, added.text
    user = client.post("/scim/v2/Users", json={"userName": "pat@example.com"}, headers=scim)
    group = client.post(
        "/scim/v2/Groups",
        json={"displayName": "Payments", "members": [{"value": user.json()["id"]}]},
        headers=scim,
    ).json()

    def decision() -> bool:
        r = client.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "user", "id": "pat@example.com"},
                "action": {"name": "read"},
                "resource": {"type": "vault", "id": "payments"},
            },
            headers=admin_headers,
        )
        assert r.status_code == 200, r.text
        return r.json()["decision"]

    assert decision() is True
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user.json()["id"]}"]'}],
        },
        headers=scim,
    )
    assert decision() is False


def test_the_scim_commands_fail_in_one_line(cli: Any, installed: InitResult) -> None:
    unknown = cli("scim", "group-role", "Ops", "wizard")
    assert unknown.exit_code != 0
    assert unknown.stderr.strip().splitlines() == [
        "limen: unknown role 'wizard'; known roles: admin, auditor, security-operator, viewer"
    ]
    issued = json.loads(cli("scim", "token", "create", "--name", "entra", "--json").stdout)
    assert issued["identity"] == "scim-entra" and issued["token"].startswith("limen_")
    assert issued["base_url"].endswith("/scim/v2")
