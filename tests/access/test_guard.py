"""The guard's memory of its decisions under status churn."""

from __future__ import annotations

from limen import access, identity
from limen.audit import Actor, Resource
from limen.audit.durable import EventWriter
from limen.store import Database


def test_a_soar_suspending_and_reactivating_one_identity_does_not_grow_the_guard(
    db: Database,
) -> None:
    """Every status change makes a new version of the identity's row in the status view;
    the guard's decisions about that identity are one entry each, however many versions
    there were (soak runs kept every old version, entry after entry)."""
    with db.unit_of_work() as uow:
        soar = identity.create(
            uow, Actor.operator(), kind="human", name="soar", roles=["security-operator"]
        )
        target = identity.create(uow, Actor.operator(), kind="service", name="churned")
    view = identity.StatusView(db)
    events = EventWriter(db)
    guard = access.Guard(db, status=view, events=events)
    try:
        actor = Actor(
            kind="human",
            name="soar",
            identity_id=soar.id,
            scopes=frozenset({"users:suspend", "users:reactivate"}),
        )
        subject = Resource("identity", target.id, target.name)

        def round_trip() -> None:
            guard.authorize(actor, "identity.suspend", subject)
            with db.unit_of_work() as uow:
                identity.suspend(uow, Actor.operator(), target.id)
            guard.authorize(actor, "identity.reactivate", subject)
            with db.unit_of_work() as uow:
                identity.reactivate(uow, Actor.operator(), target.id)

        round_trip()
        kept = len(guard._cache)
        for _ in range(20):
            round_trip()
        assert len(guard._cache) == kept
    finally:
        events.close()
        view.close()
