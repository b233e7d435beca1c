"""Baselines survive a restart on SQLite and PostgreSQL, within 64 KB an identity."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from limen.detect import MAX_STATE_BYTES, Detector, load_baselines, partition_of, save_baselines
from limen.detect.errors import InvalidBaseline
from limen.detect.persistence import decode, encode, load_outside_peers
from limen.detect.simulation import simulate, small
from limen.store import Database
from limen.store.models import DetectBaseline

# One trained detector for the module: in parallel (-n), the module runs on one worker.
pytestmark = pytest.mark.xdist_group("detect-persistence")


@pytest.fixture(scope="module")
def trained() -> tuple[Detector, list[dict], list[dict]]:
    trace = simulate(7, small(test_days=2, attack_kinds=(), benign_kinds=()))
    cut = int(len(trace.events) * 0.9)
    detector = Detector(trace.registry())
    for document in trace.events[:cut]:
        detector.score(document)
    return detector, trace.events[:cut], trace.events[cut:]


def test_every_stored_baseline_fits_in_64_kb(trained: tuple) -> None:
    detector, _, _ = trained
    sizes = [len(encode(b)) for b in detector.baselines.values()]
    assert max(sizes) <= MAX_STATE_BYTES
    assert all(decode(encode(b)).to_state() == b.to_state() for b in detector.baselines.values())


def test_baselines_round_trip_through_the_store(db: Database, trained: tuple) -> None:
    detector, _, later = trained
    with db.unit_of_work() as uow:
        written = save_baselines(uow, detector, keys=list(detector.baselines))
    assert written == len(detector.baselines)
    # A second save updates rows in place.
    with db.unit_of_work() as uow:
        assert save_baselines(uow, detector, keys=list(detector.baselines)) == written

    restarted = Detector(detector.registry)
    with db.unit_of_work(readonly=True) as uow:
        assert load_baselines(uow.session, restarted) == written
    for key, baseline in detector.baselines.items():
        assert restarted.baselines[key].to_state() == baseline.to_state()

    # The restarted detector judges what follows as the original would have.
    original = Detector(detector.registry)
    original.install((k, decode(encode(b))) for k, b in detector.baselines.items())
    for document in later[:2000]:
        assert restarted.score(document).score == pytest.approx(original.score(document).score)


def test_a_node_loads_only_its_partitions(db: Database, trained: tuple) -> None:
    detector, _, _ = trained
    with db.unit_of_work() as uow:
        save_baselines(uow, detector, keys=list(detector.baselines))
    partitions = detector.config.partitions
    mine = set(range(0, partitions, 2))
    node = Detector(detector.registry)
    with db.unit_of_work(readonly=True) as uow:
        loaded = load_baselines(uow.session, node, partitions=mine)
        stored = dict(
            uow.session.execute(sa.select(DetectBaseline.subject, DetectBaseline.partition)).all()
        )
    expected = {k for k in detector.baselines if partition_of(k, partitions) in mine}
    assert loaded == len(expected) and set(node.baselines) == expected
    assert all(stored[k] == partition_of(k, partitions) for k in stored)


def test_a_node_holding_half_the_partitions_judges_its_identities_as_one_holding_all(
    db: Database, trained: tuple
) -> None:
    """Peers cross partitions: what identities scored by another node established is
    read from their stored baselines, so a first touch a peer made ordinary stays so."""
    detector, _, later = trained
    with db.unit_of_work() as uow:
        save_baselines(uow, detector, keys=list(detector.baselines))
    partitions = detector.config.partitions
    mine = set(range(0, partitions, 2))
    everything, half, alone = (Detector(detector.registry) for _ in range(3))
    with db.unit_of_work(readonly=True) as uow:
        load_baselines(uow.session, everything)
        load_baselines(uow.session, half, partitions=mine)
        load_outside_peers(uow.session, half, held=mine)
        load_baselines(uow.session, alone, partitions=mine)
    ours = [
        document
        for document in later
        if partition_of(
            everything.registry.resolve(
                document["actor"].get("id"),
                document["actor"].get("name"),
                document["actor"]["kind"],
            ).key,
            partitions,
        )
        in mine
    ]
    scores = {
        name: [node.score(document).score for document in ours]
        for name, node in (("everything", everything), ("half", half), ("alone", alone))
    }
    assert scores["half"] == pytest.approx(scores["everything"])
    assert scores["alone"] != pytest.approx(scores["everything"])  # the peers do matter


def test_an_unreadable_baseline_is_refused(db: Database, trained: tuple) -> None:
    detector, _, _ = trained
    key = next(iter(detector.baselines))
    with db.unit_of_work() as uow:
        save_baselines(uow, detector, keys=[key])
        uow.session.execute(
            sa.update(DetectBaseline).where(DetectBaseline.subject == key).values(state=b"junk")
        )
    with db.unit_of_work(readonly=True) as uow, pytest.raises(InvalidBaseline):
        load_baselines(uow.session, Detector(detector.registry))


def test_the_registry_follows_the_identity_table(db: Database, installed: object) -> None:
    from limen import identity
    from limen.audit import Actor
    from limen.detect import Registry

    with db.unit_of_work() as uow:
        owner = identity.create(
            uow,
            Actor.operator(),
            kind="human",
            name="ada",
            email="ada@example.com",
            attributes={"team": "core", "tz": "Asia/Tokyo"},
        )
        agent = identity.create(
            uow,
            Actor.operator(),
            kind="agent",
            name="ada-bot",
            owner="ada",
            attributes={"class": "coding"},
        )
        owner_id, agent_id = owner.id, agent.id
    with db.unit_of_work(readonly=True) as uow:
        registry = Registry.load(uow.session)
    info = registry.find(None, "ada-bot")
    assert info is not None and info.key == agent_id and info.owner == owner_id
    assert info.groups == (f"owner:{owner_id}", "class:agent:coding", "org")
    assert registry.find(None, "ada@example.com").utc_offset == 9.0

    with db.unit_of_work() as uow:
        identity.suspend(uow, Actor.operator(), "ada")
    with db.unit_of_work(readonly=True) as uow:
        assert registry.refresh(uow.session, owner_id).status == "suspended"
        assert registry.refresh(uow.session, "0" * 26) is None
    assert registry.get(owner_id).status == "suspended"
