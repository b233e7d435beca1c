"""Access review and SCIM lookup: figures against the issue's targets.

- ``limen access review`` over IDENTITIES machine identities (each with a vault-scoped
  token), POLICIES access policies and EVENTS events in the window (reads, decisions),
  in process against SQLite: target 10,000 / 50 / 1,000,000 in 10 s. (No peer tool
  answers this question for agents, so the figure stands against the target alone.)
- SCIM ``GET /Users?filter=userName eq "…"`` over HTTP on a live server: p50 ≤ 5 ms.

The data is inserted in bulk with SQL (events too: they are not sealed, which the review
does not read). Defaults are small for a shared machine; the issue's scale is
``--identities 10000 --events 1000000``.

    python benchmarks/access_review.py [--identities N] [--events N] [--lookups N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import limen_server, percentile
from _table import print_table

from limen.access import PolicyDecisionPoint
from limen.audit import Actor
from limen.audit.durable import EventWriter
from limen.config import Settings
from limen.identity import StatusView
from limen.ids import new_id
from limen.installation import initialise
from limen.lifecycle import AccessReview, Provisioning
from limen.store import Database
from limen.store.models import (
    ApiToken,
    Event,
    Identity,
    Policy,
    Vault,
    VaultItem,
    utcnow,
)


class _Trusted:
    def authorize(self, *args: object, **kwargs: object) -> None:
        return None


def _populate(db: Database, *, identities: int, policies: int, events: int) -> None:
    now = utcnow()
    rng = random.Random(7)
    vaults = [
        {
            "id": new_id(),
            "name": f"vault-{n}",
            "created_at": now,
            "updated_at": now,
            "attribute_version": 1,
            "content_version": 1,
        }
        for n in range(50)
    ]
    items = [
        {
            "id": new_id(),
            "vault_id": v["id"],
            "title": f"item-{n}",
            "category": "LOGIN",
            "tags": ["sensitive"] if n % 7 == 0 else [],
            "favorite": False,
            "version": 1,
            "secrets_changed_at": now,
            "created_at": now,
            "updated_at": now,
            "file_count": 0,
        }
        for n, v in enumerate(vaults * 4)
    ]
    humans = [
        {
            "id": new_id(),
            "kind": "human",
            "name": f"owner-{n}",
            "status": "active",
            "roles": [],
            "attributes": {},
            "managed": True,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(identities // 10 + 1)
    ]
    machines = [
        {
            "id": new_id(),
            "kind": "agent" if n % 2 else "service",
            "name": f"machine-{n}",
            "status": "active",
            "roles": [],
            "attributes": {},
            "managed": True,
            "owner_id": humans[n % len(humans)]["id"],
            "created_at": now,
            "updated_at": now,
        }
        for n in range(identities)
    ]
    tokens = [
        {
            "id": new_id(),
            "identity_id": m["id"],
            "purpose": "service-account",
            "token_hash": new_id() + new_id(),
            "prefix": "limen_x",
            "scopes": [
                f"vault:{rng.choice(vaults)['id']}:read",
                f"vault:{rng.choice(vaults)['id']}:read",
                "tools:call",
            ],
            "created_at": now,
        }
        for m in machines
    ]
    texts = [
        {
            "id": new_id(),
            "name": f"policy-{n}",
            "realm": "access",
            "created_at": now,
            "updated_at": now,
            "text": f'permit(principal == Limen::Identity::"{machines[n]["id"]}", '
            "action, resource);",
        }
        for n in range(policies)
    ]
    with db.engine.begin() as connection:
        connection.execute(sa.insert(Vault), vaults)
        connection.execute(sa.insert(VaultItem), items)
        connection.execute(sa.insert(Identity), humans)
        connection.execute(sa.insert(Identity), machines)
        connection.execute(sa.insert(ApiToken), tokens)
        connection.execute(sa.insert(Policy), texts)
        batch = []
        for n in range(events):
            machine = machines[rng.randrange(len(machines))]
            when = now - timedelta(seconds=rng.randrange(20 * 86400))
            if n % 5:
                item = rng.choice(items)
                batch.append(
                    {
                        "id": new_id(),
                        "occurred_at": when,
                        "actor_id": machine["id"],
                        "actor_kind": machine["kind"],
                        "actor_name": machine["name"],
                        "delegation": [],
                        "action": "vault.item.read",
                        "resource_type": "vault_item",
                        "resource_id": item["id"],
                        "outcome": "success",
                        "context": {"vault_id": item["vault_id"]},
                    }
                )
            else:
                batch.append(
                    {
                        "id": new_id(),
                        "occurred_at": when,
                        "actor_id": None,
                        "actor_kind": "identity",
                        "actor_name": "pep",
                        "delegation": [],
                        "action": "access.evaluate",
                        "resource_type": "tool",
                        "resource_id": "deploy",
                        "outcome": "success",
                        "context": {
                            "subject": {"type": "agent", "id": machine["name"]},
                            "action": "call",
                            "policies": [],
                        },
                    }
                )
            if len(batch) == 20_000:
                connection.execute(sa.insert(Event), batch)
                batch = []
        if batch:
            connection.execute(sa.insert(Event), batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=2_000)
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--users", type=int, default=500, help="SCIM users the lookups go round")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data)
        db = Database(settings.resolved_database_url)
        initialise(db, key_file=settings.resolved_key_file, admin_email="admin@example.com")
        started = time.perf_counter()
        _populate(db, identities=args.identities, policies=args.policies, events=args.events)
        print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        pdp = PolicyDecisionPoint(db, status=StatusView(db), events=EventWriter(db))
        review = AccessReview(db, _Trusted(), pdp)
        started = time.perf_counter()
        result = review.review(Actor.system("bench"))
        whole = time.perf_counter() - started
        assert len(result.identities) == args.identities
        scale = f"{args.identities:,} identities, {args.policies} policies, {args.events:,} events"
        rows.append((f"access review, {scale}", f"{whole:.2f} s", "≤ 10 s at 10,000/50/1,000,000"))

        # SCIM: provision users, then time the lookup Okta and Entra make before each push.
        provisioning = Provisioning(db, _Trusted())
        _, _, token = Provisioning(db, _Trusted()).issue_token(Actor.operator(), "bench")
        from limen.lifecycle import UserDraft

        for n in range(args.users):
            provisioning.create_user(Actor.system("bench"), UserDraft(user_name=f"u{n}@ex.com"))
        db.dispose()
        with (
            limen_server(data) as (base, _pid),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http,
        ):
            samples = []
            for n in range(args.lookups):
                name = f"u{n % args.users}@ex.com"
                t0 = time.perf_counter()
                r = http.get("/scim/v2/Users", params={"filter": f'userName eq "{name}"'})
                samples.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and r.json()["totalResults"] == 1, r.text
            rows.append(
                (
                    f"SCIM GET /Users?filter=userName eq ({args.users} users), p50",
                    f"{percentile(samples, 0.5):.2f} ms",
                    "≤ 5 ms",
                )
            )
            rows.append(("same, p99", f"{percentile(samples, 0.99):.2f} ms", ""))
    print_table(rows)


if __name__ == "__main__":
    main()
