"""Detection quality and cost on a generated, labelled organisation (issue #18 targets).

    python benchmarks/detect.py [--seed 1] [--variant] [--skip-cost] [--details]
    python benchmarks/detect.py --live postgresql+psycopg://postgres@127.0.0.1:5432/test
        [--live-events 20000]

Generates the trace (``limen.detect.simulation``), replays it through the detector from an
empty baseline, and prints, on the test period:

- event average precision (events of attack episodes are the positives);
- attack episodes detected at <= 5 false alerts per 1,000 identity-days (an episode is
  detected when an alert of one of its identities overlaps its events within 5 minutes;
  alerts of one identity less than 5 minutes apart count once), sweeping the alert score;
- median time to detect (event time from an episode's first malicious event to the alert);
- replay throughput on one core (and split by partition over one and two processes),
  scoring p99, memory and stored state per identity;
- the same for a naive baseline in the same run (a per-identity novelty counter over
  (action, resource)) and the ratio to it.

``--live URL`` measures instead the live detector on that PostgreSQL (a scratch schema):
the organisation's identities are registered, its first events reported, and one node,
then two (each a process running ``LiveDetector``, holding half the partitions), score
them from empty baselines, storing baselines and alerts as a server does. Printed: events
per second from the moment the events joined the chain until every partition passed them,
for one and two nodes, and the ratio.

``--variant`` uses ``simulation.VARIANT`` (parameters the detector was not tuned on);
``--seed`` picks another organisation.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import os
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from limen.detect import Detector, observe
from limen.detect.alerts import Alert, Episodes
from limen.detect.observation import Observation
from limen.detect.replay import read_events, replay
from limen.detect.simulation import VARIANT, SimulationParameters, Trace, simulate

TARGETS = {
    "ap": 0.9,
    "detected": 0.95,
    "false_alerts": 5.0,
    "mttd": 60.0,
    "throughput": 20000.0,
    "p99_ms": 1.0,
    "memory_kb": 64.0,
}
OVERLAP = 300.0


@dataclass
class Run:
    name: str
    scores: dict[str, float]
    alerts: list[Alert]


# -- the two detectors -------------------------------------------------------------------


def run_detector(trace: Trace, observations: list[Observation]) -> tuple[Run, list[float]]:
    detector = Detector(trace.registry())
    scores: dict[str, float] = {}
    alerts: list[Alert] = []
    timings: list[float] = []
    clock = time.perf_counter_ns
    next_close = 0.0
    for obs in observations:
        if obs.ts >= next_close:
            alerts.extend(detector.close_idle(obs.ts))
            next_close = obs.ts + 60
        start = clock()
        verdict = detector.score(obs)
        timings.append(clock() - start)
        scores[obs.event_id] = verdict.score
        alerts.extend(verdict.closed)
    alerts.extend(detector.close_all())
    return Run("limen.detect", scores, alerts), timings


def run_naive(trace: Trace, observations: list[Observation]) -> Run:
    """A per-identity novelty counter over (action, resource): score 1/(1 + times seen)."""
    seen: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    episodes = Episodes(alert_threshold=0.99, join_threshold=0.99, gap=1800.0, max_events=200)
    scores: dict[str, float] = {}
    alerts: list[Alert] = []
    for obs in observations:
        key = obs.actor_name or obs.actor_id or ""
        counts = seen[key]
        pair = (obs.action, obs.resource)
        n = counts.get(pair, 0)
        counts[pair] = n + 1
        score = 1.0 / (1 + n)
        scores[obs.event_id] = score
        if obs.ts >= trace.test_start or score >= 0.99:
            _, closed = episodes.offer(
                obs,
                key=key,
                name=key,
                kind=obs.actor_kind,
                score=score,
                reasons=[],
                peaks=(0.0, 0.0, 0.0, 0.0),
            )
            alerts.extend(closed)
    alerts.extend(episodes.close_all())
    return Run("naive novelty", scores, alerts)


# -- metrics ------------------------------------------------------------------------------


def average_precision(scores: list[float], positives: list[bool]) -> float:
    order = np.argsort(-np.asarray(scores), kind="stable")
    s = np.asarray(scores)[order]
    y = np.asarray(positives, dtype=np.float64)[order]
    if not y.sum():
        return float("nan")
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    # One point per distinct score: ties share a threshold, as sklearn does.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@dataclass
class Episodic:
    threshold: float
    detected: int
    total: int
    false_alerts: int
    rate: float
    mttd: float | None
    missed: list[str]
    delays: list[float]


def episodic(trace: Trace, alerts: list[Alert], threshold: float, identity_days: float) -> Episodic:
    keep = [a for a in alerts if a.score >= threshold and a.last_ts >= trace.test_start]
    by_identity: dict[str, list[Alert]] = defaultdict(list)
    for alert in keep:
        by_identity[alert.identity_name].append(alert)
    windows = []
    first_malicious: dict[str, float] = {}
    event_time = trace_event_times(trace)
    for episode in trace.attacks:
        times = [event_time[e] for e in episode.event_ids if e in event_time]
        if not times:
            continue
        windows.append((episode, min(times) - OVERLAP, max(times) + OVERLAP))
        first_malicious[episode.id] = min(times)
    detected = 0
    delays: list[float] = []
    missed: list[str] = []
    explained: set[str] = set()
    for episode, lo, hi in windows:
        hits = [
            alert
            for name in episode.identities
            for alert in by_identity.get(name, ())
            if alert.first_ts <= hi and alert.last_ts >= lo
        ]
        if hits:
            detected += 1
            explained.update(alert.id for alert in hits)
            raised = min(alert.raised_ts for alert in hits)
            delays.append(max(0.0, raised - first_malicious[episode.id]))
        else:
            missed.append(episode.id)
    false_alerts = 0
    for alerts_of in by_identity.values():
        alerts_of.sort(key=lambda a: a.first_ts)
        last_end = -1e18
        for alert in alerts_of:
            if alert.id in explained:
                last_end = max(last_end, alert.last_ts)
                continue
            if alert.first_ts - last_end >= OVERLAP:
                false_alerts += 1
            last_end = max(last_end, alert.last_ts)
    return Episodic(
        threshold=threshold,
        detected=detected,
        total=len(windows),
        false_alerts=false_alerts,
        rate=1000.0 * false_alerts / identity_days,
        mttd=statistics.median(delays) if delays else None,
        missed=missed,
        delays=delays,
    )


_TIMES: dict[int, dict[str, float]] = {}


def trace_event_times(trace: Trace) -> dict[str, float]:
    cached = _TIMES.get(id(trace))
    if cached is None:
        cached = {}
        for document in trace.events:
            cached[document["id"]] = _ts(document["occurred_at"])
        _TIMES[id(trace)] = cached
    return cached


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def best_operating_point(trace: Trace, run: Run, identity_days: float) -> Episodic:
    """The most episodes detected with <= 5 false alerts per 1,000 identity-days."""
    thresholds = sorted({round(a.score, 4) for a in run.alerts}) or [1.0]
    best: Episodic | None = None
    for threshold in thresholds:
        result = episodic(trace, run.alerts, threshold, identity_days)
        if result.rate <= TARGETS["false_alerts"] and (
            best is None or result.detected > best.detected
        ):
            best = result
    return best or episodic(trace, run.alerts, 2.0, identity_days)


# -- cost ---------------------------------------------------------------------------------


def throughput(trace: Trace, lines: list[bytes]) -> tuple[float, float]:
    """Replay events/s, parsing and writing included; best of two, one process."""
    rates = []
    for _ in range(2):
        sink = io.BytesIO()
        gc.collect()
        start = time.perf_counter()
        observations = read_events(lines)
        replay(observations, registry=trace.registry(), write=sink.write)
        rates.append(len(lines) / (time.perf_counter() - start))
    return max(rates), min(rates)


def _replay_share(trace: Trace, lines: list[bytes], results: object) -> None:
    start = time.perf_counter()
    replay(read_events(lines), registry=trace.registry(), write=io.BytesIO().write)
    results.put((len(lines), time.perf_counter() - start))  # type: ignore[attr-defined]


def partitioned_throughput(trace: Trace, lines: list[bytes], nodes: int) -> float:
    """Events/s when ``nodes`` processes each score the identities of their partitions.

    Each process is a node holding every ``nodes``-th partition (``partition_of``), as
    the live server will split identities; its peer index only knows its own identities.
    Throughput is all events over the slowest node's time (parse, score, write).
    """
    import multiprocessing

    from limen.detect import partition_of

    registry = trace.registry()
    shares: list[list[bytes]] = [[] for _ in range(nodes)]
    for line, document in zip(lines, trace.events, strict=True):
        actor = document["actor"]
        info = registry.find(actor.get("id"), actor.get("name"))
        key = info.key if info is not None else f"actor:{actor.get('name')}"
        shares[partition_of(key, 64) % nodes].append(line)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    gc.collect()
    gc.freeze()  # the children must not copy the parent's heap by touching it
    workers = [
        context.Process(target=_replay_share, args=(trace, share, results)) for share in shares
    ]
    for worker in workers:
        worker.start()
    done = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    gc.unfreeze()
    return sum(count for count, _ in done) / max(seconds for _, seconds in done)


def deep_size(obj: object, seen: set[int]) -> int:
    stack = [obj]
    total = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif hasattr(item, "__slots__"):
            for name in item.__slots__:
                if hasattr(item, name):
                    stack.append(getattr(item, name))
    return total


def memory(detector: Detector) -> dict[str, float]:
    shared: set[int] = set()
    total = deep_size(detector.baselines, shared) + deep_size(detector.peers, shared)
    own = [deep_size(baseline, set()) for baseline in detector.baselines.values()]
    stored = [len(zlib.compress(orjson.dumps(b.to_state()))) for b in detector.baselines.values()]
    n = len(detector.baselines)
    return {
        "identities": n,
        "kb_per_identity": total / n / 1024,
        "kb_max_identity": max(own) / 1024,
        "stored_kb_mean": sum(stored) / n / 1024,
        "stored_kb_max": max(stored) / 1024,
    }


# -- report -------------------------------------------------------------------------------


def evaluate(
    trace: Trace, *, cost: bool, details: bool, out: Callable[[str], None]
) -> dict[str, float]:
    observations = [observe(document) for document in trace.events]
    test_ids = [obs.event_id for obs in observations if obs.ts >= trace.test_start]
    positives = [event_id in trace.labels for event_id in test_ids]
    test_identities = {obs.actor_name for obs in observations if obs.ts >= trace.test_start}
    identity_days = len(test_identities) * (trace.end - trace.test_start) / 86400.0
    out(
        f"trace: {len(observations):,} events, {len(trace.identities)} identities, "
        f"{len(test_ids):,} test events ({sum(positives):,} malicious), "
        f"{len(trace.attacks)} attack and {len(trace.benign)} benign episodes, "
        f"{identity_days:,.0f} test identity-days"
    )
    start = time.perf_counter()
    ours, timings = run_detector(trace, observations)
    elapsed = time.perf_counter() - start
    naive = run_naive(trace, observations)
    rows = []
    results: dict[str, float] = {}
    for run in (ours, naive):
        ap = average_precision([run.scores[e] for e in test_ids], positives)
        point = best_operating_point(trace, run, identity_days)
        default = episodic(trace, run.alerts, 0.0, identity_days)
        rows.append((run.name, ap, point, default))
        if run is ours:
            results.update(
                ap=ap,
                detected=point.detected / max(1, point.total),
                false_alerts=point.rate,
                mttd=point.mttd if point.mttd is not None else float("inf"),
            )
            ours_point, ours_default = point, default
    out("")
    out(
        f"{'detector':<14} {'event AP':>9} {'episodes @<=5 FA/1k id-days':>28} {'FA/1k':>6} "
        f"{'MTTD s':>7} {'all alerts: episodes':>21} {'FA/1k':>6}"
    )
    for name, ap, point, default in rows:
        mttd = f"{point.mttd:.0f}" if point.mttd is not None else "-"
        share = point.detected / max(1, point.total)
        out(
            f"{name:<14} {ap:>9.3f} {point.detected:>14}/{point.total:<3} ({share:>6.1%})"
            f" {point.rate:>6.2f} {mttd:>7} {default.detected:>14}/{default.total:<3}  "
            f"{default.rate:>6.2f}"
        )
    (_, ap_ours, p_ours, _), (_, ap_naive, p_naive, _) = rows
    episodes_ratio = (
        f"x{p_ours.detected / p_naive.detected:.1f}"
        if p_naive.detected
        else f"{p_ours.detected} against none"
    )
    out(f"ratio to naive: AP x{ap_ours / ap_naive:.1f}, episodes detected {episodes_ratio}")
    if details:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for episode in trace.attacks:
            by_kind[episode.kind].append(episode.id)
        missed = set(ours_point.missed)
        out("")
        out("attack kind            detected at the operating point (default threshold)")
        missed_default = set(ours_default.missed)
        for kind, ids in by_kind.items():
            hit = sum(1 for i in ids if i not in missed)
            hit_default = sum(1 for i in ids if i not in missed_default)
            out(f"  {kind:<22} {hit}/{len(ids)}  ({hit_default}/{len(ids)})")
        delays = sorted(ours_point.delays)
        if delays:
            out(
                f"time to detect: median {statistics.median(delays):.0f} s, "
                f"90th percentile {delays[int(0.9 * (len(delays) - 1))]:.0f} s, "
                f"longest {delays[-1]:.0f} s"
            )
        false_by_kind = false_alerts_by_benign_kind(trace, ours.alerts, ours_point.threshold)
        out("false alerts at the operating point, by what the identity was doing:")
        for kind, count in sorted(false_by_kind.items(), key=lambda kv: -kv[1]):
            out(f"  {kind:<22} {count}")
    out("")
    p99 = float(np.percentile(np.asarray(timings), 99)) / 1e6
    results["p99_ms"] = p99
    out(
        f"scoring: p50 {np.percentile(timings, 50) / 1e3:.1f} µs, p99 {p99 * 1e3:.1f} µs per event "
        f"(in-process loop: {len(observations) / elapsed:,.0f} events/s)"
    )
    if cost:
        lines = [orjson.dumps(document) for document in trace.events]
        best, worst = throughput(trace, lines)
        results["throughput"] = best
        out(
            f"replay throughput (parse, score, write; one core): {best:,.0f} events/s "
            f"(slowest of 2 runs {worst:,.0f})"
        )
        one, two = (partitioned_throughput(trace, lines, n) for n in (1, 2))
        out(
            f"partitioned replay, one process per node: 1 node {one:,.0f} events/s, "
            f"2 nodes {two:,.0f} events/s (x{two / one:.2f}; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        detector = Detector(trace.registry())
        for obs in observations:
            detector.score(obs)
        mem = memory(detector)
        results["memory_kb"] = mem["kb_per_identity"]
        out(
            f"memory: {mem['kb_per_identity']:.1f} KB per identity in process (baselines + peer "
            f"index / {mem['identities']:.0f} identities), largest baseline "
            f"{mem['kb_max_identity']:.1f} KB; stored state {mem['stored_kb_mean']:.1f} KB mean, "
            f"{mem['stored_kb_max']:.1f} KB max (zlib JSON)"
        )
    out("")
    out("targets: " + ", ".join(_verdict(name, value) for name, value in results.items()))
    return results


# -- the live detector on PostgreSQL, one node and two -------------------------------------


def _live_node(url: str, key_file: str, stop: Any, ready: Any, cpu: Any) -> None:
    """A node: a live detector on its own process, until ``stop`` is set; then puts the
    CPU seconds it spent scoring on ``cpu``."""
    from pathlib import Path

    from limen.audit import AuditKeys
    from limen.detect.live import LiveDetector
    from limen.store import Database

    db = Database(url)
    AuditKeys.from_key_file(Path(key_file)).attach(db)
    node = LiveDetector(db, interval=0.01)
    node.start()
    ready.wait()  # set by the parent, once the events are about to join the chain
    began = time.process_time()
    stop.wait()
    cpu.put(time.process_time() - began)
    node.stop()
    db.dispose()


def _reported(documents: list[dict[str, Any]], shift: float) -> list[Any]:
    from datetime import UTC, datetime

    from limen.audit.ingest import RESERVED_FAMILIES, ReportedActor, ReportedEvent

    events = []
    for doc in documents:
        if doc["action"].startswith(RESERVED_FAMILIES):
            continue
        resource = doc.get("resource") or {}
        events.append(
            ReportedEvent(
                occurred_at=datetime.fromtimestamp(_ts(doc["occurred_at"]) + shift, UTC),
                actor=ReportedActor(name=doc["actor"]["name"], kind=doc["actor"]["kind"]),
                action=doc["action"],
                resource_type=resource.get("type"),
                resource_id=resource.get("id"),
                resource_name=resource.get("name"),
                outcome=doc.get("outcome", "success"),
                context=doc.get("context") or {},
            )
        )
    return events


def live_throughput(
    base_url: str, trace: Trace, count: int, rounds: int
) -> dict[int, list[tuple[float, float]]]:
    """Per node count (1, 2), per round: (events/s, events per CPU second of the busiest
    node). Rounds alternate one node and two, so a change of load hits both alike."""
    import multiprocessing
    import tempfile
    from pathlib import Path

    import sqlalchemy as sa
    from _postgres import scratch_schema

    from limen.audit import Actor, AuditKeys, link_pending
    from limen.audit.ingest import MAX_BATCH, ingest
    from limen.detect.live import scored_through
    from limen.detect.simulation import register
    from limen.installation import initialise
    from limen.store import Database
    from limen.store.models import DetectAlert, DetectBaseline, DetectCursor, Event

    documents = trace.events[:count]
    shift = time.time() - 120 - _ts(documents[-1]["occurred_at"])
    events = _reported(documents, shift)
    results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as scratch, scratch_schema(base_url) as url:
        key_file = Path(scratch) / "limen.key"
        db = Database(url)
        initialise(db, key_file=key_file, admin_email="admin@example.com")
        keys = AuditKeys.from_key_file(key_file)
        keys.attach(db)
        with db.unit_of_work() as uow:
            register(uow, Actor.operator(), identities=trace.identities)
        link_pending(db, keys.chain)
        for nodes in [1, 2] * rounds:
            with db.unit_of_work() as uow:  # empty baselines; start at the log's end
                session = uow.session
                for model in (DetectCursor, DetectBaseline, DetectAlert):
                    session.execute(sa.delete(model))
                end = session.scalar(sa.select(sa.func.max(Event.chain_pos))) or 0
                session.add(DetectCursor(name="live", position=end))
            stop, go, cpu = context.Event(), context.Event(), context.Queue()
            procs = [
                context.Process(target=_live_node, args=(url, str(key_file), stop, go, cpu))
                for _ in range(nodes)
            ]
            for proc in procs:
                proc.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # each node holds its share
                with db.unit_of_work(readonly=True) as uow:
                    held = dict(
                        uow.session.execute(
                            sa.select(DetectCursor.owner, sa.func.count())
                            .where(DetectCursor.name.like("live:%"))
                            .group_by(DetectCursor.owner)
                        ).all()
                    )
                if None not in held and sorted(held.values()) == [64 // nodes] * nodes:
                    break
                time.sleep(0.1)
            for start in range(0, len(events), MAX_BATCH):
                with db.unit_of_work() as uow:
                    ingest(uow, Actor.operator(), events[start : start + MAX_BATCH])
            go.set()
            began = time.perf_counter()
            link_pending(db, keys.chain)  # the events join the chain: now they are scored
            with db.unit_of_work(readonly=True) as uow:
                last = uow.session.scalar(sa.select(sa.func.max(Event.chain_pos))) or 0
            while True:
                with db.unit_of_work(readonly=True) as uow:
                    if scored_through(uow.session) >= last:
                        break
                time.sleep(0.01)
            elapsed = time.perf_counter() - began
            stop.set()
            busiest = max(cpu.get(timeout=60) for _ in procs)
            for proc in procs:
                proc.join(30)
            results[nodes].append((len(events) / elapsed, len(events) / busiest))
        db.dispose()
    return results


def false_alerts_by_benign_kind(
    trace: Trace, alerts: list[Alert], threshold: float
) -> dict[str, int]:
    times = trace_event_times(trace)
    attack_windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for episode in trace.attacks:
        ts = [times[e] for e in episode.event_ids if e in times]
        if ts:
            for name in episode.identities:
                attack_windows[name].append((min(ts) - OVERLAP, max(ts) + OVERLAP))
    benign: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for episode in trace.benign:
        for name in episode.identities:
            benign[name].append((episode.kind, episode.start - 3600, episode.end + 3600))
    counts: dict[str, int] = defaultdict(int)
    for alert in alerts:
        if alert.score < threshold or alert.last_ts < trace.test_start:
            continue
        if any(
            alert.first_ts <= hi and alert.last_ts >= lo
            for lo, hi in attack_windows[alert.identity_name]
        ):
            continue
        kind = next(
            (
                k
                for k, lo, hi in benign[alert.identity_name]
                if alert.first_ts <= hi and alert.last_ts >= lo
            ),
            "(ordinary activity)",
        )
        reasons = ",".join(r.code for r in alert.top_reasons(2))
        counts[f"{kind} [{reasons}]"] += 1
    return counts


def _verdict(name: str, value: float) -> str:
    target = TARGETS[name]
    lower_is_better = name in ("false_alerts", "mttd", "p99_ms", "memory_kb")
    ok = value <= target if lower_is_better else value >= target
    shown = f"{value:.3f}" if value < 10 else f"{value:,.0f}"
    return f"{name} {shown} {'ok' if ok else 'MISSED'}"


def _scaled(params: SimulationParameters, scale: float) -> SimulationParameters:
    """The same organisation, with ``scale`` times the people, machines, days and episodes
    (at least one of each, and three days to learn and three to test)."""
    return dataclasses.replace(
        params,
        humans=max(1, round(params.humans * scale)),
        agents=max(1, round(params.agents * scale)),
        services=max(1, round(params.services * scale)),
        learn_days=max(3, round(params.learn_days * scale)),
        test_days=max(3, round(params.test_days * scale)),
        attacks_per_kind=max(1, round(params.attacks_per_kind * scale)),
        benign_per_kind=max(1, round(params.benign_per_kind * scale)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variant", action="store_true", help="parameters not tuned on")
    parser.add_argument("--skip-cost", action="store_true", help="skip throughput and memory")
    parser.add_argument("--details", action="store_true", help="per attack kind, false alerts")
    parser.add_argument("--live", metavar="URL", help="the live detector on this PostgreSQL")
    parser.add_argument("--live-events", type=int, default=10000)
    parser.add_argument("--live-rounds", type=int, default=3)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplies the organisation's identities and days (a smaller run, e.g. 0.1)",
    )
    args = parser.parse_args()
    params = VARIANT if args.variant else SimulationParameters()
    if args.scale != 1.0:
        params = _scaled(params, args.scale)
    start = time.perf_counter()
    trace = simulate(args.seed, params)
    print(
        f"seed {args.seed}, {'variant' if args.variant else 'default'} parameters; "
        f"generated in {time.perf_counter() - start:.1f} s"
    )
    if args.live:
        results = live_throughput(args.live, trace, args.live_events, args.live_rounds)
        wall = {n: statistics.median(r[0] for r in runs) for n, runs in results.items()}
        cpu = {n: statistics.median(r[1] for r in runs) for n, runs in results.items()}
        print(
            f"live detector on PostgreSQL, {args.live_events:,} events from empty baselines, "
            f"median of {args.live_rounds} alternating rounds:\n"
            f"  events/s, wall clock: 1 node {wall[1]:,.0f}, 2 nodes {wall[2]:,.0f} "
            f"(x{wall[2] / wall[1]:.2f})\n"
            f"  events per CPU second of the busiest node (a core each): 1 node {cpu[1]:,.0f}, "
            f"2 nodes {cpu[2]:,.0f} (x{cpu[2] / cpu[1]:.2f})\n"
            f"  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        return
    evaluate(trace, cost=not args.skip_cost, details=args.details, out=print)


if __name__ == "__main__":
    main()
