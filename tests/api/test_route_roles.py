"""Every route, for every built-in role: public by design, or authorized by the guard.

Generated from the app's own routes. Each route declares the guard's action it asks for
(``api.routing.guarded``) or that it is public (``api.routing.PUBLIC``); this test holds
it to that: a person whose role lacks the action's group is refused with 403 and a
``denied`` event, whatever the token's scopes say (every token here holds ``*``), and a
person whose role has it is not refused. So no route relies on a scope check in the
shell alone, and an agent never gets more than its owner.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from limen import access, identity
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.store import Database
from limen.store.models import Event

# FastAPI's own description, public by design (/docs and its assets are PUBLIC routes of
# api.docs, served from Limen itself).
FRAMEWORK = {"/openapi.json"}

ROLES: dict[str, tuple[str, ...]] = {
    # least privileged first: the admin's changes (deleting, suspending) come last
    "none": ("use",),
    "viewer": ("view", "use"),
    "viewer-agent": ("view", "use"),  # an agent owned by a viewer: never more than her
    "auditor": ("view", "audit", "use"),
    "security-operator": ("view", "audit", "respond", "use"),
    "admin": ("view", "audit", "respond", "manage", "secrets", "use"),
}

POLICY = 'permit (principal, action == Limen::Action::"call", resource);'
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OCTETS = {"Content-Type": "application/octet-stream"}
# A request each route accepts as well-formed: (query, JSON body, form body).
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/identities"): {"json": {"kind": "service", "name": "svc-{role}"}},
    ("PATCH", "/v1/identities/{ref}"): {"json": {"display_name": "Alice"}},
    ("POST", "/v1/identities/{ref}/suspend"): {"json": {"reason": "drill"}},
    ("POST", "/v1/identities/{ref}/reactivate"): {"json": {}},
    ("POST", "/v1/identities/{ref}/deprovision"): {"json": {"orphans": "keep"}},
    ("POST", "/v1/tokens"): {"json": {"identity": "alice"}},
    ("POST", "/v1/clients"): {"json": {"identity": "alice-job", "scopes": ["x"]}},
    ("POST", "/v1/partners"): {"json": {"name": "partner-{role}", "scopes": ["users:read"]}},
    ("POST", "/v1/sinks"): {
        "json": {
            "name": "sink-{role}",
            "kind": "webhook",
            "target": "http://127.0.0.1:9/in",  # nothing listens: a delivery fails at once
            "from_now": True,
        }
    },
    ("POST", "/v1/events-tokens"): {"json": {"features": ["auditevents"]}},
    ("POST", "/v1/scim/tokens"): {"json": {"name": "idp-{role}", "orphans": "keep"}},
    ("PUT", "/v1/scim/group-roles/{group}"): {"json": {"roles": ["viewer"]}},
    ("POST", "/v1/service-accounts"): {"json": {"name": "sa-{role}", "vaults": ["*:read"]}},
    ("PUT", "/v1/policies/{name}"): {"json": {"text": POLICY}},
    ("POST", "/v1/policies/validate"): {"json": {"text": POLICY}},
    ("POST", "/v1/vaults"): {"json": {"name": "vault-{role}"}},
    ("PATCH", "/v1/vaults/{vault_id}"): {"json": {"description": "cards"}},
    ("POST", "/v1/vaults/{vault_id}/items"): {"json": {"title": "item-{role}"}},
    ("PUT", "/v1/vaults/{vault_id}/items/{item_id}"): {"json": {"title": "stripe"}},
    ("PATCH", "/v1/vaults/{vault_id}/items/{item_id}"): {"json": []},
    ("POST", "/v1/vaults/{vault_id}/items/{item_id}/files"): {
        "content": b"not a secret",
        "params": {"name": "notes-{role}.txt"},
    },
    ("POST", "/v1/killswitch/engage"): {"json": {"kind": "agent"}},
    ("POST", "/v1/killswitch/disengage"): {"json": {"kind": "agent"}},
    ("POST", "/oauth2/introspect"): {"data": {"token": "{other_token}"}},
    ("POST", "/oauth2/revoke"): {"data": {"token": "{other_token}"}},
    ("POST", "/v1beta1/users/oauth2/revoke"): {"data": {"token": "{other_token}"}},
    ("POST", "/access/v1/evaluation"): {
        "json": {
            "subject": {"type": "identity", "id": "alice"},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
        }
    },
    ("POST", "/access/v1/evaluations"): {
        "json": {
            "subject": {"type": "identity", "id": "alice"},
            "evaluations": [{"action": {"name": "call"}, "resource": {"type": "tool", "id": "x"}}],
        }
    },
    ("POST", "/access/v1/search/subject"): {
        "json": {
            "subject": {"type": "identity"},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
        }
    },
    ("POST", "/access/v1/search/resource"): {
        "json": {
            "subject": {"type": "identity", "id": "alice"},
            "action": {"name": "call"},
            "resource": {"type": "tool"},
        }
    },
    ("POST", "/access/v1/search/action"): {
        "json": {
            "subject": {"type": "identity", "id": "alice"},
            "resource": {"type": "tool", "id": "deploy"},
        }
    },
    ("POST", "/v1/discovery/reports"): {"json": {"identities": [], "findings": []}},
    ("POST", "/v1/discovery/enrolment-tokens"): {"json": {"fleet": "fleet-{role}"}},
    ("POST", "/v1/detect/simulation/identities"): {
        "json": {"identities": [{"name": "simulated-{role}", "kind": "human"}]}
    },
    # before anything was logged: nothing to prune, so the admin's prune deletes nothing
    ("GET", "/v1/audit/prune-plan"): {"params": {"before": "2000-01-01T00:00:00Z"}},
    ("POST", "/v1/audit/prune"): {"json": {"before": "2000-01-01T00:00:00Z"}},
    ("POST", "/ssf/streams"): {"json": {}},
    ("PATCH", "/ssf/streams"): {"json": {"stream_id": "missing"}},
    ("PUT", "/ssf/streams"): {"json": {"stream_id": "missing"}},
    ("DELETE", "/ssf/streams"): {"params": {"stream_id": "missing"}},
    ("GET", "/ssf/status"): {"params": {"stream_id": "missing"}},
    ("POST", "/ssf/status"): {"json": {"stream_id": "missing", "status": "enabled"}},
    ("POST", "/ssf/verify"): {"json": {"stream_id": "missing"}},
    ("POST", "/ssf/poll/{stream_id}"): {"json": {"returnImmediately": True}},
    ("POST", "/v1/events"): {
        "json": {
            "events": [
                {
                    "occurred_at": "2026-12-01T09:30:00Z",
                    "actor": {"name": "reported-{role}", "kind": "service"},
                    "action": "db.query",
                }
            ]
        }
    },
    ("PUT", "/v1/playbooks/{name}"): {"json": {"text": "actions: [notify]\nmode: dry-run"}},
    ("POST", "/v1/playbooks/{name}/test"): {"json": {"alert": "missing"}},
    ("PUT", "/v1/threat-level"): {"json": {"level": "normal"}},
    ("POST", "/v1/resources/tag"): {"json": {"resource": "db:tagged-{role}", "tags": ["x"]}},
    ("POST", "/v1/resources/untag"): {"json": {"resource": "db:tagged-{role}", "tags": ["x"]}},
    ("POST", "/scim/v2/Users"): {"json": {"userName": "scim-{role}"}},
    ("PUT", "/scim/v2/Users/{user_id}"): {"json": {"userName": "scim-{role}"}},
    ("PATCH", "/scim/v2/Users/{user_id}"): {
        "json": {"Operations": [{"op": "replace", "value": {"active": False}}]}
    },
    ("POST", "/scim/v2/Groups"): {"json": {"displayName": "group-{role}"}},
    ("PUT", "/scim/v2/Groups/{group_id}"): {"json": {"displayName": "group-{role}"}},
    ("PATCH", "/scim/v2/Groups/{group_id}"): {
        "json": {"Operations": [{"op": "add", "path": "members", "value": []}]}
    },
    ("POST", "/api/v2/auditevents"): {"json": {"limit": 1}},
    ("POST", "/api/v2/itemusages"): {"json": {"limit": 1}},
    ("POST", "/api/v2/signinattempts"): {"json": {"limit": 1}},
}


CONSOLE = "/console"
# The console's forms (each with the session's form token, added by the test).
CONSOLE_SAMPLES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/console/identities/{ref}/suspend"): {"reason": "drill"},
    ("POST", "/console/identities/{ref}/reactivate"): {"reason": "drill"},
    ("POST", "/console/identities/{ref}/contain"): {"reason": "drill"},
    ("POST", "/console/kill-switch/engage"): {"kind": "service", "confirm": "service"},
    ("POST", "/console/kill-switch/disengage"): {"kind": "service", "confirm": "service"},
    ("POST", "/console/alerts/{alert_id}/acknowledge"): {},
    ("POST", "/console/alerts/{alert_id}/resolve"): {},
    ("POST", "/console/alerts/{alert_id}/false-positive"): {"note": "drill"},
    ("POST", "/console/alerts/{alert_id}/contain"): {"reason": "drill"},
    ("POST", "/console/events/verify"): {},
}


def _routes() -> list[tuple[str, APIRoute]]:
    app = create_app(Settings(data_dir="/nonexistent"))
    return [
        (method, route)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_every_route_is_public_by_design_or_declares_the_guards_action() -> None:
    app = create_app(Settings(data_dir="/nonexistent"))
    undeclared = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            assert route.path in FRAMEWORK, route.path  # type: ignore[attr-defined]
            continue
        extra = route.openapi_extra or {}
        actions = extra.get("x-limen-actions")
        if extra.get("x-limen-public") == (actions is not None):
            undeclared.append(route.path)
        for action in actions or ():
            assert action in access.ACTIONS, (route.path, action)
    assert undeclared == []


def _world(db: Database) -> dict[str, Any]:
    """The objects path parameters name, and one '*' token per role."""
    operator = Actor.operator()
    with db.unit_of_work() as uow:
        alice = identity.create(uow, operator, kind="human", name="alice")
        bot = identity.create(uow, operator, kind="agent", name="alice-bot", owner="alice")
        job = identity.create(uow, operator, kind="service", name="alice-job", owner="alice")
        _, other = identity.issue_api_token(uow, operator, alice, purpose="personal", scopes=["*"])
        kept, _ = identity.issue_api_token(uow, operator, alice, purpose="personal", scopes=["*"])
        access.add_policy(uow, operator, name="p1", text=POLICY)
        tokens = {}
        for role in ROLES:
            if role == "viewer-agent":
                continue
            person = identity.create(
                uow,
                operator,
                kind="human",
                name=f"r-{role}",
                roles=[] if role == "none" else [role],
            )
            tokens[role] = identity.issue_api_token(
                uow, operator, person, purpose="personal", scopes=["*"]
            )[1]
        bot = identity.create(uow, operator, kind="agent", name="r-viewer-bot", owner="r-viewer")
        tokens["viewer-agent"] = identity.issue_api_token(
            uow, operator, bot, purpose="personal", scopes=["*"]
        )[1]
        account = __import__("limen.installation", fromlist=["x"]).account_id(uow.session)
        client, _ = __import__("limen.tokens", fromlist=["x"]).register_client(
            uow, operator, job, scopes=["x"]
        )
        client_id = client.client_id
        ids = {"users": alice.id, "agents": bot.id, "services": job.id}
        kept_id = kept.id
    return {
        "tokens": tokens,
        "other_token": other,
        "params": {
            "ref": "alice",
            "identity_id": ids,
            "account_id": account,
            "name": "p1",
            "token_id": kept_id,
            "client_id": client_id,
            "stream_id": "missing",
            "file_id": "missing",
            "alert_id": "missing",
            "user_id": "missing",
            "group_id": "missing",
            "group": "missing",
        },
    }


def _param(world: dict[str, Any], path: str, name: str) -> str:
    value = world["params"][name]
    if isinstance(value, dict):  # the partner API's collections each hold one kind
        return next(v for collection, v in value.items() if f"/{collection}/" in path)
    return value


def _fill(value: Any, world: dict[str, Any], role: str) -> Any:
    if isinstance(value, str):
        return value.replace("{role}", role).replace("{other_token}", world["other_token"])
    if isinstance(value, dict):
        return {k: _fill(v, world, role) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world, role) for v in value]
    return value


def _denials(db: Database) -> int:
    with db.unit_of_work(readonly=True) as uow:
        return (
            uow.session.scalar(
                sa.select(sa.func.count()).select_from(Event).where(Event.outcome == "denied")
            )
            or 0
        )


def test_each_role_gets_exactly_what_its_groups_allow(
    client: TestClient, db: Database, installed: Any
) -> None:
    world = _world(db)
    vaults = client.app.state.services.vault  # type: ignore[attr-defined]
    payments = vaults.create_vault(Actor.operator(), "payments")
    from limen.vault import Field, ItemDraft

    stripe = vaults.create_item(
        Actor.operator(),
        "payments",
        ItemDraft(title="stripe", fields=[Field(id="", type="CONCEALED", label="k", value="v")]),
    )
    world["params"].update(vault_id=payments.id, item_id=stripe.id)
    problems = []
    for role, groups in ROLES.items():
        headers = {"Authorization": f"Bearer {world['tokens'][role]}"}
        for method, route in _routes():
            extra = route.openapi_extra or {}
            actions = extra.get("x-limen-actions")
            if not actions or route.path.startswith(CONSOLE):
                continue  # the console's sessions are cookies: the test below
            group = access.ACTIONS[actions[0]].group
            template = route.path
            path = re.sub(
                r"\{(\w+)\}", lambda m, at=template: _param(world, at, m.group(1)), template
            )
            sample = _fill(SAMPLES.get((method, route.path), {}), world, role)
            if "data" in sample:
                sample = {**sample, "headers": {**headers, **FORM}}
            if "content" in sample:
                sample = {**sample, "headers": {**headers, **OCTETS}}
            before = _denials(db)
            response = client.request(method, path, **{"headers": headers, **sample})
            refused = response.status_code == 403
            if group in groups and refused:
                problems.append(f"{role} refused {method} {route.path}: {response.text}")
            if group not in groups:
                if not refused:
                    problems.append(f"{role} got {response.status_code} from {method} {route.path}")
                elif _denials(db) <= before:
                    problems.append(f"{role}: {method} {route.path} recorded no denial")
            assert response.status_code != 500, (role, method, route.path, response.text)
    assert problems == [], "\n".join(problems)


def test_each_role_gets_exactly_what_its_groups_allow_in_the_console(
    client: TestClient, db: Database, installed: Any
) -> None:
    """The same check for every console route, signed in as each role: a refusal is a
    403 page and a ``denied`` event, from the same guard."""
    from tests.web._console import sign_in

    world = _world(db)
    console_routes = [(m, r) for m, r in _routes() if r.path.startswith(CONSOLE)]
    guarded_routes = [
        (m, r) for m, r in console_routes if (r.openapi_extra or {}).get("x-limen-actions")
    ]
    assert len(guarded_routes) >= 7
    problems = []
    for role, groups in ROLES.items():
        client.cookies.clear()
        csrf = sign_in(client, world["tokens"][role])
        for method, route in guarded_routes:
            actions = route.openapi_extra["x-limen-actions"]  # type: ignore[index]
            group = access.ACTIONS[actions[0]].group
            template = route.path
            path = re.sub(
                r"\{(\w+)\}", lambda m, at=template: _param(world, at, m.group(1)), template
            )
            form = CONSOLE_SAMPLES.get((method, route.path))
            before = _denials(db)
            if method == "GET":
                response = client.get(path, follow_redirects=False)
            else:
                assert form is not None, f"add a sample form for {method} {route.path}"
                data = {**form, "csrf": csrf}
                response = client.post(path, data=data, follow_redirects=False)
            refused = response.status_code == 403
            if group in groups and refused:
                problems.append(f"{role} refused {method} {route.path}: {response.text[:200]}")
            if group not in groups:
                if not refused:
                    problems.append(f"{role} got {response.status_code} from {method} {route.path}")
                elif _denials(db) <= before:
                    problems.append(f"{role}: {method} {route.path} recorded no denial")
                else:
                    assert "may not" in response.text, response.text  # says why, as a page
            assert response.status_code < 500, (role, method, route.path, response.text)
    assert problems == [], "\n".join(problems)
